package testenv

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"regexp"
	"time"

	zmq "github.com/pebbe/zmq4"

	"github.com/zkload/zkload/boomer/wire"
)

// ProbeIDPrefix starts the node id of CheckAlive's probe.
const ProbeIDPrefix = "zkload-probe_"

// CheckAlive proves that the master's receive loop still works (reference §7: an
// uncaught exception kills it for good and the master goes "deaf"). A probe DEALER
// sends client_ready with an empty version, which every 2.x master answers only with the
// log line ERROR "An old (pre 2.0) worker tried to connect (<probe id>)" — it neither
// acks nor registers the probe, so the test's workers and dispatch are not disturbed.
// Tests that assert "no ERROR in the master log" must allow that line.
func (m *Master) CheckAlive(timeout time.Duration) {
	m.t.Helper()
	if err := m.checkAlive(timeout); err != nil {
		m.t.Fatalf("testenv: %v\nlast lines of %s:\n%s", err, m.LogPath, lastLines(m.Log(), 40))
	}
}

func (m *Master) checkAlive(timeout time.Duration) error {
	var id [16]byte
	if _, err := rand.Read(id[:]); err != nil {
		return err
	}
	nodeID := ProbeIDPrefix + hex.EncodeToString(id[:])
	frame, err := wire.Encode(wire.Message{Type: wire.TypeClientReady, Data: "", NodeID: nodeID})
	if err != nil {
		return err
	}
	sock, err := zmq.NewSocket(zmq.DEALER)
	if err != nil {
		return err
	}
	defer sock.Close()
	if err := sock.SetLinger(0); err != nil {
		return err
	}
	if err := sock.SetIdentity(nodeID); err != nil {
		return err
	}
	if err := sock.Connect(m.Endpoint()); err != nil {
		return err
	}
	if _, err := sock.SendBytes(frame, 0); err != nil {
		return err
	}
	rx := regexp.MustCompile(`An old \(pre 2\.0\) worker tried to connect \(` + regexp.QuoteMeta(nodeID) + `\)`)
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if len(m.matches(rx, 0, true)) > 0 {
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	return fmt.Errorf("the master is deaf: its receive loop did not process a probe's client_ready within %v (%s)", timeout, m.Status())
}
