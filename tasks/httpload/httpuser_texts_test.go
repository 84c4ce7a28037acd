package httpload

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"log/slog"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/zkload/zkload/boomer"
	"github.com/zkload/zkload/boomer/recorder"
	"github.com/zkload/zkload/internal/testenv"
	"github.com/zkload/zkload/tasks/http1"
)

// httpSessionScript requests each case once with the real HttpSession of the Locust
// release it imports and prints, per case, the failure text Locust would record (its
// StatsError.parse_error of the exception), or "" for a success.
const httpSessionScript = `
import json, sys, warnings
warnings.simplefilter("ignore")
from locust.clients import HttpSession
from locust.event import EventHook
from locust.stats import StatsError
out = []
for c in json.load(sys.stdin):
    got = []
    ev = EventHook()
    ev.add_listener(lambda **kw: got.append(kw["exception"]))
    s = HttpSession(base_url=c["base"], request_event=ev, user=None)
    kw = {"timeout": c["timeout"]}
    if c["verify"]:
        kw["verify"] = c["verify"]
    s.get(c["path"], **kw)
    out.append(StatsError.parse_error(got[0]) if got[0] else "")
json.dump(out, sys.stdout)
`

// textCase is one way a request fails (or, where Python is lenient, does not).
type textCase struct {
	name    string
	base    string // the target, e.g. http://127.0.0.1:PORT
	path    string
	timeout time.Duration
	// caPEM, when set, is the only root to trust; zkload's Http class has no such
	// option, so the case runs on http1.Client directly (with the same texts).
	caPEM string
	// differ, when set, gives Python's text and zkload's where they differ on purpose,
	// for the release given; "" for both means they must be equal.
	differ func(newer bool) (python, zkload string)
}

// TestFailureTextsMatchHttpUser runs the real HttpSession of each Locust release and
// zkload's Http class against the same misbehaving servers and compares the failure
// texts: they must be identical, so that a master merges failures from Python and
// zkload workers into one row, except where zkload bounds its text on purpose (Python
// quotes the server's bytes, or an object's address: one row per request).
func TestFailureTextsMatchHttpUser(t *testing.T) {
	testenv.SkipWithoutPythonLocust(t)
	testenv.ForEachLocust(t, func(t *testing.T, l testenv.Locust) {
		cases := failureCases(t)
		type pyCase struct {
			Base    string  `json:"base"`
			Path    string  `json:"path"`
			Timeout float64 `json:"timeout"`
			Verify  string  `json:"verify"`
		}
		var in []pyCase
		dir := t.TempDir()
		for i, c := range cases {
			pc := pyCase{Base: c.base, Path: c.path, Timeout: c.timeout.Seconds()}
			if c.caPEM != "" {
				pc.Verify = filepath.Join(dir, strconv.Itoa(i)+".pem")
				if err := os.WriteFile(pc.Verify, []byte(c.caPEM), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			in = append(in, pc)
		}
		var python []string
		testenv.RunLocustPython(t, l, 2*time.Minute, httpSessionScript, in, &python)
		if len(python) != len(cases) {
			t.Fatalf("%d answers from Python for %d cases", len(python), len(cases))
		}
		// urllib3 2 shows its connection as <HTTPConnection(host=..., port=...) at
		// 0x7f...>, a new address per request; zkload's text says 0x.... there.
		address := regexp.MustCompile(` at 0x[0-9a-f]+>`)
		for i, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				py := address.ReplaceAllString(python[i], " at 0x....>")
				got := zkloadText(t, c, l.Version)
				if c.differ != nil {
					wantPy, wantGo := c.differ(l.Newer("2.14.1"))
					if py != wantPy || got != wantGo {
						t.Errorf("Python: %s\nzkload: %s\nwant Python %s\nand zkload  %s", python[i], got, wantPy, wantGo)
					}
					return
				}
				if got != py {
					t.Errorf("zkload: %s\nPython: %s", got, python[i])
				}
			})
		}
	})
}

