package fakemaster

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"math"
	"strconv"
	"strings"
	"testing"
	"time"

	zmq "github.com/pebbe/zmq4"

	"github.com/zkload/zkload/boomer/wire"
	"github.com/zkload/zkload/internal/testenv"
)

// longID is a node id of Locust's shape (<host>_<32 hex>), 44 bytes: packed as str8.
const longID = "zkload-test_0123456789abcdef0123456789abcdef"

// packPy builds frames with Locust's own locust.rpc.protocol.Message(...).serialize().
// Each case is a Python expression for the (type, data, node_id) tuple; S(x) sorts a
// dict's keys (recursively; strings first, then numbers), which is the order Encode
// writes Go maps in; PO is poPy and NID the request's node_id.
const packPy = `
import json, sys
try:
    import msgpack
    from locust.rpc.protocol import Message
except ImportError as e:
    sys.stderr.write("python cannot import locust: %s\n" % e)
    sys.exit(77)

def S(d):
    if isinstance(d, dict):
        items = sorted(d.items(), key=lambda kv: (not isinstance(kv[0], str), kv[0]))
        return {k: S(v) for k, v in items}
    if isinstance(d, list):
        return [S(x) for x in d]
    return d

req = json.load(sys.stdin)
ns = {"S": S, "msgpack": msgpack, "NID": req["node_id"]}
ns["PO"] = eval(req["po"], ns)
out = {}
for name, expr in req["cases"].items():
    out[name] = Message(*eval(expr, ns)).serialize().hex()
json.dump(out, sys.stdout)
`

// poPy and poGo are the same parsed_options: a subset of 2.12.1's keys with every kind
// of value it holds, plus custom options.
const poPy = `{"autoquit": -1, "config": None, "csv_prefix": None, "exclude_tags": None, "expect_workers": 1,
 "headless": True, "host": None, "master_bind_port": 5557, "num_users": 5, "run_time": 10, "spawn_rate": 2.0,
 "stop_timeout": None, "tags": ["a", "b"], "user_classes": [], "web_port": 8089,
 "custom_nested": {"deep": [1, 2.5, None, {"x": True}]}, "big": 2**64 - 1, "neg": -2**63}`

func poGo() map[string]any {
	return map[string]any{"autoquit": -1, "config": nil, "csv_prefix": nil, "exclude_tags": nil, "expect_workers": 1,
		"headless": true, "host": nil, "master_bind_port": 5557, "num_users": 5, "run_time": 10, "spawn_rate": 2.0,
		"stop_timeout": nil, "tags": []string{"a", "b"}, "user_classes": []any{}, "web_port": 8089,
		"custom_nested": map[string]any{"deep": []any{1, 2.5, nil, map[string]any{"x": true}}},
		"big":           uint64(math.MaxUint64), "neg": int64(math.MinInt64)}
}

type frameCase struct {
	py  string
	msg wire.Message
}

