// Package http1 is a lean HTTP/1.1 client for load generation: one connection, one
// request at a time, owned by one user.
//
// net/http's client is built for sharing: a connection pool, a request and header maps
// per call, and separate goroutines reading and writing each connection, with channel
// hand-offs between them and the caller. A load-generating user needs none of that: it
// owns its connection and waits for each answer. Here the user's goroutine writes a
// request serialised once (Prepare) and parses the response itself, allocating nothing
// per request, which makes it several times cheaper per request than net/http's client
// (see doc/performance.md).
//
// It speaks plain HTTP/1.1 over TCP or TLS: keep-alive, Content-Length, chunked and
// read-until-close bodies, 1xx interim responses, HEAD/204/304 without bodies, and
// redirects like Python's requests (same-origin ones on the same connection). It does
// not decompress, use proxies or speak HTTP/2.
package http1

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/zkload/zkload/pyfmt"
)

// Options configures a Client. Zero values take the defaults.
type Options struct {
	// Timeout bounds one request, redirects included (default 60 s).
	Timeout time.Duration
	// DialTimeout bounds opening a connection (default 10 s, within Timeout).
	DialTimeout time.Duration
	// TLS configures https connections (default: verify against the system roots).
	TLS *tls.Config
	// MaxRedirects is how many redirects a request follows (default 30, as requests;
	// negative: none, the 3xx response is the result).
	MaxRedirects int
	// UserAgent is sent unless a request sets its own (default "zkload").
	UserAgent string
	// Urllib3v1 words errors as Locust's HttpUser records them with urllib3 1.26 (under
	// Debian's Locust 2.12.1) where urllib3 2 (under newer Locust releases) words them
	// differently: a connect timeout, TLS errors, a chunked body cut off at a chunk size.
	Urllib3v1 bool
}

// Client sends requests to one origin (scheme, host and port) over one connection at a
// time, re-opened when the server closes it. A Client is used by one goroutine; only
// Close may be called from another.
type Client struct {
	origin *url.URL
	addr   string // host:port to dial
	host   string // Host header
	opts   Options
	dialer net.Dialer

	mu     sync.Mutex // guards conn and closed against Close from another goroutine
	conn   net.Conn
	raw    net.Conn // conn's TCP connection (conn itself, or under TLS)
	closed bool

	br       *bufio.Reader
	lastUsed time.Time // end of the last exchange; zero on a fresh connection
	served   int       // responses read on the current connection
	big      []byte    // where large bodies are read past br's small buffer

	// other follows redirects to other origins (rare; created when first needed).
	other *http.Client
}

// ErrClosed is returned by Do on a closed Client.
var ErrClosed = errors.New("http1: client closed")

// NewClient returns a client for base's origin (http or https; the path is ignored).
// When ctx ends the client is closed, interrupting a request in flight.
func NewClient(ctx context.Context, base string, opts Options) (*Client, error) {
	u, err := url.Parse(base)
	if err != nil {
		return nil, fmt.Errorf("host %q: %w", base, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("host %q: want an http:// or https:// URL", base)
	}
	if u.Host == "" || u.Hostname() == "" {
		return nil, fmt.Errorf("host %q: no host name", base)
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 60 * time.Second
	}
	if opts.DialTimeout <= 0 {
		opts.DialTimeout = 10 * time.Second
	}
	if opts.MaxRedirects == 0 {
		opts.MaxRedirects = 30
	}
	if opts.UserAgent == "" {
		opts.UserAgent = "zkload"
	}
	c := &Client{
		origin: &url.URL{Scheme: u.Scheme, Host: u.Host},
		addr:   hostPort(u),
		host:   u.Host,
		opts:   opts,
		dialer: net.Dialer{Timeout: opts.DialTimeout, KeepAlive: 30 * time.Second},
	}
	if (u.Scheme == "http" && u.Port() == "80") || (u.Scheme == "https" && u.Port() == "443") {
		c.host = u.Hostname() // as browsers and requests send it
		if strings.Contains(c.host, ":") {
			c.host = "[" + c.host + "]"
		}
	}
	context.AfterFunc(ctx, func() { _ = c.Close() })
	return c, nil
}

func hostPort(u *url.URL) string {
	port := u.Port()
	if port == "" {
		port = "80"
		if u.Scheme == "https" {
			port = "443"
		}
	}
	return net.JoinHostPort(u.Hostname(), port)
}

// Close closes the connection; Do then fails with ErrClosed. Safe to call from any
// goroutine, more than once.
func (c *Client) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closed = true
	if c.conn != nil {
		err := c.conn.Close()
		c.conn = nil
		return err
	}
	return nil
}

