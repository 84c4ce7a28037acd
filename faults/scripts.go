package faults

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"
)

// Scripts are the Members of any ensemble, disabled and enabled by the operator's shell
// commands, as zk-locust's ZK_DISPATCH_DISABLE_SCRIPT and ZK_DISPATCH_ENABLE_SCRIPT:
// each runs with sh -c, with ZK_MEMBER_HOST_AND_PORT, ZK_MEMBER_HOST, ZK_MEMBER_PORT and
// ZK_MEMBER_STATE (the member's role before the action: leader, follower, standalone
// or, as zk-locust said, unknown) in its environment. A pause
// needs PauseScript and ResumeScript the same way, a partition PartitionScript and
// HealScript.
type Scripts struct {
	Members                     []string // client addresses, host:port, in connect-string order
	DisableScript, EnableScript string
	PauseScript, ResumeScript   string
	PartitionScript, HealScript string
}

// Addrs returns the members.
func (s *Scripts) Addrs() []string { return s.Members }

// Disable runs the disable script for member i.
func (s *Scripts) Disable(ctx context.Context, i int) error {
	return s.run(ctx, "ZK_DISPATCH_DISABLE_SCRIPT", s.DisableScript, i)
}

// Enable runs the enable script for member i.
func (s *Scripts) Enable(ctx context.Context, i int) error {
	return s.run(ctx, "ZK_DISPATCH_ENABLE_SCRIPT", s.EnableScript, i)
}

// Pause runs the pause script for member i.
func (s *Scripts) Pause(ctx context.Context, i int) error {
	return s.run(ctx, "ZK_DISPATCH_PAUSE_SCRIPT", s.PauseScript, i)
}

// Resume runs the resume script for member i.
func (s *Scripts) Resume(ctx context.Context, i int) error {
	return s.run(ctx, "ZK_DISPATCH_RESUME_SCRIPT", s.ResumeScript, i)
}

// Supports says which script an action lacks.
func (s *Scripts) Supports(_ context.Context, action string) error {
	script := map[string][2]string{
		"disable": {"ZK_DISPATCH_DISABLE_SCRIPT", s.DisableScript}, "enable": {"ZK_DISPATCH_ENABLE_SCRIPT", s.EnableScript},
		"pause": {"ZK_DISPATCH_PAUSE_SCRIPT", s.PauseScript}, "resume": {"ZK_DISPATCH_RESUME_SCRIPT", s.ResumeScript},
		"partition": {"ZK_DISPATCH_PARTITION_SCRIPT", s.PartitionScript}, "heal": {"ZK_DISPATCH_HEAL_SCRIPT", s.HealScript},
	}[action]
	if script[1] == "" {
		return fmt.Errorf("%s needs %s (--dispatch-%s-script)", action, script[0], action)
	}
	return nil
}

// Partition runs the partition script for member i.
func (s *Scripts) Partition(ctx context.Context, i int) error {
	return s.run(ctx, "ZK_DISPATCH_PARTITION_SCRIPT", s.PartitionScript, i)
}

// Heal runs the heal script for member i.
func (s *Scripts) Heal(ctx context.Context, i int) error {
	return s.run(ctx, "ZK_DISPATCH_HEAL_SCRIPT", s.HealScript, i)
}

func (s *Scripts) run(ctx context.Context, what, script string, i int) error {
	if script == "" {
		return fmt.Errorf("%s is not set: %w", what, ErrUnsupported)
	}
	addr := s.Members[i]
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("member %q: %w", addr, err)
	}
	state := PollRole(ctx, addr)
	if state == Down {
		state = "unknown" // zk-locust's word, which existing scripts may test
	}
	cmd := exec.CommandContext(ctx, "sh", "-c", script)
	cmd.Env = append(os.Environ(), "ZK_MEMBER_HOST_AND_PORT="+addr, "ZK_MEMBER_HOST="+host, "ZK_MEMBER_PORT="+port,
		"ZK_MEMBER_STATE="+string(state))
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s for %s: %w: %s", what, addr, err, lastLine(string(out)))
	}
	return nil
}

// lastLine is the last non-empty line of a script's output, for an error.
func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	l := strings.TrimSpace(lines[len(lines)-1])
	if len(l) > 200 {
		l = l[:200] + "..."
	}
	return l
}
