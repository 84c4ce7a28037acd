package wire

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"os"
	"os/exec"
	"reflect"
	"runtime"
	"runtime/debug"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// h builds bytes from hex with optional spaces and "quoted ASCII", as the reference
// writes its byte examples: h(`93 ac "client_ready" ff`).
func h(t testing.TB, s string) []byte {
	t.Helper()
	var out []byte
	for len(s) > 0 {
		switch s[0] {
		case ' ', '\n', '\t':
			s = s[1:]
		case '"':
			end := strings.IndexByte(s[1:], '"')
			if end < 0 {
				t.Fatalf("unterminated quote in %q", s)
			}
			out = append(out, s[1:1+end]...)
			s = s[end+2:]
		default:
			if len(s) < 2 {
				t.Fatalf("odd hex digit in %q", s)
			}
			b, err := hex.DecodeString(s[:2])
			if err != nil {
				t.Fatalf("bad hex %q: %v", s[:2], err)
			}
			out = append(out, b...)
			s = s[2:]
		}
	}
	return out
}

// Node id of 35 bytes: packed as str8 (d9 23) by Python's msgpack.
const nodeID35 = "w1_abababababababababababababababab"

// TestGolden checks the byte examples of the protocol reference (§2.3). It needs no
// Python.
func TestGolden(t *testing.T) {
	if len(nodeID35) != 35 {
		t.Fatalf("nodeID35 has %d bytes", len(nodeID35))
	}
	t.Run("encode client_ready -1", func(t *testing.T) {
		got := mustEncode(t, Message{Type: TypeClientReady, Data: ClientReadyVersion, NodeID: "w1_ab"})
		if want := h(t, `93 ac "client_ready" ff a5 "w1_ab"`); !bytes.Equal(got, want) {
			t.Errorf("got  %x\nwant %x", got, want)
		}
	})
	t.Run("encode 35-byte node id as str8", func(t *testing.T) {
		got := mustEncode(t, Message{Type: TypeQuit, NodeID: nodeID35})
		if want := h(t, `93 a4 "quit" c0 d9 23 "`+nodeID35+`"`); !bytes.Equal(got, want) {
			t.Errorf("got  %x\nwant %x", got, want)
		}
	})
	t.Run("encode num_reqs_per_sec uint32 key", func(t *testing.T) {
		e := StatsEntry{Name: "/", Method: "GET", StartTime: 1, NumReqsPerSec: map[int64]int64{1795324476: 3}}
		got := mustEncode(t, Message{Type: TypeStats, Data: StatsReport{Stats: []StatsEntry{e}, StatsTotal: e}, NodeID: "w1_ab"})
		if want := h(t, `b0 "num_reqs_per_sec" 81 ce 6b027a3c 03`); !bytes.Contains(got, want) {
			t.Errorf("frame %x lacks %x", got, want)
		}
	})
	decodes := []struct {
		name  string
		frame string
		typ   string
		node  string
		data  any
	}{
		{"ack", `93 a3 "ack" 81 a5 "index" 00 a5 "w1_ab"`, TypeAck, "w1_ab", map[string]any{"index": int64(0)}},
		{"master heartbeat", `93 a9 "heartbeat" c0 a5 "w1_ab"`, TypeHeartbeat, "w1_ab", nil},
		{"quit with str8 node id", `93 a4 "quit" c0 d9 23 "` + nodeID35 + `"`, TypeQuit, nodeID35, nil},
		{"quit with str16 node id (msgpack 0.6 raw)", `93 a4 "quit" c0 da 0023 "` + nodeID35 + `"`, TypeQuit, nodeID35, nil},
		{"quit with bin node id (old raw as bin)", `93 c4 04 "quit" c0 c4 23 "` + nodeID35 + `"`, TypeQuit, nodeID35, nil},
		{"nil node id", `93 a4 "stop" c0 c0`, TypeStop, "", nil},
		{"every int width", `93 a1 "x" 9a 00 7f ff e0 cc ff cd ffff ce ffffffff cf ffffffffffffffff d0 80 d3 8000000000000000 a1 "n"`,
			"x", "n", []any{int64(0), int64(127), int64(-1), int64(-32), int64(255), int64(65535), int64(4294967295),
				uint64(math.MaxUint64), int64(-128), int64(math.MinInt64)}},
		{"float32 and float64", `93 a1 "x" 92 ca 3fc00000 cb 3ff8000000000000 a1 "n"`, "x", "n", []any{1.5, 1.5}},
		{"int map keys", `93 a1 "x" 82 ce 6b027a3c 03 ff a1 "m" a1 "n"`, "x", "n", map[any]any{int64(1795324476): int64(3), int64(-1): "m"}},
		// decodeMap's documented intent: bin keys (old raw strings) become string keys.
		{"bin map key", `93 a1 "x" 82 c4 01 "k" 00 a1 "s" c4 01 ff a1 "n"`, "x", "n", map[string]any{"k": int64(0), "s": []byte{0xff}}},
	}
	for _, c := range decodes {
		t.Run("decode "+c.name, func(t *testing.T) {
			m, err := decodeNoPanic(h(t, c.frame))
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if m.Type != c.typ || m.NodeID != c.node {
				t.Errorf("type %q node %q, want %q %q", m.Type, m.NodeID, c.typ, c.node)
			}
			if got := norm(m.Data); !reflect.DeepEqual(got, c.data) {
				t.Errorf("data %#v, want %#v", got, c.data)
			}
		})
	}
	t.Run("decode 2.12.1 spawn", func(t *testing.T) {
		// §2.3's observed spawn, with a two-entry map16 standing in for the 50 options.
		frame := h(t, `93 a5 "spawn" 85 a9 "timestamp" cb 41dac09dc3b963b4
			b2 "user_classes_count" 82 a5 "UserA" 02 a5 "UserB" 00
			a4 "host" c0 ac "stop_timeout" c0 ae "parsed_options" de 0002 a4 "tags" 92 a1 "a" a1 "b" a9 "num_users" 05
			d9 23 "`+nodeID35+`"`)
		m, err := Decode(frame)
		if err != nil {
			t.Fatalf("Decode: %v", err)
		}
		s, err := ParseSpawn(m.Data)
		if err != nil {
			t.Fatalf("ParseSpawn: %v", err)
		}
		if m.Type != TypeSpawn || m.NodeID != nodeID35 {
			t.Errorf("type %q node %q", m.Type, m.NodeID)
		}
		if ts := math.Float64frombits(0x41dac09dc3b963b4); s.Timestamp != ts {
			t.Errorf("timestamp %v, want %v", s.Timestamp, ts)
		}
		if !reflect.DeepEqual(s.UserClassesCount, map[string]int{"UserA": 2, "UserB": 0}) || s.Host != "" ||
			s.HasStopTimeout || s.StopTimeout != 0 || !reflect.DeepEqual(s.Tags, []string{"a", "b"}) || s.ExcludeTags != nil {
			t.Errorf("ParseSpawn = %+v", s)
		}
	})
}

