// Package httpload is zkload's HTTP workload: the Http user class, which requests one
// path on the user's host over a keep-alive HTTP/1.1 connection (tasks/http1) and
// records each request as Locust's HttpUser does, and its --http-* settings.
//
// It is named httpload, not http, because every file that builds requests also needs
// net/http (http.Header, http.MethodGet): a package http would have to rename one of
// the two in itself and in its callers (zkload's flags use net/http too).
package httpload

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/zkload/zkload/boomer"
	"github.com/zkload/zkload/pyfmt"
	"github.com/zkload/zkload/setting"
	"github.com/zkload/zkload/tasks/http1"
	"github.com/zkload/zkload/tasks/openloop"
)

// Options configures the Http user class's request.
type Options struct {
	Path    string // default "/"
	Method  string // default GET
	Headers http.Header
	Body    string
	Timeout time.Duration // per request; default 60 s
	// Insecure skips verifying https certificates (as FastHttpUser's insecure = True).
	Insecure bool
	// Wait is the wait time between requests (default none: as fast as the target answers).
	Wait boomer.WaitTime
	// LocustVersion is the Locust release whose HttpUser failure texts to mirror; ""
	// means the master's (its option LocustVersionOption), else 2.12.1's.
	LocustVersion string
	// Rate, if above 0, runs an open loop (tasks/openloop): Rate requests per second for
	// the worker, spread evenly over its Http users, whichever is free taking the next;
	// a request's response time is measured from its planned start, so a stalled server
	// shows in the latencies, not as fewer requests (coordinated omission), and a start
	// taken late is schedule lag, recorded into the extended statistics only. Wait
	// does not apply then. 0: the closed loop, unless the master's option sets a rate
	// (MasterRate).
	Rate float64
	// MasterRate, when Rate is 0, is the setting whose master option (RateOption) may
	// set the rate when a test starts; nil: none. A bad value from the master fails the
	// user's start (an exception, retried), as the ZooKeeper classes' do.
	MasterRate *setting.Spec
	// Plan, if set, is the worker's open-loop plan, shared with other classes (of any
	// workload) so that a controller steers one rate; nil: the class's own.
	Plan *openloop.Shared
}

// Class returns the Http user class: one keep-alive HTTP/1.1 connection per user
// (tasks/http1), requesting Path on the user's host and recording each request as
// Locust's HttpUser does (the method as type, the path as name, failures for 4xx/5xx
// and transport errors, redirects followed).
func Class(o Options) *boomer.UserClass {
	if o.Path == "" {
		o.Path = "/"
	}
	if !strings.HasPrefix(o.Path, "/") {
		o.Path = "/" + o.Path
	}
	if o.Method == "" {
		o.Method = http.MethodGet
	}
	o.Method = strings.ToUpper(o.Method)
	if o.Timeout <= 0 {
		o.Timeout = 60 * time.Second
	}
	wait := o.Wait
	if o.Rate > 0 {
		wait = nil // the plan paces the users
	}
	pacers := o.Plan // the worker's plan, shared by its Http users
	if pacers == nil {
		pacers = &openloop.Shared{}
	}
	return &boomer.UserClass{
		Name:        className,
		Weight:      1,
		Description: fmt.Sprintf("%s %s on the host (-H), one keep-alive connection per user", o.Method, o.Path),
		Wait:        wait,
		OnStart: func(ctx context.Context, u *boomer.User) error {
			if err := CheckBaseURL(u.Host); err != nil {
				return err
			}
			rate, err := o.rate(u.Env())
			if err != nil {
				return err
			}
			base := strings.TrimRight(u.Host, "/")
			// The client is closed when the user's context ends (a hard stop), which
			// interrupts a request in flight.
			namedURL := urlIsName(o.LocustVersion, u.Env())
			// urllib3 1.26 came with the releases that name the URL; see urlIsName.
			opts := http1.Options{Timeout: o.Timeout, Urllib3v1: !namedURL}
			if o.Insecure {
				opts.TLS = &tls.Config{InsecureSkipVerify: true} //nolint:gosec // asked for by --http-insecure
			}
			c, err := http1.NewClient(ctx, base, opts)
			if err != nil {
				return err
			}
			req, err := c.Prepare(o.Method, o.Path, o.Headers, []byte(o.Body))
			if err != nil {
				c.Close()
				return err
			}
			h := &httpUser{client: c, req: req, namedURL: namedURL}
			if rate > 0 || pacers.Steered() {
				h.pacer = pacers.For(rate)
				h.pacer.Join()
			}
			u.Data = h
			return nil
		},
		OnStop: func(_ context.Context, u *boomer.User) {
			if h, ok := u.Data.(*httpUser); ok {
				if h.pacer != nil {
					h.pacer.Leave()
				}
				h.client.Close()
			}
		},
		Tasks: []boomer.Task{{
			Name:   "request",
			Weight: 1,
			Fn: func(ctx context.Context, u *boomer.User) error {
				h := u.Data.(*httpUser)
				var start time.Time
				if h.pacer != nil {
					at, late, err := h.pacer.Next(ctx)
					if err != nil {
						return nil // stopping
					}
					if late > 0 {
						// Schedule lag is not a request: extended statistics only.
						u.RecordValue(openloop.ScheduleLag, o.Path, late)
					}
					start = at
				}
				return h.do(ctx, u, o.Path, start)
			},
		}},
	}
}

