package faults

import (
	"context"
	"errors"
	"net"
	"os"
	"testing"
	"time"

	"github.com/zkload/zkload/internal/zkenv/zktest"
)

// silentServer accepts connections and never answers: a paused member, as the kernel
// keeps accepting for a SIGSTOPped process.
func silentServer(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		var held []net.Conn
		defer func() {
			for _, c := range held {
				c.Close()
			}
		}()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			held = append(held, c)
		}
	}()
	return ln.Addr().String()
}

// TestHandshakeIsBounded: the probe's connections bound the first read deadline (the
// answer to a connect request) and leave later ones alone.
func TestHandshakeIsBounded(t *testing.T) {
	c, err := boundedHandshake(100*time.Millisecond)("tcp", silentServer(t), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	start := time.Now()
	c.SetReadDeadline(time.Now().Add(time.Hour))
	_, err = c.Read(make([]byte, 4))
	if !errors.Is(err, os.ErrDeadlineExceeded) || time.Since(start) > 10*time.Second {
		t.Fatalf("the first read: %v after %v; want a timeout at the 100 ms bound", err, time.Since(start))
	}
	far := time.Now().Add(time.Hour)
	c.SetReadDeadline(far)
	done := make(chan error, 1)
	go func() { _, err := c.Read(make([]byte, 4)); done <- err }()
	select {
	case err := <-done:
		t.Fatalf("a later read ended (%v): its deadline is an hour away", err)
	case <-time.After(300 * time.Millisecond):
	}
}

// TestProbeSkipsASilentMember: with two members that accept and never answer before a
// real one, the probe's session is up within a few of its bounded handshakes (3.3 s
// each), not after go-zookeeper's 67 s per silent member.
func TestProbeSkipsASilentMember(t *testing.T) {
	t.Parallel()
	e := zktest.Start(t, 1)
	servers := []string{silentServer(t), silentServer(t), e.Servers()[0]}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	start := time.Now()
	p, err := NewProbe(ctx, servers, quiet())
	if err != nil {
		t.Fatalf("after %v: %v", time.Since(start), err)
	}
	defer p.Close()
	t.Logf("the probe wrote after %v", time.Since(start).Round(time.Millisecond))
}