// TestRoundTrip encodes every worker message and decodes it again with Decode.
func TestRoundTrip(t *testing.T) {
	for _, m := range workerMessages() {
		t.Run(m.Type, func(t *testing.T) {
			b := mustEncode(t, m)
			if b[0] != 0x93 {
				t.Errorf("envelope starts with %#x, want 0x93 (fixarray of 3)", b[0])
			}
			got, err := Decode(b)
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if got.Type != m.Type || got.NodeID != m.NodeID {
				t.Errorf("type %q node %q", got.Type, got.NodeID)
			}
			if want := goView(t, m); !reflect.DeepEqual(norm(got.Data), want) {
				t.Errorf("data\n got %#v\nwant %#v", norm(got.Data), want)
			}
		})
	}
}

// goView is what Decode (after norm) must return for a worker message: expectedPy in
// Go's decoded types.
func goView(t *testing.T, m Message) any {
	var conv func(v any) any
	conv = func(v any) any {
		switch x := v.(type) {
		case int:
			return int64(x)
		case pyDict:
			allStr := true
			for k := range x {
				if _, ok := k.(string); !ok {
					allStr = false
				}
			}
			if allStr {
				out := map[string]any{}
				for k, e := range x {
					out[k.(string)] = conv(e)
				}
				return out
			}
			out := map[any]any{}
			for k, e := range x {
				out[conv(k)] = conv(e)
			}
			return out
		case map[string]int:
			out := map[string]any{}
			for k, e := range x {
				out[k] = int64(e)
			}
			return out
		case []any:
			out := make([]any, len(x))
			for i, e := range x {
				out[i] = conv(e)
			}
			return out
		}
		return v
	}
	return conv(expectedPy(t, m)[1])
}

