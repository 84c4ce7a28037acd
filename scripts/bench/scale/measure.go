package main

import (
	"context"
	"fmt"
	"math"
	"os"
	"slices"
	"strconv"
	"time"

	"github.com/zkload/zkload/boomer/wire"
	"github.com/zkload/zkload/internal/fakemaster"
	"github.com/zkload/zkload/internal/freeport"
)

// withSession runs fn on a fresh registered worker (started with workerArgs), then has
// it quit. fn's error comes before the worker's.
func withSession(ctx context.Context, cfg *config, workerArgs []string, fn func(*session) error) error {
	s, err := startSession(ctx, cfg, workerArgs...)
	if err != nil {
		return err
	}
	err = fn(s)
	if cerr := s.close(); err == nil {
		err = cerr
	}
	return err
}

// spawnAtRest takes the worker's RSS at rest, then spawns n users of class with one
// message: the RSS before, the spawning_complete message, and the seconds between.
func (s *session) spawnAtRest(cfg *config, class string, n int) (int64, fakemaster.Received, float64, error) {
	before, _, _, err := s.settledRSS(cfg)
	if err != nil {
		return 0, fakemaster.Received{}, 0, err
	}
	sent, done, err := s.spawn(map[string]int{class: n}, cfg.spawnTimeout)
	if err != nil {
		return 0, fakemaster.Received{}, 0, err
	}
	return before, done, done.At.Sub(sent).Seconds(), nil
}

// measureIdle runs n idle users in a fresh worker: its RSS before and after, and how
// long one spawn message for all of them takes.
func measureIdle(ctx context.Context, cfg *config, n int) (IdleResult, error) {
	r := IdleResult{Users: n}
	err := withSession(ctx, cfg, nil, func(s *session) error {
		before, done, spawnSecs, err := s.spawnAtRest(cfg, "Idle", n)
		if err != nil {
			return err
		}
		r.RSSBefore, r.SpawnSeconds = before, spawnSecs
		r.UsersPerSecond = float64(n) / max(r.SpawnSeconds, 1e-9)
		// spawning_complete means every user's goroutine exists; each still has to
		// run its first task and start its wait. A heartbeat after it, then a steady
		// RSS, says the worker is at rest with its users up.
		for {
			hb, err := s.next(wire.TypeHeartbeat, done.At, 10*time.Second)
			if err != nil {
				return fmt.Errorf("after the spawn: %w", err)
			}
			if field(hb, "state") == "running" {
				break
			}
		}
		if r.RSSAfter, r.PeakRSS, r.Settled, err = s.settledRSS(cfg); err != nil {
			return err
		}
		r.RSSPerUser = float64(r.RSSAfter-r.RSSBefore) / float64(n)
		return nil
	})
	return r, err
}

// measureFailing runs n Http users against a port that refuses connections, with no
// wait, in a fresh worker: its RSS before, at rest (as far as failing users rest) and
// at the peak, and the rate of failed requests.
func measureFailing(ctx context.Context, cfg *config, n int) (FailingResult, error) {
	r := FailingResult{Users: n}
	url, err := refusingURL()
	if err != nil {
		return r, err
	}
	err = withSession(ctx, cfg, []string{"-url", url}, func(s *session) error {
		before, done, spawnSecs, err := s.spawnAtRest(cfg, "Http", n)
		if err != nil {
			return err
		}
		r.RSSBefore, r.SpawnSeconds = before, spawnSecs
		if r.RSSAfter, r.PeakRSS, r.Settled, err = s.settledRSS(cfg); err != nil {
			return err
		}
		r.RSSPerUser = float64(r.RSSAfter-r.RSSBefore) / float64(n)
		r.PeakPerUser = float64(r.PeakRSS-r.RSSBefore) / float64(n)
		// The rate: the stats messages since the spawn, the next one awaited.
		if _, err := s.next(wire.TypeStats, time.Now(), cfg.statsInterval+5*time.Second); err != nil {
			return err
		}
		var reqs, fails int64
		r.RequestsPerSecond, reqs, fails = rateOf(s.messages(wire.TypeStats, done.At), done.At)
		if reqs == 0 || fails != reqs {
			return fmt.Errorf("%d requests, %d failed: want failures only (is something listening on %s?)", reqs, fails, url)
		}
		return nil
	})
	return r, err
}

// refusingURL is the URL of a loopback port nothing listens on.
func refusingURL() (string, error) {
	port, err := freeport.Port()
	if err != nil {
		return "", fmt.Errorf("a refusing port: %w", err)
	}
	return fmt.Sprintf("http://127.0.0.1:%d", port), nil
}

