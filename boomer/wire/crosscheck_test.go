package wire

import (
	"encoding/hex"
	"math"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/zkload/zkload/pyfmt"
)

// testNodeID has the shape Locust's workers use: <hostname>_<uuid4 hex>, 44 bytes, so
// it is packed as str8 (0xd9).
const testNodeID = "zkload-test_0123456789abcdef0123456789abcdef"

func f64(v float64) *float64 { return &v }

// Timestamps in the stats fixtures: ts0 is a whole second so that the per-second keys
// are obvious.
const ts0 = 1795324476.0

const boomErr = "HTTPError('500 Server Error: boom')"

// fixtureStats is a report with two entries (one of them with a nil min response time
// and empty per-second maps), a total, one error and user counts.
func fixtureStats() StatsReport {
	foo := StatsEntry{
		Name: "/foo", Method: "GET",
		LastRequestTimestamp: f64(ts0 + 1.75), StartTime: ts0 - 0.5,
		NumRequests: 7, NumFailures: 2,
		TotalResponseTime: 3.2 + 47.5 + 145 + 155 + 999.6 + 1234 + 15500,
		MaxResponseTime:   15500, MinResponseTime: f64(3.2),
		TotalContentLength: 700,
		ResponseTimes:      map[int64]int64{3: 1, 48: 1, 140: 1, 160: 1, 1000: 1, 1200: 1, 16000: 1},
		NumReqsPerSec:      map[int64]int64{ts0: 3, ts0 + 1: 4},
		NumFailPerSec:      map[int64]int64{ts0 + 1: 2},
	}
	// One request logged without a response time (num_none_requests): nil min, no buckets.
	bar := StatsEntry{
		Name: "/café \"q\" 🙂", Method: "POST",
		LastRequestTimestamp: f64(ts0 + 0.25), StartTime: ts0 - 0.5,
		NumRequests: 1, NumNoneRequests: 1,
		ResponseTimes: map[int64]int64{},
		NumReqsPerSec: map[int64]int64{ts0: 1},
		NumFailPerSec: map[int64]int64{},
	}
	total := StatsEntry{
		Name: "Aggregated", Method: "",
		LastRequestTimestamp: foo.LastRequestTimestamp, StartTime: ts0 - 0.5,
		NumRequests: 8, NumNoneRequests: 1, NumFailures: 2,
		TotalResponseTime: foo.TotalResponseTime, MaxResponseTime: 15500, MinResponseTime: f64(3.2),
		TotalContentLength: 700,
		ResponseTimes:      foo.ResponseTimes,
		NumReqsPerSec:      map[int64]int64{ts0: 4, ts0 + 1: 4},
		NumFailPerSec:      map[int64]int64{ts0 + 1: 2},
	}
	key := ErrorKey("GET", "/foo", boomErr)
	return StatsReport{
		Stats:      []StatsEntry{foo, bar},
		StatsTotal: total,
		Errors: map[string]StatsError{key: {
			Name: "/foo", Method: "GET", Error: boomErr, Occurrences: 2,
			FirstSeen: ts0 + 0.5, LastSeen: ts0 + 1.5,
		}},
		UserClassesCount: map[string]int{"UserA": 3, "UserB": 1},
		UserCount:        4,
	}
}

// emptyStats is an idle report: nothing but a zero total. Nil collections must still be
// sent as empty ones.
func emptyStats() StatsReport {
	return StatsReport{StatsTotal: StatsEntry{Name: "Aggregated", StartTime: ts0 + 3}}
}

// workerMessages is one message of every type a worker sends.
func workerMessages() []Message {
	return []Message{
		{Type: TypeClientReady, Data: ClientReadyVersion, NodeID: testNodeID},
		{Type: TypeHeartbeat, Data: Heartbeat{State: "ready", CurrentCPUUsage: 12.5, CurrentMemoryUsage: 123456789}, NodeID: testNodeID},
		{Type: TypeSpawning, Data: nil, NodeID: testNodeID},
		{Type: TypeSpawningComplete, Data: SpawningComplete{UserClassesCount: map[string]int{"UserA": 3, "UserB": 1}, UserCount: 4}, NodeID: testNodeID},
		{Type: TypeStats, Data: fixtureStats(), NodeID: testNodeID},
		{Type: TypeStats, Data: emptyStats(), NodeID: testNodeID},
		{Type: TypeException, Data: Exception{Msg: "boom", Traceback: "  File \"task.go\", line 7, in get\n"}, NodeID: testNodeID},
		{Type: TypeClientStopped, Data: nil, NodeID: testNodeID},
		{Type: TypeQuit, Data: nil, NodeID: testNodeID},
	}
}