func frameCases() map[string]frameCase {
	ints := []any{0, 127, 128, 255, 256, 65535, 65536, 4294967295, 4294967296, int64(math.MaxInt64), uint64(math.MaxUint64),
		-1, -32, -33, -128, -129, -32768, -32769, int64(math.MinInt32), int64(math.MinInt32) - 1, int64(math.MinInt64)}
	bin := make([]byte, 256)
	for i := range bin {
		bin[i] = byte(i)
	}
	seq := func(n int) []any {
		out := make([]any, n)
		for i := range out {
			out[i] = i
		}
		return out
	}
	dict := func(n int) map[string]any {
		out := map[string]any{}
		for i := 0; i < n; i++ {
			out[string(rune('a'+i))] = i
		}
		return out
	}
	with := func(m wire.Message, id string) wire.Message { m.NodeID = id; return m }
	return map[string]frameCase{
		"ack 0":             {`("ack", {"index": 0}, NID)`, Ack(0)},
		"ack 300":           {`("ack", {"index": 300}, NID)`, Ack(300)},
		"ack 70000 long id": {`("ack", {"index": 70000}, "` + longID + `")`, with(Ack(70000), longID)},
		"spawn 2.12.1": {`("spawn", {"timestamp": 1795324476.1234567, "user_classes_count": S({"UserB": 0, "UserA": 2}),
		  "host": None, "stop_timeout": None, "parsed_options": S(PO)}, NID)`,
			Spawn2121(1795324476.1234567, map[string]int{"UserA": 2, "UserB": 0}, poGo())},
		"spawn 2.12.1 --stop-timeout -H": {`("spawn", {"timestamp": 1795324477.5, "user_classes_count": {"UserA": 3},
		  "host": "http://127.0.0.1:8089", "stop_timeout": 30, "parsed_options": S(PO)}, NID)`,
			SpawnMsg(1795324477.5, map[string]int{"UserA": 3}, "http://127.0.0.1:8089", 30, poGo())},
		"spawn latest": {`("spawn", {"timestamp": 1795324478.0, "user_classes_count": S({"UserA": 1, "UserB": 70000}),
		  "host": None, "stop_timeout": 0.0, "parsed_options": {}}, NID)`,
			SpawnLatest(1795324478.0, map[string]int{"UserA": 1, "UserB": 70000}, nil, nil)},
		"spawn latest float stop": {`("spawn", {"timestamp": 1795324479.25, "user_classes_count": {},
		  "host": "https://x", "stop_timeout": 2.5, "parsed_options": {}}, NID)`,
			SpawnMsg(1795324479.25, map[string]int{}, "https://x", 2.5, map[string]any{})},
		"heartbeat":         {`("heartbeat", None, NID)`, MasterHeartbeat()},
		"stop":              {`("stop", None, NID)`, Stop()},
		"quit":              {`("quit", None, NID)`, Quit()},
		"quit long id":      {`("quit", None, "` + longID + `")`, with(Quit(), longID)},
		"reconnect":         {`("reconnect", None, NID)`, Reconnect()},
		"spawning_complete": {`("spawning_complete", {"user_count": 5}, NID)`, SpawningComplete(5)},
		"update_user_class": {`("update_user_class", {"user_class_name": "UserA", **S({"weight": 3, "host": "http://h",
		  "fixed_count": 0, "tasks": ["t1", "t2"]})}, NID)`,
			UpdateUserClass("UserA", map[string]any{"weight": 3, "host": "http://h", "fixed_count": 0, "tasks": []string{"t1", "t2"}})},
		"custom ints": {`("ints", [0, 127, 128, 255, 256, 65535, 65536, 4294967295, 4294967296, 2**63 - 1, 2**64 - 1,
		  -1, -32, -33, -128, -129, -32768, -32769, -2**31, -2**31 - 1, -2**63], NID)`, Custom("ints", ints)},
		"custom floats":  {`("floats", [0.0, 1.5, -2.25, 1e300, 5e-324, 1.5], NID)`, Custom("floats", []any{0.0, 1.5, -2.25, 1e300, 5e-324, float32(1.5)})},
		"custom strings": {`("strings", ["", "a" * 31, "b" * 32, "c" * 255, "d" * 256, "e" * 65535, "f" * 65536, "é🙂"], NID)`, Custom("strings", []any{"", strings.Repeat("a", 31), strings.Repeat("b", 32), strings.Repeat("c", 255), strings.Repeat("d", 256), strings.Repeat("e", 65535), strings.Repeat("f", 65536), "é🙂"})},
		"custom bytes":   {`("bytes", [b"", b"\x00\x01\xff", bytes(range(256))], NID)`, Custom("bytes", []any{[]byte{}, []byte{0, 1, 255}, bin})},
		"custom collections": {`("coll", {"a15": list(range(15)), "a16": list(range(16)), "m15": S({chr(97 + i): i for i in range(15)}),
		  "m16": S({chr(97 + i): i for i in range(16)}), "mixed": S({1: "a", -1: "c", 2: "b", "s": None}), "flags": [True, False, None]}, NID)`,
			Custom("coll", Map{{"a15", seq(15)}, {"a16", seq(16)}, {"m15", dict(15)}, {"m16", dict(16)},
				{"mixed", map[any]any{1: "a", -1: "c", 2: "b", "s": nil}}, {"flags", []any{true, false, nil}}})},
		"custom nil data": {`("my_type", None, NID)`, Custom("my_type", nil)},
	}
}

