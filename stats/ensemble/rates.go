package ensemble

import (
	"strconv"
	"strings"
	"time"
)

// knownCounter reports the monotonic counters of ZooKeeper 3.8's mntr and AdminServer monitor
// (ServerMetrics' Counter entries and the 3.4 packet counts), by AdminServer name.
// Everything else there is a gauge or part of a summary: num_alive_connections,
// outstanding_requests, znode_count, watch_count, ephemerals_count,
// approximate_data_size, *_file_descriptor_count, uptime, global_sessions, learners,
// synced_followers, pending_syncs, the latencies, ...
func knownCounter(name string) bool {
	switch name {
	case "packets_received", "packets_sent", "add_dead_watcher_stall_time", "auth_failed_count",
		"bytes_received_count", "cnxn_closed_without_zk_server_running", "commit_count",
		"connection_drop_count", "connection_rejected", "connection_request_count",
		"connection_revalidate_count", "dead_watchers_cleared", "dead_watchers_queued",
		"diff_count", "digest_mismatches_count", "ensemble_auth_fail", "ensemble_auth_skip",
		"ensemble_auth_success", "insecure_admin_count", "large_requests_rejected",
		"learner_commit_received_count", "learner_proposal_received_count", "looking_count",
		"non_mtls_local_conn_count", "non_mtls_remote_conn_count", "outstanding_changes_queued",
		"outstanding_changes_removed", "prep_processor_request_queued", "proposal_count",
		"quit_leading_due_to_disloyal_voter", "request_commit_queued",
		"request_throttle_wait_count", "requests_not_forwarded_to_commit_processor",
		"response_bytes", "response_packet_cache_hits", "response_packet_cache_misses",
		"response_packet_get_children_cache_hits", "response_packet_get_children_cache_misses",
		"revalidate_count", "sessionless_connections_expired",
		"skip_learner_request_to_next_processor_count", "snap_count", "stale_replies",
		"stale_requests", "stale_requests_dropped", "stale_sessions_expired",
		"sync_processor_request_queued", "throttled_ops", "tls_handshake_exceeded",
		"unrecoverable_error_count", "unsuccessful_handshake":
		return true
	}
	return false
}

// IsCounter reports whether a mntr/monitor metric (AdminServer name, without "zk_") is
// a monotonic counter: one of ZooKeeper's counters (packets_received, packets_sent,
// commit_count, ...) or the cnt_ and sum_ keys of a summary (cnt_readlatency counts
// reads, so its rate is reads per second). Gauges such as num_alive_connections or
// znode_count are not. Counters restart from 0 when a member restarts (or on srst).
func IsCounter(name string) bool {
	if knownCounter(name) {
		return true
	}
	return strings.HasPrefix(name, "cnt_") || strings.HasPrefix(name, "sum_")
}

// RateSuffix ends the name of a counter's rate: packets_received_per_sec.
const RateSuffix = "_per_sec"

type point struct {
	t time.Time
	v float64
}

// Rates turns counters into rates per second between successive samples of a member.
// A member's previous values are forgotten when it gives an error, and a counter that
// went down (restart, srst) gives no rate until its next sample. The zero value is
// ready; it is not safe for concurrent use.
type Rates struct {
	prev map[string]map[string]point // host_port -> metric -> last value
}

// Update records s and returns the rates of its counters against the member's previous
// sample (none for a member's first sample).
func (r *Rates) Update(s Sample) []Metric {
	if r.prev == nil {
		r.prev = map[string]map[string]point{}
	}
	if s.Err != nil {
		delete(r.prev, s.HostPort)
		return nil
	}
	old := r.prev[s.HostPort]
	cur := map[string]point{}
	var out []Metric
	for _, m := range s.Metrics {
		if !m.Counter {
			continue
		}
		v, err := strconv.ParseFloat(m.Value, 64)
		if err != nil {
			continue
		}
		cur[m.Name] = point{s.Time, v}
		p, ok := old[m.Name]
		if !ok || v < p.v {
			continue
		}
		dt := s.Time.Sub(p.t).Seconds()
		if dt <= 0 {
			continue
		}
		out = append(out, Metric{Name: m.Name + RateSuffix, Value: strconv.FormatFloat((v-p.v)/dt, 'f', 3, 64)})
	}
	r.prev[s.HostPort] = cur
	return out
}