// TestEncodeStatsDefaults: a report with nil collections still carries every key the
// master reads, as empty maps and lists, and the entries keep Python's key order.
func TestEncodeStatsDefaults(t *testing.T) {
	m, err := Decode(mustEncode(t, Message{Type: TypeStats, Data: StatsReport{}, NodeID: "n"}))
	if err != nil {
		t.Fatal(err)
	}
	d := m.Data.(map[string]any)
	for _, k := range []string{"stats", "stats_total", "errors", "user_classes_count", "user_count"} {
		if _, ok := d[k]; !ok {
			t.Errorf("report lacks %q", k)
		}
	}
	if s, ok := d["stats"].([]any); !ok || len(s) != 0 {
		t.Errorf("stats = %#v, want []", d["stats"])
	}
	for _, k := range []string{"errors", "user_classes_count"} {
		if v, ok := d[k].(map[string]any); !ok || len(v) != 0 {
			t.Errorf("%s = %#v, want {}", k, d[k])
		}
	}
	b := mustEncode(t, Message{Type: TypeStats, Data: fixtureStats(), NodeID: "n"})
	order := []string{"name", "method", "last_request_timestamp", "start_time", "num_requests", "num_none_requests",
		"num_failures", "total_response_time", "max_response_time", "min_response_time", "total_content_length",
		"response_times", "num_reqs_per_sec", "num_fail_per_sec"}
	last := -1
	for _, k := range order {
		i := bytes.Index(b, append([]byte{0xa0 | byte(len(k))}, k...))
		if i < last {
			t.Errorf("key %q is out of Python's order", k)
		}
		last = i
	}
}

// TestDecodeMalformed: everything that is not exactly one [text, any, text|nil] array
// is an error wrapping ErrMalformed, never a panic.
func TestDecodeMalformed(t *testing.T) {
	valid := mustEncode(t, Message{Type: TypeSpawn, Data: map[string]any{"timestamp": 1.5,
		"user_classes_count": map[string]int{"UserA": 1}, "host": nil, "stop_timeout": nil,
		"parsed_options": map[string]any{"tags": []any{"a"}, "x": 1e9}}, NodeID: nodeID35})
	cases := map[string][]byte{
		"empty":                         {},
		"nil":                           nil,
		"only nil":                      h(t, `c0`),
		"2 elements":                    h(t, `92 a4 "quit" c0`),
		"4 elements":                    h(t, `94 a4 "quit" c0 a1 "n" c0`),
		"0 elements":                    h(t, `90`),
		"array16 of 4":                  h(t, `dc 0004 a4 "quit" c0 a1 "n" c0`),
		"map envelope":                  h(t, `83 a4 "type" a4 "quit" a4 "data" c0 a7 "node_id" a1 "n"`),
		"int type":                      h(t, `93 01 c0 a1 "n"`),
		"nil type":                      h(t, `93 c0 c0 a1 "n"`),
		"array type":                    h(t, `93 91 a1 "x" c0 a1 "n"`),
		"int node id":                   h(t, `93 a4 "quit" c0 05`),
		"map node id":                   h(t, `93 a4 "quit" c0 80`),
		"trailing bytes":                append(append([]byte{}, valid...), 0xc0),
		"trailing frame":                append(append([]byte{}, valid...), valid...),
		"truncated str8":                h(t, `93 a4 "quit" c0 d9 23 "w1_"`),
		"str32 length beyond frame":     h(t, `93 a4 "quit" c0 db 7fffffff "w1"`),
		"array32 length beyond frame":   h(t, `93 a4 "quit" dd 00010000`),
		"map32 length beyond frame":     h(t, `93 a4 "quit" df 00010000`),
		"reserved code c1":              h(t, `93 a4 "quit" c1 a1 "n"`),
		"unknown ext":                   h(t, `93 a4 "quit" d4 05 00 a1 "n"`),
		"ext timestamp with bad len":    h(t, `93 a4 "quit" d4 ff 00 a1 "n"`),
		"array key in map":              h(t, `93 a4 "spam" 81 90 00 a1 "n"`),
		"map key in map":                h(t, `93 a4 "spam" 81 80 00 a1 "n"`),
		"nested unhashable key":         h(t, `93 a5 "spawn" 81 ae "parsed_options" 81 91 01 02 a1 "n"`),
		"array key after a str key":     h(t, `93 a4 "spam" 82 a1 "a" 01 92 01 02 03 a1 "n"`),
		"deep unterminated nesting":     append(h(t, `93 a1 78`), bytes.Repeat([]byte{0x91}, 10000)...),
		"envelope nested in envelope":   h(t, `93 93 a4 "quit" c0 a1 "n" c0 a1 "n"`),
		"fixstr type then garbage tail": h(t, `93 a4 "quit" c0 a1 "n" ff ff`),
	}
	for i := 1; i < len(valid); i++ {
		cases[fmt.Sprintf("truncated to %d of %d bytes", i, len(valid))] = valid[:i]
	}
	for name, frame := range cases {
		t.Run(name, func(t *testing.T) {
			m, err := decodeNoPanic(frame)
			if err == nil {
				t.Fatalf("Decode(%x) = %+v, want an error", frame, m)
			}
			if !errors.Is(err, ErrMalformed) {
				t.Errorf("error %q does not wrap ErrMalformed", err)
			}
		})
	}
}

