// Package promexport serves a worker's numbers to Prometheus (`zkload worker
// --prometheus ADDR`, `zkload run --prometheus ADDR`): request and failure counters and
// request-duration histograms per (method, name), the users, the open loop's offered
// rate, the process's CPU and memory, and the ensemble metrics the worker polls.
//
// Nothing here is on the request-recording path. The request numbers are read at scrape
// time from the extended statistics' cumulative summaries (stats.Collector.Cumulative),
// which the collector's snapshot loop already merges once an interval; the
// microsecond HDR histograms become Prometheus buckets then, in the scrape. So a scrape
// sees the requests of the intervals that have ended (at most one interval behind), and
// after the last interval its counters are every request the users recorded: what the
// worker reported to the master.
//
// The package knows nothing of boomer or the ZeroMQ transport: the users and the rate
// come in as functions from the zkload command. doc/live.md lists the metrics.
package promexport

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/zkload/zkload/record"
	"github.com/zkload/zkload/stats"
	"github.com/zkload/zkload/stats/ensemble"
)

// Namespace begins the name of every metric of zkload's own.
const Namespace = "zkload"

// bucketMicros are the upper bounds of the duration histograms' buckets, in
// microseconds: 1-2-5 steps from 50 µs to 20 s, then 60 s. ZooKeeper answers a read
// on loopback in 50-200 µs and a write (a quorum fsync) in 1-10 ms; a GC pause or a
// busy leader costs tens to hundreds of milliseconds, an election seconds, and a
// session or an HTTP request times out in 10-60 s (zkload's HTTP timeout is 60 s).
// Every bound below 2048 µs is exact in the HDR histogram; above, a bound falls on
// the start of an HDR bin, whose values (within 0.1%) count in the bound's bucket.
var bucketMicros = [...]int64{
	50, 100, 200, 500,
	1_000, 2_000, 5_000, 10_000, 20_000, 50_000, 100_000, 200_000, 500_000,
	1_000_000, 2_000_000, 5_000_000, 10_000_000, 20_000_000, 60_000_000,
}

// Buckets returns the upper bounds, in seconds, of the duration histograms' buckets
// (+Inf implied).
func Buckets() []float64 {
	out := make([]float64, len(bucketMicros))
	for i, us := range bucketMicros {
		out[i] = float64(us) / 1e6
	}
	return out
}

// BucketCounts returns, for each bound of Buckets, how many values of h (microseconds,
// stats' geometry) are at most that bound: the cumulative counts of a Prometheus
// histogram. A bin of HDR values counts toward a bound when its lowest value is at most
// the bound: exact below 2048 µs, within HDR's 3 significant digits above.
func BucketCounts(h *hdrhistogram.Histogram) []uint64 {
	counts := make([]uint64, len(bucketMicros))
	if h.TotalCount() == 0 {
		return counts
	}
	snap := h.Export()
	if snap.LowestTrackableValue != stats.LowestMicros || snap.SignificantFigures != stats.SignificantDigits {
		return bucketCountsSlow(h) // not stats' geometry: let the histogram say where its bins are
	}
	// One pass over the bins, whose lowest values grow with their index: a fixed copy
	// of the counts (188 KB), where Distribution's bars grow with the largest value.
	j := 0
	for i, n := range snap.Counts {
		if n == 0 {
			continue
		}
		for v := lowestAt(i); j < len(bucketMicros) && bucketMicros[j] < v; {
			j++
		}
		if j == len(bucketMicros) {
			break // the rest count in +Inf only
		}
		counts[j] += uint64(n)
	}
	for i := 1; i < len(counts); i++ {
		counts[i] += counts[i-1]
	}
	return counts
}

// subBucketHalf is half the sub-buckets of stats' geometry: 3 significant digits need
// 2048 sub-buckets, and every bucket after the first uses its upper half.
const subBucketHalf = 1024

// lowestAt is the lowest value (µs) of the bin at index i of an HDR histogram of stats'
// geometry (lowest value 1, so unit 1): the first 2048 bins are the values 0-2047, then
// bucket b (from 1) holds 1024 bins of width 2^b from 2048·2^(b-1).
func lowestAt(i int) int64 {
	if i < 2*subBucketHalf {
		return int64(i)
	}
	bucket := i/subBucketHalf - 1
	return int64(i%subBucketHalf+subBucketHalf) << bucket
}

// bucketCountsSlow is BucketCounts for any geometry, through the histogram's bars.
func bucketCountsSlow(h *hdrhistogram.Histogram) []uint64 {
	counts := make([]uint64, len(bucketMicros))
	for _, bar := range h.Distribution() {
		if bar.Count == 0 {
			continue
		}
		i, _ := slices.BinarySearch(bucketMicros[:], bar.From) // the first bound >= From
		if i < len(counts) {
			counts[i] += uint64(bar.Count)
		}
	}
	for i := 1; i < len(counts); i++ {
		counts[i] += counts[i-1]
	}
	return counts
}