// measureHeartbeats runs cfg.hbUsers Http users with no wait, and busy Busy users, for
// cfg.hbTime, and takes the gaps between the heartbeats that reached the master.
func measureHeartbeats(ctx context.Context, cfg *config, busy int) (HeartbeatResult, error) {
	r := HeartbeatResult{Users: cfg.hbUsers, Busy: busy}
	err := withSession(ctx, cfg, nil, func(s *session) error {
		_, done, err := s.spawn(map[string]int{"Http": cfg.hbUsers, "Busy": busy}, cfg.spawnTimeout)
		if err != nil {
			return err
		}
		if err := s.sleep(cfg.hbTime); err != nil {
			return err
		}
		end := time.Now()
		r.Seconds = end.Sub(done.At).Seconds()
		var at []time.Time
		var cpu []float64
		for i, hb := range s.messages(wire.TypeHeartbeat, done.At) {
			if hb.At.After(end) {
				break
			}
			at = append(at, hb.At)
			// The first one's CPU figure covers time before the users ran.
			if c, ok := wire.Number(field(hb, "current_cpu_usage")); ok && i > 0 {
				cpu = append(cpu, c)
			}
		}
		r.Heartbeats = len(at)
		if len(at) < 2 {
			return fmt.Errorf("%d heartbeats in %.1f s: too few for a gap", len(at), r.Seconds)
		}
		gaps := make([]float64, len(at)-1)
		for i := range gaps {
			gaps[i] = at[i+1].Sub(at[i]).Seconds()
		}
		r.GapP50, r.GapP99, r.GapMax = percentile(gaps, 0.5), percentile(gaps, 0.99), slices.Max(gaps)
		if len(cpu) > 0 {
			r.CPUMedian, r.CPUMin = percentile(cpu, 0.5), slices.Min(cpu)
		}
		// The request rate is what the stats messages since the spawn report (the
		// users started with it); if the run was shorter than the stats interval,
		// the next one is awaited.
		if _, err := s.next(wire.TypeStats, done.At, cfg.statsInterval+5*time.Second); err != nil {
			return err
		}
		var reqs int64
		r.RequestsPerSecond, reqs, r.Failures = rateOf(s.messages(wire.TypeStats, done.At), done.At)
		return checkRequests(s, cfg, reqs, r.Failures)
	})
	return r, err
}

// measureStats holds rate requests per second (0: as fast as it goes) with
// cfg.rateUsers Http users, each paced by constant_throughput, and takes the sizes of
// the stats messages.
func measureStats(ctx context.Context, cfg *config, rate float64) (StatsResult, error) {
	r := StatsResult{TargetRate: rate, Users: cfg.rateUsers}
	var args []string
	if rate > 0 {
		args = []string{"-user-rate", strconv.FormatFloat(rate/float64(cfg.rateUsers), 'g', -1, 64)}
	}
	err := withSession(ctx, cfg, args, func(s *session) error {
		_, done, err := s.spawn(map[string]int{"Http": cfg.rateUsers}, cfg.spawnTimeout)
		if err != nil {
			return err
		}
		// The first message after the spawn covers part of an interval and the
		// ramp-up; want more follow it, each a whole interval at the rate. (The
		// worker's final report, at quit, is never among them.)
		want := max(1, int(math.Round(cfg.rateTime.Seconds()/cfg.statsInterval.Seconds())))
		msgs := make([]fakemaster.Received, 0, want+1)
		for after := done.At; len(msgs) < want+1; after = msgs[len(msgs)-1].At {
			m, err := s.next(wire.TypeStats, after, 2*cfg.statsInterval+5*time.Second)
			if err != nil {
				return fmt.Errorf("stats message %d of %d: %w", len(msgs)+1, want+1, err)
			}
			msgs = append(msgs, m)
		}
		var reqs int64
		r.RequestsPerSecond, reqs, r.Failures = rateOf(msgs[1:], msgs[0].At)
		if err := checkRequests(s, cfg, reqs, r.Failures); err != nil {
			return err
		}
		var sizes []float64
		for _, m := range msgs[1:] {
			sizes = append(sizes, float64(len(m.Payload)))
			if total, ok := field(m, "stats_total").(map[string]any); ok {
				if b, ok := total["response_times"].(map[any]any); ok {
					r.MaxBuckets = max(r.MaxBuckets, len(b))
				}
			}
		}
		r.Messages = len(sizes)
		r.MedianBytes, r.MaxBytes = int(percentile(sizes, 0.5)), int(slices.Max(sizes))
		return nil
	})
	return r, err
}

// rateOf returns the request rate over stats messages msgs, which cover the time from
// start to the last one's arrival, and their requests and failures.
func rateOf(msgs []fakemaster.Received, start time.Time) (rate float64, reqs, fails int64) {
	if len(msgs) == 0 {
		return 0, 0, 0
	}
	for _, m := range msgs {
		total, _ := field(m, "stats_total").(map[string]any)
		n, _ := wire.Number(total["num_requests"])
		f, _ := wire.Number(total["num_failures"])
		reqs += int64(n)
		fails += int64(f)
	}
	return float64(reqs) / msgs[len(msgs)-1].At.Sub(start).Seconds(), reqs, fails
}

// checkRequests fails a load measurement that made no requests, or mostly failed ones
// (a target that is down), and warns about any failure or exception.
func checkRequests(s *session, cfg *config, reqs, fails int64) error {
	var ex string
	if e := s.messages(wire.TypeException, time.Time{}); len(e) > 0 {
		ex = fmt.Sprintf("; %d exceptions, the first: %v", len(e), field(e[0], "msg"))
	}
	switch {
	case reqs == 0:
		return fmt.Errorf("the Http users made no requests (is the target %s up?)%s", cfg.target.url, ex)
	case fails*2 > reqs:
		return fmt.Errorf("%d of %d requests failed (is the target %s up?)%s", fails, reqs, cfg.target.url, ex)
	case fails > 0 || ex != "":
		fmt.Fprintf(os.Stderr, "scale: warning: %d of %d requests failed%s\n", fails, reqs, ex)
	}
	return nil
}