// zkloadText is the failure text zkload records for one request of c ("" for a success):
// the Http class's, or http1.Client's for a case with its own root.
func zkloadText(t *testing.T, c textCase, version string) string {
	t.Helper()
	if c.caPEM != "" {
		roots := x509.NewCertPool()
		roots.AppendCertsFromPEM([]byte(c.caPEM))
		cl, err := http1.NewClient(t.Context(), c.base, http1.Options{Timeout: c.timeout,
			TLS: &tls.Config{RootCAs: roots}, Urllib3v1: !urlIsName(version, nil)})
		if err != nil {
			t.Fatal(err)
		}
		defer cl.Close()
		r, err := cl.Prepare("GET", c.path, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := cl.Do(context.Background(), r); err != nil {
			return err.Error()
		}
		return ""
	}
	rec := recorder.New(recorder.Options{})
	class := Class(Options{Path: c.path, Timeout: c.timeout, LocustVersion: version})
	us, err := boomer.NewUsers([]*boomer.UserClass{class}, rec, c.base, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	us.Configure(&boomer.Env{}, "", 0, nil, nil)
	us.SetTargets(map[string]int{className: 1})
	defer func() { <-us.StopAll(0) }()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		r := rec.Report()
		for _, e := range r.Errors { // one request's, or several of the same
			return e.Error
		}
		for _, s := range r.Stats {
			if s.NumRequests > 0 {
				return ""
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("no request recorded in 10 s")
	return ""
}

// failureCases starts the servers and returns the cases.
func failureCases(t *testing.T) []textCase {
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	silent := func(net.Conn) { <-release }
	reset := func(conn net.Conn) { conn.(*net.TCPConn).SetLinger(0) }
	http := func(reply string, then func(net.Conn)) string {
		return "http://" + rawServer(t, nil, func(conn net.Conn) {
			io.WriteString(conn, reply)
			if then != nil {
				then(conn)
			}
		})
	}
	closed := func(reply string) string { return http(reply, nil) }
	const ok = "HTTP/1.1 200 OK\r\n"
	const chunked = ok + "Transfer-Encoding: chunked\r\n\r\n"
	second := time.Second
	c := []textCase{
		{name: "500", base: closed("HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"), path: "/fail"},
		{name: "404 with a query", base: closed("HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"), path: "/x?q=1"},
		{name: "500 without a reason", base: closed("HTTP/1.1 500\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")},
		{name: "redirect loop", base: closed("HTTP/1.1 302 Found\r\nLocation: /loop\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"), path: "/loop"},
		{name: "refused", base: "http://" + closedPort(t)},
		{name: "unknown host", base: "http://nonexistent.invalid"},
		{name: "closed without an answer", base: closed("")},
		{name: "reset", base: http("", reset)},
		{name: "read timeout", base: http("", silent), timeout: 200 * time.Millisecond},
		{name: "read timeout in the body", base: http(ok+"Content-Length: 5\r\n\r\nab", silent), timeout: 300 * time.Millisecond},
		{name: "reset in the body", base: http(ok+"Content-Length: 100000\r\n\r\nabc", func(conn net.Conn) {
			time.Sleep(50 * time.Millisecond)
			reset(conn)
		})},
		{name: "conflicting lengths", base: closed(ok + "Content-Length: 3\r\nContent-Length: 4\r\n\r\nabc")},
		{name: "conflicting lengths in one header", base: closed(ok + "Content-Length: 3, 4\r\n\r\nabc")},
		{name: "chunk cut off", base: closed(chunked + "5\r\nab")},
		{name: "large chunk cut off", base: closed(chunked + "8000\r\n" + strings.Repeat("x", 20000))},
		{name: "second chunk cut off", base: closed(chunked + "3\r\nabc\r\n5\r\nab")},
		{name: "closed where a chunk size was due", base: closed(chunked + "3\r\nabc\r\n")},
		{name: "closed after a chunk size", base: closed(chunked + "3\r\nabc\r\n5")},
		{name: "closed in a CRLF after a chunk", base: closed(chunked + "3\r\nabc\r")},
		{name: "closed after the last chunk size", base: closed(chunked + "3\r\nabc\r\n0")},
		{name: "closed in the trailers", base: closed(chunked + "3\r\nabc\r\n0\r\n")},
		{name: "huge header line", base: closed(ok + "X: " + strings.Repeat("y", 100<<10) + "\r\n\r\n")},
		{name: "huge status line", base: closed("HTTP/1.1 200 " + strings.Repeat("y", 100<<10) + "\r\n\r\n")},
		{name: "garbage status line", base: closed("FOO BAR\r\n\r\n"), differ: func(bool) (string, string) {
			return `BadStatusLine('FOO BAR\r\n')`, "BadStatusLine('not an HTTP status line')"
		}},
		{name: "bad chunk size", base: closed(chunked + "zz\r\nabc\r\n0\r\n\r\n"), differ: func(bool) (string, string) {
			return `ChunkedEncodingError(ProtocolError("Connection broken: InvalidChunkLength(got length b'zz\\r\\n', 0 bytes read)", InvalidChunkLength(got length b'zz\r\n', 0 bytes read)))`,
				"ChunkedEncodingError(ProtocolError('Connection broken: invalid chunk length'))"
		}},
		{name: "header without a colon", base: closed(ok + "Broken\r\nContent-Length: 0\r\n\r\n"), differ: func(bool) (string, string) {
			return "", "HTTPException('malformed header line')" // Python takes it
		}},
		{name: "short body", base: closed(ok + "Content-Length: 10\r\n\r\nabc"), differ: func(newer bool) (string, string) {
			text := "ChunkedEncodingError(ProtocolError('Connection broken: IncompleteRead(3 bytes read, 7 more expected)', IncompleteRead(3 bytes read, 7 more expected)))"
			if newer {
				return text, text
			}
			return "", text // urllib3 1.26 takes the short body for a whole one
		}},
	}
	if addr, ok := blackhole(t); ok {
		c = append(c, textCase{name: "connect timeout", base: "http://" + addr, timeout: 200 * time.Millisecond})
	}

	// TLS: a self-signed certificate, one from an unknown CA, an expired one (trusted),
	// one for another name (its CA trusted), a server that is not TLS, one that closes
	// or resets the connection during the handshake.
	ca := newCert(t, "zkload test CA", nil, nil, time.Now().Add(time.Hour))
	leaf := newCert(t, "localhost", []string{"localhost"}, ca, time.Now().Add(time.Hour))
	self := newCert(t, "127.0.0.1", nil, nil, time.Now().Add(time.Hour), net.ParseIP("127.0.0.1"))
	expired := newCert(t, "localhost", []string{"localhost"}, nil, time.Now().Add(-time.Hour), net.ParseIP("127.0.0.1"))
	names := newCert(t, "example.com", []string{"example.com", "*.example.com"}, nil, time.Now().Add(time.Hour), net.ParseIP("127.0.0.1"), net.ParseIP("::1"))
	tlsServer := func(cert *testCert) string {
		return rawServer(t, &tls.Config{Certificates: []tls.Certificate{cert.tls}}, func(conn net.Conn) {
			io.WriteString(conn, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
		})
	}
	port := portOf(tlsServer(leaf))
	c = append(c,
		textCase{name: "TLS self-signed", base: "https://" + tlsServer(self)},
		textCase{name: "TLS unknown issuer", base: "https://localhost:" + port},
		textCase{name: "TLS expired", base: "https://" + tlsServer(expired), caPEM: expired.pem},
		textCase{name: "TLS other name", base: "https://127.0.0.1:" + port, caPEM: ca.pem},
		textCase{name: "TLS other name, trusted", base: "https://localhost:" + port, caPEM: ca.pem},
		textCase{name: "TLS other names", base: "https://localhost:" + portOf(tlsServer(names)), caPEM: names.pem},
		textCase{name: "TLS to plain HTTP", base: "https://" + strings.TrimPrefix(closed("HTTP/1.1 400 Bad Request\r\n\r\n"), "http://")},
		textCase{name: "TLS closed in the handshake", base: "https://" + strings.TrimPrefix(closed(""), "http://")},
		textCase{name: "TLS reset in the handshake", base: "https://" + strings.TrimPrefix(http("", reset), "http://")},
	)
	for i := range c {
		if c[i].path == "" {
			c[i].path = "/"
		}
		if c[i].timeout == 0 {
			c[i].timeout = 5 * second
		}
	}
	return c
}

// portOf is the port of a host:port.
func portOf(addr string) string {
	_, port, _ := net.SplitHostPort(addr)
	return port
}

// rawServer listens on 127.0.0.1 (with TLS if cfg is set) and, on every connection,
// reads once (the request, or a TLS ClientHello), calls serve and closes the
// connection; it returns the address. Without TLS, serve gets the *net.TCPConn.
func rawServer(t *testing.T, cfg *tls.Config, serve func(net.Conn)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer conn.Close()
				var c net.Conn = conn
				if cfg != nil {
					tc := tls.Server(conn, cfg)
					if tc.Handshake() != nil {
						return
					}
					c = tc
				}
				if _, err := c.Read(make([]byte, 64<<10)); err != nil {
					return
				}
				serve(c)
				c.Close()
			}()
		}
	}()
	return ln.Addr().String()
}

// closedPort is an address on 127.0.0.1 where nothing listens.
func closedPort(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// blackhole is an address whose connections time out: a listener that accepts none,
// with a backlog of 0 already full, so that the kernel drops further SYNs. ok is false
// where this does not work (the kernel accepted a probe).
func blackhole(t *testing.T) (addr string, ok bool) {
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { syscall.Close(fd) })
	if err := syscall.Bind(fd, &syscall.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Listen(fd, 0); err != nil {
		t.Fatal(err)
	}
	sa, err := syscall.Getsockname(fd)
	if err != nil {
		t.Fatal(err)
	}
	addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(sa.(*syscall.SockaddrInet4).Port))
	for range 4 {
		if conn, err := net.DialTimeout("tcp", addr, 100*time.Millisecond); err == nil {
			t.Cleanup(func() { conn.Close() })
		}
	}
	conn, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
	if err == nil {
		conn.Close()
		t.Logf("no connect-timeout case: the kernel accepts connections beyond a full backlog")
		return "", false
	}
	return addr, true
}

// testCert is a certificate with its key, as Go and Python want them.
type testCert struct {
	tls  tls.Certificate
	x509 *x509.Certificate
	key  *ecdsa.PrivateKey
	pem  string // the certificate
}

// newCert makes a certificate for names and ips valid until notAfter, signed by parent
// (nil: self-signed, a CA).
func newCert(t *testing.T, cn string, names []string, parent *testCert, notAfter time.Time, ips ...net.IP) *testCert {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	tmpl := &x509.Certificate{
		SerialNumber: serial, Subject: pkix.Name{CommonName: cn}, DNSNames: names, IPAddresses: ips,
		NotBefore: notAfter.Add(-48 * time.Hour), NotAfter: notAfter,
		KeyUsage:    x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, BasicConstraintsValid: true,
	}
	signer, signKey := tmpl, key
	if parent == nil {
		tmpl.IsCA = true
	} else {
		signer, signKey = parent.x509, parent.key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, signer, &key.PublicKey, signKey)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	pem.Encode(&b, &pem.Block{Type: "CERTIFICATE", Bytes: der})
	return &testCert{tls: tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: cert}, x509: cert, key: key, pem: b.String()}
}