// Cumulative is where the request numbers come from: a stats.Collector.
type Cumulative interface {
	Cumulative(fn func(k stats.Key, s *stats.Summary))
}

// Options says what the exporter exports. Only Stats is required; each function left
// nil leaves its metrics out.
type Options struct {
	// Stats gives the cumulative request statistics (a stats.Collector).
	Stats Cumulative
	// NodeID and Command label zkload_worker_info (the worker's node id as the master
	// knows it, "worker" or "run"); Version is zkload's version.
	NodeID, Command, Version string
	// Users returns the running users and, if known, their number per class.
	Users func() (total int, byClass map[string]int)
	// RateOffered returns the open loop's planned rate in operations per second (0 in
	// the closed loop).
	RateOffered func() float64
	// Ensemble returns the ensemble poller's latest samples (nil before the first).
	Ensemble func() []ensemble.Sample
}

// NewRegistry returns a registry of its own (never the package-level default one)
// holding the exporter, the process collector (CPU, memory, file descriptors) and the
// Go runtime's collector.
func NewRegistry(o Options) (*prometheus.Registry, error) {
	if o.Stats == nil {
		return nil, errors.New("promexport: no statistics to export")
	}
	reg := prometheus.NewRegistry()
	for _, c := range []prometheus.Collector{
		newExporter(o),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		collectors.NewGoCollector(),
	} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("promexport: %w", err)
		}
	}
	return reg, nil
}

// Handler serves reg's metrics (the /metrics page).
func Handler(reg *prometheus.Registry) http.Handler {
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg, ErrorHandling: promhttp.ContinueOnError})
}

func desc(name, help string, labels ...string) *prometheus.Desc {
	return prometheus.NewDesc(Namespace+"_"+name, help, labels, nil)
}

// zkGauge is one ensemble metric exported as a gauge: the member's value of the
// AdminServer metric zk, times scale (milliseconds to seconds).
type zkGauge struct {
	zk    string
	desc  *prometheus.Desc
	scale float64
}

// exporter is the prometheus.Collector of zkload's own metrics: everything is read at
// Collect time from state that exists anyway.
type exporter struct {
	o Options

	requests, failures, duration *prometheus.Desc
	values                       *prometheus.Desc
	info, users, usersByClass    *prometheus.Desc
	rate                         *prometheus.Desc
	zkUp, zkState                *prometheus.Desc
	zk                           []zkGauge
}

func newExporter(o Options) *exporter {
	e := &exporter{o: o,
		requests: desc("requests_total", "Requests recorded, per request method and name (Locust's num_requests).", "method", "name"),
		failures: desc("request_failures_total", "Failed requests recorded, per request method and name (Locust's num_failures).", "method", "name"),
		duration: desc("request_duration_seconds", "Response times of the requests recorded, per request method and name.", "method", "name"),
		values: desc("value_seconds",
			"Values the users record that are not requests (record's ~ namespace): series schedule_lag (an open loop's late starts), success_gap:OP (a user's time without a success), session_lost (a lost session's age).",
			"series", "name"),
		info:         desc("worker_info", "Always 1: the worker's node id (as the master knows it) and command.", "node_id", "command", "version"),
		users:        desc("users", "Users running now."),
		usersByClass: desc("users_by_class", "Users running now, per user class.", "class"),
		rate:         desc("rate_offered", "The open loop's planned rate, operations per second (0 in the closed loop)."),
		zkUp:         desc("zk_up", "1 if the member answered the worker's last poll of the ensemble's metrics, else 0.", "member"),
		zkState:      desc("zk_server_state", "1 for the member's state at the last poll (leader, follower, observer, standalone, ...).", "member", "state"),
	}
	for _, g := range []struct {
		zk, name, help string
		scale          float64
	}{
		{"outstanding_requests", "zk_outstanding_requests", "Requests queued in the member (ZooKeeper's outstanding_requests).", 1},
		{"avg_latency", "zk_avg_latency_seconds", "The member's average request latency (ZooKeeper's avg_latency, milliseconds there).", 1e-3},
		{"max_latency", "zk_max_latency_seconds", "The member's highest request latency (ZooKeeper's max_latency, milliseconds there).", 1e-3},
		{"znode_count", "zk_znodes", "Znodes in the member's tree (ZooKeeper's znode_count).", 1},
		{"watch_count", "zk_watches", "Watches set on the member (ZooKeeper's watch_count).", 1},
		{"ephemerals_count", "zk_ephemerals", "Ephemeral znodes (ZooKeeper's ephemerals_count).", 1},
		{"num_alive_connections", "zk_num_alive_connections", "Client connections to the member (ZooKeeper's num_alive_connections).", 1},
		{"approximate_data_size", "zk_approximate_data_size_bytes", "The member's data size (ZooKeeper's approximate_data_size).", 1},
	} {
		e.zk = append(e.zk, zkGauge{zk: g.zk, desc: desc(g.name, g.help, "member"), scale: g.scale})
	}
	return e
}

