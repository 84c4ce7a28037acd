package main

import (
	"fmt"
	"strings"

	"github.com/zkload/zkload/pyfmt"
)

// fleetRelay is the master's part of the fleet (package fleet), in the generated
// locustfile: the load-control options (each a --zkload-* option of the master, in its
// web UI too) and a relay that stays thin on purpose: it forwards every worker's window
// to the hub (the zkload worker the master numbered 0, which announced itself), turns
// the hub's decisions into the workers' rate shares, the master's user count or the end
// of the test, and keeps the hub's fleet views for /zkload/fleet.json. Every algorithm
// runs in Go, on the hub.
func fleetRelay() string {
	var b strings.Builder
	b.WriteString(`

# zkload's fleet relay (doc/load-control.md): windows from every worker to the hub (the
# zkload worker numbered 0), the hub's load-control decisions to the workers and the
# runner, the hub's fleet views kept for /zkload/fleet.json. The algorithms run in Go.
import collections
import logging

import gevent
from locust import events
from locust.runners import MasterRunner

_zkload_fleet = {"hub": None, "decision": None, "views": collections.deque(maxlen=900)}


@events.init_command_line_parser.add_listener
def _zkload_control_arguments(parser):
`)
	for _, s := range controlSettings() {
		help := s.Help
		if s.Default != "" {
			help += " (worker default: " + s.Default + ")"
		}
		fmt.Fprintf(&b, "    parser.add_argument(%s, type=str, default=\"\", env_var=%s,\n        help=%s)\n",
			pyfmt.Repr("--"+strings.ReplaceAll(s.Option, "_", "-")), pyfmt.Repr(s.Env), pyfmt.Repr(help))
	}
	b.WriteString(`

def _zkload_stop(environment):
    if getattr(environment.parsed_options, "headless", False):
        environment.runner.quit()
    else:
        environment.runner.stop()


@events.init.add_listener
def _zkload_fleet_relay(environment, **_kwargs):
    runner = environment.runner
    if not isinstance(runner, MasterRunner):
        return
    fleet = _zkload_fleet

    def on_hub(environment, msg, **_kw):
        fleet["hub"] = msg.node_id

    def on_window(environment, msg, **_kw):
        if fleet["hub"] is None or not isinstance(msg.data, dict):
            return
        data = dict(msg.data)
        data["workers"] = runner.worker_count
        runner.send_message("zkload_window", data, client_id=fleet["hub"])

    def on_decision(environment, msg, **_kw):
        d = msg.data if isinstance(msg.data, dict) else {}
        fleet["decision"] = d
        if d.get("rate") is not None:
            runner.send_message("zkload_rate", {"rate": d["rate"], "shares": d.get("shares") or {}, "workers": runner.worker_count})
        if d.get("users") is not None and not d.get("stop"):
            users = int(d["users"])
            gevent.spawn(runner.start, users, float(d.get("spawn_rate") or 0) or max(users, 1))
        if d.get("exit_code"):
            environment.process_exit_code = int(d["exit_code"])
        if d.get("stop"):
            logging.info("zkload load control: stopping the test: %s", d.get("verdict") or d.get("reason"))
            gevent.spawn(_zkload_stop, environment)

    def on_view(environment, msg, **_kw):
        if isinstance(msg.data, dict):
            fleet["views"].append(msg.data)

    @events.test_start.add_listener
    def _zkload_test_start(environment, **_kw):
        # Before the first spawn: a rate of the master's options is the fleet's.
        runner.send_message("zkload_fleet", {"workers": runner.worker_count})

    runner.register_message("zkload_hub", on_hub)
    runner.register_message("zkload_window", on_window)
    runner.register_message("zkload_decision", on_decision)
    runner.register_message("zkload_view", on_view)

    if environment.web_ui:
        from flask import jsonify, request

        @environment.web_ui.app.route("/zkload/fleet.json")
        def _zkload_fleet_json():
            try:
                last = max(1, min(900, int(request.args.get("last", "120"))))
            except ValueError:
                last = 120
            return jsonify({"hub": fleet["hub"], "decision": fleet["decision"], "views": list(fleet["views"])[-last:]})
`)
	return b.String()
}
