package zookeeper

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-zookeeper/zk"
)

// Cleanup deletes the pseudo-root (under the chroot, if any) and everything below it:
// the shared keys, leftover sequential and ephemeral nodes. Nothing outside it is
// touched; "/" and /zookeeper are refused. Progress lines go to progress (nil: none)
// about once a second, and a summary at the end. It returns the number deleted.
func Cleanup(ctx context.Context, s *Settings, progress io.Writer, log *slog.Logger) (int, error) {
	root := s.Root()
	if root == "/" || root == "" || root == "/zookeeper" || strings.HasPrefix(root, "/zookeeper/") {
		return 0, fmt.Errorf("refusing to clean up %q: want the workloads' pseudo-root, such as /kl", root)
	}
	if progress == nil {
		progress = io.Discard
	}
	conn, err := Dial(ctx, s, log, nil)
	if err != nil {
		return 0, err
	}
	defer conn.Close()
	var deleted atomic.Int64
	total := 0
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				fmt.Fprintf(progress, "cleanup: deleted %d of %d znodes under %s\n", deleted.Load(), total, root)
			}
		}
	}()
	defer func() { close(stop); wg.Wait() }()
	// New children may appear while a workload still runs: list and delete again.
	for round := 0; round < 5; round++ {
		paths, err := listTree(ctx, conn, root)
		if err != nil {
			return int(deleted.Load()), err
		}
		if len(paths) == 0 {
			break
		}
		total = int(deleted.Load()) + len(paths)
		if err := deleteDeepestFirst(ctx, conn, paths, &deleted); err != nil {
			if errors.Is(err, zk.ErrNotEmpty) {
				continue
			}
			return int(deleted.Load()), err
		}
		if ok, _, err := conn.Exists(root); err == nil && !ok {
			break
		}
	}
	n := int(deleted.Load())
	fmt.Fprintf(progress, "cleanup: deleted %d znodes under %s on %s\n", n, root, strings.Join(s.Servers, ","))
	return n, nil
}

// listTree lists root and all its descendants, breadth first.
func listTree(ctx context.Context, conn *zk.Conn, root string) ([]string, error) {
	if ok, _, err := conn.Exists(root); err != nil {
		return nil, fmt.Errorf("exists %s: %w", root, err)
	} else if !ok {
		return nil, nil
	}
	out := []string{root}
	for i := 0; i < len(out); i++ {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		children, _, err := conn.Children(out[i])
		if errors.Is(err, zk.ErrNoNode) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("children of %s: %w", out[i], err)
		}
		for _, c := range children {
			out = append(out, out[i]+"/"+c)
		}
	}
	return out, nil
}

// deleteDeepestFirst deletes paths, children before parents, with many requests in
// flight per depth.
func deleteDeepestFirst(ctx context.Context, conn *zk.Conn, paths []string, deleted *atomic.Int64) error {
	byDepth := map[int][]string{}
	var depths []int
	for _, p := range paths {
		d := strings.Count(p, "/")
		if _, ok := byDepth[d]; !ok {
			depths = append(depths, d)
		}
		byDepth[d] = append(byDepth[d], p)
	}
	sort.Sort(sort.Reverse(sort.IntSlice(depths)))
	for _, d := range depths {
		level := byDepth[d]
		sem := make(chan struct{}, 64)
		var mu sync.Mutex
		var firstErr error
		var wg sync.WaitGroup
		for _, p := range level {
			if err := ctx.Err(); err != nil {
				return err
			}
			sem <- struct{}{}
			wg.Add(1)
			go func(p string) {
				defer wg.Done()
				defer func() { <-sem }()
				err := conn.Delete(p, -1)
				switch {
				case err == nil:
					deleted.Add(1)
				case errors.Is(err, zk.ErrNoNode):
				default:
					mu.Lock()
					if firstErr == nil {
						firstErr = fmt.Errorf("delete %s: %w", p, err)
					}
					mu.Unlock()
				}
			}(p)
		}
		wg.Wait()
		if firstErr != nil {
			return firstErr
		}
	}
	return nil
}
