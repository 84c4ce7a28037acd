package http1

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/zkload/zkload/pyfmt"
)

// Error is a failed request, classified and described as Python's requests (with
// urllib3 1.26, Debian's, which its Locust runs on) describes it, so that failures
// from zkload and from Locust's HttpUser read alike and group alike on the master.
//
// Error() is the exception's repr as Locust records it, for instance
//
//	ReadTimeout(ReadTimeoutError("HTTPConnectionPool(host='127.0.0.1', port=8080): Read timed out. (read timeout=60)"))
//
// It names the target, never the connection's local address (a new one for every
// connection), and holds nothing the server sent beyond a fixed, short text: a server
// answering garbage gives a handful of distinct failures, not one per request. Err
// keeps the details (the raw status line, the local address).
type Error struct {
	// Kind is requests' exception class: ConnectionError, ConnectTimeout, ReadTimeout,
	// SSLError, ChunkedEncodingError, TooManyRedirects or InvalidURL.
	Kind string
	// Reason is what requests' exception holds, as Python's repr shows it
	// (ReadTimeoutError("...")); Error() is Kind(Reason).
	Reason string
	// Err is the cause.
	Err error
}

func (e *Error) Error() string { return e.Kind + "(" + e.Reason + ")" }
func (e *Error) Unwrap() error { return e.Err }

// Errors in a response that breaks HTTP/1.1.
var (
	errBadChunk     = errors.New("malformed chunked encoding")
	errLineTooLong  = errors.New("response line exceeds 64 KiB")
	errHeadTooLarge = errors.New("response headers exceed 1 MiB")
)

// badHead is a response head that breaks HTTP/1.1: reason is the exception Python's
// http.client raises for it, with a fixed text; err holds the details.
type badHead struct {
	reason string
	err    error
}

func (e *badHead) Error() string { return e.err.Error() }
func (e *badHead) Unwrap() error { return e.err }

// badStatusLine describes a malformed status line with one of two fixed texts: Python
// quotes the whole line, which made one failure per request of a server answering
// random bytes.
func badStatusLine(line []byte) error {
	reason := "BadStatusLine('not an HTTP status line')"
	if strings.HasPrefix(string(line), "HTTP/") {
		reason = "BadStatusLine('malformed HTTP status line')"
	}
	return &badHead{reason, fmt.Errorf("malformed status line %q", truncate(line))}
}

// bodyError is an error while reading a response's body (requests' "Connection broken").
type bodyError struct{ err error }

func (e *bodyError) Error() string { return e.err.Error() }
func (e *bodyError) Unwrap() error { return e.err }

// pool is urllib3's name for the connections to the target, as its errors show it:
// HTTPConnectionPool(host='127.0.0.1', port=8080).
func (c *Client) pool() string { return poolName(c.origin) }

func poolName(u *url.URL) string {
	class := "HTTPConnectionPool"
	if u.Scheme == "https" {
		class = "HTTPSConnectionPool"
	}
	_, port, _ := net.SplitHostPort(hostPort(u))
	return class + "(host=" + pyfmt.Repr(u.Hostname()) + ", port=" + port + ")"
}

// maxRetry is urllib3's MaxRetryError for a connection that could not be made.
func (c *Client) maxRetry(r *Request, cause string) string {
	return "MaxRetryError(" + pyfmt.Repr(c.pool()+": Max retries exceeded with url: "+r.Target+" (Caused by "+cause+")") + ")"
}

// connObject is how urllib3 1.26 shows its connection in a connect error, after Locust
// replaced the object's address.
func (c *Client) connObject() string {
	class := "HTTPConnection"
	if c.origin.Scheme == "https" {
		class = "HTTPSConnection"
	}
	return "<urllib3.connection." + class + " object at 0x....>"
}

// dialFailed is the Error for a connection that could not be opened.
func (c *Client) dialFailed(r *Request, err error) *Error {
	if isTimeout(err) {
		msg := "Connection to " + c.origin.Hostname() + " timed out. (connect timeout=" + seconds(c.opts.DialTimeout) + ")"
		return &Error{"ConnectTimeout", c.maxRetry(r, "ConnectTimeoutError("+c.connObject()+", "+pyfmt.Repr(msg)+")"), err}
	}
	var cause string
	var errno syscall.Errno
	var dns *net.DNSError
	switch {
	case errors.As(err, &dns) && dns.IsNotFound:
		cause = "[Errno -2] Name or service not known"
	case errors.As(err, &dns):
		cause = "[Errno -3] Temporary failure in name resolution"
	case errors.As(err, &errno):
		cause = "[Errno " + strconv.Itoa(int(errno)) + "] " + strerror(errno)
	default:
		cause = sanitize(err)
	}
	msg := c.connObject() + ": Failed to establish a new connection: " + cause
	return &Error{"ConnectionError", c.maxRetry(r, "NewConnectionError("+pyfmt.Repr(msg)+")"), err}
}

