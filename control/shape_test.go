package control_test

import (
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/zkload/zkload/control"
)

// A bad program is refused before the load starts, with its line.
func TestProgramErrors(t *testing.T) {
	for _, tc := range []struct{ program, want string }{
		{"sleep 1000\n\n# comment\nfrobnicate 3", `control program line 4 "frobnicate 3": unknown instruction "frobnicate"; want one of: sleep MS,`},
		{"sleep 1000\nchange_num_clients ten", `control program line 2 "change_num_clients ten": "ten": want a number of users, 0 or more (change_num_clients N [RATE])`},
		{"sleep 1000\nchange_num_clients 10 fast", `control program line 2 "change_num_clients 10 fast": "fast": want a rate per second, 0 or more (change_num_clients N [RATE])`},
		{"multiply_num_clients <>0\nsleep 1", `control program line 1 "multiply_num_clients <>0": "0": want a factor above 0 (multiply_num_clients [<>]F)`},
		{"sleep soon", `control program line 1 "sleep soon": "soon": want milliseconds or a duration such as 5s (sleep MS)`},
		{"sleep", `control program line 1 "sleep": missing argument: want "sleep MS"`},
		{"sleep 1 2", `control program line 1 "sleep 1 2": unexpected "2": want "sleep MS"`},
		{"add_num_clients 5\nsleep 10\nset_rate 100", `control program line 3 "set_rate 100": a program steers users or rates, not both (line 1 steers users)`},
		{"sleep 10\nadd_rate", `control program line 2 "add_rate": no value to repeat: give one (add_rate [<>]X) before or here`},
		{"ramp_rate 100 0", `control program line 1 "ramp_rate 100 0": a ramp takes time: want a DURATION above 0 (ramp_rate R DURATION)`},
		{"add_num_clients 5", `control program: it loops without sleep, poll or ramp: add a "sleep MS", or the directive "once"`},
		{"# nothing\n", `control program: no instruction`},
	} {
		_, err := control.ParseProgram(tc.program)
		if err == nil || !strings.HasPrefix(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%q: error %v\nwant one line starting %q", tc.program, err, tc.want)
		}
	}
	// Bounds are checked against the initial count, still before anything runs.
	p, err := control.ParseProgram("sleep 1000\nset_max_num_clients 50\nset_min_num_clients 60")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := control.NewShape(p, 10); err == nil || err.Error() != `control program line 3 "set_min_num_clients 60": minimum 60 above maximum 50` {
		t.Errorf("bounds: %v", err)
	}
	p, _ = control.ParseProgram("sleep 1000\nset_min_num_clients 50")
	if _, err := control.NewShape(p, 10); err == nil || !strings.Contains(err.Error(), "line 2") {
		t.Errorf("a minimum above the default maximum (4 times 10) is refused: %v", err)
	}
	for _, tc := range []struct{ stages, want string }{
		{"30s:100,1m", `stages "30s:100,1m": stage 2 "1m": want DURATION:TARGET such as 30s:100`},
		{"30s:many", `stages "30s:many": stage 1 "30s:many": "many": want a rate per second, 0 or more`},
		{"x:1", `stages "x:1": stage 1 "x:1": want DURATION:TARGET`},
	} {
		if _, err := control.ParseStages(tc.stages, control.Rate); err == nil || !strings.HasPrefix(err.Error(), tc.want) {
			t.Errorf("%q: error %v, want %q", tc.stages, err, tc.want)
		}
	}
}

// point is a shape's value from a time on.
type point struct {
	at    time.Duration
	value float64
}

// curve runs a shape for d in windows of one second (the users reported as decided,
// so that the spawn completes at once) plus a Tick at every Wake, and returns each
// change of value: the program's curve.
func curve(t *testing.T, s *control.Shape, d time.Duration) ([]point, control.Decision) {
	t.Helper()
	value := func(dec control.Decision) float64 {
		if dec.Unit == control.Users {
			return float64(dec.Users)
		}
		return dec.Rate
	}
	dec := s.Start(t0)
	pts := []point{{0, value(dec)}}
	note := func(dec control.Decision) {
		if v := value(dec); math.Abs(v-pts[len(pts)-1].value) > 1e-9 {
			pts = append(pts, point{dec.At.Sub(t0), v})
		}
	}
	for end := time.Second; end <= d && !dec.Done; end += time.Second {
		for !dec.Wake.IsZero() && dec.Wake.Before(t0.Add(end)) && !dec.Done {
			dec = s.Tick(dec.Wake)
			note(dec)
		}
		if dec.Done {
			break
		}
		dec = s.Observe(control.Window{End: t0.Add(end), Width: time.Second, Users: int(value(dec))})
		note(dec)
	}
	return pts, dec
}

func shape(t *testing.T, program string, unit control.Unit, initial float64) *control.Shape {
	t.Helper()
	var p *control.Program
	var err error
	if strings.Contains(program, ":") {
		p, err = control.ParseStages(program, unit)
	} else {
		p, err = control.ParseProgram(program)
	}
	if err != nil {
		t.Fatal(err)
	}
	s, err := control.NewShape(p, initial)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func sameCurve(t *testing.T, got, want []point) {
	t.Helper()
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("curve\n got %v\nwant %v", got, want)
	}
}

// zk-locust's locust_set_with_controller default, as a program: wait for the first
// spawn, then every 5 s double the users, bouncing between the initial count and 4
// times it.
func TestShapeBouncesUsers(t *testing.T) {
	s := shape(t, "poll_initial_hatch_complete 250\nsleep 5000\nmultiply_num_clients <>2\n", control.Users, 10)
	got, _ := curve(t, s, 40*time.Second)
	// The first window (ending at 1 s) says the 10 users run; the poll sees it then.
	sameCurve(t, got, []point{{0, 10}, {6 * time.Second, 20}, {11 * time.Second, 40}, {16 * time.Second, 20},
		{21 * time.Second, 10}, {26 * time.Second, 20}, {31 * time.Second, 40}, {36 * time.Second, 20}})
}

