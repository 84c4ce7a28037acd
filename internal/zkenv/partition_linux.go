package zkenv

// A network partition of one member from the others, by packet filtering on loopback
// (nftables). Every member runs under a group id of its own, so the connections a
// member opens to the others' quorum and election ports can be told apart from anyone
// else's: the first packet of each is marked with the member's number (conntrack keeps
// the mark for the connection's life, both ways). Partitioning member i then drops,
// silently as a cut cable does, every packet of a connection to i's quorum or election
// port and of one i opened to another member's. Client and AdminServer traffic is left
// alone: clients still reach the member, which finds itself without a quorum.

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
)

// partitionGIDBase is added to a member's client port to make the group id its
// process runs under: unique while the port is, and far above any real group.
const partitionGIDBase = 1_900_000_000

// PartitionsAvailable reports why members cannot be partitioned here, or nil.
func PartitionsAvailable() error {
	if os.Geteuid() != 0 {
		return errors.New("a partition needs root (packet filtering with nftables, members under their own group ids)")
	}
	if _, err := exec.LookPath("nft"); err != nil {
		return errors.New("a partition needs nft on PATH: install Debian's nftables (scripts/setup.sh --test does)")
	}
	return nil
}

func (e *Ensemble) partitionTable() string {
	return fmt.Sprintf("zkload_%d_%d", os.Getpid(), e.members[0].ClientPort)
}

func (m *Member) partitionGID() uint32 { return uint32(partitionGIDBase + m.ClientPort) }

// credential runs member m under its own group id when partitions are on.
func (e *Ensemble) credential(m *Member, attr *syscall.SysProcAttr) {
	if e.opts.Partitions {
		attr.Credential = &syscall.Credential{Uid: uint32(os.Getuid()), Gid: m.partitionGID(), NoSetGroups: true}
	}
}

// setupPartitions creates the ensemble's nftables table (empty cut sets) before any
// member starts, so that every quorum connection is marked from its first packet.
func (e *Ensemble) setupPartitions(ctx context.Context) error {
	if err := PartitionsAvailable(); err != nil {
		return fmt.Errorf("zkenv: %w", err)
	}
	removeStaleTables(ctx)
	var quorum []string
	for _, m := range e.members {
		quorum = append(quorum, strconv.Itoa(m.PeerPort), strconv.Itoa(m.ElectionPort))
	}
	t := e.partitionTable()
	var b strings.Builder
	fmt.Fprintf(&b, "table inet %s {\n", t)
	b.WriteString("  set cut_marks { type mark; }\n  set cut_ports { type inet_service; }\n")
	fmt.Fprintf(&b, "  set quorum_ports { type inet_service; elements = { %s }; }\n", strings.Join(quorum, ", "))
	b.WriteString("  chain out {\n    type filter hook output priority 0; policy accept;\n")
	for i, m := range e.members {
		fmt.Fprintf(&b, "    ct state new meta skgid %d ct mark set %d\n", m.partitionGID(), i+1)
	}
	b.WriteString("    meta l4proto tcp ct mark @cut_marks ct original proto-dst @quorum_ports drop\n")
	b.WriteString("    meta l4proto tcp ct original proto-dst @cut_ports drop\n")
	b.WriteString("  }\n}\n")
	if err := nft(ctx, "-f", "-", b.String()); err != nil {
		return fmt.Errorf("zkenv: set up partitions: %w", err)
	}
	return nil
}

// removeStaleTables deletes the tables of ensembles whose process is gone (a test
// killed mid-partition would otherwise leave ports cut for whoever reuses them).
func removeStaleTables(ctx context.Context) {
	out, err := exec.CommandContext(ctx, "nft", "list", "tables", "inet").Output()
	if err != nil {
		return
	}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		name := strings.TrimPrefix(strings.TrimSpace(sc.Text()), "table inet ")
		parts := strings.Split(name, "_")
		if len(parts) != 3 || parts[0] != "zkload" {
			continue
		}
		pid, err := strconv.Atoi(parts[1])
		if err != nil || pid == os.Getpid() {
			continue
		}
		if syscall.Kill(pid, 0) == syscall.ESRCH {
			_ = nft(ctx, "delete", "table", "inet", name)
		}
	}
}

// PartitionMember cuts member i (from 0) off from the other members: nothing passes
// between it and them until HealMember. Clients still reach it.
func (e *Ensemble) PartitionMember(ctx context.Context, i int) error {
	return e.cut(ctx, "add", i)
}

// HealMember ends member i's partition.
func (e *Ensemble) HealMember(ctx context.Context, i int) error {
	return e.cut(ctx, "delete", i)
}

func (e *Ensemble) cut(ctx context.Context, verb string, i int) error {
	if !e.opts.Partitions {
		return fmt.Errorf("zkenv: member %d: partitions are off (start the ensemble with partitions on: zkload ensemble --partitions)", i+1)
	}
	m, t := e.members[i], e.partitionTable()
	// A heal of a member that is not cut, or a second cut, is not an error.
	script := fmt.Sprintf("%s element inet %s cut_marks { %d }\n%s element inet %s cut_ports { %d, %d }\n",
		verb, t, i+1, verb, t, m.PeerPort, m.ElectionPort)
	if verb == "delete" {
		script = fmt.Sprintf("add element inet %s cut_marks { %d }\nadd element inet %s cut_ports { %d, %d }\n", t, i+1, t, m.PeerPort, m.ElectionPort) + script
	}
	if err := nft(ctx, "-f", "-", script); err != nil {
		return fmt.Errorf("zkenv: member %d: %s partition: %w", m.ID, map[string]string{"add": "cut", "delete": "heal"}[verb], err)
	}
	return nil
}

// closePartitions deletes the ensemble's table.
func (e *Ensemble) closePartitions() {
	if e.opts.Partitions && len(e.members) > 0 {
		_ = nft(context.Background(), "delete", "table", "inet", e.partitionTable())
	}
}

// nft runs nft with args; a last argument after "-f", "-" is its standard input.
func nft(ctx context.Context, args ...string) error {
	var stdin string
	if len(args) == 3 && args[0] == "-f" && args[1] == "-" {
		stdin, args = args[2], args[:2]
	}
	cmd := exec.CommandContext(ctx, "nft", args...)
	cmd.Stdin = strings.NewReader(stdin)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("nft %s: %w: %s", strings.Join(args, " "), err, firstLine(string(out)))
	}
	return nil
}

func firstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	return s
}