// TestEncodeMatchesLocust: every frame built here is byte-for-byte the frame Locust's
// own Message.serialize() produces for the same Python values.
func TestEncodeMatchesLocust(t *testing.T) {
	const nid = "w1_ab"
	cases := frameCases()
	exprs := map[string]string{}
	for name, c := range cases {
		exprs[name] = c.py
	}
	var want map[string]string
	testenv.RunPython(t, time.Minute, "NID = None\n"+strings.Replace(packPy, `ns = {"S": S, "msgpack": msgpack, "NID": req["node_id"]}`,
		`ns = {"S": S, "msgpack": msgpack, "NID": "`+nid+`"}`, 1), map[string]any{"po": poPy, "cases": exprs}, &want)
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			msg := c.msg
			if msg.NodeID == "" {
				msg.NodeID = nid
			}
			got, err := Encode(msg)
			if err != nil {
				t.Fatalf("Encode: %v", err)
			}
			if w := want[name]; hex.EncodeToString(got) != w {
				t.Errorf("frames differ\n  Go:     %s\n  Python: %s", abbrev(hex.EncodeToString(got)), abbrev(w))
			}
			// The same bytes must reach a worker through the socket (Send fills NodeID).
			if _, err := wire.Decode(got); err != nil {
				t.Errorf("wire.Decode of our own frame: %v", err)
			}
		})
	}
}

func abbrev(s string) string {
	if len(s) > 400 {
		return s[:400] + "..."
	}
	return s
}