// Request is a request serialised once, to be sent many times by Client.Do.
type Request struct {
	Method string
	// Target is the request target as sent: the path and query.
	Target string
	body   []byte
	wire   []byte // request line, headers and body
	// URL is the request's absolute URL (for error texts, as requests reports them).
	URL    string
	header http.Header
	idem   bool
}

// Prepare serialises a request for target (a path with an optional query, or an absolute
// URL of the client's origin) with the given headers and body.
func (c *Client) Prepare(method, target string, header http.Header, body []byte) (*Request, error) {
	if method == "" || strings.ContainsAny(method, " \t\r\n") {
		return nil, fmt.Errorf("method %q: want a token such as GET", method)
	}
	ref, err := url.Parse(target)
	if err != nil {
		return nil, fmt.Errorf("path %q: %w", target, err)
	}
	abs := c.origin.ResolveReference(ref)
	if abs.Scheme != c.origin.Scheme || abs.Host != c.origin.Host {
		return nil, fmt.Errorf("path %q: not on %s", target, c.origin)
	}
	rt := abs.RequestURI()
	for k, vs := range header {
		if !validHeaderName(k) {
			return nil, fmt.Errorf("header name %q: want a token", k)
		}
		for _, v := range vs {
			if strings.ContainsAny(v, "\r\n") {
				return nil, fmt.Errorf("header %s: value contains a line break", k)
			}
		}
	}
	var b bytes.Buffer
	b.WriteString(method + " " + rt + " HTTP/1.1\r\n")
	b.WriteString("Host: " + c.hostHeader(header) + "\r\n")
	if header.Get("User-Agent") == "" {
		b.WriteString("User-Agent: " + c.opts.UserAgent + "\r\n")
	}
	if header.Get("Accept") == "" {
		b.WriteString("Accept: */*\r\n")
	}
	for k, vs := range header {
		ck := http.CanonicalHeaderKey(k)
		if ck == "Host" || ck == "Content-Length" || ck == "Transfer-Encoding" {
			continue
		}
		for _, v := range vs {
			b.WriteString(ck + ": " + v + "\r\n")
		}
	}
	if len(body) > 0 || method == http.MethodPost || method == http.MethodPut || method == http.MethodPatch {
		b.WriteString("Content-Length: " + strconv.Itoa(len(body)) + "\r\n")
	}
	b.WriteString("\r\n")
	b.Write(body)
	// Only idempotent requests are retried on a connection the server closed.
	idem := method == http.MethodGet || method == http.MethodHead || method == http.MethodOptions ||
		method == http.MethodTrace || method == http.MethodPut || method == http.MethodDelete
	return &Request{Method: method, Target: rt, body: body, wire: b.Bytes(), URL: abs.String(), header: header, idem: idem}, nil
}

func (c *Client) hostHeader(h http.Header) string {
	if v := h.Get("Host"); v != "" {
		return v
	}
	return c.host
}

func validHeaderName(k string) bool {
	if k == "" {
		return false
	}
	for i := 0; i < len(k); i++ {
		ch := k[i]
		if ch <= ' ' || ch >= 0x7f || strings.IndexByte(`()<>@,;:\"/[]?={}`, ch) >= 0 {
			return false
		}
	}
	return true
}

// Response is what Do read of a response: the body is counted and discarded.
type Response struct {
	StatusCode int
	// Reason is the status line's reason phrase, e.g. "Not Found".
	Reason string
	// BodyLen is the body's length as received (after de-chunking).
	BodyLen int64
	// URL is the final URL, after redirects.
	URL string
}

