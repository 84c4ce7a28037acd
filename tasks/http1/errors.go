package http1

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
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

// Error is a failed request, classified as Python's requests classifies it and
// described as Locust's HttpUser records it, so that failures from zkload and from
// Python workers read alike and merge into the same rows on the master.
//
// HttpUser does not record requests' exception itself when it is a ConnectionError:
// HttpSession follows the exceptions' __context__ through requests' ConnectionError and
// urllib3's MaxRetryError, NewConnectionError and ProtocolError to the innermost one,
// so a refused connection reads
//
//	ConnectionRefusedError(111, 'Connection refused')
//
// and a server closing without an answer RemoteDisconnected('Remote end closed
// connection without response'). Other exceptions are recorded whole, for instance
//
//	ReadTimeout(ReadTimeoutError("HTTPConnectionPool(host='127.0.0.1', port=8080): Read timed out. (read timeout=60)"))
//
// The text names the target, never the connection's local address (a new one for every
// connection), and holds nothing the server sent beyond a fixed, short text: where
// Python quotes the server's bytes (a garbage status line, a bad chunk size) or an
// object's address, the text here is fixed instead, so that a server answering garbage
// gives a handful of distinct failures, not one per request. Err keeps the details (the
// raw status line, the local address).
type Error struct {
	// Kind is requests' exception class: ConnectionError, ConnectTimeout, ReadTimeout,
	// SSLError, ChunkedEncodingError, InvalidHeader, TooManyRedirects or InvalidURL.
	Kind string
	// Text is what HttpUser records: the repr of the exception, as Locust shows it.
	Text string
	// Err is the cause.
	Err error
}

// Error returns the text HttpUser records.
func (e *Error) Error() string { return e.Text }
func (e *Error) Unwrap() error { return e.Err }

// Errors in a response that breaks HTTP/1.1.
var (
	errBadChunk     = errors.New("malformed chunked encoding")
	errChunksEnded  = errors.New("connection closed where a chunk size was due")
	errLineTooLong  = errors.New("response line exceeds 64 KiB")
	errHeadTooLarge = errors.New("response headers exceed 1 MiB")
)

// badHead is a response head that breaks HTTP/1.1: reason is the exception Python's
// http.client (or urllib3, for kind InvalidHeader) raises for it, with a fixed text;
// err holds the details.
type badHead struct {
	kind   string // requests' class, "" for ConnectionError
	reason string
	err    error
}

func (e *badHead) Error() string { return e.err.Error() }
func (e *badHead) Unwrap() error { return e.err }

// badStatusLine describes a malformed status line with one of two fixed texts: Python
// quotes the whole line (BadStatusLine('FOO BAR\r\n')), which made one failure per
// request of a server answering random bytes.
func badStatusLine(line []byte) error {
	reason := "BadStatusLine('not an HTTP status line')"
	if strings.HasPrefix(string(line), "HTTP/") {
		reason = "BadStatusLine('malformed HTTP status line')"
	}
	return &badHead{"", reason, fmt.Errorf("malformed status line %q", truncate(line))}
}

// conflictingLengths is urllib3's error for Content-Length values that disagree, with
// the values as a header gave them (parts, joined with ", ", as urllib3 joins repeated
// headers). Only digits reach it, so the text holds numbers, not arbitrary bytes.
func conflictingLengths(parts string) error {
	return &badHead{"InvalidHeader",
		"InvalidHeader(" + pyfmt.Repr("Content-Length contained multiple unmatching values ("+parts+")") + ")",
		fmt.Errorf("conflicting Content-Length values %s", parts)}
}

// bodyError is an error while reading a response's body (requests' "Connection broken").
type bodyError struct{ err error }

func (e *bodyError) Error() string { return e.err.Error() }
func (e *bodyError) Unwrap() error { return e.err }

// incompleteRead is Python's http.client.IncompleteRead: the connection ended got bytes
// into a read of got+want bytes.
type incompleteRead struct{ got, want int64 }

func (e *incompleteRead) Error() string {
	return fmt.Sprintf("IncompleteRead(%d bytes read, %d more expected)", e.got, e.want)
}

