package faults

import (
	"context"
	"strings"
	"testing"
	"time"
)

// TestParseProgram reads zk-locust's default Set dispatcher program, comments and blank
// lines included, and zkload's additions.
func TestParseProgram(t *testing.T) {
	p, err := ParseProgram(`
# zk-locust's locust_set_with_dispatcher loop
poll_initial_hatch_complete 250
sleep 10000   # settle
disable_leader
sleep 1000
enable_all
poll_up 2 100
pause 1 force
restart_leader
`, 3)
	if err != nil {
		t.Fatal(err)
	}
	if p.Once {
		t.Error("Once without the directive")
	}
	var got []string
	for _, in := range p.Steps {
		got = append(got, string(in.Op))
	}
	if strings.Join(got, " ") != "poll_initial_hatch_complete sleep disable_leader sleep enable_all poll_up pause restart_leader" {
		t.Errorf("ops %v", got)
	}
	s := p.Steps
	if s[0].Every != 250*time.Millisecond || s[1].Every != 10*time.Second || s[1].Line != 4 || s[1].Text != "sleep 10000" {
		t.Errorf("poll/sleep: %+v %+v", s[0], s[1])
	}
	if s[5].Member != 2 || s[5].Every != 100*time.Millisecond || s[2].Member != -1 {
		t.Errorf("poll_up: %+v, disable_leader: %+v", s[5], s[2])
	}
	if !s[6].Force || s[6].Member != 1 || s[2].Force {
		t.Errorf("force: pause %+v, disable_leader %+v", s[6], s[2])
	}
	once, err := ParseProgram("once\ndisable 0\n", 0)
	if err != nil || !once.Once || len(once.Steps) != 1 {
		t.Errorf("once: %+v, %v", once, err)
	}
}

// TestParseProgramErrors: every bad program is refused with the line, the instruction
// and what is expected.
func TestParseProgramErrors(t *testing.T) {
	for _, c := range []struct{ text, want string }{
		{"sleep 10\ndisable_leeder\n", `fault program line 2 "disable_leeder": unknown instruction "disable_leeder"; want one of poll_initial_hatch_complete MS, sleep MS, disable IDX [force]`},
		{"sleep\n", `fault program line 1 "sleep": want "sleep MS"`},
		{"sleep 1s\n", `fault program line 1 "sleep 1s": MS "1s": want milliseconds, 0 or more (sleep MS)`},
		{"sleep 10\ndisable -1\n", `fault program line 2 "disable -1": IDX "-1": want a member index from 0 (disable IDX [force])`},
		{"sleep 10\n\n# x\nenable 3\n", `fault program line 4 "enable 3": IDX 3: the ensemble has 3 members, 0 to 2`},
		{"enable_all force\n", `fault program line 1 "enable_all force": want "enable_all"`},
		{"poll_up 1\n", `fault program line 1 "poll_up 1": want "poll_up IDX MS"`},
		{"# nothing\n\n", `fault program: no instruction`},
		{"disable_leader\nenable_all\n", `fault program: it loops without sleep or poll: add a sleep, or the directive "once"`},
	} {
		_, err := ParseProgram(c.text, 3)
		if err == nil || !strings.HasPrefix(err.Error(), c.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("ParseProgram(%q) = %v\nwant one line starting %s", c.text, err, c.want)
		}
	}
}

// TestProgramCheck: a script-driven ensemble refuses a program whose actions it has no
// script for, naming the line, and takes one it has all the scripts of.
func TestProgramCheck(t *testing.T) {
	p, err := ParseProgram("once\nsleep 10\ndisable_leader\nenable_all\npartition_follower\n", 3)
	if err != nil {
		t.Fatal(err)
	}
	s := &Scripts{Members: []string{"a:1", "b:1", "c:1"}, DisableScript: "true", EnableScript: "true"}
	if err := p.Check(context.Background(), s); err == nil || err.Error() != `fault program line 5 "partition_follower": partition needs ZK_DISPATCH_PARTITION_SCRIPT (--dispatch-partition-script)` {
		t.Errorf("Check without a partition script: %v", err)
	}
	s.PartitionScript, s.HealScript = "true", "true"
	if err := p.Check(context.Background(), s); err != nil {
		t.Errorf("Check with every script: %v", err)
	}
	r, _ := ParseProgram("once\nrestart 1\n", 3)
	if err := r.Check(context.Background(), &Scripts{DisableScript: "true"}); err == nil || !strings.Contains(err.Error(), "ZK_DISPATCH_ENABLE_SCRIPT") {
		t.Errorf("restart without an enable script: %v; want the enable script named", err)
	}
}