// Describe sends every descriptor the exporter may use.
func (e *exporter) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{e.requests, e.failures, e.duration, e.values, e.info,
		e.users, e.usersByClass, e.rate, e.zkUp, e.zkState} {
		ch <- d
	}
	for _, g := range e.zk {
		ch <- g.desc
	}
}

// Collect reads the cumulative statistics, the users, the rate and the ensemble's last
// poll. Requests and values are exported from the same summaries, under different
// names, so that no value is ever counted as a request.
func (e *exporter) Collect(ch chan<- prometheus.Metric) {
	ch <- prometheus.MustNewConstMetric(e.info, prometheus.GaugeValue, 1, e.o.NodeID, e.o.Command, e.o.Version)
	bounds := Buckets()
	e.o.Stats.Cumulative(func(k stats.Key, s *stats.Summary) {
		if k.IsTotal() || s.Requests == 0 {
			return // PromQL's sum() is the Total
		}
		buckets := make(map[float64]uint64, len(bounds))
		for i, n := range BucketCounts(s.Hist) {
			buckets[bounds[i]] = n
		}
		sum := float64(s.SumNanos) / 1e9
		if k.IsValue() {
			series := strings.TrimPrefix(k.Method, record.ValuePrefix)
			ch <- prometheus.MustNewConstHistogram(e.values, uint64(s.Requests), sum, buckets, series, k.Name)
			return
		}
		ch <- prometheus.MustNewConstMetric(e.requests, prometheus.CounterValue, float64(s.Requests), k.Method, k.Name)
		ch <- prometheus.MustNewConstMetric(e.failures, prometheus.CounterValue, float64(s.Failures), k.Method, k.Name)
		ch <- prometheus.MustNewConstHistogram(e.duration, uint64(s.Requests), sum, buckets, k.Method, k.Name)
	})
	if e.o.Users != nil {
		total, byClass := e.o.Users()
		ch <- prometheus.MustNewConstMetric(e.users, prometheus.GaugeValue, float64(total))
		for class, n := range byClass {
			ch <- prometheus.MustNewConstMetric(e.usersByClass, prometheus.GaugeValue, float64(n), class)
		}
	}
	if e.o.RateOffered != nil {
		ch <- prometheus.MustNewConstMetric(e.rate, prometheus.GaugeValue, e.o.RateOffered())
	}
	if e.o.Ensemble != nil {
		e.collectEnsemble(ch, e.o.Ensemble())
	}
}

// collectEnsemble exports one poll: per member whether it answered, its state and the
// gauges it gave (a metric it did not give is left out, not 0).
func (e *exporter) collectEnsemble(ch chan<- prometheus.Metric, samples []ensemble.Sample) {
	for _, s := range samples {
		up := 0.0
		if s.Err == nil {
			up = 1
		}
		ch <- prometheus.MustNewConstMetric(e.zkUp, prometheus.GaugeValue, up, s.HostPort)
		if s.Err != nil {
			continue
		}
		if s.State != "" {
			ch <- prometheus.MustNewConstMetric(e.zkState, prometheus.GaugeValue, 1, s.HostPort, s.State)
		}
		for _, g := range e.zk {
			for _, m := range s.Metrics {
				if m.Name != g.zk {
					continue
				}
				if v, err := strconv.ParseFloat(m.Value, 64); err == nil {
					ch <- prometheus.MustNewConstMetric(g.desc, prometheus.GaugeValue, v*g.scale, s.HostPort)
				}
				break
			}
		}
	}
}

// CheckAddr checks a listen address as --prometheus takes it: host:port or :port, the
// host a name or an IP address (IPv6 in brackets), the port 1-65535. It returns the
// error's text without the setting's name, for the caller to add.
func CheckAddr(addr string) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return errors.New("want host:port or :port, e.g. 127.0.0.1:9646 or :9646")
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return fmt.Errorf("port %q: want a TCP port, 1-65535", port)
	}
	if strings.ContainsAny(host, "/ ") {
		return fmt.Errorf("host %q: want a host name or IP address", host)
	}
	return nil
}
