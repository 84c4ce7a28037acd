package faults

import (
	"encoding/csv"
	"fmt"
	"io"
	"strconv"
	"sync"
	"time"
)

// TimelineHeader is the faults timeline's CSV header.
var TimelineHeader = []string{"Timestamp", "Time", "Action", "Member", "Address", "Role Before",
	"Leader Before", "Leader After", "Took (ms)", "Election (ms)", "First Write (ms)", "Note"}

// Timeline writes actions as CSV rows, one per action, flushed as each is written so
// that a run killed midway keeps every row before it. It is safe for concurrent use.
type Timeline struct {
	mu  sync.Mutex
	w   *csv.Writer
	err error
}

// NewTimeline returns a timeline writing to w, after the header unless continued (w
// appends to a timeline that has it: a worker's next test).
func NewTimeline(w io.Writer, continued bool) (*Timeline, error) {
	t := &Timeline{w: csv.NewWriter(w)}
	t.w.UseCRLF = true // as Locust's CSV files, which the same tools read
	if continued {
		return t, nil
	}
	if err := t.write(TimelineHeader); err != nil {
		return nil, fmt.Errorf("faults timeline: %w", err)
	}
	return t, nil
}

// Add writes one action; the first write error is kept and returned by Err.
func (t *Timeline) Add(a Action) {
	ms := func(d time.Duration) string {
		if d < 0 {
			return ""
		}
		return strconv.FormatFloat(float64(d.Microseconds())/1000, 'f', 3, 64)
	}
	idx := func(i int) string {
		if i < 0 {
			return ""
		}
		return strconv.Itoa(i)
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.err != nil {
		return
	}
	t.err = t.write([]string{strconv.FormatInt(a.Time.Unix(), 10), a.Time.UTC().Format("2006-01-02T15:04:05.000Z"),
		a.Action, idx(a.Member), a.Addr, string(a.Before), idx(a.LeaderBefore), idx(a.LeaderAfter),
		ms(a.Took), ms(a.Election), ms(a.FirstWrite), a.Note})
}

// Err returns the first write error.
func (t *Timeline) Err() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.err
}

func (t *Timeline) write(row []string) error {
	if err := t.w.Write(row); err != nil {
		return err
	}
	t.w.Flush()
	return t.w.Error()
}
