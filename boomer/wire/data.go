package wire

import (
	"fmt"
	"math"
	"sort"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/vmihailenco/msgpack/v5"
)

// Heartbeat is a worker's heartbeat: state is "ready", "spawning" or "running"; CPU is
// the percentage of one usable core (the master warns above 90); memory is RSS in bytes.
type Heartbeat struct {
	State              string  `msgpack:"state"`
	CurrentCPUUsage    float64 `msgpack:"current_cpu_usage"`
	CurrentMemoryUsage int64   `msgpack:"current_memory_usage"`
}

// SpawningComplete reports the users actually running per class, all classes included.
type SpawningComplete struct {
	UserClassesCount map[string]int `msgpack:"user_classes_count"`
	UserCount        int            `msgpack:"user_count"`
}

// Exception reports an unhandled error inside a task; the master groups by Traceback.
type Exception struct {
	Msg       string `msgpack:"msg"`
	Traceback string `msgpack:"traceback"`
}

// EncodeMsgpack writes the exception with valid UTF-8 text (see ValidText).
func (e Exception) EncodeMsgpack(enc *msgpack.Encoder) error {
	return enc.Encode(map[string]string{"msg": ValidText(e.Msg), "traceback": ValidText(e.Traceback)})
}

// ValidText replaces invalid UTF-8 with U+FFFD. The master decodes text strictly, and
// on 2.12.1 a decoding error in the first message kills its receive loop, so no text
// that a task produced (names, error messages) may reach it unchecked.
func ValidText(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	return strings.ToValidUTF8(s, "\uFFFD")
}

// StatsReport is the delta a worker sends every few seconds: everything recorded since
// the previous report.
type StatsReport struct {
	Stats            []StatsEntry          `msgpack:"stats"`
	StatsTotal       StatsEntry            `msgpack:"stats_total"`
	Errors           map[string]StatsError `msgpack:"errors"`
	UserClassesCount map[string]int        `msgpack:"user_classes_count"`
	UserCount        int                   `msgpack:"user_count"`
}