// Do sends r and reads its response, following redirects. It ends by the client's
// Timeout or ctx's deadline, whichever is earlier; cancelling ctx stops a connection
// being opened, while a request in flight is interrupted by ending the context given to
// NewClient (which closes the connection).
func (c *Client) Do(ctx context.Context, r *Request) (Response, error) {
	deadline := time.Now().Add(c.opts.Timeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	resp, loc, err := c.exchange(ctx, r, deadline)
	if err != nil || loc == "" || c.opts.MaxRedirects < 0 {
		return resp, err
	}
	return c.redirect(ctx, r, resp, loc, deadline)
}

// exchange sends r on the client's connection (opening one if needed) and reads the
// response; loc is the Location of a redirect to follow.
func (c *Client) exchange(ctx context.Context, r *Request, deadline time.Time) (resp Response, loc string, err error) {
	for attempt := 0; ; attempt++ {
		conn, reused, err := c.ready(ctx, deadline)
		if err != nil {
			return resp, "", err
		}
		if err := conn.SetDeadline(deadline); err != nil {
			c.drop()
			return resp, "", c.exchangeFailed(err, false)
		}
		var started bool
		resp, loc, started, err = c.roundTrip(conn, r)
		if err == nil {
			resp.URL = r.URL
			return resp, loc, nil
		}
		c.drop()
		if ctx.Err() != nil {
			return resp, "", ctx.Err()
		}
		// A kept-alive connection the server closed before answering: the request
		// may not have been seen, so try once more on a new one, as net/http does.
		if reused && !started && r.idem && attempt == 0 && !isTimeout(err) {
			continue
		}
		return resp, "", c.exchangeFailed(err, started)
	}
}

// ready returns a live connection, opening one if needed, and whether it served
// requests before.
func (c *Client) ready(ctx context.Context, deadline time.Time) (conn net.Conn, reused bool, err error) {
	c.mu.Lock()
	closed, conn := c.closed, c.conn
	c.mu.Unlock()
	if closed {
		return nil, false, ErrClosed
	}
	if conn != nil {
		if c.served > 0 && time.Since(c.lastUsed) > staleCheckAfter && !c.alive() {
			c.drop()
		} else {
			return conn, c.served > 0, nil
		}
	}
	dctx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()
	nc, err := c.dialer.DialContext(dctx, "tcp", c.addr)
	if err != nil {
		if ctx.Err() != nil {
			return nil, false, ctx.Err()
		}
		return nil, false, c.dialFailed(err)
	}
	raw := nc
	if c.origin.Scheme == "https" {
		cfg := c.opts.TLS.Clone()
		if cfg == nil {
			cfg = &tls.Config{}
		}
		if cfg.ServerName == "" {
			cfg.ServerName = c.origin.Hostname()
		}
		cfg.NextProtos = []string{"http/1.1"}
		tc := tls.Client(nc, cfg)
		if err := tc.HandshakeContext(dctx); err != nil {
			nc.Close()
			if ctx.Err() != nil {
				return nil, false, ctx.Err()
			}
			return nil, false, c.handshakeFailed(err)
		}
		nc = tc
	}
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		nc.Close()
		return nil, false, ErrClosed
	}
	c.conn, c.raw = nc, raw
	c.mu.Unlock()
	if c.br == nil {
		c.br = bufio.NewReaderSize(nc, 4096)
	} else {
		c.br.Reset(nc)
	}
	c.served = 0
	return nc, false, nil
}

// staleCheckAfter: a connection idle this long is checked before reuse, as urllib3
// does, because the server may have closed it meanwhile. Busy users never pay for it.
const staleCheckAfter = time.Second

