package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"sync/atomic"
	"syscall"

	"github.com/zkload/zkload/setting"
)

func runServe(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("serve", "[options]",
		`Serves a tiny HTTP target for trying zkload: every path answers 200 "ok" and the
requests are counted. It prints the address it listens on, and the number of requests
it served when it stops (SIGINT/SIGTERM).`, stdout, stderr)
	fs.add(groupCommon, &setting.Spec{Flag: "listen", Default: "127.0.0.1:0", Arg: "ADDR", Help: "address to listen on"})
	if err := fs.parseFlagsOnly(args); err != nil {
		return err
	}
	listen := fs.text("listen")
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return fs.fail("--listen %q: %v", listen, err)
	}
	var served atomic.Int64
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		served.Add(1)
		_, _ = io.WriteString(w, "ok\n")
	})}
	fmt.Fprintf(stdout, "listening on http://%s\n", ln.Addr())
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		_ = srv.Close()
	}()
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	fmt.Fprintf(stdout, "served %d requests\n", served.Load())
	return nil
}