// EncodeMsgpack writes the report with every required key, and empty collections (never
// nil) where there is nothing to report: a master iterating over nil fails.
func (r StatsReport) EncodeMsgpack(enc *msgpack.Encoder) error {
	if err := enc.EncodeMapLen(5); err != nil {
		return err
	}
	if err := enc.EncodeString("stats"); err != nil {
		return err
	}
	if err := enc.EncodeArrayLen(len(r.Stats)); err != nil {
		return err
	}
	for i := range r.Stats {
		if err := r.Stats[i].EncodeMsgpack(enc); err != nil {
			return err
		}
	}
	if err := enc.EncodeString("stats_total"); err != nil {
		return err
	}
	if err := r.StatsTotal.EncodeMsgpack(enc); err != nil {
		return err
	}
	if err := enc.EncodeString("errors"); err != nil {
		return err
	}
	keys := make([]string, 0, len(r.Errors))
	for k := range r.Errors {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	if err := enc.EncodeMapLen(len(keys)); err != nil {
		return err
	}
	for _, k := range keys {
		if err := enc.EncodeString(k); err != nil {
			return err
		}
		if err := enc.Encode(r.Errors[k]); err != nil {
			return err
		}
	}
	if err := enc.EncodeString("user_classes_count"); err != nil {
		return err
	}
	ucc := r.UserClassesCount
	if ucc == nil {
		ucc = map[string]int{}
	}
	if err := enc.Encode(ucc); err != nil {
		return err
	}
	if err := enc.EncodeString("user_count"); err != nil {
		return err
	}
	return enc.EncodeInt(int64(r.UserCount))
}

// StatsEntry is Locust's serialized StatsEntry for one (name, method) over one interval.
// Times are milliseconds (raw, unrounded); timestamps are unix seconds.
type StatsEntry struct {
	Name                 string
	Method               string
	LastRequestTimestamp *float64 // nil when no request was logged
	StartTime            float64
	NumRequests          int64
	NumNoneRequests      int64
	NumFailures          int64
	TotalResponseTime    float64
	MaxResponseTime      float64
	MinResponseTime      *float64 // nil when no request was timed
	TotalContentLength   int64
	ResponseTimes        map[int64]int64 // rounded ms bucket -> count
	NumReqsPerSec        map[int64]int64 // unix second -> requests
	NumFailPerSec        map[int64]int64 // unix second -> failures
}

// EncodeMsgpack writes the entry as a map with Python's key order and integer keys in
// the three per-bucket/per-second maps.
func (e StatsEntry) EncodeMsgpack(enc *msgpack.Encoder) error {
	if err := enc.EncodeMapLen(14); err != nil {
		return err
	}
	kv := func(k string, v any) error {
		if err := enc.EncodeString(k); err != nil {
			return err
		}
		return enc.Encode(v)
	}
	intMap := func(k string, m map[int64]int64) error {
		if err := enc.EncodeString(k); err != nil {
			return err
		}
		if err := enc.EncodeMapLen(len(m)); err != nil {
			return err
		}
		keys := make([]int64, 0, len(m))
		for key := range m {
			keys = append(keys, key)
		}
		sort.Slice(keys, func(i, j int) bool { return keys[i] < keys[j] })
		for _, key := range keys {
			if err := enc.EncodeInt(key); err != nil {
				return err
			}
			if err := enc.EncodeInt(m[key]); err != nil {
				return err
			}
		}
		return nil
	}
	for _, f := range []struct {
		k string
		v any
	}{
		{"name", ValidText(e.Name)}, {"method", ValidText(e.Method)}, {"last_request_timestamp", e.LastRequestTimestamp},
		{"start_time", e.StartTime}, {"num_requests", e.NumRequests},
		{"num_none_requests", e.NumNoneRequests}, {"num_failures", e.NumFailures},
		{"total_response_time", e.TotalResponseTime}, {"max_response_time", e.MaxResponseTime},
		{"min_response_time", e.MinResponseTime}, {"total_content_length", e.TotalContentLength},
	} {
		if err := kv(f.k, f.v); err != nil {
			return err
		}
	}
	if err := intMap("response_times", e.ResponseTimes); err != nil {
		return err
	}
	if err := intMap("num_reqs_per_sec", e.NumReqsPerSec); err != nil {
		return err
	}
	return intMap("num_fail_per_sec", e.NumFailPerSec)
}

// StatsError is one distinct error over one interval. FirstSeen and LastSeen (unix
// seconds) are read by masters since 2.44 and ignored by older ones.
type StatsError struct {
	Name        string  `msgpack:"name"`
	Method      string  `msgpack:"method"`
	Error       string  `msgpack:"error"`
	Occurrences int64   `msgpack:"occurrences"`
	FirstSeen   float64 `msgpack:"first_seen"`
	LastSeen    float64 `msgpack:"last_seen"`
}

// EncodeMsgpack writes the error with Python's key order and valid UTF-8 text.
func (e StatsError) EncodeMsgpack(enc *msgpack.Encoder) error {
	if err := enc.EncodeMapLen(6); err != nil {
		return err
	}
	for _, kv := range []struct {
		k string
		v any
	}{
		{"name", ValidText(e.Name)}, {"method", ValidText(e.Method)}, {"error", ValidText(e.Error)},
		{"occurrences", e.Occurrences}, {"first_seen", e.FirstSeen}, {"last_seen", e.LastSeen},
	} {
		if err := enc.EncodeString(kv.k); err != nil {
			return err
		}
		if err := enc.Encode(kv.v); err != nil {
			return err
		}
	}
	return nil
}

// Spawn is a master's spawn order: absolute per-class user targets.
type Spawn struct {
	Timestamp        float64
	UserClassesCount map[string]int
	Host             string
	// StopTimeout is how long a stopping user may finish its task; HasStopTimeout is
	// false when the master sent nil (2.12.1 without --stop-timeout).
	StopTimeout    time.Duration
	HasStopTimeout bool
	ParsedOptions  map[string]any
	Tags           []string // nil: no tag filter
	ExcludeTags    []string
}

// MaxSpawnCount is the largest per-class count ParseSpawn returns; larger whole
// numbers (a uint64 beyond int64 too) are read as this. It is far beyond any worker's
// user limit, which then decides what runs, and exact in a float64.
const MaxSpawnCount = 1 << 53

// ParseSpawn reads a spawn message's data as any master from 2.12.1 on sends it.
func ParseSpawn(data any) (Spawn, error) {
	var s Spawn
	m, ok := data.(map[string]any)
	if !ok {
		return s, fmt.Errorf("spawn data is %T, want a map", data)
	}
	ts, ok := Number(m["timestamp"])
	if !ok {
		return s, fmt.Errorf("spawn timestamp is %T, want a number", m["timestamp"])
	}
	s.Timestamp = ts
	ucc, ok := m["user_classes_count"].(map[string]any)
	if !ok {
		return s, fmt.Errorf("spawn user_classes_count is %T, want a map", m["user_classes_count"])
	}
	s.UserClassesCount = make(map[string]int, len(ucc))
	for name, v := range ucc {
		n, ok := Number(v)
		if !ok || n < 0 || n != math.Trunc(n) || math.IsInf(n, 0) {
			return s, fmt.Errorf("spawn count for %q is %v, want a whole number", name, v)
		}
		// A count too large to hold is still a count: the worker runs what it can
		// (its user limit) rather than ignoring the spawn.
		s.UserClassesCount[name] = int(min(n, MaxSpawnCount))
	}
	if h, ok := m["host"].(string); ok {
		s.Host = h
	}
	if st, ok := Number(m["stop_timeout"]); ok && m["stop_timeout"] != nil {
		s.StopTimeout = time.Duration(st * float64(time.Second))
		s.HasStopTimeout = true
	}
	if po, ok := m["parsed_options"].(map[string]any); ok {
		s.ParsedOptions = po
		s.Tags = stringList(po["tags"])
		s.ExcludeTags = stringList(po["exclude_tags"])
	}
	return s, nil
}

// AckIndex returns the worker index in an ack (0 for masters before 2.11).
func AckIndex(data any) int {
	if m, ok := data.(map[string]any); ok {
		if n, ok := Number(m["index"]); ok {
			return int(n)
		}
	}
	return 0
}

// Number converts any decoded msgpack number to float64.
func Number(v any) (float64, bool) {
	switch n := v.(type) {
	case int8:
		return float64(n), true
	case int16:
		return float64(n), true
	case int32:
		return float64(n), true
	case int64:
		return float64(n), true
	case int:
		return float64(n), true
	case uint8:
		return float64(n), true
	case uint16:
		return float64(n), true
	case uint32:
		return float64(n), true
	case uint64:
		return float64(n), true
	case uint:
		return float64(n), true
	case float32:
		return float64(n), true
	case float64:
		return n, true
	}
	return 0, false
}

func stringList(v any) []string {
	l, ok := v.([]any)
	if !ok {
		return nil
	}
	out := make([]string, 0, len(l))
	for _, x := range l {
		if s, ok := x.(string); ok {
			out = append(out, s)
		}
	}
	return out
}
