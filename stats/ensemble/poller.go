package ensemble

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"
)

// Sample is one member's reply to one poll.
type Sample struct {
	// Time is when the poll started (the same for every member of a poll).
	Time time.Time
	// HostPort is the member's client address, as in the connect string.
	HostPort string
	// Source is the source that answered, or the one that failed (empty when SourceAuto
	// found none).
	Source Source
	// State is server_state (leader, follower, standalone, ...), empty if unknown (the
	// Prometheus source does not give it).
	State string
	// Metrics are the reply's metrics in the server's order, without "command" and
	// "error".
	Metrics []Metric
	// Err is why the member gave no metrics: unreachable, timed out, not serving.
	Err error
}

// Options configures a Poller.
type Options struct {
	// Members are the members to poll (see Members).
	Members []Member
	// Source is where metrics are read from (default SourceAuto).
	Source Source
	// Timeout bounds one member's poll, all sources tried included (default 2s).
	Timeout time.Duration
	// HTTPClient fetches AdminServer and Prometheus pages (default: a client of its own).
	HTTPClient *http.Client
}

// Poller polls every member of an ensemble concurrently. With SourceAuto it remembers,
// per member, the first source that answered and keeps to it. Its methods may be
// called from several goroutines.
type Poller struct {
	opts   Options
	client *http.Client
	own    *http.Transport // closed by Close when the client is the Poller's own

	mu     sync.Mutex
	chosen []Source // per member, under SourceAuto: the source that answered
}

// NewPoller checks opts and returns a Poller.
func NewPoller(opts Options) (*Poller, error) {
	if len(opts.Members) == 0 {
		return nil, errors.New("ensemble: no members to poll")
	}
	if opts.Source == "" {
		opts.Source = SourceAuto
	}
	if _, err := ParseSource(string(opts.Source)); err != nil {
		return nil, fmt.Errorf("ensemble: %w", err)
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 2 * time.Second
	}
	p := &Poller{opts: opts, client: opts.HTTPClient, chosen: make([]Source, len(opts.Members))}
	if p.client == nil {
		p.own = http.DefaultTransport.(*http.Transport).Clone()
		p.own.MaxIdleConnsPerHost = 2
		p.client = &http.Client{Transport: p.own}
	}
	return p, nil
}

// Members returns the polled members.
func (p *Poller) Members() []Member { return p.opts.Members }

// Close releases the Poller's idle connections.
func (p *Poller) Close() {
	if p.own != nil {
		p.own.CloseIdleConnections()
	}
}

// Poll polls every member at once, each within the timeout, and returns one sample per
// member in Members order. A member that fails gives a sample with Err set.
func (p *Poller) Poll(ctx context.Context) []Sample {
	now := time.Now()
	out := make([]Sample, len(p.opts.Members))
	var wg sync.WaitGroup
	for i := range p.opts.Members {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out[i] = p.pollMember(ctx, i, now)
		}()
	}
	wg.Wait()
	return out
}

func (p *Poller) pollMember(ctx context.Context, i int, now time.Time) Sample {
	m := p.opts.Members[i]
	s := Sample{Time: now, HostPort: m.HostPort}
	ctx, cancel := context.WithTimeout(ctx, p.opts.Timeout)
	defer cancel()
	srcs := []Source{p.opts.Source}
	if p.opts.Source == SourceAuto {
		p.mu.Lock()
		c := p.chosen[i]
		p.mu.Unlock()
		if c != "" {
			srcs = []Source{c}
		} else {
			srcs = autoOrder()
		}
	}
	var errs []string
	for _, src := range srcs {
		r, err := fetch(ctx, p.client, m, src)
		if err != nil {
			errs = append(errs, fmt.Sprintf("%s: %v", src, err))
			if len(srcs) == 1 {
				s.Source, s.Err = src, err
				return s
			}
			if ctx.Err() != nil {
				break
			}
			continue
		}
		if p.opts.Source == SourceAuto {
			p.mu.Lock()
			p.chosen[i] = src
			p.mu.Unlock()
		}
		s.Source, s.State, s.Metrics, s.Err = src, r.state, r.metrics, r.err
		return s
	}
	s.Err = fmt.Errorf("no source answered: %s", strings.Join(errs, "; "))
	return s
}