type httpUser struct {
	client *http1.Client
	req    *http1.Request
	// namedURL: an HTTPError names the request's name, not its URL (Locust 2.14.1+).
	namedURL bool
	pacer    *openloop.Pacer // the open loop's plan; nil in the closed loop
}

// rate is the open loop's rate for a user of a test: Rate, else the master's option.
func (o Options) rate(env *boomer.Env) (float64, error) {
	if o.Rate > 0 || o.MasterRate == nil || env == nil {
		return o.Rate, nil
	}
	text, ok := setting.MasterText(env.ParsedOptions, o.MasterRate)
	if !ok {
		return 0, nil
	}
	return setting.Value{Spec: o.MasterRate, Text: text, Source: setting.FromMaster}.Float(0, maxRate)
}

// urlIsName reports whether HttpUser, in the Locust release given (or else the
// master's, or else 2.12.1), puts the request's name where an HTTPError's text says
// "for url": it does since 2.14.1, so that one name's failures group as one.
//
// The same release divides urllib3 1.26 from urllib3 2, whose texts differ for a few
// errors (http1.Options.Urllib3v1): the releases before it came before urllib3 2
// (Debian's 2.12.1 runs on 1.26), and pip installs the newer ones with urllib3 2. A
// release in between may have run on either; these are the two measured.
func urlIsName(version string, env *boomer.Env) bool {
	if version == "" && env != nil {
		version, _ = env.ParsedOptions[LocustVersionOption].(string)
	}
	if version == "" {
		version = oldestLocust
	}
	return !olderThan(version, "2.14.1")
}

// olderThan compares two dotted releases by their numbers ("2.9" < "2.14.1").
func olderThan(v, than string) bool {
	a, b := strings.Split(v, "."), strings.Split(than, ".")
	for i := 0; i < max(len(a), len(b)); i++ {
		var x, y int
		if i < len(a) {
			x, _ = strconv.Atoi(strings.TrimRightFunc(a[i], func(r rune) bool { return r < '0' || r > '9' }))
		}
		if i < len(b) {
			y, _ = strconv.Atoi(b[i])
		}
		if x != y {
			return x < y
		}
	}
	return false
}

// do makes the request and records it, its response time from start (its planned
// start in the open loop; zero: now).
func (h *httpUser) do(ctx context.Context, u *boomer.User, name string, start time.Time) error {
	if start.IsZero() {
		start = time.Now()
	}
	resp, err := h.client.Do(ctx, h.req)
	elapsed := time.Since(start)
	if err != nil {
		if ctx.Err() != nil {
			return nil // stopped mid-request: not a result of the test
		}
		// An *http1.Error reads as the exception HttpUser records (naming the target,
		// never the local socket), so that failures merge with Python workers'.
		var e *http1.Error
		if errors.As(err, &e) {
			err = e
		} else {
			err = httpError{"ConnectionError", err.Error()}
		}
		u.Record(h.req.Method, name, elapsed, resp.BodyLen, err)
		return nil
	}
	if resp.StatusCode >= 400 {
		u.Record(h.req.Method, name, elapsed, resp.BodyLen, statusError(resp, name, h.namedURL))
		return nil
	}
	u.Record(h.req.Method, name, elapsed, resp.BodyLen, nil)
	return nil
}

// httpError renders as the repr of the Python exception Locust's HttpUser would record,
// so that failures from zkload and Python workers merge on the master.
type httpError struct{ class, msg string }

func (e httpError) Error() string { return e.class + "(" + pyfmt.Repr(e.msg) + ")" }

// statusError is requests' HTTPError from raise_for_status(), naming the request's
// name instead of its URL where HttpUser does (namedURL).
func statusError(resp http1.Response, name string, namedURL bool) error {
	kind := "Client"
	if resp.StatusCode >= 500 {
		kind = "Server"
	}
	url := resp.URL
	if namedURL {
		url = name
	}
	return httpError{"HTTPError", fmt.Sprintf("%d %s Error: %s for url: %s", resp.StatusCode, kind, resp.Reason, url)}
}

// className is the Http class's name, which the master's locustfile declares too.
const className = "Http"

// CheckBaseURL checks a host for Http users: an http:// or https:// URL with a host
// and nothing after the port but an optional path prefix, as Locust's HttpUser wants.
func CheckBaseURL(host string) error {
	if host == "" {
		return errors.New("no host: set the master's Host (-H) or the worker's --host, such as http://127.0.0.1:8080")
	}
	if !strings.Contains(host, "://") {
		return fmt.Errorf("host %q has no scheme; want a URL such as http://%s", host, strings.TrimPrefix(host, "//"))
	}
	u, err := url.Parse(host)
	switch {
	case err != nil:
		return fmt.Errorf("host %q: %w; want a URL such as http://127.0.0.1:8080", host, errors.Unwrap(err))
	case u.Scheme != "http" && u.Scheme != "https":
		return fmt.Errorf("host %q: scheme %s: is not http or https; want a URL such as http://127.0.0.1:8080", host, u.Scheme)
	case u.Host == "":
		return fmt.Errorf("host %q has no host name; want a URL such as http://127.0.0.1:8080", host)
	}
	return nil
}
