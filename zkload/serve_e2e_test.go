package main

import (
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/zkload/zkload/internal/testenv"
)

// startServe runs `zkload serve` with args and returns its base URL.
func startServe(t *testing.T, args ...string) (*testenv.Proc, string) {
	t.Helper()
	p := testenv.StartProcess(t, zkloadBin, append([]string{"serve", "--listen", "127.0.0.1:0"}, args...), nil)
	line := p.WaitLog(`listening on http://\S+`, 10*time.Second)
	return p, regexp.MustCompile(`http://\S+`).FindString(line)
}

// stopServe ends the target and returns what it printed.
func stopServe(t *testing.T, p *testenv.Proc) string {
	t.Helper()
	p.Signal(syscall.SIGTERM)
	if code := p.Wait(10 * time.Second); code != 0 {
		t.Fatalf("zkload serve: exit code %d\n%s", code, p.Log())
	}
	return p.Log()
}

// serve --capacity N admits N requests a second and queues the rest: a few goroutines
// sharing an open-loop plan at 2N a second (as zkload's pacer: whichever is free takes
// the next planned request, at once when it is late) on kept-alive connections get N a
// second served, within a few percent.
func TestServeCapacity(t *testing.T) {
	const n, goroutines, seconds = 100, 16, 3
	p, url := startServe(t, "--capacity", strconv.Itoa(n))
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: goroutines}, Timeout: 30 * time.Second}
	defer client.CloseIdleConnections()

	var (
		mu   sync.Mutex
		done []time.Time // completions
		bad  []string
		wg   sync.WaitGroup
		next atomic.Int64 // the next planned request
	)
	start := time.Now()
	end := start.Add(seconds * time.Second)
	interval := time.Second / (2 * n)
	for range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				due := start.Add(time.Duration(next.Add(1)-1) * interval)
				if !due.Before(end) {
					return
				}
				time.Sleep(time.Until(due))
				resp, err := client.Get(url + "/")
				if err != nil {
					mu.Lock()
					bad = append(bad, err.Error())
					mu.Unlock()
					return
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				mu.Lock()
				if resp.StatusCode != http.StatusOK {
					bad = append(bad, resp.Status+" "+string(body))
				}
				done = append(done, time.Now())
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if len(bad) > 0 {
		t.Fatalf("%d requests failed, the first: %s", len(bad), bad[0])
	}
	// The served rate past the first half second (connections opened, the queue full).
	from := start.Add(500 * time.Millisecond)
	count := 0
	for _, d := range done {
		if !d.Before(from) && d.Before(end) {
			count++
		}
	}
	rate := float64(count) / end.Sub(from).Seconds()
	t.Logf("planned %d/s for %ds with %d goroutines: %d requests sent, served %.1f/s", 2*n, seconds, goroutines, len(done), rate)
	if rate < 0.97*n || rate > 1.03*n {
		t.Errorf("served %.1f/s, want %d/s within 3%%", rate, n)
	}
	out := stopServe(t, p)
	for _, want := range []string{"capacity: " + strconv.Itoa(n) + " requests/s, evenly spaced; up to 10000 waiting",
		"served " + strconv.Itoa(len(done)) + " requests", "refused 0 requests: queue full"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

// A full queue refuses a request at once with 503 and says why. (At 2/s the 20
// requests arrive within a slot, so that only the first and the 5 waiting are served.)
func TestServeCapacityQueueFull(t *testing.T) {
	p, url := startServe(t, "--capacity", "2", "--queue", "5")
	var (
		mu      sync.Mutex
		ok      int
		refused []string
		wg      sync.WaitGroup
	)
	for range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := http.Get(url + "/")
			if err != nil {
				t.Error(err)
				return
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			mu.Lock()
			defer mu.Unlock()
			switch resp.StatusCode {
			case http.StatusOK:
				ok++
			case http.StatusServiceUnavailable:
				refused = append(refused, strings.TrimSpace(string(body)))
			default:
				t.Errorf("%s %s", resp.Status, body)
			}
		}()
	}
	wg.Wait()
	if ok < 5 || ok > 7 || ok+len(refused) != 20 {
		t.Errorf("%d served and %d refused of 20, want 5 waiting (and one or two served at once) and the rest refused", ok, len(refused))
	}
	for _, r := range refused {
		if r != "zkload serve: queue full: 5 requests wait their turn at 2/s (--queue 5)" {
			t.Errorf("refusal %q", r)
			break
		}
	}
	out := stopServe(t, p)
	if !strings.Contains(out, "refused "+strconv.Itoa(len(refused))+" requests: queue full") {
		t.Errorf("output:\n%s", out)
	}
}
