package zookeeper

import "time"

// ExceptionBehavior is what a failed request does (zk-locust's ZK_LOCUST_EXCEPTION_BEHAVIOR).
type ExceptionBehavior int

const (
	// LogFailure records the request as a failure with the ZooKeeper error as its text.
	LogFailure ExceptionBehavior = iota
	// TrySuppress drops failed requests from the stats, except session expiry, which is
	// always recorded.
	TrySuppress
	// Propagate reports the error as an exception (Locust's Exceptions tab) and records
	// nothing; the user carries on.
	Propagate
)

func (b ExceptionBehavior) String() string {
	switch b {
	case TrySuppress:
		return "try-suppress"
	case Propagate:
		return "propagate"
	}
	return "log-failure"
}

// Settings are the effective settings of the ZooKeeper workloads.
type Settings struct {
	// Servers are the ensemble's client addresses (host:port); Chroot is the connect
	// string's chroot suffix ("" for none), prefixed to every path.
	Servers []string
	Chroot  string
	// PseudoRoot is the znode under which workloads work (default /kl).
	PseudoRoot string
	// MinWait and MaxWait bound the closed-loop think time between tasks.
	MinWait, MaxWait time.Duration
	// KeySize is the length of a key's last path component (c-000042: 8); KeySpace is
	// the number of shared keys (default 128); ValSize is the size of written values.
	KeySize, KeySpace, ValSize int
	// SizedNames appends the value size to task-set names (set_512_B), as zk-locust's
	// sequence did; it is on when the value size was set explicitly.
	SizedNames bool
	Exceptions ExceptionBehavior
	// IgnoreConnectionDown skips (records nothing for) operations while the session is
	// not connected.
	IgnoreConnectionDown bool
	SessionTimeout       time.Duration
	// Digest is "user:password": every session adds it with addauth digest, and created
	// znodes get the creator-only ACL.
	Digest string
	// SASLUser and SASLPassword authenticate every session with SASL DIGEST-MD5.
	SASLUser, SASLPassword string
	// Rate, if > 0, runs an open loop: that many operations per second per worker, spread
	// evenly over time across its users.
	Rate float64
	// Outstanding is the number of requests each session keeps in flight (default 1).
	Outstanding int
	// Bench holds the open-ended --bench-NAME settings.
	Bench Bench
}

// Root is the znode the workloads work under: the chroot, then the pseudo-root.
func (s *Settings) Root() string {
	if s.Chroot == "" {
		return s.PseudoRoot
	}
	return s.Chroot + s.PseudoRoot
}
