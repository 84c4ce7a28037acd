// Package fourlw asks a ZooKeeper server one of its four-letter words (ruok, srvr,
// mntr, ...), the one client of them that zkload's ensemble poller, its local ensemble
// and its version probe share.
package fourlw

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"time"
)

// DefaultTimeout bounds a question whose context has no deadline.
const DefaultTimeout = 10 * time.Second

// maxAnswer bounds what a server (or whatever listens on its port) can make us read.
const maxAnswer = 4 << 20

// Ask sends word to the server at addr (host:port) and returns its whole answer. The
// server closes the connection after answering; ctx (or DefaultTimeout when ctx has no
// deadline) bounds the whole exchange. An empty answer is an error: a server answers
// an unknown or non-whitelisted word by closing the connection.
func Ask(ctx context.Context, addr, word string) (string, error) {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, DefaultTimeout)
		defer cancel()
	}
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return "", fmt.Errorf("%s %s: %w", word, addr, err)
	}
	defer c.Close()
	dl, _ := ctx.Deadline()
	_ = c.SetDeadline(dl)
	// Cancelling ctx unblocks the read at once.
	stop := context.AfterFunc(ctx, func() { _ = c.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	if _, err := io.WriteString(c, word); err != nil {
		return "", fmt.Errorf("%s %s: %w", word, addr, err)
	}
	b, err := io.ReadAll(io.LimitReader(c, maxAnswer))
	if len(b) > 0 {
		return string(b), nil // the answer came; a reset after it does not matter
	}
	if err == nil {
		err = errors.New("empty answer (is the word whitelisted? 4lw.commands.whitelist)")
	}
	return "", fmt.Errorf("%s %s: %w", word, addr, err)
}
