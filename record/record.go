// Package record is the contract between the users that make requests and whatever
// keeps their numbers: a user records each request into a Recorder, and a Sink hands
// each user its Recorder. It sits at the bottom of zkload's layers (no cgo, no
// transport), so that the statistics and the report build without the worker protocol.
package record

import (
	"sync"
	"time"
)

// Recorder takes recorded requests: method and name as Locust shows them, the response
// time, the response size, and the error if the request failed.
//
// Record is the hot path: it must be cheap and must not allocate. It must be safe for
// concurrent use by any goroutines, including several goroutines of one user: a
// ZooKeeper user with --outstanding above 1 records from each of its pipeline
// goroutines at once.
type Recorder interface {
	Record(method, name string, elapsed time.Duration, contentLength int64, err error)
}

// Sink receives every request the users record, beside the Locust stats sent to the
// master: zkload's extended statistics are one. Shard returns the Recorder that user i
// records into, so that a sink can keep per-user (or per-shard) state and avoid a lock
// shared by all users.
type Sink interface {
	Shard(i int) Recorder
}

// LockedSink is a Sink that can record under a lock its caller already holds. A caller
// that keeps numbers of its own under a per-shard lock (boomer's Locust stats) then takes
// one lock per request for both, not one each: on the recording path a lock costs
// several times what a histogram increment does.
type LockedSink interface {
	Sink
	// LockedShard returns the Recorder for the users that record under mu: its Record
	// must be called only while mu is held, and the sink takes mu (never a lock of its
	// own) whenever it reads what was recorded there. Calls with the same mu return the
	// same Recorder.
	LockedShard(mu sync.Locker) Recorder
}

// ValuePrefix begins every method of the value namespace. Not everything worth
// measuring is a request: an open loop's schedule lag (how late a planned start was
// taken) is a time, but counted as a request it would inflate the request totals that
// users read. A value is recorded through a Recorder like a request, under a method that
// starts with ValuePrefix ("~schedule_lag") and a name as a request's (the class's stats
// name), with the value as the elapsed time, size 0 and no error.
//
// Values go to the Sink only, never to Locust: boomer.User.RecordValue takes them,
// and User.Record is for requests. A Sink keeps a value series as an entry of its own,
// outside any request total; readers of its files tell the entry by IsValue.
const ValuePrefix = "~"

// IsValue reports whether method is in the value namespace (it starts with ValuePrefix).
func IsValue(method string) bool { return len(method) > 0 && method[0] == ValuePrefix[0] }

// The value series the ZooKeeper workload records for failover analysis (the report's
// faults section reads them back by these names).
const (
	// SuccessGapPrefix begins the series of one user's time without a success of one
	// operation: "~success_gap:set" holds, each time a user's set succeeds more than
	// SuccessGapMin after its previous success (or its start), that time. Its maximum in
	// a window is the longest any user went without a success of that operation.
	SuccessGapPrefix = ValuePrefix + "success_gap:"
	// SessionLost is the series of sessions that expired under a user: one value each
	// time (the session's age), so its count is the sessions lost.
	SessionLost = ValuePrefix + "session_lost"
)

// SuccessGapMin is the shortest time without a success that is recorded: shorter gaps
// are the load's ordinary rhythm, and recording every success twice would cost the
// recording path what it saves elsewhere.
const SuccessGapMin = 100 * time.Millisecond
