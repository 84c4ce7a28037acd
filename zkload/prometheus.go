package main

import (
	"context"
	"fmt"
	"time"

	"github.com/zkload/zkload/setting"
	"github.com/zkload/zkload/stats/ensemble"
	"github.com/zkload/zkload/stats/promexport"
)

// promOptions are --prometheus (doc/live.md): where `zkload run` and `zkload worker`
// serve their numbers to Prometheus.
type promOptions struct {
	addr string // "": off
	what string // the setting that gave addr, for errors
}

// promInterval is the extended statistics' interval when only --prometheus asks for
// them: a scrape sees the requests of the intervals that have ended.
const promInterval = time.Second

func promSettings() []*setting.Spec {
	return []*setting.Spec{
		{Flag: "prometheus", Env: "ZKLOAD_PROMETHEUS", Arg: "ADDR",
			Help:   "serve request counters, latency histograms, users, CPU and memory, and the polled ensemble metrics to Prometheus at http://ADDR/metrics, e.g. 127.0.0.1:9646 or :9646 (see doc/live.md)",
			Expect: "host:port or :port to listen on, e.g. 127.0.0.1:9646 or :9646"},
	}
}

func (o *promOptions) parse(fs *flagSet) error {
	v := fs.get("prometheus")
	if v.Text == "" {
		return nil
	}
	if err := promexport.CheckAddr(v.Text); err != nil {
		return fs.check(v.Errorf("%v", err))
	}
	o.addr, o.what = v.Text, v.Name()
	return nil
}

// promServer is the running endpoint of a harness.
type promServer struct {
	srv    *promexport.Server
	cancel context.CancelFunc
	done   chan error
}

// listenPrometheus opens the endpoint's port, so that a port in use is a usage error
// before anything runs; nil without --prometheus.
func listenPrometheus(o *promOptions) (*promServer, error) {
	if o.addr == "" {
		return nil, nil
	}
	srv, err := promexport.Listen(context.Background(), o.addr)
	if err != nil {
		return nil, fmt.Errorf("%s %q: %w", o.what, o.addr, err)
	}
	return &promServer{srv: srv}, nil
}

// servePrometheus serves the harness's numbers until finish (a no-op without
// --prometheus): the extended statistics (which --prometheus turns on), users as
// users gives them, and the ensemble's last poll when the harness polls it.
func (h *harness) servePrometheus(nodeID string, users func() (int, map[string]int)) error {
	ps := h.prom
	if ps == nil || h.collector == nil {
		return nil
	}
	o := promexport.Options{Stats: h.collector, NodeID: nodeID, Command: h.opts.cmd,
		Version: zkloadVersion(), Users: users}
	if mp := h.metrics; mp != nil {
		o.Ensemble = mp.latest
	}
	if plan := h.opts.workload.plan; plan != nil {
		// One plan for every class (a load controller steers it): its rate is the
		// worker's offered rate.
		o.RateOffered = func() float64 {
			if p := plan.Pacer(); p != nil {
				return p.Rate()
			}
			return 0
		}
	}
	reg, err := promexport.NewRegistry(o)
	if err != nil {
		return h.fail(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ps.cancel, ps.done = cancel, make(chan error, 1)
	go func() { ps.done <- ps.srv.Serve(ctx, promexport.Handler(reg)) }()
	h.log.Info("prometheus endpoint", "url", fmt.Sprintf("http://%s%s", ps.srv.Addr(), promexport.Path))
	return nil
}

// stop ends the endpoint (or closes the port of one that never served); it may be
// called on nil and more than once.
func (ps *promServer) stop() error {
	if ps == nil {
		return nil
	}
	if ps.cancel == nil {
		ps.srv.Close()
		ps.cancel = func() {}
		return nil
	}
	ps.cancel()
	if ps.done == nil {
		return nil
	}
	err := <-ps.done
	ps.done = nil
	return err
}

// latest is the ensemble's last poll (nil before the first).
func (mp *metricsPoll) latest() []ensemble.Sample {
	if s := mp.last.Load(); s != nil {
		return *s
	}
	return nil
}