// decodeNoPanic turns a panic in Decode into an error that does not wrap ErrMalformed.
func decodeNoPanic(frame []byte) (m Message, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("Decode panicked: %v", r)
		}
	}()
	return Decode(frame)
}

// TestDecodeAllocationBounded: a few header bytes that claim a huge array or map must not
// make Decode allocate memory in proportion to the claim. A claim of 2^31 elements
// (`93 a1 78 dd 7fffffff`, 8 bytes) otherwise ends the process with a fatal "out of
// memory", which recover() cannot catch; this test uses 2^20 so it fails without
// crashing.
func TestDecodeAllocationBounded(t *testing.T) {
	for name, frame := range map[string][]byte{
		"array32 of 1M elements": h(t, `93 a1 78 dd 00100000`),
		"map32 of 1M entries":    h(t, `93 a1 78 df 00100000`),
		"str32 of 2 GB":          h(t, `93 a1 78 db 7fffffff`),
		"bin32 of 64 MB":         h(t, `93 a1 78 c6 04000000`), // uncapped: 7fffffff allocates 2 GB
		"nested array claims":    h(t, `93 a1 78 dd 00100000 dd 00100000`),
	} {
		t.Run(name, func(t *testing.T) {
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			_, err := decodeNoPanic(frame)
			runtime.ReadMemStats(&after)
			if err == nil {
				t.Errorf("Decode(%x) succeeded", frame)
			}
			// A legitimate master frame is a few KB. The msgpack library caps one str/bin
			// allocation at 1 MB whatever the claim; allow that plus slack (and the race
			// detector's overhead), but not allocations that grow with the claim.
			const limit = 4 << 20
			if got := after.TotalAlloc - before.TotalAlloc; got > limit {
				t.Errorf("Decode of a %d-byte frame allocated %d bytes (limit %d): a header's length claim is trusted", len(frame), got, limit)
			}
		})
	}
}