// expectedPy is what msgpack.loads(raw=False, strict_map_key=False) must return for a
// worker message, in Python types.
func expectedPy(t *testing.T, m Message) []any {
	t.Helper()
	var data any
	switch d := m.Data.(type) {
	case nil:
	case int:
		data = d
	case Heartbeat:
		data = pyDict{"state": d.State, "current_cpu_usage": d.CurrentCPUUsage, "current_memory_usage": d.CurrentMemoryUsage}
	case SpawningComplete:
		data = pyDict{"user_classes_count": d.UserClassesCount, "user_count": d.UserCount}
	case Exception:
		data = pyDict{"msg": d.Msg, "traceback": d.Traceback}
	case StatsReport:
		stats := []any{}
		for _, e := range d.Stats {
			stats = append(stats, expectedEntry(e))
		}
		errs := pyDict{}
		for k, e := range d.Errors {
			errs[k] = pyDict{"name": e.Name, "method": e.Method, "error": e.Error, "occurrences": e.Occurrences,
				"first_seen": e.FirstSeen, "last_seen": e.LastSeen}
		}
		ucc := d.UserClassesCount
		if ucc == nil {
			ucc = map[string]int{}
		}
		data = pyDict{"stats": stats, "stats_total": expectedEntry(d.StatsTotal), "errors": errs,
			"user_classes_count": ucc, "user_count": d.UserCount}
	default:
		t.Fatalf("expectedPy: no expectation for %T", m.Data)
	}
	return []any{m.Type, data, m.NodeID}
}

func expectedEntry(e StatsEntry) pyDict {
	opt := func(p *float64) any {
		if p == nil {
			return nil
		}
		return *p
	}
	ints := func(m map[int64]int64) pyDict {
		d := pyDict{}
		for k, v := range m {
			d[k] = v
		}
		return d
	}
	return pyDict{
		"name": e.Name, "method": e.Method,
		"last_request_timestamp": opt(e.LastRequestTimestamp), "start_time": e.StartTime,
		"num_requests": e.NumRequests, "num_none_requests": e.NumNoneRequests, "num_failures": e.NumFailures,
		"total_response_time": e.TotalResponseTime, "max_response_time": e.MaxResponseTime,
		"min_response_time": opt(e.MinResponseTime), "total_content_length": e.TotalContentLength,
		"response_times": ints(e.ResponseTimes), "num_reqs_per_sec": ints(e.NumReqsPerSec),
		"num_fail_per_sec": ints(e.NumFailPerSec),
	}
}

func mustEncode(t testing.TB, m Message) []byte {
	t.Helper()
	b, err := Encode(m)
	if err != nil {
		t.Fatalf("Encode(%s): %v", m.Type, err)
	}
	return b
}

type viewResult struct {
	Canon    string   `json:"canon"`
	Problems []string `json:"problems"`
	Error    string   `json:"error"`
}

// TestEncodeLoadsInPython: every worker->master message, encoded in Go, is read by
// Python's msgpack exactly as the master reads it, with the Python types we mean.
func TestEncodeLoadsInPython(t *testing.T) {
	t.Parallel()
	msgs := workerMessages()
	frames := make([][]byte, len(msgs))
	for i, m := range msgs {
		frames[i] = mustEncode(t, m)
	}
	var res []viewResult
	runHarness(t, map[string]any{"mode": "view", "frames": hexFrames(frames...)}, &res)
	if len(res) != len(msgs) {
		t.Fatalf("got %d results for %d frames", len(res), len(msgs))
	}
	for i, m := range msgs {
		r := res[i]
		if r.Error != "" {
			t.Errorf("%s: msgpack.loads failed: %s", m.Type, r.Error)
			continue
		}
		for _, p := range r.Problems {
			t.Errorf("%s: %s", m.Type, p)
		}
		if want := pyCanon(expectedPy(t, m)); r.Canon != want {
			t.Errorf("%s: Python sees\n  %s\nwant\n  %s", m.Type, r.Canon, want)
		}
	}
}

