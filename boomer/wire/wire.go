// Package wire encodes and decodes the messages that Locust's master and its workers
// exchange: a msgpack 3-array [type, data, node_id] in one ZeroMQ frame.
//
// Every message a worker sends is built from the typed data in this package so that it
// always carries the keys a Locust master reads without a default (a missing key kills
// the master's receive loop). Messages from the master are decoded generically, since
// masters from 2.12.1 to the newest 2.x put different types in the same fields.
package wire

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/vmihailenco/msgpack/v5"
)

// Message types of Locust's master/worker protocol.
const (
	TypeClientReady      = "client_ready"
	TypeAck              = "ack"
	TypeHeartbeat        = "heartbeat"
	TypeSpawn            = "spawn"
	TypeSpawning         = "spawning"
	TypeSpawningComplete = "spawning_complete"
	TypeStats            = "stats"
	TypeException        = "exception"
	TypeStop             = "stop"
	TypeClientStopped    = "client_stopped"
	TypeQuit             = "quit"
	TypeReconnect        = "reconnect"
	TypeUpdateUserClass  = "update_user_class"
	TypeLogs             = "logs"
	TypeLocustfile       = "locustfile"
)

// ClientReadyVersion is the version a worker announces in client_ready. -1 is the value
// every Locust 2.x master accepts without comparing versions (a Debian master's own
// version string is empty, so no real version would match it).
const ClientReadyVersion = -1

// Message is one protocol message. Data is whatever msgpack value the type carries:
// for decoded messages, nil, bool, int64 (uint64 above math.MaxInt64), float64,
// string, []byte, []any or map[string]any (map[any]any when a key is not text).
type Message struct {
	Type   string
	Data   any
	NodeID string
}

// Encode returns the msgpack frame for m: a 3-array with text as msgpack str, integers
// in their smallest encoding and floats as float64, as Python's msgpack packs them.
func Encode(m Message) ([]byte, error) {
	var buf bytes.Buffer
	enc := msgpack.NewEncoder(&buf)
	enc.UseCompactInts(true)
	if err := enc.EncodeArrayLen(3); err != nil {
		return nil, err
	}
	if err := enc.EncodeString(ValidText(m.Type)); err != nil {
		return nil, err
	}
	if err := enc.Encode(m.Data); err != nil {
		return nil, fmt.Errorf("encode %s data: %w", m.Type, err)
	}
	if err := enc.EncodeString(ValidText(m.NodeID)); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// ErrMalformed marks a frame that is not a Locust message.
var ErrMalformed = errors.New("malformed message")

// Decode parses one frame from a master. It accepts both msgpack string families (str
// and the old raw/bin), every integer width and nested values of mixed types, and
// rejects anything that is not exactly a 3-array with a text type. Length claims are
// checked against the frame's size, so a hostile frame cannot exhaust memory.
func Decode(frame []byte) (Message, error) {
	var m Message
	if len(frame) == 0 {
		return m, fmt.Errorf("%w: empty frame", ErrMalformed)
	}
	r := &reader{b: frame}
	env, err := r.value()
	if err != nil {
		return m, err
	}
	parts, ok := env.([]any)
	if !ok {
		return m, fmt.Errorf("%w: envelope is %T, want a 3-array", ErrMalformed, env)
	}
	if len(parts) != 3 {
		return m, fmt.Errorf("%w: envelope has %d elements, want 3", ErrMalformed, len(parts))
	}
	if r.left() != 0 {
		return m, fmt.Errorf("%w: %d trailing bytes after message", ErrMalformed, r.left())
	}
	if m.Type, ok = text(parts[0]); !ok {
		return m, fmt.Errorf("%w: type is %T, want text", ErrMalformed, parts[0])
	}
	m.Data = parts[1]
	if parts[2] != nil { // nil node id is tolerated; masters always send one
		if m.NodeID, ok = text(parts[2]); !ok {
			return m, fmt.Errorf("%w: node id is %T, want text", ErrMalformed, parts[2])
		}
	}
	return m, nil
}

func text(v any) (string, bool) {
	switch s := v.(type) {
	case string:
		return s, true
	case []byte:
		return string(s), true
	}
	return "", false
}