// handshakeFailed is the Error for a failed TLS handshake.
func (c *Client) handshakeFailed(r *Request, err error) *Error {
	return &Error{"SSLError", c.maxRetry(r, "SSLError("+pyfmt.Repr(sanitize(err))+")"), err}
}

// readTimeout is requests' ReadTimeout: the target did not answer in time.
func (c *Client) readTimeout(err error) *Error { return readTimeout(c.origin, c.opts.Timeout, err) }

func readTimeout(u *url.URL, timeout time.Duration, err error) *Error {
	msg := poolName(u) + ": Read timed out. (read timeout=" + seconds(timeout) + ")"
	return &Error{"ReadTimeout", "ReadTimeoutError(" + pyfmt.Repr(msg) + ")", err}
}

// exchangeFailed classifies an error while sending a request or reading its response
// on an open connection; started reports whether any byte of the response arrived.
func (c *Client) exchangeFailed(err error, started bool) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	if isTimeout(err) {
		return c.readTimeout(err)
	}
	var body *bodyError
	if errors.As(err, &body) || (started && errors.Is(err, io.ErrUnexpectedEOF)) {
		var why string
		switch {
		case errors.Is(err, errBadChunk) || errors.Is(err, errLineTooLong):
			why = "'Connection broken: invalid chunk length'"
		case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
			why = "'Response ended prematurely'"
		default:
			cause := osError(err)
			why = pyfmt.Repr("Connection broken: "+cause) + ", " + cause
		}
		return &Error{"ChunkedEncodingError", "ProtocolError(" + why + ")", err}
	}
	var head *badHead
	var cause string
	switch {
	case errors.As(err, &head):
		cause = head.reason
	case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
		cause = "RemoteDisconnected('Remote end closed connection without response')"
	case errors.Is(err, errLineTooLong):
		cause = "LineTooLong('got more than 65536 bytes when reading header line')"
	case errors.Is(err, errHeadTooLarge):
		cause = "HTTPException('got more than 1048576 bytes of headers')"
	default:
		cause = osError(err)
	}
	return &Error{"ConnectionError", "ProtocolError('Connection aborted.', " + cause + ")", err}
}

// osError is Python's OSError for err: ConnectionResetError(104, 'Connection reset by
// peer') for a system error, else OSError with err's text (sanitized).
func osError(err error) string {
	var errno syscall.Errno
	if !errors.As(err, &errno) {
		return "OSError(" + pyfmt.Repr(sanitize(err)) + ")"
	}
	class := "OSError"
	switch errno {
	case syscall.ECONNRESET:
		class = "ConnectionResetError"
	case syscall.EPIPE, syscall.ESHUTDOWN:
		class = "BrokenPipeError"
	case syscall.ECONNREFUSED:
		class = "ConnectionRefusedError"
	case syscall.ECONNABORTED:
		class = "ConnectionAbortedError"
	case syscall.ETIMEDOUT:
		class = "TimeoutError"
	}
	return class + "(" + strconv.Itoa(int(errno)) + ", " + pyfmt.Repr(strerror(errno)) + ")"
}

// strerror is the C library's text for errno, as Python shows it: Go's, capitalised
// ("Connection refused").
func strerror(errno syscall.Errno) string {
	s := errno.Error()
	if s != "" && 'a' <= s[0] && s[0] <= 'z' {
		s = string(s[0]-'a'+'A') + s[1:]
	}
	return s
}

// maxDetail bounds the part of a Go error's text an Error may hold.
const maxDetail = 120

// sanitize is err's text without a connection's local address (a new one for every
// connection, which would make every failure distinct), at most maxDetail bytes.
func sanitize(err error) string {
	s := err.Error()
	var op *net.OpError
	if errors.As(err, &op) && op.Source != nil {
		s = strings.ReplaceAll(s, op.Source.String()+"->", "")
	}
	if len(s) > maxDetail {
		s = s[:maxDetail] + "..."
	}
	return s
}

// seconds shows d as Python shows a timeout given in seconds (60, 0.5).
func seconds(d time.Duration) string {
	return strconv.FormatFloat(d.Seconds(), 'f', -1, 64)
}