// TestPyCanonMatchesPython checks the test's own rendering of expected values (floats and
// non-ASCII text in particular) against Python, so that a mismatch elsewhere is never
// an artefact of pyCanon.
func TestPyCanonMatchesPython(t *testing.T) {
	t.Parallel()
	floats := []float64{0, 1, -1, 0.1, 1.5, 3.2, 1e-4, 1.5e-5, 1e15, 1e16, 123456789012345678, 1795324476.1234567,
		math.MaxFloat64, math.SmallestNonzeroFloat64, -2.5e-300, 100, 18084.3}
	strs := []string{"", "plain", "it's", `say "hi"`, `both ' and "`, "back\\slash", "tab\tnl\ncr\r", "\x00\x1f\x7f",
		"café", "\u00a0\u00ad\u00ff", "日本", "🙂", "\ufffd", "\u2028"}
	items := []any{}
	for _, f := range floats {
		items = append(items, f)
	}
	for _, s := range strs {
		items = append(items, s)
	}
	items = append(items, int64(math.MinInt64), uint64(math.MaxUint64), true, false, nil, []byte{0, 0xff})
	frame := mustEncode(t, Message{Type: "x", Data: items, NodeID: "n"})
	var res []viewResult
	runHarness(t, map[string]any{"mode": "view", "frames": hexFrames(frame)}, &res)
	if want := pyCanon([]any{"x", items, "n"}); res[0].Canon != want {
		t.Errorf("Python sees\n  %s\nwant\n  %s", res[0].Canon, want)
	}
}

type masterStep struct {
	Received []string `json:"received"`
	Clients  map[string]struct {
		State            string `json:"state"`
		UserClassesCount string `json:"user_classes_count"`
		CPUUsage         string `json:"cpu_usage"`
		MemoryUsage      string `json:"memory_usage"`
	} `json:"clients"`
	Alive     bool `json:"alive"`
	Unhandled bool `json:"unhandled"`
	Logs      []struct {
		Level string `json:"level"`
		Msg   string `json:"msg"`
	} `json:"logs"`
}

type masterEntry struct {
	Name                 string  `json:"name"`
	Method               string  `json:"method"`
	NumRequests          int64   `json:"num_requests"`
	NumFailures          int64   `json:"num_failures"`
	NumNoneRequests      int64   `json:"num_none_requests"`
	TotalResponseTime    string  `json:"total_response_time"`
	MinResponseTime      string  `json:"min_response_time"`
	MaxResponseTime      string  `json:"max_response_time"`
	MedianResponseTime   string  `json:"median_response_time"`
	AvgResponseTime      string  `json:"avg_response_time"`
	Percentiles          []int64 `json:"percentiles"`
	ResponseTimes        string  `json:"response_times"`
	NumReqsPerSec        string  `json:"num_reqs_per_sec"`
	NumFailPerSec        string  `json:"num_fail_per_sec"`
	StartTime            string  `json:"start_time"`
	LastRequestTimestamp string  `json:"last_request_timestamp"`
	TotalContentLength   int64   `json:"total_content_length"`
	TotalRPS             string  `json:"total_rps"`
}

type masterResult struct {
	Steps  []masterStep  `json:"steps"`
	Stats  []masterEntry `json:"stats"`
	Total  masterEntry   `json:"total"`
	Errors map[string]struct {
		Method      string `json:"method"`
		Name        string `json:"name"`
		Error       string `json:"error"`
		Occurrences int64  `json:"occurrences"`
	} `json:"errors"`
	Exceptions []struct {
		Count     int      `json:"count"`
		Msg       string   `json:"msg"`
		Traceback string   `json:"traceback"`
		Nodes     []string `json:"nodes"`
	} `json:"exceptions"`
	CSV       map[string]string `json:"csv"`
	ProbeAck  *string           `json:"probe_ack"`
	Unhandled bool              `json:"unhandled"`
}