// alive reports whether an idle connection is still open and has nothing unread,
// peeking at the socket without blocking (a read with a past deadline would not even
// look at it).
func (c *Client) alive() bool {
	if c.br.Buffered() > 0 {
		return false
	}
	sc, ok := c.raw.(syscall.Conn)
	if !ok {
		return true
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return false
	}
	open := true
	var b [1]byte
	err = rc.Read(func(fd uintptr) bool {
		n, _, err := syscall.Recvfrom(int(fd), b[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		switch {
		case errors.Is(err, syscall.EAGAIN) || errors.Is(err, syscall.EINTR):
		case err != nil || n == 0:
			open = false // reset, or closed by the server
		case c.origin.Scheme == "http":
			open = false // bytes nobody asked for: the connection is out of step
		}
		return true // never wait for readiness
	})
	return err == nil && open
}

// drop closes the current connection (after an error or a server's "close").
func (c *Client) drop() {
	c.mu.Lock()
	if c.conn != nil {
		c.conn.Close()
		c.conn, c.raw = nil, nil
	}
	c.mu.Unlock()
	c.served = 0
}

// roundTrip writes r and reads one final response. started reports whether any byte
// of the response arrived (after which a retry could repeat the request's effect).
func (c *Client) roundTrip(conn net.Conn, r *Request) (resp Response, loc string, started bool, err error) {
	if _, err := conn.Write(r.wire); err != nil {
		return resp, "", false, err
	}
	for {
		h, err := c.readHead(r.Method)
		if err != nil {
			return resp, "", h.started, err
		}
		if h.status >= 100 && h.status < 200 && h.status != 101 {
			continue // interim response (100 Continue, 103 Early Hints)
		}
		resp = Response{StatusCode: h.status, Reason: h.reason}
		n, err := c.readBody(&h)
		resp.BodyLen = n
		if err != nil {
			return resp, "", true, &bodyError{err}
		}
		c.served++
		c.lastUsed = time.Now()
		if h.close {
			c.drop()
		}
		if isRedirect(h.status) && h.location != "" {
			loc = h.location
		}
		return resp, loc, true, nil
	}
}

// badLocation is the text for a redirect to a Location that is no URL. (Python's
// requests fails there with a ValueError, which ends the Locust user's task instead
// of recording a failure.)
const badLocation = "InvalidURL('Invalid URL in a redirect Location')"

func isRedirect(code int) bool {
	return code == 301 || code == 302 || code == 303 || code == 307 || code == 308
}

// head is what the status line and headers say about the response.
type head struct {
	started  bool
	status   int
	reason   string
	length   int64 // -1: not given
	lengths  int   // Content-Length headers read, all agreeing
	chunked  bool
	close    bool
	noBody   bool
	location string
}

// Limits on what a response's head may take, as net/http's defaults.
const (
	maxHeadBytes = 1 << 20
	maxLineBytes = 64 << 10
)

func (c *Client) readHead(method string) (h head, err error) {
	h.length = -1
	total := 0
	line, err := c.readLine(&total)
	h.started = len(line) > 0
	if errors.Is(err, errLineTooLong) {
		h.started = true
		return h, &badHead{"", "LineTooLong('got more than 65536 bytes when reading status line')", err}
	}
	if errors.Is(err, io.ErrUnexpectedEOF) {
		return h, badStatusLine(line) // a partial line, then the server closed
	}
	if err != nil {
		return h, err // io.EOF: the server closed the connection without answering
	}
	h.started = true
	proto, rest, ok := strings.Cut(string(line), " ")
	if !ok || !strings.HasPrefix(proto, "HTTP/1.") || len(proto) != 8 || len(rest) < 3 {
		return h, badStatusLine(line)
	}
	code, err := strconv.Atoi(rest[:3])
	if err != nil || code < 100 || code > 999 || (len(rest) > 3 && rest[3] != ' ') {
		return h, badStatusLine(line)
	}
	h.status = code
	if len(rest) > 4 {
		h.reason = rest[4:]
	}
	http10 := proto == "HTTP/1.0"
	keepAlive := false
	for {
		line, err := c.readMidLine(&total)
		if err != nil {
			return h, err
		}
		if len(line) == 0 {
			break
		}
		name, value, ok := bytes.Cut(line, []byte{':'})
		if !ok || len(name) == 0 || name[len(name)-1] == ' ' || name[len(name)-1] == '\t' {
			return h, &badHead{"", "HTTPException('malformed header line')", fmt.Errorf("malformed header line %q", truncate(line))}
		}
		value = bytes.TrimSpace(value)
		switch {
		case equalFold(name, "content-length"):
			n, agree, ok := parseLength(value)
			switch {
			case !ok:
				return h, &badHead{"", "InvalidHeader('invalid Content-Length')", fmt.Errorf("bad Content-Length %q", truncate(value))}
			case !agree || (h.lengths > 0 && h.length != n):
				// urllib3 joins the headers and shows them all; the earlier ones
				// agreed, and are shown here as their value (Python shows them as sent).
				return h, conflictingLengths(strings.Repeat(strconv.FormatInt(h.length, 10)+", ", h.lengths) + string(value))
			}
			h.length = n
			h.lengths++
		case equalFold(name, "transfer-encoding"):
			// The last coding decides; anything but chunked means read until close.
			codings := bytes.Split(value, []byte{','})
			h.chunked = equalFold(bytes.TrimSpace(codings[len(codings)-1]), "chunked")
			if !h.chunked {
				h.close = true
			}
		case equalFold(name, "connection"):
			for _, tok := range bytes.Split(value, []byte{','}) {
				tok = bytes.TrimSpace(tok)
				if equalFold(tok, "close") {
					h.close = true
				} else if equalFold(tok, "keep-alive") {
					keepAlive = true
				}
			}
		case equalFold(name, "location"):
			h.location = string(value)
		}
	}
	if http10 && !keepAlive {
		h.close = true
	}
	if method == http.MethodHead || code == 204 || code == 304 || (code >= 100 && code < 200) {
		h.noBody = true
	}
	if h.chunked {
		h.length = -1
	} else if h.length < 0 && !h.noBody {
		h.close = true // the body ends when the server closes the connection
	}
	return h, nil
}

func truncate(b []byte) string {
	if len(b) > 80 {
		return string(b[:80]) + "..."
	}
	return string(b)
}

func equalFold(b []byte, lower string) bool {
	if len(b) != len(lower) {
		return false
	}
	for i := 0; i < len(b); i++ {
		ch := b[i]
		if 'A' <= ch && ch <= 'Z' {
			ch += 'a' - 'A'
		}
		if ch != lower[i] {
			return false
		}
	}
	return true
}

// readLine returns the next line without its CRLF (or LF). The slice is valid until the
// next read. total counts the head's bytes against maxHeadBytes.
func (c *Client) readLine(total *int) ([]byte, error) {
	line, err := c.br.ReadSlice('\n')
	if errors.Is(err, bufio.ErrBufferFull) {
		// A line longer than the buffer: gather it (rare: long cookies, say).
		long := append([]byte(nil), line...)
		for errors.Is(err, bufio.ErrBufferFull) {
			if len(long) > maxLineBytes {
				return nil, errLineTooLong
			}
			line, err = c.br.ReadSlice('\n')
			long = append(long, line...)
		}
		line = long
	}
	*total += len(line)
	if *total > maxHeadBytes {
		return nil, errHeadTooLarge
	}
	if err != nil {
		if errors.Is(err, io.EOF) && len(line) > 0 {
			return line, io.ErrUnexpectedEOF
		}
		return line, err
	}
	line = line[:len(line)-1]
	if n := len(line); n > 0 && line[n-1] == '\r' {
		line = line[:n-1]
	}
	return line, nil
}

// readMidLine is readLine inside a message, where the end of the stream is always
// unexpected.
func (c *Client) readMidLine(total *int) ([]byte, error) {
	line, err := c.readLine(total)
	if errors.Is(err, io.EOF) {
		err = io.ErrUnexpectedEOF
	}
	return line, err
}

// readBody reads and discards the body, returning its length.
func (c *Client) readBody(h *head) (int64, error) {
	switch {
	case h.noBody:
		return 0, nil
	case h.chunked:
		return c.readChunked()
	case h.length >= 0:
		n, err := c.discard(h.length)
		if err == nil || n == h.length {
			return n, nil
		}
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			// urllib3 2's text; urllib3 1.26 takes a short body for a whole one,
			// which is no reason to record a failed request as a success.
			return n, &incompleteRead{n, h.length - n}
		}
		return n, fmt.Errorf("body ended after %d of %d bytes: %w", n, h.length, err)
	default:
		n, err := c.discard(-1)
		if errors.Is(err, io.EOF) {
			err = nil
		}
		return n, err
	}
}

// discard reads and drops n bytes (n < 0: until EOF), returning how many it read.
func (c *Client) discard(n int64) (int64, error) {
	var done int64
	if b := int64(c.br.Buffered()); b > 0 {
		if n >= 0 && b > n {
			b = n
		}
		d, _ := c.br.Discard(int(b))
		done += int64(d)
	}
	if done == n {
		return done, nil
	}
	if n >= 0 && n-done <= int64(c.br.Size()) {
		d, err := c.br.Discard(int(n - done))
		return done + int64(d), err
	}
	if c.big == nil {
		c.big = make([]byte, 32<<10) // only users that receive large bodies pay for it
	}
	buf := c.big
	for n < 0 || done < n {
		want := buf
		if n >= 0 && int64(len(want)) > n-done {
			want = want[:n-done]
		}
		k, err := c.br.Read(want)
		done += int64(k)
		if err != nil {
			return done, err
		}
	}
	return done, nil
}

// readChunked reads and discards a chunked body. Where the connection ends early, its
// errors say what urllib3 says when requests reads the body: how much of the chunk
// (or of the CRLF after it) was missing, or that it ended where a chunk size was due.
func (c *Client) readChunked() (int64, error) {
	var body int64
	total := 0
	for {
		total = 0
		line, err := c.readLine(&total)
		partial := errors.Is(err, io.ErrUnexpectedEOF) // a size, then the end
		switch {
		case errors.Is(err, io.EOF):
			return body, errChunksEnded
		case err != nil && !partial:
			return body, err
		}
		if i := bytes.IndexByte(line, ';'); i >= 0 {
			line = line[:i] // chunk extensions
		}
		line = bytes.TrimSpace(line)
		size, err := strconv.ParseInt(string(line), 16, 64)
		if err != nil || size < 0 || len(line) == 0 || len(line) > 16 {
			return body, fmt.Errorf("%w: chunk size %q", errBadChunk, truncate(line))
		}
		if partial {
			if size == 0 {
				return body, nil // urllib3 ends there too
			}
			return body, chunkCut(0, size)
		}
		if size == 0 {
			// Trailers, up to the empty line; urllib3 takes the end of the
			// connection for it as well.
			for {
				line, err := c.readLine(&total)
				switch {
				case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || (err == nil && len(line) == 0):
					return body, nil
				case err != nil:
					return body, err
				}
			}
		}
		n, err := c.discard(size)
		body += n
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return body, chunkCut(n, size)
		}
		if err != nil {
			return body, err
		}
		line, err = c.readLine(&total)
		switch {
		case err == nil && len(line) == 0:
		case errors.Is(err, io.EOF):
			return body, &incompleteRead{0, 2}
		case errors.Is(err, io.ErrUnexpectedEOF) && len(line) < 2:
			return body, &incompleteRead{int64(len(line)), 2 - int64(len(line))}
		case err != nil && !errors.Is(err, io.ErrUnexpectedEOF):
			return body, err
		default:
			return body, fmt.Errorf("%w: no CRLF after a chunk", errBadChunk)
		}
	}
}

