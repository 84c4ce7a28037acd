package wire

// Helpers for the tests that cross-check this package against the real Python side:
// /usr/bin/python3 with Debian's Locust 2.12.1, msgpack 1.0.3 and pyzmq. The Python code
// lives in harnessPy below and is fed one JSON request on stdin per test. If that Python
// cannot import locust, the tests that need it are skipped (exit status 77).

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/zkload/zkload/pyfmt"
)

// pythonPath is Debian's interpreter, the one Locust is installed for. The python3 on
// PATH may be another one without locust.
const pythonPath = "/usr/bin/python3"

// runHarness runs harnessPy with req as JSON on stdin and decodes its JSON answer into
// resp. It skips the test when Python or Locust is missing.
func runHarness(t *testing.T, req, resp any) {
	t.Helper()
	if _, err := os.Stat(pythonPath); err != nil {
		t.Skipf("%s not available: %v", pythonPath, err)
	}
	in, err := json.Marshal(req)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, pythonPath, "-c", harnessPy)
	cmd.Stdin = bytes.NewReader(in)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	// Locust/gevent must not pick up a stray config from the environment.
	cmd.Env = append(os.Environ(), "PYTHONDONTWRITEBYTECODE=1", "PYTHONIOENCODING=utf-8")
	err = cmd.Run()
	var ee *exec.ExitError
	if errors.As(err, &ee) && ee.ExitCode() == 77 {
		t.Skipf("skipping: %s", strings.TrimSpace(stderr.String()))
	}
	if err != nil {
		t.Fatalf("python harness: %v\nstderr:\n%s", err, stderr.String())
	}
	if err := json.Unmarshal(stdout.Bytes(), resp); err != nil {
		t.Fatalf("python harness answer: %v\nstdout:\n%s\nstderr:\n%s", err, stdout.String(), stderr.String())
	}
}

func hexFrames(frames ...[]byte) []string {
	out := make([]string, len(frames))
	for i, f := range frames {
		out[i] = hex.EncodeToString(f)
	}
	return out
}

// pyDict is an expected Python dict with keys of any Python type (string, int64, ...).
type pyDict map[any]any

// pyCanon renders an expected value exactly as harnessPy's canon() renders what
// msgpack.loads returned: ascii() for str, repr() for numbers, None, True/False, lists
// in brackets and dicts with items sorted by their rendered key. Go types stand for
// Python types: string is str, []byte is bytes, any integer is int, float64 is float.
func pyCanon(v any) string {
	switch x := v.(type) {
	case nil:
		return "None"
	case bool:
		if x {
			return "True"
		}
		return "False"
	case int:
		return strconv.Itoa(x)
	case int64:
		return strconv.FormatInt(x, 10)
	case uint64:
		return strconv.FormatUint(x, 10)
	case float64:
		return pyfmt.Float(x)
	case string:
		return pyASCII(x)
	case []byte:
		return "bytes:" + hex.EncodeToString(x)
	case []any:
		parts := make([]string, len(x))
		for i, e := range x {
			parts[i] = pyCanon(e)
		}
		return "[" + strings.Join(parts, ", ") + "]"
	case []string:
		parts := make([]string, len(x))
		for i, e := range x {
			parts[i] = pyCanon(e)
		}
		return "[" + strings.Join(parts, ", ") + "]"
	case pyDict:
		// Python sorts (key, value) pairs of rendered strings: by key, then value.
		type kv struct{ k, v string }
		items := make([]kv, 0, len(x))
		for k, e := range x {
			items = append(items, kv{pyCanon(k), pyCanon(e)})
		}
		sort.Slice(items, func(i, j int) bool {
			if items[i].k != items[j].k {
				return items[i].k < items[j].k
			}
			return items[i].v < items[j].v
		})
		parts := make([]string, len(items))
		for i, it := range items {
			parts[i] = it.k + ": " + it.v
		}
		return "{" + strings.Join(parts, ", ") + "}"
	case map[string]any:
		d := pyDict{}
		for k, e := range x {
			d[k] = e
		}
		return pyCanon(d)
	case map[string]int:
		d := pyDict{}
		for k, e := range x {
			d[k] = e
		}
		return pyCanon(d)
	case map[int64]int64:
		d := pyDict{}
		for k, e := range x {
			d[k] = e
		}
		return pyCanon(d)
	}
	panic(fmt.Sprintf("pyCanon: unsupported %T", v))
}

