package main

import (
	"fmt"
	"strings"

	"github.com/zkload/zkload/pyfmt"
	"github.com/zkload/zkload/reports"
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
import json
import logging

import gevent
from locust import events
from locust.runners import MasterRunner

_zkload_fleet = {"hub": None, "decision": None, "views": collections.deque(maxlen=900), "faults": collections.deque(maxlen=500)}


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

    def on_fault(environment, msg, **_kw):
        if isinstance(msg.data, dict):
            fleet["faults"].append(msg.data)

    runner.register_message("zkload_hub", on_hub)
    runner.register_message("zkload_window", on_window)
    runner.register_message("zkload_decision", on_decision)
    runner.register_message("zkload_view", on_view)
    runner.register_message("zkload_fault", on_fault)
    if environment.web_ui:
        _zkload_web(environment, fleet)

`)
	b.WriteString(liveWeb())
	b.WriteString(`
def _zkload_arg(name, default, lo, hi):
    from flask import request

    try:
        return max(lo, min(hi, float(request.args.get(name, default))))
    except ValueError:
        return default


def _zkload_web(environment, fleet):
    from flask import Response, jsonify, request

    web_ui = environment.web_ui
    app = web_ui.app
    auth = getattr(web_ui, "auth_required_if_enabled", lambda f: f)

    @app.route("/zkload")
    @auth
    def _zkload_page():
        return Response(_ZKLOAD_PAGE, mimetype="text/html")

    @app.route("/zkload/fleet.json")
    @auth
    def _zkload_fleet_json():
        last = int(_zkload_arg("last", 120, 1, 900))
        since = _zkload_arg("since", 0, 0, 1e12)
        views = [v for v in list(fleet["views"])[-last:] if v.get("end", 0) > since]
        return jsonify({"hub": fleet["hub"], "decision": fleet["decision"], "faults": list(fleet["faults"]), "views": views})

    if _zkload_old_ui_tab(app):
        return
    # The React UI (Locust 2.22 and later): a zkload tab with the last view's operations
    # (its extended tabs and tables, fed by extended_stats in /stats/requests), and the
    # page and the JSON among the Download Data tab's links.
    tabs = {
        "extended_tabs": [{"title": "zkload", "key": "zkload"}],
        "extended_tables": [{"key": "zkload", "structure": [{"key": k, "title": t} for k, t in _ZKLOAD_TAB_COLUMNS]}],
        "extended_csv_files": [
            {"href": "./zkload", "title": "zkload page: the fleet live (merged percentiles, workers, ensemble)"},
            {"href": "./zkload/fleet.json?last=900", "title": "zkload fleet views (JSON)"},
        ],
    }
    update = web_ui.update_template_args

    def update_template_args():
        update()
        web_ui.template_args.update(tabs)

    web_ui.update_template_args = update_template_args
    web_ui.template_args.update(tabs)

    @app.after_request
    def _zkload_extended_stats(response):
        if request.path != "/stats/requests" or response.status_code != 200:
            return response
        data = response.get_json(silent=True)
        if isinstance(data, dict):
            views = fleet["views"]
            data["extended_stats"] = [{"key": "zkload", "data": _zkload_tab_rows(views[-1] if views else None)}]
            response.set_data(json.dumps(data))
        return response


def _zkload_tab_rows(view):
    if not view:
        return [{"name": "no fleet view yet: the zkload page is linked under Download Data"}]
    rows = []
    for o in view.get("ops") or []:
        if o.get("value"):
            continue
        rows.append({"name": ((o.get("method") or "") + " " + o.get("name", "")).strip(),
                     "rps": round(o.get("rps", 0), 1), "fps": round(o.get("fps", 0), 1),
                     "p50": o.get("p50_us"), "p99": o.get("p99_us"), "p999": o.get("p999_us"), "max": o.get("max_us"),
                     "workers": "%d of %d" % (len(view.get("workers") or []), view.get("expected") or 0)})
    return rows


def _zkload_old_ui_tab(app):
    """Locust's old UI (2.12.1 until 2.21): its index.html has blocks to extend; a
    template of the same name in front of Locust's extends it with a zkload tab. False
    for a UI without them (the React one)."""
    from jinja2 import ChoiceLoader, DictLoader, PrefixLoader

    env = app.jinja_env
    try:
        source = env.loader.get_source(env, "index.html")[0]
    except Exception:
        return False
    if "block extended_tabs" not in source or "block extended_panes" not in source:
        return False
    env.loader = ChoiceLoader([DictLoader({"index.html": _ZKLOAD_OLD_UI}), PrefixLoader({"zkload-locust": env.loader}), env.loader])
    return True
`)
	return b.String()
}

// oldUITab is the zkload tab of Locust's old web UI (2.12.1 until 2.21): a template
// named index.html in front of Locust's, extending it (Locust's own, reachable as
// zkload-locust/index.html) in the blocks it has for this. The tab's pane shows the page
// in a frame loaded when the tab is first opened, as tall as the page.
const oldUITab = `{% extends "zkload-locust/index.html" %}
{% block extended_tabs %}{{ super() }}<li><a href="#" class="zkload-tab-link">zkload</a></li>{% endblock extended_tabs %}
{% block extended_panes %}{{ super() }}<div style="display:none;" id="zkload-pane"><iframe id="zkload-frame" title="zkload" style="width:100%;height:1200px;border:0"></iframe></div>{% endblock extended_panes %}
{% block extended_script %}{{ super() }}<script type="text/javascript">
(function () {
    var frame = document.getElementById("zkload-frame");
    $(".zkload-tab-link").on("click", function () {
        if (!frame.getAttribute("src")) frame.setAttribute("src", "./zkload");
    });
    setInterval(function () {
        var d = frame.contentDocument;
        if (d && d.body && d.body.scrollHeight > 0) frame.style.height = (d.body.scrollHeight + 40) + "px";
    }, 1000);
})();
</script>{% endblock extended_script %}
`

// liveWeb is the locustfile's constants for the zkload page (doc/live.md): the page
// itself, from this binary (reports.LivePage: the chart library inside when the build
// has it), the columns of the React UI's zkload tab, and the old UI's tab.
func liveWeb() string {
	cols := []string{"name", "Operation", "rps", "req/s", "fps", "fail/s", "p50", "p50 µs", "p99", "p99 µs",
		"p999", "p99.9 µs", "max", "max µs", "workers", "workers"}
	var b strings.Builder
	b.WriteString("\n# The zkload page (doc/live.md), self-contained: served at /zkload.\n_ZKLOAD_PAGE = ")
	b.WriteString(pyfmt.Repr(reports.LivePage()))
	b.WriteString("\n_ZKLOAD_TAB_COLUMNS = [")
	for i := 0; i < len(cols); i += 2 {
		fmt.Fprintf(&b, "(%s, %s), ", pyfmt.Repr(cols[i]), pyfmt.Repr(cols[i+1]))
	}
	b.WriteString("]\n_ZKLOAD_OLD_UI = ")
	b.WriteString(pyfmt.Repr(oldUITab))
	b.WriteString("\n")
	return b.String()
}