// TestDecodeHostileFramesDoNotCrash runs Decode in a child process on frames that can
// end a Go process with an unrecoverable fatal error (not a panic): a length claim of
// 2^31 elements in an 8-byte frame (fatal "out of memory" in makeslice where the kernel
// refuses a 32 GB mapping), and a
// 1 MB frame of nested 1-element arrays (fatal "stack overflow"; the child's stack limit
// is lowered to 64 MB so it happens quickly; the default 1 GB limit is reached by about
// 3 MB of nesting). Python's msgpack refuses both long before (its unpacker limits
// nesting depth), so a depth limit and a length-vs-remaining-bytes check in Decode cost
// nothing real.
//
// The same claim for a map (`93 a1 78 df 7fffffff`) is deliberately not run: makemap
// initialises its tables, so the child eats all RAM until the OOM killer ends it
// (observed: 24 GB RSS after 10 minutes). TestDecodeAllocationBounded shows the cause
// with a claim of 2^20.
func TestDecodeHostileFramesDoNotCrash(t *testing.T) {
	frames := map[string]func() []byte{
		"array32 claiming 2^31 elements": func() []byte { return h(t, `93 a1 78 dd 7fffffff`) },
		"1M nested arrays": func() []byte {
			return append(h(t, `93 a1 78`), bytes.Repeat([]byte{0x91}, 1<<20)...)
		},
	}
	if name := os.Getenv("ZKLOAD_WIRE_CHILD_FRAME"); name != "" {
		debug.SetMaxStack(64 << 20)
		_, err := decodeNoPanic(frames[name]())
		fmt.Printf("child: Decode returned %v\n", err)
		return
	}
	if testing.Short() {
		t.Skip("spawns child processes")
	}
	for name := range frames {
		t.Run(name, func(t *testing.T) {
			cmd := exec.Command(os.Args[0], "-test.run=^TestDecodeHostileFramesDoNotCrash$", "-test.count=1")
			cmd.Env = append(os.Environ(), "ZKLOAD_WIRE_CHILD_FRAME="+name)
			out, err := cmd.CombinedOutput()
			if err != nil {
				lines := strings.SplitN(string(out), "\n", 4)
				t.Errorf("Decode crashed the process: %v\n%s", err, strings.Join(lines[:len(lines)-1], "\n"))
			}
		})
	}
}

// TestDecodeValueTypes: Message's documentation promises that decoded data holds only
// nil, bool, int64, uint64, float64, string, []byte, []any, map[string]any and
// map[any]any, so callers may type-switch on those.
func TestDecodeValueTypes(t *testing.T) {
	frame := h(t, `93 a1 "x" 89 a1 "a" 00 a1 "b" cc ff a1 "c" d0 80 a1 "d" cd 0100 a1 "e" d1 8000
		a1 "f" ce 00010000 a1 "g" ca 3fc00000 a1 "h" 91 7f a1 "i" 81 01 01 a1 "n"`)
	m, err := Decode(frame)
	if err != nil {
		t.Fatal(err)
	}
	var walk func(path string, v any)
	walk = func(path string, v any) {
		switch x := v.(type) {
		case nil, bool, int64, uint64, float64, string, []byte:
		case []any:
			for i, e := range x {
				walk(fmt.Sprintf("%s[%d]", path, i), e)
			}
		case map[string]any:
			for k, e := range x {
				walk(path+"."+k, e)
			}
		case map[any]any:
			for k, e := range x {
				walk(fmt.Sprintf("%s{key %v}", path, k), k)
				walk(fmt.Sprintf("%s[%v]", path, k), e)
			}
		default:
			t.Errorf("%s is a %T, which Message's documentation does not list", path, v)
		}
	}
	walk("data", m.Data)
}

// TestEncodeInvalidUTF8: the master decodes every str with raw=False, so a str that is
// not valid UTF-8 raises UnicodeDecodeError in its receive loop (2.12.1: the loop dies
// if that is the first message; otherwise it sends reconnect to whichever id it saw
// last). Error texts and request names can come from arbitrary bytes, so Encode must
// either refuse such text or make it valid (e.g. U+FFFD as Python's "replace" would).
func TestEncodeInvalidUTF8(t *testing.T) {
	msgs := []Message{
		{Type: TypeException, Data: Exception{Msg: "bad \xff byte", Traceback: "tb"}, NodeID: "n"},
		{Type: TypeStats, Data: StatsReport{StatsTotal: StatsEntry{Name: "Aggregated", StartTime: 1},
			Errors: map[string]StatsError{"k": {Name: "/\xc3", Method: "GET", Error: "E('\xfe')", Occurrences: 1}}}, NodeID: "n"},
		{Type: TypeQuit, NodeID: "n\xff"},
	}
	for _, m := range msgs {
		b, err := Encode(m)
		if err != nil {
			continue // refusing is fine
		}
		got, err := Decode(b)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range invalidTexts(got) {
			t.Errorf("%s: Encode sent the invalid UTF-8 str %q; the master's msgpack.loads(raw=False) raises on it", m.Type, s)
		}
	}
}

