package freeport

import (
	"net"
	"strconv"
	"testing"
)

func TestPortsDistinctAndBindable(t *testing.T) {
	ps, err := Ports(8)
	if err != nil {
		t.Fatal(err)
	}
	if len(ps) != 8 {
		t.Fatalf("got %d ports, want 8", len(ps))
	}
	seen := map[int]bool{}
	for _, p := range ps {
		if p <= 0 || p > 65535 || seen[p] {
			t.Fatalf("bad or repeated port %d in %v", p, ps)
		}
		seen[p] = true
		l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(p)))
		if err != nil {
			t.Fatalf("port %d cannot be bound: %v", p, err)
		}
		l.Close()
	}
}

func TestPort(t *testing.T) {
	p, err := Port()
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(p)))
	if err != nil {
		t.Fatalf("port %d cannot be bound: %v", p, err)
	}
	l.Close()
}
