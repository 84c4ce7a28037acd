// Package tasks holds zkload's workloads: user classes whose tasks make requests and
// record them as Locust would.
package tasks

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/zkload/zkload/boomer"
	"github.com/zkload/zkload/boomer/wire"
)

// HTTPOptions configures the Http user class's request.
type HTTPOptions struct {
	Path    string // default "/"
	Method  string // default GET
	Headers http.Header
	Body    string
	Timeout time.Duration // per request; default 60 s
	// Wait is the wait time between requests (default none: as fast as the target answers).
	Wait boomer.WaitTime
}

// HTTPUser returns the Http user class: one keep-alive HTTP client per user, requesting
// Path on the user's host and recording each request as Locust's HttpUser does (the
// method as type, the path as name, failures for 4xx/5xx and transport errors).
func HTTPUser(o HTTPOptions) *boomer.UserClass {
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
	return &boomer.UserClass{
		Name:        "Http",
		Weight:      1,
		Description: fmt.Sprintf("%s %s on the host (-H), one keep-alive connection per user", o.Method, o.Path),
		Wait:        o.Wait,
		OnStart: func(ctx context.Context, u *boomer.User) error {
			if u.Host == "" {
				return errors.New("no host: set the master's Host (-H) or the worker's --host")
			}
			base := strings.TrimRight(u.Host, "/")
			if !strings.Contains(base, "://") {
				base = "http://" + base
			}
			tr := &http.Transport{
				Proxy:               nil,
				DialContext:         (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
				MaxIdleConns:        1,
				MaxIdleConnsPerHost: 1,
				IdleConnTimeout:     90 * time.Second,
				DisableCompression:  true,
			}
			u.Data = &httpUser{client: &http.Client{Transport: tr, Timeout: o.Timeout}, url: base + o.Path}
			return nil
		},
		OnStop: func(_ context.Context, u *boomer.User) {
			if h, ok := u.Data.(*httpUser); ok {
				h.client.CloseIdleConnections()
			}
		},
		Tasks: []boomer.Task{{
			Name:   "request",
			Weight: 1,
			Fn: func(ctx context.Context, u *boomer.User) error {
				h := u.Data.(*httpUser)
				return h.do(ctx, u, o)
			},
		}},
	}
}

type httpUser struct {
	client *http.Client
	url    string
}

func (h *httpUser) do(ctx context.Context, u *boomer.User, o HTTPOptions) error {
	var body io.Reader
	if o.Body != "" {
		body = strings.NewReader(o.Body)
	}
	req, err := http.NewRequestWithContext(ctx, o.Method, h.url, body)
	if err != nil {
		return fmt.Errorf("build request: %w", err)
	}
	for k, vs := range o.Headers {
		req.Header[k] = vs
	}
	start := time.Now()
	resp, err := h.client.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return nil // stopped mid-request: not a result of the test
		}
		u.Record(o.Method, o.Path, time.Since(start), 0, httpError{"ConnectionError", err.Error()})
		return nil
	}
	n, err := io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	elapsed := time.Since(start)
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		u.Record(o.Method, o.Path, elapsed, n, httpError{"ChunkedEncodingError", err.Error()})
		return nil
	}
	if resp.StatusCode >= 400 {
		u.Record(o.Method, o.Path, elapsed, n, statusError(resp))
		return nil
	}
	u.Record(o.Method, o.Path, elapsed, n, nil)
	return nil
}

// httpError renders as the repr of the Python exception Locust's HttpUser would record,
// so that failures from zkload and Python workers merge on the master.
type httpError struct{ class, msg string }

func (e httpError) Error() string { return e.class + "(" + wire.PyRepr(e.msg) + ")" }

// statusError is requests' HTTPError from raise_for_status().
func statusError(resp *http.Response) error {
	kind := "Client"
	if resp.StatusCode >= 500 {
		kind = "Server"
	}
	reason := strings.TrimSpace(strings.TrimPrefix(resp.Status, strconv.Itoa(resp.StatusCode)))
	return httpError{"HTTPError", fmt.Sprintf("%d %s Error: %s for url: %s", resp.StatusCode, kind, reason, resp.Request.URL)}
}