// invalidTexts lists the strings in m that are not valid UTF-8.
func invalidTexts(m Message) []string {
	var bad []string
	var check func(v any)
	check = func(v any) {
		switch x := v.(type) {
		case string:
			if !utf8.ValidString(x) {
				bad = append(bad, x)
			}
		case []any:
			for _, e := range x {
				check(e)
			}
		case map[string]any:
			for k, e := range x {
				check(k)
				check(e)
			}
		case map[any]any:
			for k, e := range x {
				check(k)
				check(e)
			}
		}
	}
	check(m.Type)
	check(m.Data)
	check(m.NodeID)
	return bad
}

// TestParseSpawnRejects: malformed spawn data is an error, not a zero Spawn.
func TestParseSpawnRejects(t *testing.T) {
	good := func() map[string]any {
		return map[string]any{"timestamp": 1.5, "user_classes_count": map[string]any{"UserA": int8(1)},
			"host": nil, "stop_timeout": nil, "parsed_options": map[string]any{}}
	}
	for name, mut := range map[string]func(m map[string]any) any{
		"not a map":          func(m map[string]any) any { return []any{} },
		"nil":                func(m map[string]any) any { return nil },
		"no timestamp":       func(m map[string]any) any { delete(m, "timestamp"); return m },
		"string timestamp":   func(m map[string]any) any { m["timestamp"] = "1.5"; return m },
		"no counts":          func(m map[string]any) any { delete(m, "user_classes_count"); return m },
		"negative count":     func(m map[string]any) any { m["user_classes_count"] = map[string]any{"A": int8(-1)}; return m },
		"fractional count":   func(m map[string]any) any { m["user_classes_count"] = map[string]any{"A": 1.5}; return m },
		"string count":       func(m map[string]any) any { m["user_classes_count"] = map[string]any{"A": "1"}; return m },
		"int-keyed counts":   func(m map[string]any) any { m["user_classes_count"] = map[any]any{int8(1): int8(1)}; return m },
		"counts is a list":   func(m map[string]any) any { m["user_classes_count"] = []any{}; return m },
		"counts is nil":      func(m map[string]any) any { m["user_classes_count"] = nil; return m },
		"timestamp is nil":   func(m map[string]any) any { m["timestamp"] = nil; return m },
		"timestamp is bool":  func(m map[string]any) any { m["timestamp"] = true; return m },
		"count is bool":      func(m map[string]any) any { m["user_classes_count"] = map[string]any{"A": true}; return m },
		"count is NaN":       func(m map[string]any) any { m["user_classes_count"] = map[string]any{"A": math.NaN()}; return m },
		"count is +Inf":      func(m map[string]any) any { m["user_classes_count"] = map[string]any{"A": math.Inf(1)}; return m },
		"count is nil value": func(m map[string]any) any { m["user_classes_count"] = map[string]any{"A": nil}; return m },
	} {
		t.Run(name, func(t *testing.T) {
			if s, err := ParseSpawn(mut(good())); err == nil {
				t.Errorf("ParseSpawn accepted it: %+v", s)
			}
		})
	}
	if _, err := ParseSpawn(good()); err != nil {
		t.Errorf("ParseSpawn(good) = %v", err)
	}
	// A count too large for any worker, even for an int, is still a count: the worker's
	// user limit decides what runs (see boomer's TestSpawnOverTheLimitRunsWhatFits).
	for _, huge := range []any{uint64(1e19), int64(math.MaxInt64), float64(1e300)} {
		m := good()
		m["user_classes_count"] = map[string]any{"A": huge, "B": int64(3)}
		if s, err := ParseSpawn(m); err != nil || s.UserClassesCount["A"] != MaxSpawnCount || s.UserClassesCount["B"] != 3 {
			t.Errorf("ParseSpawn with a count of %v = %+v, %v; want it read as MaxSpawnCount", huge, s.UserClassesCount, err)
		}
	}
	// Absent optional keys: Python's 2.12.1 always sends them, but library users may not.
	m := good()
	delete(m, "host")
	delete(m, "stop_timeout")
	delete(m, "parsed_options")
	if s, err := ParseSpawn(m); err != nil || s.HasStopTimeout || s.Host != "" {
		t.Errorf("ParseSpawn without optional keys = %+v, %v", s, err)
	}
	m = good()
	m["stop_timeout"] = int8(5)
	if s, _ := ParseSpawn(m); !s.HasStopTimeout || s.StopTimeout != 5*time.Second {
		t.Errorf("int stop_timeout: %+v", s)
	}
}