// parseLength parses a Content-Length value as urllib3 does: one or more decimal
// numbers separated by commas, which must agree. n is the first; ok is false if a part
// is not a number.
func parseLength(v []byte) (n int64, agree, ok bool) {
	agree = true
	for i := 0; ; i++ {
		part, rest, more := bytes.Cut(v, []byte{','})
		part = bytes.TrimSpace(part)
		if len(part) == 0 || len(part) > 18 {
			return 0, false, false
		}
		var x int64
		for _, ch := range part {
			if ch < '0' || ch > '9' {
				return 0, false, false
			}
			x = x*10 + int64(ch-'0')
		}
		if i == 0 {
			n = x
		} else if x != n {
			agree = false
		}
		if !more {
			return n, agree, true
		}
		v = rest
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// redirect follows Location headers as requests does: 303, and 301/302 after a POST,
// become GET without a body; 307 and 308 repeat the request.
func (c *Client) redirect(ctx context.Context, r *Request, resp Response, loc string, deadline time.Time) (Response, error) {
	method, body := r.Method, r.body
	cur, _ := url.Parse(r.URL)
	for i := 0; ; i++ {
		if i >= c.opts.MaxRedirects {
			err := fmt.Errorf("exceeded %d redirects", c.opts.MaxRedirects)
			return resp, &Error{"TooManyRedirects", "TooManyRedirects(" + pyfmt.Repr(fmt.Sprintf("Exceeded %d redirects.", c.opts.MaxRedirects)) + ")", err}
		}
		next, err := cur.Parse(loc)
		if err != nil {
			return resp, &Error{"InvalidURL", badLocation, fmt.Errorf("redirect to %q: %w", truncate([]byte(loc)), err)}
		}
		switch {
		case resp.StatusCode == 303 && method != http.MethodHead,
			(resp.StatusCode == 301 || resp.StatusCode == 302) && method == http.MethodPost:
			method, body = http.MethodGet, nil
		}
		if next.Scheme != c.origin.Scheme || next.Host != c.origin.Host {
			return c.elsewhere(ctx, method, next, r.header, body, deadline)
		}
		nr, err := c.Prepare(method, next.RequestURI(), r.header, body)
		if err != nil {
			return resp, &Error{"InvalidURL", badLocation, err}
		}
		resp, loc, err = c.exchange(ctx, nr, deadline)
		if err != nil || loc == "" {
			return resp, err
		}
		cur = next
	}
}

// elsewhere finishes a redirect chain that left the client's origin with net/http.
func (c *Client) elsewhere(ctx context.Context, method string, u *url.URL, header http.Header, body []byte, deadline time.Time) (Response, error) {
	if c.other == nil {
		tr := &http.Transport{
			DialContext:        c.dialer.DialContext,
			TLSClientConfig:    c.opts.TLS.Clone(),
			MaxIdleConns:       1,
			DisableCompression: true,
		}
		max := c.opts.MaxRedirects
		c.other = &http.Client{Transport: tr, CheckRedirect: func(_ *http.Request, via []*http.Request) error {
			if len(via) >= max {
				return fmt.Errorf("exceeded %d redirects", max)
			}
			return nil
		}}
	}
	ctx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, u.String(), bytes.NewReader(body))
	if err != nil {
		return Response{}, &Error{"InvalidURL", badLocation, err}
	}
	for k, vs := range header {
		if http.CanonicalHeaderKey(k) != "Host" {
			req.Header[k] = vs
		}
	}
	if req.Header.Get("User-Agent") == "" {
		req.Header.Set("User-Agent", c.opts.UserAgent)
	}
	resp, err := c.other.Do(req)
	if err != nil {
		if isTimeout(err) || (ctx.Err() != nil && isTimeout(ctx.Err())) {
			return Response{}, readTimeout(u, c.opts.Timeout, err)
		}
		if errors.Is(err, io.EOF) {
			return Response{}, &Error{"ConnectionError", remoteDisconnected, err}
		}
		return Response{}, &Error{"ConnectionError", systemError(err), err}
	}
	defer resp.Body.Close()
	n, err := io.Copy(io.Discard, resp.Body)
	out := Response{StatusCode: resp.StatusCode, Reason: strings.TrimSpace(strings.TrimPrefix(resp.Status, strconv.Itoa(resp.StatusCode))), BodyLen: n, URL: resp.Request.URL.String()}
	if err != nil {
		e := c.bodyFailed(&bodyError{err})
		if e.Kind == "ConnectionError" { // a timeout: name the other origin
			e.Text = "ReadTimeoutError(" + pyfmt.Repr(poolName(u)+": Read timed out.") + ")"
		}
		return out, e
	}
	return out, nil
}
