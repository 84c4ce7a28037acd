package fakemaster

import (
	"fmt"
	"sort"
	"time"

	"github.com/vmihailenco/msgpack/v5"

	"github.com/zkload/zkload/boomer/wire"
)

// Map is a msgpack map written in the given key order, as a Python dict is (insertion
// order). Locust builds its dicts in a fixed order, so byte-exact frames need it.
type Map []KV

// KV is one entry of a Map.
type KV struct {
	Key   any
	Value any
}

// EncodeMsgpack implements msgpack.CustomEncoder.
func (m Map) EncodeMsgpack(enc *msgpack.Encoder) error {
	if err := enc.EncodeMapLen(len(m)); err != nil {
		return err
	}
	for _, kv := range m {
		if err := enc.Encode(kv.Key); err != nil {
			return err
		}
		if err := enc.Encode(kv.Value); err != nil {
			return err
		}
	}
	return nil
}

// Encode returns the frame a real master sends for msg: msgpack.dumps((type, data,
// node_id)) with Python's msgpack ≥ 1.0 defaults. It is wire.Encode (integers in their
// smallest form, float64, str for text, bin for []byte) after Python's value model is
// applied to msg.Data: Go maps become Maps with their keys sorted (a Python dict built
// from sorted items), float32 becomes float64, and nested values get the same treatment.
// Use Map where a specific key order matters; the builders below use Locust's order.
func Encode(msg wire.Message) ([]byte, error) {
	data, err := pythonize(msg.Data)
	if err != nil {
		return nil, fmt.Errorf("fakemaster: %s data: %w", msg.Type, err)
	}
	msg.Data = data
	return wire.Encode(msg)
}

func pythonize(v any) (any, error) {
	switch x := v.(type) {
	case nil, bool, string, []byte, float64,
		int, int8, int16, int32, int64, uint, uint8, uint16, uint32, uint64:
		return v, nil
	case float32:
		return float64(x), nil
	case Map:
		out := make(Map, len(x))
		for i, kv := range x {
			var err error
			if out[i], err = pythonizeKV(kv.Key, kv.Value); err != nil {
				return nil, err
			}
		}
		return out, nil
	case []any:
		return pythonizeSlice(x)
	case []string:
		return pythonizeSlice(x)
	case map[string]any:
		return sortedMap(x)
	case map[string]int:
		return sortedMap(x)
	case map[string]string:
		return sortedMap(x)
	case map[any]any:
		return sortedMap(x)
	}
	return nil, fmt.Errorf("no Python equivalent for %T", v)
}

// pythonizeKV is a map entry with its key and value pythonized.
func pythonizeKV(k, v any) (KV, error) {
	pk, err := pythonize(k)
	if err != nil {
		return KV{}, err
	}
	pv, err := pythonize(v)
	if err != nil {
		return KV{}, err
	}
	return KV{pk, pv}, nil
}

// pythonizeSlice is x as a list, each element pythonized.
func pythonizeSlice[E any](x []E) ([]any, error) {
	out := make([]any, len(x))
	for i, e := range x {
		var err error
		if out[i], err = pythonize(e); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// sortedMap is x as a Map, each key and value pythonized, in key order (a Python dict
// built from sorted items).
func sortedMap[K comparable, V any](x map[K]V) (Map, error) {
	m := make(Map, 0, len(x))
	for k, v := range x {
		kv, err := pythonizeKV(k, v)
		if err != nil {
			return nil, err
		}
		m = append(m, kv)
	}
	// Strings sort before numbers; within a kind, by value.
	sort.Slice(m, func(i, j int) bool { return keyLess(m[i].Key, m[j].Key) })
	return m, nil
}

func keyLess(a, b any) bool {
	as, aStr := a.(string)
	bs, bStr := b.(string)
	switch {
	case aStr && bStr:
		return as < bs
	case aStr != bStr:
		return aStr
	}
	af, aNum := wire.Number(a)
	bf, bNum := wire.Number(b)
	if aNum && bNum {
		return af < bf
	}
	return fmt.Sprint(a) < fmt.Sprint(b)
}

// Now returns the current time as Locust's time.time(): float64 unix seconds.
func Now() float64 { return float64(time.Now().UnixNano()) / 1e9 }

// Ack is the master's answer to client_ready: {"index": index} (index since 2.11).
func Ack(index int) wire.Message {
	return wire.Message{Type: wire.TypeAck, Data: Map{{"index", index}}}
}

// SpawnMsg is a spawn message with Locust's key order. counts are absolute per-class
// targets for this worker (keys written sorted). host is nil or a string; stopTimeout is
// nil or an int (2.12.1: nil unless --stop-timeout) or a float64 (since 2.13, 0.0 by
// default); parsedOptions is vars(the master's options) ({} if nil).
func SpawnMsg(ts float64, counts map[string]int, host any, stopTimeout any, parsedOptions map[string]any) wire.Message {
	if parsedOptions == nil {
		parsedOptions = map[string]any{}
	}
	return wire.Message{Type: wire.TypeSpawn, Data: Map{
		{"timestamp", ts},
		{"user_classes_count", counts},
		{"host", host},
		{"stop_timeout", stopTimeout},
		{"parsed_options", parsedOptions},
	}}
}

// Spawn2121 is SpawnMsg as Debian's 2.12.1 sends it without -H and --stop-timeout: nil
// host and stop_timeout, and parsedOptions.
func Spawn2121(ts float64, counts map[string]int, parsedOptions map[string]any) wire.Message {
	return SpawnMsg(ts, counts, nil, nil, parsedOptions)
}

// SpawnLatest is SpawnMsg as masters since 2.13 send it by default: stop_timeout 0.0.
func SpawnLatest(ts float64, counts map[string]int, host any, parsedOptions map[string]any) wire.Message {
	return SpawnMsg(ts, counts, host, 0.0, parsedOptions)
}

// MasterHeartbeat is the master's heartbeat (nil data; masters since 2.19 send one in
// answer to every heartbeat of a known worker).
func MasterHeartbeat() wire.Message { return wire.Message{Type: wire.TypeHeartbeat} }

// SpawningComplete is what masters since 2.29 send every worker after a ramp-up:
// {"user_count": total target}.
func SpawningComplete(userCount int) wire.Message {
	return wire.Message{Type: wire.TypeSpawningComplete, Data: Map{{"user_count", userCount}}}
}

// Stop asks the worker to stop its users (web UI stop); nil data.
func Stop() wire.Message { return wire.Message{Type: wire.TypeStop} }

// Quit asks the worker to quit; nil data. Real masters may send it twice.
func Quit() wire.Message { return wire.Message{Type: wire.TypeQuit} }

// Reconnect is sent after the master failed to decode a frame from the worker.
func Reconnect() wire.Message { return wire.Message{Type: wire.TypeReconnect} }

// UpdateUserClass is the web UI class picker's edit (since 2.25): user_class_name
// first, then the edited attributes (sorted), e.g. {"weight": 3, "host": "http://x"}.
func UpdateUserClass(name string, attrs map[string]any) wire.Message {
	keys := make([]string, 0, len(attrs))
	for k := range attrs {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	data := Map{{"user_class_name", name}}
	for _, k := range keys {
		data = append(data, KV{k, attrs[k]})
	}
	return wire.Message{Type: wire.TypeUpdateUserClass, Data: data}
}

// Custom is a message of any type, as runner.send_message(typ, data) sends it.
func Custom(typ string, data any) wire.Message { return wire.Message{Type: typ, Data: data} }
