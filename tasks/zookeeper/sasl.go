package zookeeper

import (
	"crypto/md5"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"time"
)

// go-zookeeper has no SASL. zkload authenticates each connection with DIGEST-MD5 (RFC
// 2831, as ZooKeeper's Java client and Kazoo do) from inside the dialer: the wrapped
// connection reads the server's connect response itself, runs the SASL exchange before
// go-zookeeper sends anything else, then hands the connect response to go-zookeeper.
// Every reconnection authenticates again, as the Java client does.

const (
	opSASL       = 102
	saslXIDBase  = 0x7ffffff0
	saslProtocol = "zookeeper"
	saslServer   = "zk-sasl-md5"
)

// parseSASLOptions reads Kazoo's sasl_options JSON. Only DIGEST-MD5 is supported.
func parseSASLOptions(v string) (user, password string, err error) {
	var o map[string]string
	if err := json.Unmarshal([]byte(v), &o); err != nil {
		return "", "", fmt.Errorf("not a JSON object of strings")
	}
	mech := strings.ToUpper(o["mechanism"])
	if mech != "DIGEST-MD5" {
		return "", "", fmt.Errorf("mechanism %q is not supported, only DIGEST-MD5", o["mechanism"])
	}
	if o["username"] == "" {
		return "", "", fmt.Errorf("no username")
	}
	return o["username"], o["password"], nil
}

func saslDialer(user, password string) func(network, address string, timeout time.Duration) (net.Conn, error) {
	return func(network, address string, timeout time.Duration) (net.Conn, error) {
		c, err := net.DialTimeout(network, address, timeout)
		if err != nil {
			return nil, err
		}
		return &saslConn{Conn: c, user: user, password: password, timeout: timeout}, nil
	}
}

type saslConn struct {
	net.Conn
	user, password string
	timeout        time.Duration
	started        bool
	pending        []byte // the connect response, for go-zookeeper
}

// Read hands go-zookeeper the connect response only once the SASL exchange is done.
func (c *saslConn) Read(p []byte) (int, error) {
	if !c.started {
		c.started = true
		frame, err := readFrame(c.Conn)
		if err != nil {
			return 0, err
		}
		c.pending = frame
		// ConnectResponse: protocolVersion int32, timeOut int32, sessionId int64, ...
		// A timeout <= 0 means the session expired: nothing to authenticate.
		if len(frame) >= 12 && int32(binary.BigEndian.Uint32(frame[8:12])) > 0 {
			if err := c.authenticate(); err != nil {
				c.Conn.Close()
				return 0, fmt.Errorf("SASL DIGEST-MD5 as %q: %w", c.user, err)
			}
		}
	}
	if len(c.pending) > 0 {
		n := copy(p, c.pending)
		c.pending = c.pending[n:]
		return n, nil
	}
	return c.Conn.Read(p)
}

func readFrame(r io.Reader) ([]byte, error) {
	var hdr [4]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return nil, err
	}
	n := binary.BigEndian.Uint32(hdr[:])
	if n > 1<<20 {
		return nil, fmt.Errorf("frame of %d bytes", n)
	}
	frame := make([]byte, 4+n)
	copy(frame, hdr[:])
	if _, err := io.ReadFull(r, frame[4:]); err != nil {
		return nil, err
	}
	return frame, nil
}

// exchange sends one SASL token and returns the server's.
func (c *saslConn) exchange(xid int32, token []byte) ([]byte, error) {
	body := make([]byte, 0, 16+len(token))
	body = binary.BigEndian.AppendUint32(body, uint32(xid))
	body = binary.BigEndian.AppendUint32(body, opSASL)
	body = binary.BigEndian.AppendUint32(body, uint32(len(token)))
	body = append(body, token...)
	pkt := binary.BigEndian.AppendUint32(nil, uint32(len(body)))
	pkt = append(pkt, body...)
	_ = c.Conn.SetDeadline(time.Now().Add(c.timeout + 5*time.Second))
	defer c.Conn.SetDeadline(time.Time{})
	if _, err := c.Conn.Write(pkt); err != nil {
		return nil, err
	}
	frame, err := readFrame(c.Conn)
	if err != nil {
		return nil, err
	}
	b := frame[4:]
	// ReplyHeader: xid int32, zxid int64, err int32; then the token buffer.
	if len(b) < 16 {
		return nil, errors.New("short SASL reply")
	}
	if got := int32(binary.BigEndian.Uint32(b[0:4])); got != xid {
		return nil, fmt.Errorf("SASL reply for xid %d, want %d", got, xid)
	}
	if code := int32(binary.BigEndian.Uint32(b[12:16])); code != 0 {
		return nil, fmt.Errorf("server refused (error code %d)", code)
	}
	b = b[16:]
	if len(b) < 4 {
		return nil, nil
	}
	n := int32(binary.BigEndian.Uint32(b[:4]))
	if n <= 0 {
		return nil, nil
	}
	if int(n) > len(b)-4 {
		return nil, errors.New("truncated SASL token")
	}
	return b[4 : 4+n], nil
}

