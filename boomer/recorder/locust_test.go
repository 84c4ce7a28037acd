package recorder

import (
	"errors"
	"math"
	"slices"
	"testing"
	"time"

	"github.com/zkload/zkload/boomer/wire"
)

// errorKeyTexts are error texts that exercise Python's repr: quotes of both kinds,
// backslashes, control characters, non-ASCII printable and non-printable characters,
// and object addresses that Locust scrubs.
//
// Left out, because pyfmt.Repr differs from Python 3.11 there (see the report to the
// lead): a literal U+FFFD, which Python prints as is and pyfmt.Repr escapes as \ufffd, and
// characters new in Unicode 15 (e.g. U+1FAE8), which Go prints and Python 3.11 (Unicode
// 14) escapes.
var errorKeyTexts = []string{
	"",
	"timeout",
	"it's",
	`say "hi"`,
	`both ' and "`,
	`back\slash and C:\new\table`,
	"line1\nline2\r\n\ttabbed",
	"nul\x00 bell\x07 esc\x1b del\x7f c1\u0085\u009f",
	"é ü ß ñ",
	"中文错误：连接被拒绝",
	"emoji 😀 🚀",
	"nbsp\u00a0 shy\u00ad zwsp\u200b ls\u2028 ps\u2029 bom\ufeff pua\ue000 unassigned\u0378",
	"ConnectionResetError(104, 'Connection reset by peer')",
	"HTTPError('404 Client Error: File not found for url: http://127.0.0.1:8000/missing')",
	"ConnectionError(MaxRetryError(\"HTTPConnectionPool(host='x', port=1): Max retries exceeded " +
		"(Caused by NewConnectionError('<urllib3.connection.HTTPConnection object at 0x7f3a1b2c3d40>: " +
		"Failed to establish a new connection: [Errno 111] Connection refused'))\"))",
	"<Conn object at 0xdeadbeef> and <Conn object at 0xdeadbeef> again",
	"object at 0x without a closing bracket",
}

// TestErrorKeysMatchLocust checks the error keys and texts of a report against Python:
// against sha256(f"{method}.{name}.{text!r}"), and against Locust 2.12.1's own
// StatsError.create_key and StatsError.serialize given an exception whose repr is the
// text (which adds the address scrubbing).
func TestErrorKeysMatchLocust(t *testing.T) {
	t.Parallel()
	const script = `
import hashlib, json, sys
from locust.stats import StatsError
class Err(Exception):
    def __init__(self, text):
        self.text = text
    def __repr__(self):
        return self.text
out = []
for method, name, text in json.load(sys.stdin):
    out.append({
        "plain": hashlib.sha256(f"{method}.{name}.{text!r}".encode("utf-8")).hexdigest(),
        "key": StatsError.create_key(method, name, Err(text)),
        "error": StatsError(method, name, Err(text)).serialize()["error"],
    })
json.dump(out, sys.stdout)
`
	type triple = [3]string
	var in []triple
	for i, text := range errorKeyTexts {
		in = append(in, triple{"GET", "/missing", text})
		if i%3 == 0 {
			in = append(in, triple{"zk.get", "/a.b/ü?x='1'", text}, triple{"", "", text})
		}
	}
	var want []struct{ Plain, Key, Error string }
	runLocustPython(t, script, in, &want)
	if len(want) != len(in) {
		t.Fatalf("python returned %d results for %d inputs", len(want), len(in))
	}

	r := New(Options{Shards: 1})
	for _, c := range in {
		r.Shard(0).Record(c[0], c[1], time.Millisecond, 0, errors.New(c[2]))
	}
	rep := r.Report()
	for i, c := range in {
		if got := wire.ErrorKey(c[0], c[1], c[2]); got != want[i].Plain {
			t.Errorf("ErrorKey(%q, %q, %q) = %s, python says %s", c[0], c[1], c[2], got, want[i].Plain)
		}
		e, ok := rep.Errors[want[i].Key]
		if !ok {
			t.Errorf("%q %q %q: no error under Locust's key %s", c[0], c[1], c[2], want[i].Key)
			continue
		}
		if e.Error != want[i].Error || e.Method != c[0] || e.Name != c[1] {
			t.Errorf("%q %q %q: reported %+v, Locust's error text %q", c[0], c[1], c[2], e, want[i].Error)
		}
	}
	if len(rep.Errors) != len(in) {
		t.Errorf("%d errors reported for %d distinct ones", len(rep.Errors), len(in))
	}
}

// TestErrorKeyObserved checks the key a real Python worker sent (reference §5.1).
func TestErrorKeyObserved(t *testing.T) {
	key := wire.ErrorKey("GET", "/missing",
		"HTTPError('404 Client Error: File not found for url: http://127.0.0.1:8000/missing')")
	if key[:8] != "d7b8aca0" || key[len(key)-4:] != "1356" {
		t.Errorf("key %s, the Python worker sent d7b8aca0…1356", key)
	}
}

