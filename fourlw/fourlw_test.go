package fourlw

import (
	"context"
	"io"
	"net"
	"strings"
	"testing"
	"time"
)

// serve answers each connection with answer(word) and closes it; nil answer closes
// without a word, as a server does for a word that is not whitelisted.
func serve(t *testing.T, answer func(word string) []byte) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				buf := make([]byte, 4)
				if _, err := io.ReadFull(c, buf); err != nil {
					return
				}
				if a := answer(string(buf)); a != nil {
					c.Write(a)
				}
			}()
		}
	}()
	return ln.Addr().String()
}

func TestAsk(t *testing.T) {
	addr := serve(t, func(w string) []byte {
		switch w {
		case "ruok":
			return []byte("imok")
		case "mntr":
			return []byte(strings.Repeat("zk_x\t1\n", 10000))
		}
		return nil
	})
	ctx := context.Background()
	if got, err := Ask(ctx, addr, "ruok"); err != nil || got != "imok" {
		t.Errorf("ruok = %q, %v; want imok", got, err)
	}
	if got, err := Ask(ctx, addr, "mntr"); err != nil || len(got) != 70000 {
		t.Errorf("mntr = %d bytes, %v; want 70000", len(got), err)
	}
	if _, err := Ask(ctx, addr, "stat"); err == nil || !strings.Contains(err.Error(), "stat "+addr+": empty answer") {
		t.Errorf("stat: err = %v, want an empty answer naming the word and address", err)
	}
}

// TestAskCancelled: a server that never answers holds Ask only until ctx ends.
func TestAskCancelled(t *testing.T) {
	hold := make(chan struct{})
	t.Cleanup(func() { close(hold) })
	addr := serve(t, func(string) []byte { <-hold; return nil })
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { _, err := Ask(ctx, addr, "mntr"); done <- err }()
	cancel()
	select {
	case err := <-done:
		if err == nil {
			t.Error("Ask returned no error after its context was cancelled")
		}
	case <-time.After(DefaultTimeout / 2):
		t.Fatal("Ask did not return after its context was cancelled")
	}
}

func TestAskNothingListening(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	if _, err := Ask(context.Background(), addr, "srvr"); err == nil || !strings.HasPrefix(err.Error(), "srvr "+addr+": ") {
		t.Errorf("err = %v, want one naming srvr and %s", err, addr)
	}
}