// chunkPiece is how much of a chunk urllib3 reads at once when requests reads a body
// (iter_content's 10 KiB): an IncompleteRead in a chunk counts within its piece.
const chunkPiece = 10 << 10

// chunkCut is the incompleteRead for a chunk of size bytes cut off after got bytes, as
// urllib3 reads it in pieces of chunkPiece.
func chunkCut(got, size int64) *incompleteRead {
	start := got / chunkPiece * chunkPiece
	return &incompleteRead{got - start, min(chunkPiece, size-start) - (got - start)}
}

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

// connObject is how urllib3 shows its connection in a ConnectTimeoutError. urllib3
// 1.26's default repr has the object's address, which Locust replaces by "0x....";
// urllib3 2's names the target and keeps the address, so that Python's own texts differ
// from one connection to the next: here it is "0x...." too (a bounded text).
func (c *Client) connObject() string {
	class := "HTTPConnection"
	if c.origin.Scheme == "https" {
		class = "HTTPSConnection"
	}
	if c.opts.Urllib3v1 {
		return "<urllib3.connection." + class + " object at 0x....>"
	}
	_, port, _ := net.SplitHostPort(c.addr)
	return "<" + class + "(host=" + pyfmt.Repr(c.origin.Hostname()) + ", port=" + port + ") at 0x....>"
}

// dialFailed is the Error for a connection that could not be opened.
func (c *Client) dialFailed(err error) *Error {
	var dns *net.DNSError
	if isTimeout(err) && !errors.As(err, &dns) {
		timeout := min(c.opts.DialTimeout, c.opts.Timeout)
		msg := "Connection to " + c.origin.Hostname() + " timed out. (connect timeout=" + seconds(timeout) + ")"
		return &Error{"ConnectTimeout", "ConnectTimeoutError(" + c.connObject() + ", " + pyfmt.Repr(msg) + ")", err}
	}
	return &Error{"ConnectionError", systemError(err), err}
}

// systemError is the exception Python's socket module raises for err: gaierror for a
// failed name lookup, OSError or its subclass for a system error, else an OSError with
// err's text (sanitized).
func systemError(err error) string {
	var dns *net.DNSError
	switch {
	case errors.As(err, &dns) && dns.IsNotFound:
		return "gaierror(-2, 'Name or service not known')"
	case errors.As(err, &dns):
		return "gaierror(-3, 'Temporary failure in name resolution')"
	}
	return osError(err)
}

// sslWhere is where CPython 3.11 (Debian 12's, which both Locust releases run on here)
// raises the errors of a handshake; Python puts it in their texts. Other Python builds
// say another line, and their texts will not merge with zkload's.
const sslWhere = " (_ssl.c:992)"

// handshakeFailed is the Error for a failed TLS handshake. Python's ssl module words
// its errors after OpenSSL 3's (Debian 12's); urllib3 2 wraps them in its own
// SSLError, urllib3 1.26 leaves them bare and checks the host name itself.
func (c *Client) handshakeFailed(err error) *Error {
	var errno syscall.Errno
	switch {
	case isTimeout(err):
		return c.readTimeout(err) // the handshake is a read for urllib3
	case errors.As(err, &errno):
		return &Error{"ConnectionError", osError(err), err}
	}
	var text string
	var verr *tls.CertificateVerificationError
	var rec tls.RecordHeaderError
	switch {
	case errors.As(err, &verr) && len(verr.UnverifiedCertificates) > 0:
		text = c.verifyFailed(verr.UnverifiedCertificates, verr.Err)
	case errors.As(err, &rec):
		text = "SSLError(1, '[SSL: WRONG_VERSION_NUMBER] wrong version number" + sslWhere + "')"
	case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
		text = "SSLZeroReturnError(6, 'TLS/SSL connection has been closed (EOF)" + sslWhere + "')"
	default:
		text = "SSLError(" + pyfmt.Repr(sanitize(err)) + ")"
	}
	if !c.opts.Urllib3v1 {
		text = "SSLError(" + text + ")"
	}
	return &Error{"SSLError", text, err}
}