// zk-locust's bugs are fixed: change_num_clients keeps its rate (also down), a factor
// of 1.1 grows 5 users, add repeats its last value, "<>" first run between the bounds
// goes its own way.
func TestShapeFixesZkLocustBugs(t *testing.T) {
	p, err := control.ParseProgram("once\nchange_num_clients 20 5\nsleep 1s\nchange_num_clients 8 2\nsleep 1s\nchange_num_clients 12\n")
	if err != nil {
		t.Fatal(err)
	}
	s, _ := control.NewShape(p, 8)
	if d := s.Start(t0); d.Users != 20 || d.SpawnRate != 5 {
		t.Errorf("change_num_clients 20 5: %+v, want 20 users at 5/s", d)
	}
	if d := s.Tick(t0.Add(time.Second)); d.Users != 8 || d.SpawnRate != 2 {
		t.Errorf("change_num_clients 8 2 (down): %+v, want 8 users at 2/s (zk-locust: rate 0)", d)
	}
	if d := s.Tick(t0.Add(2 * time.Second)); d.Users != 12 || d.SpawnRate != 0 || !d.Done {
		t.Errorf("change_num_clients 12: %+v, want 12 users at once, and the program done", d)
	}

	got, _ := curve(t, shape(t, "set_max_num_clients 100\nsleep 1s\nmultiply_num_clients 1.1", control.Users, 5), 5*time.Second)
	sameCurve(t, got, []point{{0, 5}, {time.Second, 6}, {2 * time.Second, 7}, {3 * time.Second, 8}, {4 * time.Second, 9}, {5 * time.Second, 10}})

	got, _ = curve(t, shape(t, "once\nadd_num_clients 3\nsleep 1s\nadd_num_clients\nsleep 1s\nadd_num_clients -2\nsleep 1s\nadd_num_clients\nsleep 1s", control.Users, 10), 10*time.Second)
	sameCurve(t, got, []point{{0, 13}, {time.Second, 16}, {2 * time.Second, 14}, {3 * time.Second, 12}})

	got, _ = curve(t, shape(t, "set_min_num_clients 0\nset_max_num_clients 100\nsleep 1s\nadd_num_clients <>30", control.Users, 50), 8*time.Second)
	sameCurve(t, got, []point{{0, 50}, {time.Second, 80}, {2 * time.Second, 100}, {3 * time.Second, 70}, {4 * time.Second, 40},
		{5 * time.Second, 10}, {6 * time.Second, 0}, {7 * time.Second, 30}, {8 * time.Second, 60}})
}

// Rates: a step, a ramp, a factor; the ramp's curve is linear, Ticked every RampTick.
func TestShapeRates(t *testing.T) {
	s := shape(t, "once\nset_rate 100\nramp_rate 200 4s\nsleep 2s\nmultiply_rate 0.5\nsleep 1s\nadd_rate -30", control.Rate, 0)
	got, last := curve(t, s, 20*time.Second)
	sameCurve(t, got, []point{{0, 100}, {time.Second, 125}, {2 * time.Second, 150}, {3 * time.Second, 175}, {4 * time.Second, 200},
		{6 * time.Second, 100}, {7 * time.Second, 70}})
	if !last.Done || last.At != t0.Add(7*time.Second) {
		t.Errorf("last decision %+v, want done at 7s", last)
	}
}

// k6-like stages, for rates and for users.
func TestShapeStages(t *testing.T) {
	got, last := curve(t, shape(t, "4s:100,2s:300,2s:300,2s:0", control.Rate, 0), time.Minute)
	sameCurve(t, got, []point{{0, 0}, {time.Second, 25}, {2 * time.Second, 50}, {3 * time.Second, 75}, {4 * time.Second, 100},
		{5 * time.Second, 200}, {6 * time.Second, 300}, {9 * time.Second, 150}, {10 * time.Second, 0}})
	if !last.Done {
		t.Errorf("stages not done: %+v", last)
	}

	s := shape(t, "10s:10,10s:30,0s:5", control.Users, 0)
	if d := s.Start(t0); d.Users != 10 || d.SpawnRate != 1 {
		t.Errorf("first stage %+v, want 10 users at 1/s", d)
	}
	if d := s.Tick(t0.Add(10 * time.Second)); d.Users != 30 || d.SpawnRate != 2 {
		t.Errorf("second stage %+v, want 30 users at 2/s", d)
	}
	if d := s.Tick(t0.Add(20 * time.Second)); d.Users != 5 || !d.Done {
		t.Errorf("last stage %+v, want 5 users at once, and done", d)
	}
}

// Driven in the simulation, the users running follow the program (spawned at its
// rate).
func TestShapeDrivesSimulatedUsers(t *testing.T) {
	s := shape(t, "once\nchange_num_clients 20 10\nsleep 5s\nchange_num_clients 5\nsleep 3s", control.Users, 0)
	r := runClosed(s, &target{Capacity: 100000, Service: time.Millisecond, Seed: 5}, time.Second, 100)
	var users []int
	for _, w := range r.Windows {
		users = append(users, w.Users)
	}
	if fmt.Sprint(users) != "[10 20 20 20 20 5 5 5]" {
		t.Errorf("users per window %v, want 10 (half spawned at 10/s), then 20, then 5", users)
	}
}
