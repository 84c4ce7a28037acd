package boomer

import (
	"sync"
	"testing"
)

// TestTurnsAlwaysComeRound: many more goroutines than maxYielding yield over and over
// (some parking, some not); every one finishes, nobody is left parked, and the
// counters return to zero.
func TestTurnsAlwaysComeRound(t *testing.T) {
	tr := newTurns()
	const goroutines, yields = 6 * maxYielding, 200
	var wg sync.WaitGroup
	for range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range yields {
				tr.yield()
			}
		}()
	}
	wg.Wait()
	tr.mu.Lock()
	defer tr.mu.Unlock()
	if q, s := tr.queued.Load(), tr.inSched.Load(); q != 0 || s != 0 || tr.awake != 0 {
		t.Errorf("after every goroutine finished: queued %d, in Gosched %d, awake %d; want 0", q, s, tr.awake)
	}
}

// TestGateLetsEveryoneThrough: more users than tokens pass a gate once it opens, and
// none before.
func TestGateLetsEveryoneThrough(t *testing.T) {
	g := newGate()
	const users = 3 * maxYielding
	var passed sync.WaitGroup
	var mu sync.Mutex
	opened := false
	early := 0
	for range users {
		passed.Add(1)
		go func() {
			defer passed.Done()
			g.pass()
			mu.Lock()
			if !opened {
				early++
			}
			mu.Unlock()
		}()
	}
	mu.Lock()
	opened = true
	mu.Unlock()
	g.open()
	passed.Wait()
	if early != 0 {
		t.Errorf("%d users passed a closed gate", early)
	}
}
