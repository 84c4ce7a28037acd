// Package connstr parses ZooKeeper connect strings, host:port[,host:port...][/chroot],
// the one way every part of zkload reads them (the workloads, the ensemble poller, the
// commands).
package connstr

import (
	"fmt"
	"net"
	"strconv"
	"strings"
)

// Parse parses a connect string, with or without a zk:// scheme:
// host:port[,host:port...][/chroot]. A host without a port gets 2181; IPv6 addresses go
// in brackets. Ports of any length up to 65535 are accepted (zk-locust took 1-4 digits).
func Parse(v string) (servers []string, chroot string, err error) {
	v = strings.TrimSpace(v)
	if rest, ok := strings.CutPrefix(v, "zk://"); ok {
		v = rest
	} else if i := strings.Index(v, "://"); i >= 0 {
		return nil, "", fmt.Errorf("scheme %q is not zk://", v[:i+3])
	}
	if i := strings.Index(v, "/"); i >= 0 {
		chroot = v[i:]
		v = v[:i]
		if chroot == "/" {
			chroot = ""
		} else {
			c, err := ZnodePath(chroot)
			if err != nil {
				return nil, "", fmt.Errorf("chroot %q: %w", chroot, err)
			}
			chroot = c
		}
	}
	if v == "" {
		return nil, "", fmt.Errorf("no host")
	}
	for _, hp := range strings.Split(v, ",") {
		hp = strings.TrimSpace(hp)
		if hp == "" {
			return nil, "", fmt.Errorf("empty host in list")
		}
		host, port, err := net.SplitHostPort(hp)
		if err != nil {
			if strings.Contains(err.Error(), "missing port") {
				host, port = strings.Trim(hp, "[]"), "2181"
			} else {
				return nil, "", fmt.Errorf("%q: %w", hp, err)
			}
		}
		if host == "" {
			return nil, "", fmt.Errorf("%q: no host name", hp)
		}
		p, err := strconv.Atoi(port)
		if err != nil || p < 1 || p > 65535 {
			return nil, "", fmt.Errorf("%q: port must be 1-65535", hp)
		}
		servers = append(servers, net.JoinHostPort(host, strconv.Itoa(p)))
	}
	return servers, chroot, nil
}

// ZnodePath checks an absolute znode path (a chroot, a pseudo-root) and drops a trailing slash (as Kazoo does).
func ZnodePath(p string) (string, error) {
	p = strings.TrimSpace(p)
	if !strings.HasPrefix(p, "/") {
		return "", fmt.Errorf("not absolute")
	}
	if len(p) > 1 {
		p = strings.TrimRight(p, "/")
		if p == "" {
			p = "/"
		}
	}
	if strings.Contains(p, "//") || strings.Contains(p, "/./") || strings.Contains(p, "/../") ||
		strings.HasSuffix(p, "/.") || strings.HasSuffix(p, "/..") || strings.ContainsRune(p, 0) {
		return "", fmt.Errorf("not a valid znode path")
	}
	return p, nil
}
