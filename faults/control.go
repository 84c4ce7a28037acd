package faults

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// The control protocol of a local ensemble (zkload ensemble): GET / returns the
// members' client addresses as a JSON list; POST /members/IDX/ACTION, with ACTION one
// of disable, enable, pause, resume, partition or heal, acts on one and answers 200
// once done, or an error status with a one-line text; GET /supports/ACTION answers
// 200, or 501 with why the ensemble cannot take it.

// ControlHandler serves the control protocol for m.
func ControlHandler(m Members) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(m.Addrs())
	})
	mux.HandleFunc("GET /supports/{action}", func(w http.ResponseWriter, r *http.Request) {
		if s, ok := m.(Supporter); ok {
			if err := s.Supports(r.Context(), r.PathValue("action")); err != nil {
				http.Error(w, oneLine(err.Error()), http.StatusNotImplemented)
			}
		}
	})
	mux.HandleFunc("POST /members/{idx}/{action}", func(w http.ResponseWriter, r *http.Request) {
		i, err := strconv.Atoi(r.PathValue("idx"))
		if err != nil || i < 0 || i >= len(m.Addrs()) {
			http.Error(w, fmt.Sprintf("member %q: want 0 to %d", r.PathValue("idx"), len(m.Addrs())-1), http.StatusNotFound)
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Minute)
		defer cancel()
		switch r.PathValue("action") {
		case "disable":
			err = m.Disable(ctx, i)
		case "enable":
			err = m.Enable(ctx, i)
		case "pause":
			err = m.Pause(ctx, i)
		case "resume":
			err = m.Resume(ctx, i)
		case "partition":
			err = m.Partition(ctx, i)
		case "heal":
			err = m.Heal(ctx, i)
		default:
			http.Error(w, fmt.Sprintf("action %q: want disable, enable, pause, resume, partition or heal", r.PathValue("action")), http.StatusNotFound)
			return
		}
		if err != nil {
			http.Error(w, oneLine(err.Error()), http.StatusInternalServerError)
		}
	})
	return mux
}

// Control is the Members of a local ensemble reached through its control URL
// (zkload ensemble prints it).
type Control struct {
	URL    string
	addrs  []string
	client *http.Client
}

// Dial asks the control URL for the members.
func Dial(ctx context.Context, url string) (*Control, error) {
	c := &Control{URL: strings.TrimRight(url, "/"), client: &http.Client{}}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.URL+"/", nil)
	if err != nil {
		return nil, fmt.Errorf("ensemble control %q: %w", url, err)
	}
	resp, err := c.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("ensemble control %q: %w", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("ensemble control %q: %s", url, resp.Status)
	}
	if err := json.NewDecoder(resp.Body).Decode(&c.addrs); err != nil || len(c.addrs) == 0 {
		return nil, fmt.Errorf("ensemble control %q: not a zkload ensemble's control URL (want a list of members)", url)
	}
	return c, nil
}

// Addrs returns the members' client addresses.
func (c *Control) Addrs() []string { return c.addrs }

// Disable kills member i (kill -9).
func (c *Control) Disable(ctx context.Context, i int) error { return c.post(ctx, i, "disable") }

// Enable starts member i again on its data, and returns once it serves.
func (c *Control) Enable(ctx context.Context, i int) error { return c.post(ctx, i, "enable") }

// Pause freezes member i (SIGSTOP).
func (c *Control) Pause(ctx context.Context, i int) error { return c.post(ctx, i, "pause") }

// Resume thaws member i (SIGCONT).
func (c *Control) Resume(ctx context.Context, i int) error { return c.post(ctx, i, "resume") }

// Supports asks the ensemble whether it can take action; an ensemble whose control
// predates the question can take what it could then.
func (c *Control) Supports(ctx context.Context, action string) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.URL+"/supports/"+action, nil)
	if err != nil {
		return err
	}
	resp, err := c.client.Do(req)
	if err != nil {
		return fmt.Errorf("ensemble control: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusNotImplemented {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
		return fmt.Errorf("the local ensemble cannot %s: %s", action, strings.TrimSpace(string(b)))
	}
	return nil
}

// Partition cuts member i off from the others.
func (c *Control) Partition(ctx context.Context, i int) error { return c.post(ctx, i, "partition") }

// Heal ends member i's partition.
func (c *Control) Heal(ctx context.Context, i int) error { return c.post(ctx, i, "heal") }

func (c *Control) post(ctx context.Context, i int, action string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, fmt.Sprintf("%s/members/%d/%s", c.URL, i, action), nil)
	if err != nil {
		return err
	}
	resp, err := c.client.Do(req)
	if err != nil {
		return fmt.Errorf("ensemble control: %s %d: %w", action, i, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return fmt.Errorf("ensemble control: %s %d: %s", action, i, oneLine(string(b)))
	}
	return nil
}

func oneLine(s string) string {
	s, _, _ = strings.Cut(strings.TrimSpace(s), "\n")
	return s
}