// TestAckIndex covers every shape an ack can take.
func TestAckIndex(t *testing.T) {
	for _, c := range []struct {
		data any
		want int
	}{
		{map[string]any{"index": int8(0)}, 0},
		{map[string]any{"index": uint16(300)}, 300},
		{map[string]any{"index": int64(7)}, 7},
		{map[string]any{}, 0},        // 2.10 ack without index
		{nil, 0},                     // before 2.10 there was no ack data at all
		{map[any]any{int8(1): 2}, 0}, // nonsense
	} {
		if got := AckIndex(c.data); got != c.want {
			t.Errorf("AckIndex(%#v) = %d, want %d", c.data, got, c.want)
		}
	}
}

// FuzzDecode: Decode never panics; whatever it accepts re-encodes and decodes to the
// same message. Run with: go test -run '^$' -fuzz FuzzDecode -fuzztime 20s ./boomer/wire/
//
// Until Decode bounds length claims (TestDecodeAllocationBounded), the fuzzer can build
// a frame like `93 a1 78 df 7fffffff` that makes a fuzz worker allocate all RAM; run it
// with a memory cap (e.g. systemd-run --user -p MemoryMax=4G, or ulimit -v without -race).
// Inputs it saves go to testdata/fuzz/FuzzDecode; keep only the ones worth keeping.
func FuzzDecode(f *testing.F) {
	for _, m := range workerMessages() {
		f.Add(mustEncode(f, m))
	}
	for _, s := range []string{
		`93 a3 "ack" 81 a5 "index" 00 a5 "w1_ab"`,
		`93 a9 "heartbeat" c0 a5 "w1_ab"`,
		`93 a4 "quit" c0 d9 23 "` + nodeID35 + `"`,
		`93 a5 "spawn" 85 a9 "timestamp" cb 41dac09dc3b963b4 b2 "user_classes_count" 82 a5 "UserA" 02 a5 "UserB" 00
			a4 "host" c0 ac "stop_timeout" c0 ae "parsed_options" de 0002 a4 "tags" 92 a1 "a" a1 "b" a9 "num_users" 05 a1 "n"`,
		`93 a1 "x" 82 ce 6b027a3c 03 ff a1 "m" a1 "n"`,
		`93 a1 "x" 92 ca 3fc00000 cb 3ff8000000000000 a1 "n"`,
		`93 a1 "x" 81 c4 01 "k" 00 a1 "n"`,
		`93 a1 "x" d6 ff 00000001 a1 "n"`,
		`92 a4 "quit" c0`,
		`83 a4 "type" a4 "quit" a4 "data" c0 a7 "node_id" a1 "n"`,
		``,
	} {
		f.Add(h(f, s))
	}
	f.Fuzz(func(t *testing.T, frame []byte) {
		var m Message
		var err error
		func() {
			defer func() {
				if r := recover(); r != nil {
					t.Fatalf("Decode(%x) panicked: %v\n%s", frame, r, debug.Stack())
				}
			}()
			m, err = Decode(frame)
		}()
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error %q does not wrap ErrMalformed", err)
			}
			return
		}
		b, err := Encode(m)
		if err != nil {
			if len(invalidTexts(m)) > 0 {
				return // refusing invalid UTF-8 is what Encode should do (TestEncodeInvalidUTF8)
			}
			t.Fatalf("Encode(Decode(%x)): %v", frame, err)
		}
		m2, err := Decode(b)
		if err != nil {
			t.Fatalf("Decode(Encode(Decode(%x))) = %v (re-encoded %x)", frame, err, b)
		}
		if a, b := fmt.Sprintf("%#v", norm(m.Data)), fmt.Sprintf("%#v", norm(m2.Data)); m.Type != m2.Type || m.NodeID != m2.NodeID || a != b {
			t.Fatalf("round trip changed the message:\n%s %q %s\n%s %q %s", m.Type, m.NodeID, a, m2.Type, m2.NodeID, b)
		}
	})
}