// TestEncodeAcceptedByRealMaster replays a worker's whole life, encoded in Go, into a
// real Locust 2.12.1 MasterRunner (in-process, over ZeroMQ) and checks the master's
// state after every message: registration and ack, heartbeat fields, spawning states,
// stats merged by the master's own setup_distributed_stats_event_listeners, errors,
// exceptions, client_stopped, re-registration and quit. The receive loop must survive
// everything and no handler may raise.
func TestEncodeAcceptedByRealMaster(t *testing.T) {
	t.Parallel()
	hb := func(state string) Message {
		return Message{Type: TypeHeartbeat, Data: Heartbeat{State: state, CurrentCPUUsage: 12.5, CurrentMemoryUsage: 123456789}, NodeID: testNodeID}
	}
	ready := Message{Type: TypeClientReady, Data: ClientReadyVersion, NodeID: testNodeID}
	exc := Message{Type: TypeException, Data: Exception{Msg: "boom", Traceback: "  File \"task.go\", line 7, in get\n"}, NodeID: testNodeID}
	stats := Message{Type: TypeStats, Data: fixtureStats(), NodeID: testNodeID}
	steps := []struct {
		msg   Message
		check func(t *testing.T, s masterStep)
	}{
		{ready, func(t *testing.T, s masterStep) {
			wantState(t, s, "ready")
			if len(s.Received) != 1 {
				t.Fatalf("worker received %d frames after client_ready, want 1 ack", len(s.Received))
			}
			checkAck(t, s.Received[0], 0)
		}},
		{hb("ready"), func(t *testing.T, s masterStep) {
			wantState(t, s, "ready")
			c := s.Clients[testNodeID]
			if c.CPUUsage != "12.5" || c.MemoryUsage != "123456789" {
				t.Errorf("master stored cpu %s memory %s, want 12.5 and 123456789", c.CPUUsage, c.MemoryUsage)
			}
		}},
		{Message{Type: TypeSpawning, NodeID: testNodeID}, func(t *testing.T, s masterStep) { wantState(t, s, "spawning") }},
		{Message{Type: TypeSpawningComplete, Data: SpawningComplete{UserClassesCount: map[string]int{"UserA": 3, "UserB": 1}, UserCount: 4}, NodeID: testNodeID},
			func(t *testing.T, s masterStep) {
				wantState(t, s, "running")
				if got := s.Clients[testNodeID].UserClassesCount; got != "{'UserA': 3, 'UserB': 1}" {
					t.Errorf("master's user_classes_count for the worker = %s", got)
				}
			}},
		{hb("running"), func(t *testing.T, s masterStep) { wantState(t, s, "running") }},
		{stats, func(t *testing.T, s masterStep) { wantState(t, s, "running") }},
		{stats, nil},
		{Message{Type: TypeStats, Data: emptyStats(), NodeID: testNodeID}, func(t *testing.T, s masterStep) {
			if got := s.Clients[testNodeID].UserClassesCount; got != "{}" {
				t.Errorf("an idle report's user_classes_count should replace the worker's counts, got %s", got)
			}
		}},
		{exc, nil},
		{exc, nil},
		{Message{Type: TypeClientStopped, NodeID: testNodeID}, func(t *testing.T, s masterStep) {
			if _, ok := s.Clients[testNodeID]; ok {
				t.Errorf("master still knows the worker after client_stopped")
			}
		}},
		{ready, func(t *testing.T, s masterStep) {
			wantState(t, s, "ready")
			if len(s.Received) != 1 {
				t.Fatalf("worker received %d frames after the second client_ready, want 1 ack", len(s.Received))
			}
			checkAck(t, s.Received[0], 0) // same id, same index
		}},
		{hb("ready"), func(t *testing.T, s masterStep) { wantState(t, s, "ready") }},
		{Message{Type: TypeQuit, NodeID: testNodeID}, func(t *testing.T, s masterStep) {
			if _, ok := s.Clients[testNodeID]; ok {
				t.Errorf("master still knows the worker after quit")
			}
		}},
	}
	frames := make([][]byte, len(steps))
	for i, s := range steps {
		frames[i] = mustEncode(t, s.msg)
	}
	var res masterResult
	runHarness(t, map[string]any{
		"mode": "master", "node_id": testNodeID, "frames": hexFrames(frames...),
		"classes": []map[string]any{{"name": "UserA", "weight": 3}, {"name": "UserB", "weight": 1}},
	}, &res)

	for i, s := range res.Steps {
		name := steps[i].msg.Type
		for _, l := range s.Logs {
			if l.Level == "WARNING" || l.Level == "ERROR" || l.Level == "CRITICAL" {
				t.Errorf("step %d (%s): master logged %s: %s", i, name, l.Level, l.Msg)
			}
		}
		if s.Unhandled {
			t.Errorf("step %d (%s): an event handler raised (unhandled_greenlet_exception set)", i, name)
		}
		if !s.Alive {
			t.Fatalf("step %d (%s): the master's receive loop died", i, name)
		}
		if steps[i].check != nil {
			t.Run(name, func(t *testing.T) { steps[i].check(t, s) })
		}
	}
	if len(res.Steps) != len(steps) {
		t.Fatalf("master processed %d of %d steps", len(res.Steps), len(steps))
	}
	if res.ProbeAck == nil {
		t.Fatalf("the master is deaf after the replay: a fresh worker got no ack")
	}
	checkAck(t, *res.ProbeAck, 1)

	// Two identical reports were merged: everything doubles.
	rep := fixtureStats()
	if len(res.Stats) != 2 {
		t.Fatalf("master has %d entries, want 2: %+v", len(res.Stats), res.Stats)
	}
	byName := map[string]masterEntry{}
	for _, e := range res.Stats {
		byName[e.Method+" "+e.Name] = e
	}
	foo, ok := byName["GET /foo"]
	if !ok {
		t.Fatalf("no GET /foo entry on the master: %+v", res.Stats)
	}
	if foo.NumRequests != 14 || foo.NumFailures != 4 || foo.TotalContentLength != 1400 {
		t.Errorf("GET /foo: requests %d failures %d content %d, want 14, 4, 1400", foo.NumRequests, foo.NumFailures, foo.TotalContentLength)
	}
	if foo.MinResponseTime != "3.2" || foo.MaxResponseTime != "15500.0" {
		t.Errorf("GET /foo: min %s max %s, want 3.2 and 15500.0", foo.MinResponseTime, foo.MaxResponseTime)
	}
	if want := pyCanon(map[int64]int64{3: 2, 48: 2, 140: 2, 160: 2, 1000: 2, 1200: 2, 16000: 2}); foo.ResponseTimes != want {
		t.Errorf("GET /foo response_times = %s, want %s", foo.ResponseTimes, want)
	}
	if want := "{1795324476: 6, 1795324477: 8}"; foo.NumReqsPerSec != want {
		t.Errorf("GET /foo num_reqs_per_sec = %s, want %s", foo.NumReqsPerSec, want)
	}
	if want := "{1795324477: 4}"; foo.NumFailPerSec != want {
		t.Errorf("GET /foo num_fail_per_sec = %s, want %s", foo.NumFailPerSec, want)
	}
	// §5.4's worked example: p50..p100 = 160,1000,1200,1200,16000 x7, median 160.
	if want := []int64{160, 1000, 1200, 1200, 16000, 16000, 16000, 16000, 16000, 16000, 16000}; !reflect.DeepEqual(foo.Percentiles, want) {
		t.Errorf("GET /foo percentiles = %v, want %v", foo.Percentiles, want)
	}
	if foo.MedianResponseTime != "160" {
		t.Errorf("GET /foo median = %s, want 160", foo.MedianResponseTime)
	}
	if foo.StartTime != pyfmt.Float(rep.Stats[0].StartTime) || foo.LastRequestTimestamp != pyfmt.Float(*rep.Stats[0].LastRequestTimestamp) {
		t.Errorf("GET /foo start %s last %s", foo.StartTime, foo.LastRequestTimestamp)
	}
	bar, ok := byName["POST "+rep.Stats[1].Name]
	if !ok {
		t.Fatalf("no POST entry with the non-ASCII name on the master: %+v", res.Stats)
	}
	if bar.NumRequests != 2 || bar.NumNoneRequests != 2 || bar.MinResponseTime != "None" || bar.ResponseTimes != "{}" {
		t.Errorf("POST entry: %+v", bar)
	}
	tot := res.Total
	if tot.NumRequests != 16 || tot.NumFailures != 4 || tot.NumNoneRequests != 2 || tot.MinResponseTime != "3.2" {
		t.Errorf("Aggregated: %+v", tot)
	}

	// The error merged under our key, with occurrences added, text unchanged.
	key := ErrorKey("GET", "/foo", boomErr)
	if len(res.Errors) != 1 {
		t.Errorf("master has %d errors, want 1: %+v", len(res.Errors), res.Errors)
	}
	if e, ok := res.Errors[key]; !ok || e.Occurrences != 4 || e.Error != boomErr || e.Method != "GET" || e.Name != "/foo" {
		t.Errorf("error %s on the master = %+v, ok=%v", key, e, ok)
	}
	if len(res.Exceptions) != 1 || res.Exceptions[0].Count != 2 || res.Exceptions[0].Msg != "boom" ||
		!reflect.DeepEqual(res.Exceptions[0].Nodes, []string{testNodeID}) {
		t.Errorf("master's exceptions = %+v", res.Exceptions)
	}

	// The rows the master writes to PREFIX_stats.csv and PREFIX_failures.csv.
	// Rows are sorted by (name, method), then Aggregated; CRLF line ends.
	statsCSV := strings.Split(res.CSV["stats"], "\r\n")
	if len(statsCSV) != 5 || !strings.HasPrefix(statsCSV[0], "Type,Name,Request Count") {
		t.Fatalf("stats CSV:\n%q", res.CSV["stats"])
	}
	if want := `POST,"/café ""q"" 🙂",2,0,0,0.0,0,0,0.0,`; !strings.HasPrefix(statsCSV[1], want) {
		t.Errorf("POST CSV row: %s\nwant prefix %s", statsCSV[1], want)
	}
	if !strings.HasPrefix(statsCSV[2], "GET,/foo,14,4,160,") || !strings.Contains(statsCSV[2], ",3.2,15500.0,100.0,") ||
		!strings.HasSuffix(statsCSV[2], ",160,1000,1200,1200,16000,16000,16000,16000,16000,16000,16000") {
		t.Errorf("GET /foo CSV row: %s", statsCSV[2])
	}
	if !strings.HasPrefix(statsCSV[3], ",Aggregated,16,4,") {
		t.Errorf("Aggregated CSV row: %s", statsCSV[3])
	}
	// 2.12.1 repr()s the error text once more in the failures CSV (reference §6.2).
	if want := `GET,/foo,"""HTTPError('500 Server Error: boom')""",4`; !strings.Contains(res.CSV["failures"], want) {
		t.Errorf("failures CSV lacks %s:\n%s", want, res.CSV["failures"])
	}
}

