// Package faults disrupts a ZooKeeper ensemble during a run and records what it did: the
// program language of zk-locust's zk_dispatch (ZK_DISPATCH_PROGRAM), its random
// dispatcher (ZK_DISPATCH_CONFIG), and a timeline of every action with the failover it
// caused. How a member is disabled is an Ensemble's business (a local ensemble's
// processes, or the operator's scripts); faults decides when and which.
package faults

import (
	"bufio"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Op is a program instruction.
type Op string

// The instructions: zk-locust's, then zkload's additions (pause, resume, restart,
// partition, heal).
const (
	OpPollInitialHatch  Op = "poll_initial_hatch_complete" // MS: wait for the first spawn to complete, polling every MS
	OpSleep             Op = "sleep"                       // MS
	OpDisable           Op = "disable"                     // IDX
	OpEnable            Op = "enable"                      // IDX
	OpPollUp            Op = "poll_up"                     // IDX MS: wait until member IDX serves, polling every MS
	OpDisableLeader     Op = "disable_leader"
	OpDisableFollower   Op = "disable_follower" // the least recently disabled follower
	OpEnableAll         Op = "enable_all"       // every disabled or paused member
	OpPause             Op = "pause"            // IDX: freeze the member, as a long GC pause does
	OpPauseLeader       Op = "pause_leader"
	OpPauseFollower     Op = "pause_follower"
	OpResume            Op = "resume" // IDX
	OpRestart           Op = "restart"
	OpRestartLeader     Op = "restart_leader"
	OpPartition         Op = "partition" // IDX: cut the member off from the others (clients still reach it)
	OpPartitionLeader   Op = "partition_leader"
	OpPartitionFollower Op = "partition_follower"
	OpHeal              Op = "heal" // IDX: end its partition
)

// Disables reports whether op takes a member out of service.
func (op Op) Disables() bool {
	switch op {
	case OpDisable, OpDisableLeader, OpDisableFollower, OpPause, OpPauseLeader, OpPauseFollower, OpRestart, OpRestartLeader,
		OpPartition, OpPartitionLeader, OpPartitionFollower:
		return true
	}
	return false
}

// Instruction is one line of a program.
type Instruction struct {
	Line   int    // 1-based line in the program's text
	Text   string // the line as written, comment removed
	Op     Op
	Member int           // IDX (from 0) for the instructions that take one; -1 otherwise
	Every  time.Duration // MS of sleep, poll_up and poll_initial_hatch_complete
	// Force lets a disabling instruction take the ensemble below quorum; without it the
	// action is skipped (and the timeline says why) when it would.
	Force bool
}

// Program is a parsed fault program: its instructions, run in order, over and over
// (as zk-locust's) unless Once.
type Program struct {
	Steps []Instruction
	Once  bool
}

// syntax is each instruction's arguments: "I" a member index, "M" milliseconds.
var syntax = map[Op]string{
	OpPollInitialHatch: "M", OpSleep: "M", OpDisable: "I", OpEnable: "I", OpPollUp: "IM",
	OpDisableLeader: "", OpDisableFollower: "", OpEnableAll: "",
	OpPause: "I", OpPauseLeader: "", OpPauseFollower: "", OpResume: "I", OpRestart: "I", OpRestartLeader: "",
	OpPartition: "I", OpPartitionLeader: "", OpPartitionFollower: "", OpHeal: "I",
}

// usage is each instruction as help and errors show it.
func usage(op Op) string {
	s := string(op)
	for _, a := range syntax[op] {
		s += map[rune]string{'I': " IDX", 'M': " MS"}[a]
	}
	if op.Disables() {
		s += " [force]"
	}
	return s
}

// ParseProgram reads a program: one instruction a line, "#" starting a comment, blank
// lines ignored, and the directive "once" (alone on a line) to run it once instead of
// looping. members is the ensemble's size when known (0: not checked here), so that a
// member index past it is refused before the run starts. An error names the line
// and the instruction and says what is expected.
func ParseProgram(text string, members int) (*Program, error) {
	p := &Program{}
	sc := bufio.NewScanner(strings.NewReader(text))
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if i := strings.IndexByte(line, '#'); i >= 0 {
			line = line[:i]
		}
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		if line == "once" {
			p.Once = true
			continue
		}
		in, err := parseInstruction(line, members)
		if err != nil {
			return nil, fmt.Errorf("fault program line %d %q: %w", n, line, err)
		}
		in.Line = n
		p.Steps = append(p.Steps, in)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("fault program: %w", err)
	}
	if len(p.Steps) == 0 {
		return nil, fmt.Errorf("fault program: no instruction (want lines such as \"sleep 10000\" and \"disable_leader\")")
	}
	if !p.Once && !p.waits() {
		return nil, fmt.Errorf("fault program: it loops without sleep or poll: add a sleep, or the directive \"once\"")
	}
	return p, nil
}

// waits reports whether a pass through the program waits anywhere, so that a loop of
// it cannot spin.
func (p *Program) waits() bool {
	for _, in := range p.Steps {
		switch in.Op {
		case OpSleep, OpPollUp, OpPollInitialHatch:
			if in.Every > 0 {
				return true
			}
		}
	}
	return false
}

func parseInstruction(line string, members int) (Instruction, error) {
	f := strings.Fields(line)
	op := Op(f[0])
	args, known := syntax[op]
	if !known {
		return Instruction{}, fmt.Errorf("unknown instruction %q; want one of %s", f[0], instructionList())
	}
	in := Instruction{Text: line, Op: op, Member: -1}
	rest := f[1:]
	if op.Disables() && len(rest) > 0 && rest[len(rest)-1] == "force" {
		in.Force = true
		rest = rest[:len(rest)-1]
	}
	if len(rest) != len(args) {
		return Instruction{}, fmt.Errorf("want %q", usage(op))
	}
	for i, a := range args {
		v, err := strconv.Atoi(rest[i])
		switch a {
		case 'I':
			if err != nil || v < 0 {
				return Instruction{}, fmt.Errorf("IDX %q: want a member index from 0 (%s)", rest[i], usage(op))
			}
			if members > 0 && v >= members {
				return Instruction{}, fmt.Errorf("IDX %d: the ensemble has %d members, 0 to %d", v, members, members-1)
			}
			in.Member = v
		case 'M':
			if err != nil || v < 0 {
				return Instruction{}, fmt.Errorf("MS %q: want milliseconds, 0 or more (%s)", rest[i], usage(op))
			}
			in.Every = time.Duration(v) * time.Millisecond
		}
	}
	return in, nil
}

// instructionList names every instruction with its arguments, for errors and help.
func instructionList() string {
	ops := []Op{OpPollInitialHatch, OpSleep, OpDisable, OpEnable, OpPollUp, OpDisableLeader, OpDisableFollower,
		OpEnableAll, OpPause, OpPauseLeader, OpPauseFollower, OpResume, OpRestart, OpRestartLeader, OpPartition, OpPartitionLeader, OpPartitionFollower, OpHeal}
	var s []string
	for _, op := range ops {
		s = append(s, usage(op))
	}
	return strings.Join(s, ", ")
}
