// Command zkbare is the bare go-zookeeper baseline of `make bench`: S sessions, each with
// one request in flight (or -inflight N), reading an 8-byte znode in a loop for -t, then
// printing "requests N seconds S ops/s R".
package main

import (
	"flag"
	"fmt"
	"log"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-zookeeper/zk"
)

func main() {
	hosts := flag.String("hosts", "127.0.0.1:2181", "ZooKeeper connect string")
	sessions := flag.Int("sessions", 64, "sessions")
	inflight := flag.Int("inflight", 1, "requests in flight per session")
	d := flag.Duration("t", 10*time.Second, "duration")
	flag.Parse()

	acl := zk.WorldACL(zk.PermAll)
	var conns []*zk.Conn
	for i := 0; i < *sessions; i++ {
		c, ev, err := zk.Connect(strings.Split(*hosts, ","), 10*time.Second, zk.WithLogInfo(false))
		if err != nil {
			log.Fatal(err)
		}
		for e := range ev {
			if e.State == zk.StateHasSession {
				break
			}
		}
		defer c.Close()
		conns = append(conns, c)
	}
	if _, err := conns[0].Create("/kl", nil, 0, acl); err != nil && err != zk.ErrNodeExists {
		log.Fatal(err)
	}
	for i := 0; i < 128; i++ {
		if _, err := conns[0].Create(fmt.Sprintf("/kl/c-%06d", i), []byte("12345678"), 0, acl); err != nil && err != zk.ErrNodeExists {
			log.Fatal(err)
		}
	}
	var n, fails atomic.Int64
	var stop atomic.Bool
	var wg sync.WaitGroup
	start := time.Now()
	for i, c := range conns {
		p := fmt.Sprintf("/kl/c-%06d", i%128)
		for j := 0; j < *inflight; j++ {
			wg.Add(1)
			go func(c *zk.Conn) {
				defer wg.Done()
				for !stop.Load() {
					if _, _, err := c.Get(p); err != nil {
						fails.Add(1)
						continue
					}
					n.Add(1)
				}
			}(c)
		}
	}
	time.Sleep(*d)
	stop.Store(true)
	wg.Wait()
	s := time.Since(start).Seconds()
	fmt.Printf("requests %d failures %d seconds %.3f ops/s %.1f\n", n.Load(), fails.Load(), s, float64(n.Load())/s)
}