func wantState(t *testing.T, s masterStep, state string) {
	t.Helper()
	c, ok := s.Clients[testNodeID]
	if !ok {
		t.Fatalf("master does not know the worker (clients: %v)", s.Clients)
	}
	if c.State != state {
		t.Errorf("master's state for the worker = %q, want %q", c.State, state)
	}
}

func checkAck(t *testing.T, frameHex string, index int) {
	t.Helper()
	b, err := hex.DecodeString(frameHex)
	if err != nil {
		t.Fatal(err)
	}
	m, err := Decode(b)
	if err != nil {
		t.Fatalf("Decode(ack %s): %v", frameHex, err)
	}
	if m.Type != TypeAck || AckIndex(m.Data) != index {
		t.Errorf("got %s %v, want ack with index %d", m.Type, m.Data, index)
	}
}

// pyFrameCases are master->worker messages as Locust builds them, in Python syntax,
// each evaluated in the harness with NID (the node id), PO (a real 2.12.1 parsed_options
// dict from locust.argument_parser.parse_options) and msgpack in scope. A case that
// evaluates to bytes is used as the frame itself.
var pyFrameCases = map[string]string{
	"ack":        `("ack", {"index": 0}, NID)`,
	"ack_300":    `("ack", {"index": 300}, NID)`,
	"heartbeat":  `("heartbeat", None, NID)`,
	"stop":       `("stop", None, NID)`,
	"quit":       `("quit", None, NID)`,
	"quit_35":    `("quit", None, "w1_" + "ab" * 16)`,
	"reconnect":  `("reconnect", None, NID)`,
	"spawn_done": `("spawning_complete", {"user_count": 5}, NID)`,
	"update_class": `("update_user_class", {"user_class_name": "UserA", "host": "http://h:1", "weight": 3,
	    "fixed_count": 0, "tasks": ["t1", "t2"]}, NID)`,
	"custom": `("my_custom", {"payload": b"\x00\x01", "n": -1, "pair": (1, 2.5), 7: "int key"}, NID)`,
	// 2.12.1 as observed: nil stop_timeout and host, the real 50-key parsed_options.
	"spawn_2121": `("spawn", {"timestamp": 1795324476.1234567, "user_classes_count": {"UserA": 2, "UserB": 0},
	    "host": None, "stop_timeout": None, "parsed_options": PO}, NID)`,
	// 2.12.1 with --stop-timeout 30 -H ...: int stop_timeout, str host.
	"spawn_2121_stop": `("spawn", {"timestamp": 1795324477.5, "user_classes_count": {"UserA": 3, "UserB": 1},
	    "host": "http://127.0.0.1:8089", "stop_timeout": 30, "parsed_options": PO}, NID)`,
	// Since 2.13: float stop_timeout, 0.0 by default.
	"spawn_latest": `("spawn", {"timestamp": 1795324478.0, "user_classes_count": {"UserA": 70000, "UserB": 0},
	    "host": "https://example.test", "stop_timeout": 0.0, "parsed_options": {}}, NID)`,
	"spawn_float_stop": `("spawn", {"timestamp": 1795324479.25, "user_classes_count": {"UserA": 1},
	    "host": None, "stop_timeout": 2.5, "parsed_options": {"tags": None, "exclude_tags": ["slow", "flaky"],
	    "nested": {"a": [1, -2, 3.5, None, True, "x", {"deep": [[]]}], 7: "int key"},
	    "big": 2**64 - 1, "neg": -2**63, "f": 1e300, "unicode": "é🙂", "empty": {}, "user_classes": []}}, NID)`,
	// msgpack < 1.0 (use_bin_type=False) packs text in the raw family: no str8.
	"spawn_old_msgpack": `msgpack.packb(("spawn", {"timestamp": 1795324480.0, "user_classes_count": {"UserA": 1},
	    "host": "h", "stop_timeout": None, "parsed_options": {"tags": ["a"]}}, "w1_" + "cd" * 16), use_bin_type=False)`,
}