// TestMasterMergesReports sends encoded reports from two recorders (two workers)
// through Locust 2.12.1's own master-side code: Message.unserialize and the
// worker_report listener. The master's numbers must be what the reference computes
// for the checklist latencies (§5.4's worked example).
func TestMasterMergesReports(t *testing.T) {
	t.Parallel()
	const script = `
import base64, json, sys
from locust.event import Events
from locust.rpc.protocol import Message
from locust.stats import RequestStats, setup_distributed_stats_event_listeners, PERCENTILES_TO_REPORT
events = Events()
stats = RequestStats()
setup_distributed_stats_event_listeners(events, stats)
for frame in json.load(sys.stdin):
    msg = Message.unserialize(base64.b64decode(frame))
    assert msg.type == "stats", msg.type
    events.worker_report.fire(client_id=msg.node_id, data=msg.data)
def row(e):
    return {
        "name": e.name, "method": e.method or "",
        "num_requests": e.num_requests, "num_none_requests": e.num_none_requests,
        "num_failures": e.num_failures,
        "min": e.min_response_time, "max": e.max_response_time, "avg": e.avg_response_time,
        "median": e.median_response_time,
        "percentiles": [e.get_response_time_percentile(p) for p in PERCENTILES_TO_REPORT],
        "total_content_length": e.total_content_length,
        "start_time": e.start_time, "last_request_timestamp": e.last_request_timestamp,
        "total_rps": e.total_rps,
    }
json.dump({
    "entries": sorted((row(e) for e in stats.entries.values()), key=lambda r: (r["name"], r["method"])),
    "total": row(stats.total),
    "errors": [{"error": e.error, "occurrences": e.occurrences, "name": e.name, "method": e.method}
               for e in stats.errors.values()],
}, sys.stdout)
`
	latencies := []float64{3.2, 47.5, 145, 155, 999.6, 1234, 15500}
	var frames [][]byte
	for w := 0; w < 2; w++ {
		clock := newFakeClock(time.Unix(t0, 0))
		r := New(Options{Now: clock.Now})
		for i, rt := range latencies {
			clock.At(1 + float64(i)/10)
			var err error
			if i%3 == 0 {
				err = errors.New("<Conn object at 0x7f00" + string(rune('a'+w)) + ">: refused")
			}
			r.Shard(i).Record("GET", "/work", ms(rt), 100, err)
		}
		clock.At(3)
		frames = append(frames, encodeReport(t, r.Report(), w))
		if w == 1 {
			// A later interval of the second worker: a request with no response time.
			clock.At(4)
			r.Shard(0).Record("POST", "/none", -1, 0, nil)
			clock.At(6)
			frames = append(frames, encodeReport(t, r.Report(), w))
		}
	}

	type row struct {
		Name                 string
		Method               string
		NumRequests          int64 `json:"num_requests"`
		NumNoneRequests      int64 `json:"num_none_requests"`
		NumFailures          int64 `json:"num_failures"`
		Min                  *float64
		Max                  float64
		Avg                  float64
		Median               float64
		Percentiles          []float64
		TotalContentLength   int64    `json:"total_content_length"`
		StartTime            float64  `json:"start_time"`
		LastRequestTimestamp *float64 `json:"last_request_timestamp"`
		TotalRPS             float64  `json:"total_rps"`
	}
	var got struct {
		Entries []row
		Total   row
		Errors  []struct {
			Error, Name, Method string
			Occurrences         int64
		}
	}
	runLocustPython(t, script, frames, &got)

	if len(got.Entries) != 2 {
		t.Fatalf("master entries: %+v", got.Entries)
	}
	none, work := got.Entries[0], got.Entries[1]
	if work.Name != "/work" || work.NumRequests != 14 || work.NumFailures != 6 || work.NumNoneRequests != 0 {
		t.Errorf("/work on the master: %+v", work)
	}
	if work.Min == nil || *work.Min != 3.2 || work.Max != 15500 {
		t.Errorf("/work min %v max %v, want 3.2 and 15500", work.Min, work.Max)
	}
	var sum float64
	for _, rt := range latencies {
		sum += rt
	}
	if math.Abs(work.Avg-sum/7) > 1e-9 {
		t.Errorf("/work average %v, want %v", work.Avg, sum/7)
	}
	wantPct := []float64{160, 1000, 1200, 1200, 16000, 16000, 16000, 16000, 16000, 16000, 16000}
	if work.Median != 160 || !slices.Equal(work.Percentiles, wantPct) {
		t.Errorf("/work median %v percentiles %v, want 160 and %v", work.Median, work.Percentiles, wantPct)
	}
	if work.StartTime != t0 || work.LastRequestTimestamp == nil || *work.LastRequestTimestamp != t0+1.6 {
		t.Errorf("/work start %v last %v", work.StartTime, work.LastRequestTimestamp)
	}
	if none.Name != "/none" || none.NumRequests != 1 || none.NumNoneRequests != 1 || none.Min != nil || none.Median != 0 {
		t.Errorf("/none on the master: %+v", none)
	}
	// The master's Aggregated row comes from stats_total alone: it must add up.
	total := got.Total
	if total.NumRequests != 15 || total.NumNoneRequests != 1 || total.NumFailures != 6 ||
		total.TotalContentLength != 1400 || *total.Min != 3.2 || total.Max != 15500 ||
		math.Abs(total.Avg-sum/7) > 1e-9 || total.StartTime != t0 || *total.LastRequestTimestamp != t0+4 {
		t.Errorf("Aggregated on the master: %+v", total)
	}
	if want := 15.0 / 4; math.Abs(total.TotalRPS-want) > 1e-9 {
		t.Errorf("master's requests/s %v, want %v", total.TotalRPS, want)
	}
	// Two workers, two addresses, one error row.
	if len(got.Errors) != 1 || got.Errors[0].Occurrences != 6 || got.Errors[0].Error != "<Conn object at 0x....>: refused" {
		t.Errorf("master errors: %+v", got.Errors)
	}
}

func encodeReport(t *testing.T, rep wire.StatsReport, worker int) []byte {
	t.Helper()
	rep.UserClassesCount = map[string]int{"U": 1}
	rep.UserCount = 1
	frame, err := wire.Encode(wire.Message{Type: wire.TypeStats, Data: rep, NodeID: "worker_" + string(rune('a'+worker))})
	if err != nil {
		t.Fatal(err)
	}
	return frame
}