// verifyFailed describes a certificate chain that failed verification as OpenSSL does,
// which checks the chain's trust first, then the dates, then the host name (Go checks
// the leaf's dates and name before the chain's trust: the chain is verified again here
// to find which check OpenSSL fails first).
func (c *Client) verifyFailed(certs []*x509.Certificate, err error) string {
	leaf := certs[0]
	opts := x509.VerifyOptions{Intermediates: x509.NewCertPool(), CurrentTime: time.Now()}
	if c.opts.TLS != nil {
		opts.Roots = c.opts.TLS.RootCAs
	}
	for _, ct := range certs[1:] {
		opts.Intermediates.AddCert(ct)
	}
	if opts.CurrentTime.Before(leaf.NotBefore) || opts.CurrentTime.After(leaf.NotAfter) {
		opts.CurrentTime = leaf.NotBefore.Add(leaf.NotAfter.Sub(leaf.NotBefore) / 2)
	}
	var reason string
	var unknown x509.UnknownAuthorityError
	var invalid x509.CertificateInvalidError
	var host x509.HostnameError
	_, trustErr := leaf.Verify(opts)
	switch {
	case errors.As(trustErr, &unknown) && selfSigned(leaf):
		reason = "self-signed certificate"
	case errors.As(trustErr, &unknown) && len(certs) > 1 && selfSigned(certs[len(certs)-1]):
		reason = "self-signed certificate in certificate chain"
	case errors.As(trustErr, &unknown):
		reason = "unable to get local issuer certificate"
	case errors.As(err, &invalid) && invalid.Reason == x509.Expired && time.Now().Before(invalid.Cert.NotBefore):
		reason = "certificate is not yet valid"
	case errors.As(err, &invalid) && invalid.Reason == x509.Expired:
		reason = "certificate has expired"
	case errors.As(err, &host) && c.opts.Urllib3v1:
		return hostnameMismatch(host)
	case errors.As(err, &host) && net.ParseIP(host.Host) != nil:
		reason = "IP address mismatch, certificate is not valid for '" + host.Host + "'."
	case errors.As(err, &host):
		reason = "Hostname mismatch, certificate is not valid for '" + host.Host + "'."
	default:
		reason = sanitize(err)
	}
	return "SSLCertVerificationError(1, " + pyfmt.Repr("[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: "+reason+sslWhere) + ")"
}

// selfSigned reports whether c is signed by its own key, as OpenSSL judges a
// self-signed certificate (its issuer is its subject; it need not be a CA).
func selfSigned(c *x509.Certificate) bool {
	return bytes.Equal(c.RawIssuer, c.RawSubject) && c.CheckSignature(c.SignatureAlgorithm, c.RawTBSCertificate, c.Signature) == nil
}

// hostnameMismatch is urllib3 1.26's CertificateError (its match_hostname), naming the
// certificate's DNS names, then its IP addresses (Python lists them in the
// certificate's order, which Go does not keep across the two kinds), else its common
// name.
func hostnameMismatch(e x509.HostnameError) string {
	var names []string
	for _, n := range e.Certificate.DNSNames {
		names = append(names, pyfmt.Repr(n))
	}
	for _, ip := range e.Certificate.IPAddresses {
		names = append(names, pyfmt.Repr(certIP(ip)))
	}
	if len(names) == 0 && e.Certificate.Subject.CommonName != "" {
		names = append(names, pyfmt.Repr(e.Certificate.Subject.CommonName))
	}
	var msg string
	switch len(names) {
	case 0:
		msg = "no appropriate commonName or subjectAltName fields were found"
	case 1:
		msg = "hostname " + pyfmt.Repr(e.Host) + " doesn't match " + names[0]
	default:
		msg = "hostname " + pyfmt.Repr(e.Host) + " doesn't match either of " + strings.Join(names, ", ")
	}
	return "CertificateError(" + pyfmt.Repr(msg) + ")"
}