// norm makes decoded msgpack values comparable: every integer becomes int64 (uint64 above
// MaxInt64), float32 becomes float64.
func norm(v any) any {
	switch x := v.(type) {
	case int8:
		return int64(x)
	case int16:
		return int64(x)
	case int32:
		return int64(x)
	case int:
		return int64(x)
	case uint8:
		return int64(x)
	case uint16:
		return int64(x)
	case uint32:
		return int64(x)
	case uint:
		return norm(uint64(x))
	case uint64:
		if x <= math.MaxInt64 {
			return int64(x)
		}
		return x
	case float32:
		return float64(x)
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = norm(e)
		}
		return out
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = norm(e)
		}
		return out
	case map[any]any:
		out := make(map[any]any, len(x))
		for k, e := range x {
			out[norm(k)] = norm(e)
		}
		return out
	case time.Time:
		return x.UTC().Format(time.RFC3339Nano)
	}
	return v
}

// TestDecodePythonFrames decodes master->worker frames produced by Locust's own
// Message.serialize() (and old msgpack's raw strings) and checks every value.
func TestDecodePythonFrames(t *testing.T) {
	t.Parallel()
	var frames map[string]string
	runHarness(t, map[string]any{
		"mode": "pack", "node_id": testNodeID, "cases": pyFrameCases,
		"po_args": []string{"-f", "x.py", "--master", "--headless", "-u", "5", "-r", "2", "-t", "10s", "--tags", "a", "b"},
	}, &frames)
	decode := func(t *testing.T, name string) Message {
		t.Helper()
		b, err := hex.DecodeString(frames[name])
		if err != nil || len(b) == 0 {
			t.Fatalf("no frame for %s", name)
		}
		m, err := Decode(b)
		if err != nil {
			t.Fatalf("Decode(%s = %x): %v", name, b, err)
		}
		return m
	}
	simple := []struct {
		name, typ, node string
		data            any
	}{
		{"ack", TypeAck, testNodeID, map[string]any{"index": int64(0)}},
		{"ack_300", TypeAck, testNodeID, map[string]any{"index": int64(300)}},
		{"heartbeat", TypeHeartbeat, testNodeID, nil},
		{"stop", TypeStop, testNodeID, nil},
		{"quit", TypeQuit, testNodeID, nil},
		{"quit_35", TypeQuit, "w1_" + strings.Repeat("ab", 16), nil},
		{"reconnect", TypeReconnect, testNodeID, nil},
		{"spawn_done", TypeSpawningComplete, testNodeID, map[string]any{"user_count": int64(5)}},
		{"update_class", TypeUpdateUserClass, testNodeID, map[string]any{"user_class_name": "UserA", "host": "http://h:1",
			"weight": int64(3), "fixed_count": int64(0), "tasks": []any{"t1", "t2"}}},
		{"custom", "my_custom", testNodeID, map[any]any{"payload": []byte{0, 1}, "n": int64(-1),
			"pair": []any{int64(1), 2.5}, int64(7): "int key"}},
	}
	for _, c := range simple {
		t.Run(c.name, func(t *testing.T) {
			m := decode(t, c.name)
			if m.Type != c.typ || m.NodeID != c.node {
				t.Errorf("type %q node %q, want %q %q", m.Type, m.NodeID, c.typ, c.node)
			}
			if got := norm(m.Data); !reflect.DeepEqual(got, c.data) {
				t.Errorf("data = %#v, want %#v", got, c.data)
			}
		})
	}
	if got := AckIndex(decode(t, "ack_300").Data); got != 300 {
		t.Errorf("AckIndex = %d, want 300", got)
	}
	if !strings.HasPrefix(frames["quit_35"], "93a471756974c0d923") {
		t.Errorf("Python packed a 35-byte node id as %s, expected str8 (d9 23)", frames["quit_35"])
	}

	spawns := []struct {
		name        string
		ts          float64
		counts      map[string]int
		host        string
		stop        time.Duration
		hasStop     bool
		tags, xtags []string
	}{
		{"spawn_2121", 1795324476.1234567, map[string]int{"UserA": 2, "UserB": 0}, "", 0, false, []string{"a", "b"}, nil},
		{"spawn_2121_stop", 1795324477.5, map[string]int{"UserA": 3, "UserB": 1}, "http://127.0.0.1:8089", 30 * time.Second, true, []string{"a", "b"}, nil},
		{"spawn_latest", 1795324478.0, map[string]int{"UserA": 70000, "UserB": 0}, "https://example.test", 0, true, nil, nil},
		{"spawn_float_stop", 1795324479.25, map[string]int{"UserA": 1}, "", 2500 * time.Millisecond, true, nil, []string{"slow", "flaky"}},
		{"spawn_old_msgpack", 1795324480.0, map[string]int{"UserA": 1}, "h", 0, false, []string{"a"}, nil},
	}
	for _, c := range spawns {
		t.Run(c.name, func(t *testing.T) {
			m := decode(t, c.name)
			if m.Type != TypeSpawn {
				t.Fatalf("type %q", m.Type)
			}
			s, err := ParseSpawn(m.Data)
			if err != nil {
				t.Fatalf("ParseSpawn: %v", err)
			}
			if s.Timestamp != c.ts || !reflect.DeepEqual(s.UserClassesCount, c.counts) || s.Host != c.host ||
				s.StopTimeout != c.stop || s.HasStopTimeout != c.hasStop ||
				!reflect.DeepEqual(s.Tags, c.tags) || !reflect.DeepEqual(s.ExcludeTags, c.xtags) {
				t.Errorf("ParseSpawn = %+v (options omitted: %v)", s, s.ParsedOptions == nil)
			}
			if s.ParsedOptions == nil {
				t.Errorf("ParsedOptions is nil, want a map")
			}
		})
	}
	// The real 2.12.1 parsed_options: 50 keys of mixed types.
	s, _ := ParseSpawn(decode(t, "spawn_2121").Data)
	po := norm(map[string]any(s.ParsedOptions)).(map[string]any)
	if len(po) != 50 {
		t.Errorf("parsed_options has %d keys, want 50 (2.12.1): %v", len(po), sortedKeys(po))
	}
	for k, want := range map[string]any{"num_users": int64(5), "spawn_rate": 2.0, "run_time": "10s", "headless": true,
		"exclude_tags": nil, "user_classes": []any{}, "master_bind_port": int64(5557), "tags": []any{"a", "b"}} {
		if got, ok := po[k]; !ok || !reflect.DeepEqual(got, want) {
			t.Errorf("parsed_options[%q] = %#v, want %#v", k, got, want)
		}
	}
	s, _ = ParseSpawn(decode(t, "spawn_float_stop").Data)
	wantPO := map[string]any{"tags": nil, "exclude_tags": []any{"slow", "flaky"},
		"nested": map[any]any{"a": []any{int64(1), int64(-2), 3.5, nil, true, "x", map[string]any{"deep": []any{[]any{}}}}, int64(7): "int key"},
		"big":    uint64(math.MaxUint64), "neg": int64(math.MinInt64), "f": 1e300, "unicode": "é🙂",
		"empty": map[string]any{}, "user_classes": []any{}}
	if got := norm(map[string]any(s.ParsedOptions)); !reflect.DeepEqual(got, wantPO) {
		t.Errorf("parsed_options = %#v\nwant %#v", got, wantPO)
	}
	if m := decode(t, "spawn_old_msgpack"); m.NodeID != "w1_"+strings.Repeat("cd", 16) {
		t.Errorf("old-msgpack node id = %q", m.NodeID)
	}
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
