package testenv

import (
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// Listener is a listening TCP socket of a process.
type Listener struct {
	IP   net.IP
	Port int
}

func (l Listener) String() string { return net.JoinHostPort(l.IP.String(), strconv.Itoa(l.Port)) }

// Listeners returns the listening TCP sockets (IPv4 and IPv6) owned by process pid, read
// from /proc (Linux only).
func Listeners(pid int) ([]Listener, error) {
	inodes := map[string]bool{}
	fdDir := fmt.Sprintf("/proc/%d/fd", pid)
	ents, err := os.ReadDir(fdDir)
	if err != nil {
		return nil, err
	}
	for _, e := range ents {
		target, err := os.Readlink(filepath.Join(fdDir, e.Name()))
		if err != nil {
			continue // fd closed meanwhile
		}
		if strings.HasPrefix(target, "socket:[") {
			inodes[strings.TrimSuffix(strings.TrimPrefix(target, "socket:["), "]")] = true
		}
	}
	var out []Listener
	for _, f := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		b, err := os.ReadFile(f)
		if err != nil {
			if os.IsNotExist(err) {
				continue
			}
			return nil, err
		}
		for _, line := range strings.Split(string(b), "\n")[1:] {
			fields := strings.Fields(line)
			// sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode
			if len(fields) < 10 || fields[3] != "0A" || !inodes[fields[9]] {
				continue
			}
			l, err := parseProcAddr(fields[1])
			if err != nil {
				return nil, fmt.Errorf("%s: %v", f, err)
			}
			out = append(out, l)
		}
	}
	return out, nil
}

// parseProcAddr parses /proc/net/tcp's "0100007F:3CC5" (address in host byte order,
// 32-bit words, little-endian on every platform Go's tests run Locust on).
func parseProcAddr(s string) (Listener, error) {
	addr, port, ok := strings.Cut(s, ":")
	if !ok {
		return Listener{}, fmt.Errorf("bad address %q", s)
	}
	raw, err := hex.DecodeString(addr)
	if err != nil || (len(raw) != 4 && len(raw) != 16) {
		return Listener{}, fmt.Errorf("bad address %q", s)
	}
	ip := make(net.IP, len(raw))
	for w := 0; w < len(raw); w += 4 {
		for i := 0; i < 4; i++ {
			ip[w+i] = raw[w+3-i]
		}
	}
	p, err := strconv.ParseUint(port, 16, 16)
	if err != nil {
		return Listener{}, fmt.Errorf("bad port in %q", s)
	}
	return Listener{IP: ip, Port: int(p)}, nil
}