func (c *saslConn) authenticate() error {
	challenge, err := c.exchange(saslXIDBase, nil)
	if err != nil {
		return err
	}
	resp, expectRspauth, err := digestResponse(parseDigestChallenge(string(challenge)), c.user, c.password, "", saslProtocol+"/"+saslServer)
	if err != nil {
		return err
	}
	final, err := c.exchange(saslXIDBase+1, []byte(resp))
	if err != nil {
		return err
	}
	got := parseDigestChallenge(string(final))["rspauth"]
	if got != expectRspauth {
		return errors.New("server's rspauth does not match: wrong password?")
	}
	return nil
}

// parseDigestChallenge splits k=v,k="v" pairs.
func parseDigestChallenge(s string) map[string]string {
	out := map[string]string{}
	for len(s) > 0 {
		s = strings.TrimLeft(s, " ,")
		k, rest, ok := strings.Cut(s, "=")
		if !ok {
			break
		}
		var v string
		if strings.HasPrefix(rest, `"`) {
			rest = rest[1:]
			var b strings.Builder
			i := 0
			for ; i < len(rest); i++ {
				if rest[i] == '\\' && i+1 < len(rest) {
					i++
					b.WriteByte(rest[i])
					continue
				}
				if rest[i] == '"' {
					break
				}
				b.WriteByte(rest[i])
			}
			v = b.String()
			if i < len(rest) {
				rest = rest[i+1:]
			} else {
				rest = ""
			}
		} else {
			v, rest, _ = strings.Cut(rest, ",")
		}
		out[strings.TrimSpace(k)] = v
		s = rest
	}
	return out
}

// digestResponse computes the client's DIGEST-MD5 response (RFC 2831 §2.1.2) and the
// rspauth the server must send back, for digest-uri uri. cnonce is random when empty.
func digestResponse(ch map[string]string, user, password, cnonce, uri string) (string, string, error) {
	nonce := ch["nonce"]
	if nonce == "" {
		return "", "", fmt.Errorf("no nonce in the server's challenge")
	}
	if qop := ch["qop"]; qop != "" && !strings.Contains(qop, "auth") {
		return "", "", fmt.Errorf("server offers qop %q, want auth", qop)
	}
	realm := ch["realm"]
	if cnonce == "" {
		var b [16]byte
		if _, err := rand.Read(b[:]); err != nil {
			return "", "", err
		}
		cnonce = base64.StdEncoding.EncodeToString(b[:])
	}
	const nc = "00000001"
	h := func(s string) []byte { x := md5.Sum([]byte(s)); return x[:] }
	hx := func(b []byte) string { return hex.EncodeToString(b) }
	a1 := string(h(user+":"+realm+":"+password)) + ":" + nonce + ":" + cnonce
	ha1 := hx(h(a1))
	resp := hx(h(ha1 + ":" + nonce + ":" + nc + ":" + cnonce + ":auth:" + hx(h("AUTHENTICATE:"+uri))))
	rspauth := hx(h(ha1 + ":" + nonce + ":" + nc + ":" + cnonce + ":auth:" + hx(h(":"+uri))))
	q := func(s string) string { return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"` }
	var b strings.Builder
	b.WriteString("charset=utf-8,username=" + q(user))
	if realm != "" {
		b.WriteString(",realm=" + q(realm))
	}
	b.WriteString(",nonce=" + q(nonce) + ",nc=" + nc + ",cnonce=" + q(cnonce) +
		",digest-uri=" + q(uri) + ",maxbuf=65536,response=" + resp + ",qop=auth")
	return b.String(), rspauth, nil
}
