package zookeeper

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// Pacer plans an open loop: operation k of a run is due at start + k/rate, whichever
// user is free takes the next one (wrk2's constant-throughput plan, go-hammer's even
// spread), and latency is measured from that planned time, so a stalled server shows
// up in the latencies instead of silently lowering the rate (coordinated omission).
// A start taken more than LateTolerance after its planned time (every user was busy
// when it fell due) is late: it still runs at once, so the rate catches up, and it is counted.
//
// A Pacer is shared by the users of one worker; the plan restarts when the first user
// joins after all had left.
type Pacer struct {
	rate     float64
	interval float64 // ns per operation
	base     time.Time

	mu      sync.Mutex // guards users and restarts
	users   int
	startNS atomic.Int64 // plan start, ns after base
	next    atomic.Int64 // next operation number
	late    atomic.Int64
	taken   atomic.Int64
}

// LateTolerance is how far behind its plan a start may be taken and still count as on
// time: about the granularity of the OS's timers.
const LateTolerance = time.Millisecond

// NewPacer plans rate operations per second.
func NewPacer(rate float64) *Pacer {
	return &Pacer{rate: rate, interval: 1e9 / rate, base: time.Now()}
}

// Rate is the planned operations per second.
func (p *Pacer) Rate() float64 { return p.rate }

// Join adds a user; the first one (re)starts the plan now.
func (p *Pacer) Join() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.users == 0 {
		p.startNS.Store(int64(time.Since(p.base)))
		p.next.Store(0)
	}
	p.users++
}

// Leave removes a user.
func (p *Pacer) Leave() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.users > 0 {
		p.users--
	}
}

// Next takes the next planned operation and waits until it is due. It returns the
// planned start and, for a late start, how late it was taken (0 when on time).
func (p *Pacer) Next(ctx context.Context) (time.Time, time.Duration, error) {
	k := p.next.Add(1) - 1
	p.taken.Add(1)
	at := p.base.Add(time.Duration(p.startNS.Load() + int64(float64(k)*p.interval)))
	d := time.Until(at)
	if d <= 0 {
		if -d > LateTolerance {
			p.late.Add(1)
			return at, -d, nil
		}
		return at, 0, nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return at, 0, nil
	case <-ctx.Done():
		return at, 0, ctx.Err()
	}
}

// Late is the number of starts taken after they were due, since the Pacer was made.
func (p *Pacer) Late() int64 { return p.late.Load() }

// Taken is the number of starts taken since the Pacer was made.
func (p *Pacer) Taken() int64 { return p.taken.Load() }