// certIP is an IP address of a certificate as Python's ssl module shows it: IPv6 as
// eight groups of upper-case hex (0:0:0:0:0:0:0:1).
func certIP(ip net.IP) string {
	if ip.To4() != nil || len(ip) != net.IPv6len {
		return ip.String()
	}
	groups := make([]string, 8)
	for i := range groups {
		groups[i] = strings.ToUpper(strconv.FormatUint(uint64(ip[2*i])<<8|uint64(ip[2*i+1]), 16))
	}
	return strings.Join(groups, ":")
}

// readTimeout is requests' ReadTimeout: the target did not answer in time.
func (c *Client) readTimeout(err error) *Error { return readTimeout(c.origin, c.opts.Timeout, err) }

func readTimeout(u *url.URL, timeout time.Duration, err error) *Error {
	msg := poolName(u) + ": Read timed out. (read timeout=" + seconds(timeout) + ")"
	return &Error{"ReadTimeout", "ReadTimeout(ReadTimeoutError(" + pyfmt.Repr(msg) + "))", err}
}

// Python texts of a response that ended early.
const (
	remoteDisconnected = "RemoteDisconnected('Remote end closed connection without response')"
	endedPrematurely   = "ChunkedEncodingError(ProtocolError('Response ended prematurely'))"
	// urllib3 1.26 reads an empty chunk size where urllib3 2 sees the end.
	noChunkSize = `ChunkedEncodingError(ProtocolError("Connection broken: InvalidChunkLength(got length b'', 0 bytes read)", InvalidChunkLength(got length b'', 0 bytes read)))`
)

// exchangeFailed classifies an error while sending a request or reading its response
// on an open connection; started reports whether any byte of the response arrived.
func (c *Client) exchangeFailed(err error, started bool) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	var body *bodyError
	if errors.As(err, &body) || (started && errors.Is(err, io.ErrUnexpectedEOF)) {
		return c.bodyFailed(err)
	}
	if isTimeout(err) {
		return c.readTimeout(err)
	}
	var head *badHead
	var cause string
	switch {
	case errors.As(err, &head) && head.kind != "":
		return &Error{head.kind, head.kind + "(" + head.reason + ")", err} // requests' own, around urllib3's
	case errors.As(err, &head):
		cause = head.reason
	case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
		cause = remoteDisconnected
	case errors.Is(err, errLineTooLong):
		cause = "LineTooLong('got more than 65536 bytes when reading header line')"
	case errors.Is(err, errHeadTooLarge):
		cause = "HTTPException('got more than 1048576 bytes of headers')"
	default:
		cause = osError(err)
	}
	return &Error{"ConnectionError", cause, err}
}

// bodyFailed is the Error for a body that could not be read whole: requests'
// ChunkedEncodingError around urllib3's ProtocolError, or, for a timeout, the
// ReadTimeoutError that HttpUser finds inside requests' ConnectionError.
func (c *Client) bodyFailed(err error) *Error {
	if isTimeout(err) {
		msg := c.pool() + ": Read timed out."
		return &Error{"ConnectionError", "ReadTimeoutError(" + pyfmt.Repr(msg) + ")", err}
	}
	var short *incompleteRead
	var text string
	switch {
	case errors.As(err, &short):
		text = "ProtocolError(" + pyfmt.Repr("Connection broken: "+short.Error()) + ", " + short.Error() + ")"
	case errors.Is(err, errChunksEnded) && c.opts.Urllib3v1:
		return &Error{"ChunkedEncodingError", noChunkSize, err}
	case errors.Is(err, errBadChunk) || errors.Is(err, errLineTooLong):
		// Python quotes the line: InvalidChunkLength(got length b'zz\r\n', 0 bytes read).
		text = "ProtocolError('Connection broken: invalid chunk length')"
	case errors.Is(err, errChunksEnded) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
		return &Error{"ChunkedEncodingError", endedPrematurely, err}
	default:
		cause := osError(err)
		text = "ProtocolError(" + pyfmt.Repr("Connection broken: "+cause) + ", " + cause + ")"
	}
	return &Error{"ChunkedEncodingError", "ChunkedEncodingError(" + text + ")", err}
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
