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
	"io"

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
// for decoded messages, nil, bool, int64, uint64, float64, string, []byte, []any or
// map[string]any (maps with non-string keys decode as map[any]any).
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
	if err := enc.EncodeString(m.Type); err != nil {
		return nil, err
	}
	if err := enc.Encode(m.Data); err != nil {
		return nil, fmt.Errorf("encode %s data: %w", m.Type, err)
	}
	if err := enc.EncodeString(m.NodeID); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// ErrMalformed marks a frame that is not a Locust message.
var ErrMalformed = errors.New("malformed message")

// Decode parses one frame from a master. It accepts both msgpack string families (str
// and the old raw/bin), every integer width and nested values of mixed types, and
// rejects anything that is not exactly a 3-array with a text type.
func Decode(frame []byte) (Message, error) {
	var m Message
	if len(frame) == 0 {
		return m, fmt.Errorf("%w: empty frame", ErrMalformed)
	}
	dec := msgpack.NewDecoder(bytes.NewReader(frame))
	dec.SetMapDecoder(decodeMap)
	n, err := dec.DecodeArrayLen()
	if err != nil {
		return m, fmt.Errorf("%w: envelope: %w", ErrMalformed, err)
	}
	if n != 3 {
		return m, fmt.Errorf("%w: envelope has %d elements, want 3", ErrMalformed, n)
	}
	if m.Type, err = decodeText(dec); err != nil {
		return m, fmt.Errorf("%w: type: %w", ErrMalformed, err)
	}
	if m.Data, err = dec.DecodeInterface(); err != nil {
		return m, fmt.Errorf("%w: %s data: %w", ErrMalformed, m.Type, err)
	}
	code, err := dec.PeekCode()
	if err != nil {
		return m, fmt.Errorf("%w: node id: %w", ErrMalformed, err)
	}
	if code != 0xc0 { // nil node id is tolerated; masters always send one
		if m.NodeID, err = decodeText(dec); err != nil {
			return m, fmt.Errorf("%w: node id: %w", ErrMalformed, err)
		}
	} else if err := dec.DecodeNil(); err != nil {
		return m, fmt.Errorf("%w: node id: %w", ErrMalformed, err)
	}
	if _, err := dec.PeekCode(); !errors.Is(err, io.EOF) {
		return m, fmt.Errorf("%w: trailing bytes after message", ErrMalformed)
	}
	return m, nil
}

// decodeText reads a msgpack str or bin (msgpack < 1.0 packs text as raw) as a string.
func decodeText(dec *msgpack.Decoder) (string, error) {
	v, err := dec.DecodeInterface()
	if err != nil {
		return "", err
	}
	switch s := v.(type) {
	case string:
		return s, nil
	case []byte:
		return string(s), nil
	}
	return "", fmt.Errorf("got %T, want text", v)
}

// decodeMap decodes a map with string keys as map[string]any, anything else as map[any]any,
// and bin keys (old msgpack raw strings) as strings.
func decodeMap(dec *msgpack.Decoder) (any, error) {
	um, err := dec.DecodeUntypedMap()
	if err != nil {
		return nil, err
	}
	sm := make(map[string]any, len(um))
	for k, v := range um {
		switch ks := k.(type) {
		case string:
			sm[ks] = v
		case []byte:
			sm[string(ks)] = v
		default:
			return um, nil
		}
	}
	return sm, nil
}
