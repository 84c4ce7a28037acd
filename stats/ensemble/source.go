// Package ensemble polls the metrics of every member of a ZooKeeper ensemble and writes
// them to a long-form CSV (timestamp, host_port, server_state, metric, value), one row
// per metric, so that no member's keys are lost: the leader's leader-only metrics
// (learners, synced_followers, pending_syncs, ...) get rows of their own, and a member
// that does not answer gets an error row instead of silence.
//
// Three sources are supported, per member: the AdminServer's /commands/monitor (JSON),
// the mntr four-letter word on the client port, and the Prometheus metrics provider's
// /metrics (port 7000 by default). SourceAuto tries them in that order and keeps, per
// member, the first that answers. Metric names are the AdminServer's: mntr's "zk_"
// prefix is dropped, so the three sources give the same names (Prometheus has more,
// with labels, and no server_state).
//
// Counters (see IsCounter) are also written as rates per second, as
// <metric>_per_sec rows computed between two successive polls of the same member.
// See doc/metrics.md.
package ensemble

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/zkload/zkload/fourlw"

	"github.com/zkload/zkload/connstr"
)

// Source is where a member's metrics are read from.
type Source string

// The sources. SourceAuto tries SourceAdmin, then SourceMntr, then SourcePrometheus.
const (
	SourceAuto       Source = "auto"
	SourceAdmin      Source = "admin"
	SourceMntr       Source = "mntr"
	SourcePrometheus Source = "prometheus"
)

// autoOrder is the order in which SourceAuto tries the sources.
func autoOrder() []Source { return []Source{SourceAdmin, SourceMntr, SourcePrometheus} }

// ParseSource checks a source name: auto, admin, mntr or prometheus.
func ParseSource(s string) (Source, error) {
	switch v := Source(strings.ToLower(strings.TrimSpace(s))); v {
	case SourceAuto, SourceAdmin, SourceMntr, SourcePrometheus:
		return v, nil
	}
	return "", fmt.Errorf("source %q: want auto, admin, mntr or prometheus", s)
}

// DefaultAdminPort is the AdminServer's default port (admin.serverPort) and
// DefaultPrometheusPort the Prometheus metrics provider's (metricsProvider.httpPort).
const (
	DefaultAdminPort      = 8080
	DefaultPrometheusPort = 7000
)

// Member is one ensemble member and where its metrics are served.
type Member struct {
	// HostPort is the member's client address as in the connect string (the CSV's
	// host_port column); mntr is sent there.
	HostPort string
	// AdminURL is the AdminServer's monitor command, e.g.
	// http://host:8080/commands/monitor.
	AdminURL string
	// PrometheusURL is the Prometheus provider's endpoint, e.g. http://host:7000/metrics.
	PrometheusURL string
}

// Members builds the members of a connect string (host:port[,host:port...][/chroot],
// zk:// allowed; the chroot is ignored). The AdminServer and Prometheus ports cannot be
// derived from the client port: adminPorts and promPorts each hold either one port for
// every member or one port per member in connect-string order (nil or empty: the
// defaults, 8080 and 7000).
func Members(connect string, adminPorts, promPorts []int) ([]Member, error) {
	servers, _, err := connstr.Parse(connect)
	if err != nil {
		return nil, fmt.Errorf("connect string %q: %w", connect, err)
	}
	pick := func(ports []int, def int, what string) ([]int, error) {
		out := make([]int, len(servers))
		switch len(ports) {
		case 0:
			ports = []int{def}
			fallthrough
		case 1:
			for i := range out {
				out[i] = ports[0]
			}
		case len(servers):
			copy(out, ports)
		default:
			return nil, fmt.Errorf("%d %s ports for %d members: want one for all, or one per member", len(ports), what, len(servers))
		}
		for _, p := range out {
			if p < 1 || p > 65535 {
				return nil, fmt.Errorf("%s port %d: want 1-65535", what, p)
			}
		}
		return out, nil
	}
	ap, err := pick(adminPorts, DefaultAdminPort, "AdminServer")
	if err != nil {
		return nil, err
	}
	pp, err := pick(promPorts, DefaultPrometheusPort, "Prometheus")
	if err != nil {
		return nil, err
	}
	ms := make([]Member, len(servers))
	for i, s := range servers {
		host, _, err := net.SplitHostPort(s)
		if err != nil {
			return nil, fmt.Errorf("connect string %q: %w", connect, err)
		}
		ms[i] = Member{
			HostPort:      s,
			AdminURL:      "http://" + net.JoinHostPort(host, strconv.Itoa(ap[i])) + "/commands/monitor",
			PrometheusURL: "http://" + net.JoinHostPort(host, strconv.Itoa(pp[i])) + "/metrics",
		}
	}
	return ms, nil
}

// ParsePorts parses a port list as --admin-port takes it: "8080" (every member) or
// "8080,8081,8082" (one per member).
func ParsePorts(s string) ([]int, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, nil
	}
	var out []int
	for _, f := range strings.Split(s, ",") {
		p, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || p < 1 || p > 65535 {
			return nil, fmt.Errorf("port %q: want 1-65535", strings.TrimSpace(f))
		}
		out = append(out, p)
	}
	return out, nil
}

// Metric is one metric of one reply, in the server's order.
type Metric struct {
	Name  string
	Value string
	// Counter reports a monotonic counter (rates are computed for it).
	Counter bool
}

// reply is what one source read from one member.
type reply struct {
	state   string
	metrics []Metric
	err     error // the member answered but reported an error (not serving, ...)
}

// notServing is ZooKeeper's answer while a member has no quorum.
const notServing = "This ZooKeeper instance is not currently serving requests"