// pyASCII is Python's ascii() of a str.
func pyASCII(s string) string {
	quote := '\''
	if strings.ContainsRune(s, '\'') && !strings.ContainsRune(s, '"') {
		quote = '"'
	}
	var b strings.Builder
	b.WriteRune(quote)
	for _, r := range s {
		switch {
		case r == '\\':
			b.WriteString(`\\`)
		case r == quote:
			b.WriteRune('\\')
			b.WriteRune(quote)
		case r == '\t':
			b.WriteString(`\t`)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r < 0x20 || r == 0x7f || (r >= 0x80 && r <= 0xff):
			fmt.Fprintf(&b, `\x%02x`, r)
		case r < 0x80:
			b.WriteRune(r)
		case r <= 0xffff:
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			fmt.Fprintf(&b, `\U%08x`, r)
		}
	}
	b.WriteRune(quote)
	return b.String()
}

// harnessPy is the Python side of the cross-checks. Modes:
//   - view: msgpack.loads each frame the way the master does; canon() and structural problems.
//   - master: replay frames into a real in-process MasterRunner over ZeroMQ and report
//     its state after each frame, the merged stats, CSV rows and a final liveness probe.
//   - strings: repr(), StatsError.parse_error and StatsError.create_key per string.
//   - printable: str.isprintable() and "unassigned" bitmaps over all code points.
//   - pack: frames built with locust.rpc.protocol.Message(...).serialize().
const harnessPy = `
import json, sys, io, csv, logging

try:
    import msgpack
    import locust.stats
    import locust.rpc.protocol
except ImportError as e:
    sys.stderr.write("python cannot import locust: %s\n" % e)
    sys.exit(77)


def canon(o):
    """Type-revealing, order-independent rendering of a msgpack.loads result."""
    if o is None or isinstance(o, (bool, int, float)):
        return repr(o)
    if isinstance(o, str):
        return ascii(o)
    if isinstance(o, bytes):
        return "bytes:" + o.hex()
    if isinstance(o, (list, tuple)):
        inner = ", ".join(canon(x) for x in o)
        return ("(%s)" if isinstance(o, tuple) else "[%s]") % inner
    if isinstance(o, dict):
        items = sorted((canon(k), canon(v)) for k, v in o.items())
        return "{" + ", ".join("%s: %s" % kv for kv in items) + "}"
    return "<%s %r>" % (type(o).__name__, o)


def loads(b):
    return msgpack.loads(b, raw=False, strict_map_key=False)


def structural_problems(v):
    """The checks a Locust master implicitly relies on, as readable messages."""
    p = []
    if not isinstance(v, list) or len(v) != 3:
        return ["envelope is %s, want a 3-element array" % canon(v)]
    typ, data, nid = v
    if not isinstance(typ, str):
        p.append("type is %s, want str" % type(typ).__name__)
    if not isinstance(nid, str):
        p.append("node id is %s, want str" % type(nid).__name__)

    def entry(e, where):
        if not isinstance(e, dict):
            p.append("%s is not a dict" % where)
            return
        for k in ("name", "method"):
            if k not in e:
                p.append("%s lacks %s" % (where, k))
        for k in ("response_times", "num_reqs_per_sec", "num_fail_per_sec"):
            for key in e.get(k, {}):
                if type(key) is not int:
                    p.append("%s.%s has a %s key %r" % (where, k, type(key).__name__, key))
        if not isinstance(e.get("start_time"), float) or e.get("start_time") == 0:
            p.append("%s.start_time is %r, want a non-zero float" % (where, e.get("start_time")))

    if typ == "stats":
        for k in ("stats", "stats_total", "errors", "user_classes_count"):
            if k not in data:
                p.append("stats report lacks %s" % k)
        for i, e in enumerate(data.get("stats", [])):
            entry(e, "stats[%d]" % i)
        entry(data.get("stats_total"), "stats_total")
        for key, err in data.get("errors", {}).items():
            for k in ("name", "method", "error", "occurrences"):
                if k not in err:
                    p.append("errors[%s] lacks %s" % (key, k))
    elif typ == "heartbeat":
        if data.get("state") not in ("ready", "spawning", "running"):
            p.append("heartbeat state %r" % data.get("state"))
        if not isinstance(data.get("current_cpu_usage"), (int, float)):
            p.append("heartbeat current_cpu_usage %r" % data.get("current_cpu_usage"))
    elif typ == "spawning_complete":
        if not isinstance(data.get("user_classes_count"), dict):
            p.append("spawning_complete without user_classes_count")
    elif typ == "exception":
        for k in ("msg", "traceback"):
            if not isinstance(data.get(k), str):
                p.append("exception %s is %r" % (k, data.get(k)))
    return p


def mode_view(req):
    out = []
    for h in req["frames"]:
        try:
            v = loads(bytes.fromhex(h))
        except Exception as e:
            out.append({"error": "%s: %s" % (type(e).__name__, e)})
            continue
        out.append({"canon": canon(v), "problems": structural_problems(v)})
    return out


def mode_master(req):
    """Replays frames into a real in-process Locust MasterRunner over ZeroMQ."""
    import gevent
    import gevent.event
    import zmq.green as zmq
    import locust.log
    from locust import User, task, constant
    from locust.env import Environment
    from locust.rpc.protocol import Message
    from locust.stats import StatsCSV, PERCENTILES_TO_REPORT, sort_stats

    records = []

    class Capture(logging.Handler):
        def emit(self, rec):
            records.append({"level": rec.levelname, "msg": rec.getMessage()})

    logging.getLogger().addHandler(Capture())
    logging.getLogger().setLevel(logging.DEBUG)

    classes = []
    for c in req["classes"]:
        classes.append(type(c["name"], (User,), {"weight": c["weight"], "wait_time": constant(1),
                                                  "tasks": [lambda self: None]}))
    env = Environment(user_classes=classes)
    runner = env.create_master_runner("127.0.0.1", 0)
    port = runner.server.port

    synced = {}
    sync_event = gevent.event.Event()

    def on_sync(environment, msg):
        synced[msg.data] = True
        sync_event.set()

    runner.register_message("zz_sync", on_sync)

    ctx = zmq.Context()

    def dealer(ident):
        s = ctx.socket(zmq.DEALER)
        s.setsockopt(zmq.IDENTITY, ident.encode())
        s.setsockopt(zmq.LINGER, 0)
        s.connect("tcp://127.0.0.1:%d" % port)
        return s

    nid = req["node_id"]
    sock = dealer(nid)

    def drain(s):
        got = []
        while True:
            try:
                got.append(s.recv(zmq.NOBLOCK).hex())
            except zmq.Again:
                return got

    def snapshot():
        clients = {}
        for cid, c in runner.clients.items():
            clients[cid] = {"state": c.state, "user_classes_count": canon(c.user_classes_count),
                            "cpu_usage": repr(c.cpu_usage), "memory_usage": repr(c.memory_usage),
                            "heartbeat": c.heartbeat}
        return clients

    steps = []
    for i, h in enumerate(req["frames"]):
        mark = len(records)
        sock.send(bytes.fromhex(h))
        sync_event.clear()
        sock.send(Message("zz_sync", i, nid).serialize())
        alive = True
        with gevent.Timeout(3, False):
            while i not in synced:
                sync_event.wait()
        if i not in synced:
            alive = False
        gevent.sleep(0.01)
        steps.append({"received": drain(sock), "clients": snapshot(), "alive": alive,
                      "logs": records[mark:], "unhandled": bool(locust.log.unhandled_greenlet_exception)})
        if not alive:
            break

    def entry(e):
        return {"name": e.name, "method": e.method, "num_requests": e.num_requests,
                "num_failures": e.num_failures, "num_none_requests": e.num_none_requests,
                "total_response_time": repr(e.total_response_time),
                "min_response_time": repr(e.min_response_time), "max_response_time": repr(e.max_response_time),
                "median_response_time": repr(e.median_response_time), "avg_response_time": repr(e.avg_response_time),
                "percentiles": [e.get_response_time_percentile(p) for p in PERCENTILES_TO_REPORT],
                "response_times": canon(e.response_times), "num_reqs_per_sec": canon(e.num_reqs_per_sec),
                "num_fail_per_sec": canon(e.num_fail_per_sec), "start_time": repr(e.start_time),
                "last_request_timestamp": repr(e.last_request_timestamp),
                "total_content_length": e.total_content_length, "total_rps": repr(e.total_rps)}

    stats = [entry(e) for e in sort_stats(runner.stats.entries)]
    errors = {k: {"method": e.method, "name": e.name, "error": e.error, "occurrences": e.occurrences}
              for k, e in runner.stats.errors.items()}
    exceptions = [{"count": x["count"], "msg": x["msg"], "traceback": x["traceback"], "nodes": sorted(x["nodes"])}
                  for x in runner.exceptions.values()]
    csvs = {}
    writer = StatsCSV(env, PERCENTILES_TO_REPORT)
    for name, fn in (("stats", writer.requests_csv), ("failures", writer.failures_csv)):
        buf = io.StringIO()
        fn(csv.writer(buf))
        csvs[name] = buf.getvalue()

    # Is the master's receive loop still alive? A fresh worker must get an ack.
    probe = dealer("zz-probe_" + "0" * 32)
    probe.send(Message("client_ready", -1, "zz-probe_" + "0" * 32).serialize())
    probe_ack = None
    with gevent.Timeout(3, False):
        probe_ack = probe.recv().hex()

    return {"steps": steps, "stats": stats, "total": entry(runner.stats.total), "errors": errors,
            "exceptions": exceptions, "csv": csvs, "probe_ack": probe_ack,
            "unhandled": bool(locust.log.unhandled_greenlet_exception)}


def mode_strings(req):
    from locust.stats import StatsError

    class R:
        def __init__(self, s):
            self.s = s

        def __repr__(self):
            return self.s

    out = []
    for c in req["cases"]:
        s = c["text"]
        out.append({"repr": repr(s), "parse_error": StatsError.parse_error(R(s)),
                    "key": StatsError.create_key(c["method"], c["name"], R(s))})
    return out


def mode_printable(req):
    # One bit per code point below 0x110000: is chr(cp).isprintable()? Plus the
    # general category, so that a mismatch can be told apart from Unicode version skew.
    import unicodedata
    bits = bytearray(0x110000 // 8)
    unassigned = bytearray(0x110000 // 8)
    for cp in range(0x110000):
        ch = chr(cp)
        if ch.isprintable():
            bits[cp >> 3] |= 1 << (cp & 7)
        if unicodedata.category(ch) == "Cn":
            unassigned[cp >> 3] |= 1 << (cp & 7)
    return {"printable": bits.hex(), "unassigned": unassigned.hex(), "unidata": unicodedata.unidata_version}


def mode_pack(req):
    from locust.rpc.protocol import Message
    from locust.argument_parser import parse_options
    ns = {"NID": req.get("node_id"), "msgpack": msgpack, "Message": Message}
    if req.get("po_args"):
        ns["PO"] = vars(parse_options(args=req["po_args"]))
    out = {}
    for name, expr in req["cases"].items():
        v = eval(expr, ns)
        out[name] = (v if isinstance(v, bytes) else Message(*v).serialize()).hex()
    return out


req = json.load(sys.stdin)
res = globals()["mode_" + req["mode"]](req)
json.dump(res, sys.stdout)
`