// dealer is a test worker socket: identity id, connected to the master.
func dealer(t *testing.T, m *Master, id string) *zmq.Socket {
	t.Helper()
	s, err := zmq.NewSocket(zmq.DEALER)
	if err != nil {
		t.Fatal(err)
	}
	s.SetLinger(0)
	s.SetIdentity(id)
	s.SetRcvtimeo(5 * time.Second)
	if err := s.Connect(m.Endpoint); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func send(t *testing.T, s *zmq.Socket, msg wire.Message) {
	t.Helper()
	b, err := wire.Encode(msg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.SendBytes(b, 0); err != nil {
		t.Fatal(err)
	}
}

func recv(t *testing.T, s *zmq.Socket) wire.Message {
	t.Helper()
	b, err := s.RecvBytes(0)
	if err != nil {
		t.Fatalf("worker received nothing: %v", err)
	}
	m, err := wire.Decode(b)
	if err != nil {
		t.Fatalf("worker cannot decode %x: %v", b, err)
	}
	return m
}

// TestHandshake: a DEALER sends client_ready and gets an ack, byte-identical to the ack
// Locust would send.
func TestHandshake(t *testing.T) {
	m := Start(t, 0)
	if m.Port == 0 || m.Endpoint != "tcp://127.0.0.1:"+strconv.Itoa(m.Port) {
		t.Fatalf("port %d endpoint %s", m.Port, m.Endpoint)
	}
	w := dealer(t, m, "w1_ab")
	send(t, w, wire.Message{Type: wire.TypeClientReady, Data: wire.ClientReadyVersion, NodeID: "w1_ab"})
	id, idx := m.MustAckWorker(5 * time.Second)
	if id != "w1_ab" || idx != 0 {
		t.Errorf("acked %q index %d", id, idx)
	}
	b, err := w.RecvBytes(0)
	if err != nil {
		t.Fatal(err)
	}
	// 93 a3 "ack" 81 a5 "index" 00 a5 "w1_ab" (reference §2.3)
	if want := "93a361636b81a5696e64657800a577315f6162"; hex.EncodeToString(b) != want {
		t.Errorf("ack frame %x, want %s", b, want)
	}
	r := m.Received()[0]
	if len(r.Frames) != 2 || string(r.Frames[0]) != "w1_ab" || !bytes.Equal(r.Frames[1], r.Payload) || r.Msg.Data != int64(-1) {
		t.Errorf("recorded %+v", r)
	}
	// A second client_ready from the same id keeps its index; a new id gets the next one.
	send(t, w, wire.Message{Type: wire.TypeClientReady, Data: wire.ClientReadyVersion, NodeID: "w1_ab"})
	if _, idx := m.MustAckWorker(5 * time.Second); idx != 0 {
		t.Errorf("re-registration got index %d", idx)
	}
	w2 := dealer(t, m, "w2_cd")
	send(t, w2, wire.Message{Type: wire.TypeClientReady, Data: wire.ClientReadyVersion, NodeID: "w2_cd"})
	if id, idx := m.MustAckWorker(5 * time.Second); id != "w2_cd" || idx != 1 {
		t.Errorf("second worker: %s %d", id, idx)
	}
	if got := strings.Join(m.AckedIdentities(), ","); got != "w1_ab,w2_cd" {
		t.Errorf("AckedIdentities = %s", got)
	}
	recv(t, w)
	recv(t, w2)
	if err := m.Broadcast(Quit()); err != nil {
		t.Fatal(err)
	}
	for _, s := range []*zmq.Socket{w, w2} {
		if q := recv(t, s); q.Type != wire.TypeQuit {
			t.Errorf("broadcast delivered %s", q.Type)
		}
	}
}

// TestRecvExpect covers the receive cursor: Recv in order, Expect skipping, ExpectFrom
// leaving others, the log, malformed frames, and timeouts.
func TestRecvExpect(t *testing.T) {
	m := Start(t, 0)
	a := dealer(t, m, "a_1")
	b := dealer(t, m, "b_2")
	send(t, a, wire.Message{Type: wire.TypeClientReady, Data: -1, NodeID: "a_1"})
	r := m.MustRecv(5 * time.Second)
	if r.Identity != "a_1" || r.Msg.Type != wire.TypeClientReady {
		t.Fatalf("Recv = %v", r)
	}
	send(t, a, wire.Message{Type: wire.TypeHeartbeat, Data: wire.Heartbeat{State: "ready"}, NodeID: "a_1"})
	send(t, a, wire.Message{Type: wire.TypeSpawning, NodeID: "a_1"})
	send(t, a, wire.Message{Type: wire.TypeClientStopped, NodeID: "a_1"})
	if r := m.MustExpect(wire.TypeSpawning, 5*time.Second); r.Msg.Type != wire.TypeSpawning {
		t.Fatalf("Expect = %v", r)
	}
	// The heartbeat was skipped (consumed); next comes client_stopped.
	if r := m.MustRecv(5 * time.Second); r.Msg.Type != wire.TypeClientStopped {
		t.Fatalf("Recv after Expect = %v", r)
	}
	// ExpectFrom takes b's quit and leaves a's heartbeat before it.
	send(t, a, wire.Message{Type: wire.TypeHeartbeat, Data: wire.Heartbeat{State: "ready"}, NodeID: "a_1"})
	time.Sleep(50 * time.Millisecond)
	send(t, b, wire.Message{Type: wire.TypeQuit, NodeID: "b_2"})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if r, err := m.ExpectFrom(ctx, "b_2", wire.TypeQuit); err != nil || r.Identity != "b_2" {
		t.Fatalf("ExpectFrom = %v, %v", r, err)
	}
	if r := m.MustRecv(5 * time.Second); r.Identity != "a_1" || r.Msg.Type != wire.TypeHeartbeat {
		t.Fatalf("Recv after ExpectFrom = %v", r)
	}
	// Malformed: a REQ-style empty delimiter frame, a 2-element envelope.
	if _, err := a.SendMessage("", "x"); err != nil {
		t.Fatal(err)
	}
	if _, err := a.SendBytes([]byte{0x92, 0xa4, 'q', 'u', 'i', 't', 0xc0}, 0); err != nil {
		t.Fatal(err)
	}
	r1, r2 := m.MustRecv(5*time.Second), m.MustRecv(5*time.Second)
	if r1.Err == nil || len(r1.Frames) != 3 || r2.Err == nil || !errors.Is(r2.Err, wire.ErrMalformed) {
		t.Errorf("malformed frames recorded as %v / %v", r1, r2)
	}
	if n := len(m.Malformed()); n != 2 {
		t.Errorf("Malformed() has %d entries", n)
	}
	if n := m.Count(wire.TypeHeartbeat); n != 2 {
		t.Errorf("Count(heartbeat) = %d", n)
	}
	if n := len(m.Received()); n != 8 {
		t.Errorf("Received() has %d entries, want 8", n)
	}
	short, cancel2 := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel2()
	if _, err := m.Recv(short); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Recv with nothing pending = %v", err)
	}
	m.Close()
	if _, err := m.Recv(context.Background()); !errors.Is(err, ErrClosed) {
		t.Errorf("Recv after Close = %v", err)
	}
	if err := m.Send("a_1", Stop()); !errors.Is(err, ErrClosed) {
		t.Errorf("Send after Close = %v", err)
	}
}

// TestAutoHeartbeat: heartbeats from acked workers are answered while enabled.
func TestAutoHeartbeat(t *testing.T) {
	m := StartWithOptions(t, Options{AutoHeartbeat: true})
	w := dealer(t, m, "w1_ab")
	hb := wire.Message{Type: wire.TypeHeartbeat, Data: wire.Heartbeat{State: "ready", CurrentCPUUsage: 1}, NodeID: "w1_ab"}
	send(t, w, hb) // not acked yet: no answer
	send(t, w, wire.Message{Type: wire.TypeClientReady, Data: -1, NodeID: "w1_ab"})
	m.MustAckWorker(5 * time.Second)
	if got := recv(t, w); got.Type != wire.TypeAck {
		t.Fatalf("first frame to the worker is %s, want ack (an unknown worker's heartbeat must not be answered)", got.Type)
	}
	send(t, w, hb)
	if got := recv(t, w); got.Type != wire.TypeHeartbeat || got.Data != nil || got.NodeID != "w1_ab" {
		t.Errorf("answer to heartbeat: %+v", got)
	}
	m.SetAutoHeartbeat(false)
	send(t, w, hb)
	w.SetRcvtimeo(300 * time.Millisecond)
	if b, err := w.RecvBytes(0); err == nil {
		t.Errorf("got %x with auto heartbeats off", b)
	}
}

// TestMandatoryAndUnknownIdentity: like a real master, frames to unknown identities are
// dropped silently, unless Mandatory.
func TestMandatoryAndUnknownIdentity(t *testing.T) {
	m := Start(t, 0)
	if err := m.Send("nobody", Stop()); err != nil {
		t.Errorf("Send to an unknown identity = %v, want silent drop", err)
	}
	mm := StartWithOptions(t, Options{Mandatory: true})
	if err := mm.Send("nobody", Stop()); err == nil {
		t.Errorf("Mandatory Send to an unknown identity succeeded")
	}
}

// TestRestartOnSamePort: Close releases the port at once, and a worker's DEALER
// reconnects to a new master on it by itself.
func TestRestartOnSamePort(t *testing.T) {
	m := Start(t, 0)
	port := m.Port
	w := dealer(t, m, "w1_ab")
	send(t, w, wire.Message{Type: wire.TypeClientReady, Data: -1, NodeID: "w1_ab"})
	m.MustExpect(wire.TypeClientReady, 5*time.Second)
	m.Close()
	m2 := Start(t, port)
	if m2.Port != port {
		t.Fatalf("restarted on %d, want %d", m2.Port, port)
	}
	send(t, w, wire.Message{Type: wire.TypeClientReady, Data: -1, NodeID: "w1_ab"})
	id, idx := m2.MustAckWorker(10 * time.Second)
	if id != "w1_ab" || idx != 0 {
		t.Errorf("after restart: %s %d", id, idx)
	}
	if got := recv(t, w); got.Type != wire.TypeAck {
		t.Errorf("worker got %s", got.Type)
	}
}

// TestSendRawAndFrames: arbitrary payloads and extra frames reach the worker as given.
func TestSendRawAndFrames(t *testing.T) {
	m := Start(t, 0)
	w := dealer(t, m, "w1_ab")
	send(t, w, wire.Message{Type: wire.TypeClientReady, Data: -1, NodeID: "w1_ab"})
	m.MustExpect(wire.TypeClientReady, 5*time.Second)
	if err := m.SendRaw("w1_ab", []byte{0x92, 0xc0, 0xc0}); err != nil {
		t.Fatal(err)
	}
	if b, err := w.RecvBytes(0); err != nil || !bytes.Equal(b, []byte{0x92, 0xc0, 0xc0}) {
		t.Errorf("SendRaw delivered %x, %v", b, err)
	}
	if err := m.SendFrames([]byte("w1_ab"), nil, []byte("x")); err != nil {
		t.Fatal(err)
	}
	if parts, err := w.RecvMessageBytes(0); err != nil || len(parts) != 2 || len(parts[0]) != 0 || string(parts[1]) != "x" {
		t.Errorf("SendFrames delivered %q, %v", parts, err)
	}
	if err := m.SendFrames([]byte("w1_ab")); err == nil {
		t.Errorf("SendFrames with only an identity succeeded")
	}
	m.MustSend("w1_ab", Custom("whatever", map[string]any{"k": []string{"v"}}))
	if got := recv(t, w); got.Type != "whatever" || got.NodeID != "w1_ab" {
		t.Errorf("custom: %+v", got)
	}
}

func TestEncodeRejectsNonPythonValues(t *testing.T) {
	if _, err := Encode(Custom("x", struct{ A int }{1})); err == nil {
		t.Errorf("Encode accepted a struct")
	}
	if _, err := Encode(Custom("x", map[string]any{"ok": []any{make(chan int)}})); err == nil {
		t.Errorf("Encode accepted a channel")
	}
}