// fetch reads one member from one source.
func fetch(ctx context.Context, client *http.Client, m Member, src Source) (reply, error) {
	switch src {
	case SourceAdmin:
		body, err := httpGet(ctx, client, m.AdminURL, true)
		if err != nil {
			return reply{}, err
		}
		return parseMonitor(body)
	case SourceMntr:
		out, err := fourlw.Ask(ctx, m.HostPort, "mntr")
		if err != nil {
			return reply{}, err
		}
		return parseMntr(out)
	case SourcePrometheus:
		body, err := httpGet(ctx, client, m.PrometheusURL, false)
		if err != nil {
			return reply{}, err
		}
		return parsePrometheus(body)
	}
	return reply{}, fmt.Errorf("unknown source %q", src)
}

// httpGet fetches url. The AdminServer answers some errors (not serving) with a JSON
// body and a 5xx status: with anyStatus, such a body is returned for parsing.
func httpGet(ctx context.Context, client *http.Client, url string, anyStatus bool) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, fmt.Errorf("GET %s: %w", url, err)
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("GET %s: %w", url, unwrapURL(err))
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return nil, fmt.Errorf("GET %s: %w", url, err)
	}
	if resp.StatusCode != http.StatusOK {
		if anyStatus && bytes.HasPrefix(bytes.TrimSpace(body), []byte("{")) {
			return body, nil
		}
		return nil, fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return body, nil
}

// unwrapURL drops the *url.Error wrapper, whose text repeats the method and URL.
func unwrapURL(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) && ue.Err != nil {
		return ue.Err
	}
	return err
}

// parseMonitor reads the AdminServer's monitor JSON, a flat object, keeping the
// server's key order; "command" is dropped and a non-null "error" makes the reply an
// error.
func parseMonitor(body []byte) (reply, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return reply{}, fmt.Errorf("monitor: not a JSON object: %.80q", body)
	}
	var r reply
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return reply{}, fmt.Errorf("monitor: %w", err)
		}
		key, _ := t.(string)
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return reply{}, fmt.Errorf("monitor: key %q: %w", key, err)
		}
		val := string(raw)
		switch {
		case val == "null":
			val = ""
		case strings.HasPrefix(val, `"`):
			var s string
			if json.Unmarshal(raw, &s) == nil {
				val = s
			}
		}
		switch key {
		case "command":
			continue
		case "error":
			if val != "" {
				r.err = errors.New(val)
			}
			continue
		case "server_state":
			r.state = val
		}
		r.metrics = append(r.metrics, Metric{Name: key, Value: val, Counter: IsCounter(key)})
	}
	if r.err == nil && len(r.metrics) == 0 {
		return reply{}, errors.New("monitor: empty reply")
	}
	return r, nil
}

// parseMntr reads mntr's "zk_key<TAB>value" lines; the zk_ prefix is dropped. A reply
// without such lines (not serving, not whitelisted) is an error.
func parseMntr(out string) (reply, error) {
	var r reply
	for _, line := range strings.Split(out, "\n") {
		k, v, ok := strings.Cut(strings.TrimRight(line, "\r"), "\t")
		if !ok {
			continue
		}
		k = strings.TrimPrefix(k, "zk_")
		v = strings.TrimSpace(v)
		if k == "server_state" {
			r.state = v
		}
		r.metrics = append(r.metrics, Metric{Name: k, Value: v, Counter: IsCounter(k)})
	}
	if len(r.metrics) == 0 {
		msg := strings.TrimSpace(out)
		if strings.Contains(msg, notServing) {
			// The member answered: an error row, not a failed source.
			return reply{err: errors.New(msg)}, nil
		}
		return reply{}, fmt.Errorf("mntr: %q", msg)
	}
	return r, nil
}

// parsePrometheus reads the Prometheus text format. A series is named as exposed,
// labels included (readlatency{quantile="0.5"}). Series of a counter family and the
// _count and _sum series of a summary or histogram are counters.
func parsePrometheus(body []byte) (reply, error) {
	types := map[string]string{}
	var r reply
	sc := bufio.NewScanner(bytes.NewReader(body))
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			continue
		}
		if rest, ok := strings.CutPrefix(line, "#"); ok {
			f := strings.Fields(rest)
			if len(f) >= 3 && f[0] == "TYPE" {
				types[f[1]] = f[2]
			}
			continue
		}
		name, value, ok := splitSeries(line)
		if !ok {
			continue
		}
		r.metrics = append(r.metrics, Metric{Name: name, Value: value, Counter: promCounter(types, name)})
	}
	if err := sc.Err(); err != nil {
		return reply{}, fmt.Errorf("prometheus: %w", err)
	}
	if len(r.metrics) == 0 {
		return reply{}, errors.New("prometheus: no series")
	}
	return r, nil
}

// splitSeries splits `name{labels} value [timestamp]`.
func splitSeries(line string) (name, value string, ok bool) {
	end := strings.IndexAny(line, "{ \t")
	if end < 0 {
		return "", "", false
	}
	if line[end] == '{' {
		c := strings.LastIndexByte(line, '}')
		if c < end {
			return "", "", false
		}
		end = c + 1
	}
	name = line[:end]
	f := strings.Fields(line[end:])
	if len(f) == 0 {
		return "", "", false
	}
	return name, f[0], true
}

func promCounter(types map[string]string, series string) bool {
	base, _, _ := strings.Cut(series, "{")
	if t, ok := types[base]; ok {
		return t == "counter"
	}
	for _, suf := range []string{"_total"} {
		if b, ok := strings.CutSuffix(base, suf); ok && types[b] == "counter" {
			return true
		}
	}
	for _, suf := range []string{"_count", "_sum"} {
		if b, ok := strings.CutSuffix(base, suf); ok && (types[b] == "summary" || types[b] == "histogram") {
			return true
		}
	}
	return false
}
