package testenv

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestHelperProcess is not a test: the other tests run the test binary itself as a
// child process in one of these modes.
func TestHelperProcess(t *testing.T) {
	mode := os.Getenv("ZKLOAD_TESTENV_HELPER")
	if mode == "" {
		return
	}
	switch mode {
	case "ticker":
		sigs := make(chan os.Signal, 1)
		signal.Notify(sigs, syscall.SIGTERM)
		fmt.Printf("started pid=%d\n", os.Getpid())
		fmt.Fprintln(os.Stderr, "to stderr")
		for i := 0; ; i++ {
			select {
			case <-sigs:
				fmt.Println("got SIGTERM")
				os.Exit(3)
			case <-time.After(20 * time.Millisecond):
				fmt.Printf("tick %d\n", i)
			}
		}
	case "grandchild":
		cmd := exec.Command("sleep", "600")
		if err := cmd.Start(); err != nil {
			fmt.Println("cannot start sleep:", err)
			os.Exit(1)
		}
		fmt.Printf("grandchild pid=%d\n", cmd.Process.Pid)
		select {}
	case "exit":
		code, _ := strconv.Atoi(os.Getenv("ZKLOAD_TESTENV_EXIT"))
		fmt.Print("bye without newline")
		os.Exit(code)
	case "env":
		fmt.Printf("FOO=%s\n", os.Getenv("ZKLOAD_TESTENV_FOO"))
		os.Exit(0)
	}
}

func helper(t *testing.T, mode string, env ...string) *Proc {
	t.Helper()
	return StartProcess(t, os.Args[0], []string{"-test.run=^TestHelperProcess$"},
		append([]string{"ZKLOAD_TESTENV_HELPER=" + mode}, env...))
}

func TestFreePort(t *testing.T) {
	p := FreePort(t)
	l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", p))
	if err != nil {
		t.Fatalf("FreePort returned %d, which cannot be bound: %v", p, err)
	}
	l.Close()
}

func TestProcLogAndSignal(t *testing.T) {
	p := helper(t, "ticker")
	line := p.WaitLog(`^started pid=\d+$`, 10*time.Second)
	if line != fmt.Sprintf("started pid=%d", p.Pid()) {
		t.Errorf("WaitLog returned %q", line)
	}
	p.WaitLog(`to stderr`, 5*time.Second) // stderr goes to the same log
	lines := p.WaitLogCount(`^tick \d+$`, 3, 5*time.Second)
	if len(lines) != 3 || lines[0] != "tick 0" {
		t.Errorf("WaitLogCount = %q", lines)
	}
	mark := p.Mark()
	after := p.WaitLogAfter(mark, `^tick \d+$`, 5*time.Second)
	if after == "tick 0" {
		t.Errorf("WaitLogAfter(mark) returned a line before the mark")
	}
	if !p.LogContains(`^tick 1$`) || p.LogContains(`^nope$`) || p.LogCount(`^tick`) < 3 {
		t.Errorf("LogContains/LogCount disagree with the log:\n%s", p.Log())
	}
	if _, exited := p.Exited(); exited {
		t.Fatal("Exited says the ticker has exited")
	}
	p.Signal(syscall.SIGTERM)
	if code := p.Wait(10 * time.Second); code != 3 {
		t.Errorf("exit code %d, want 3 (status %s)", code, p.Status())
	}
	p.WaitLog(`got SIGTERM`, time.Second)
	p.Signal(syscall.SIGTERM) // already gone: not an error
}

func TestProcExitCodeAndPartialLine(t *testing.T) {
	p := helper(t, "exit", "ZKLOAD_TESTENV_EXIT=7")
	if code := p.Wait(10 * time.Second); code != 7 {
		t.Errorf("exit code %d, want 7", code)
	}
	// A last line without a newline counts once the process has exited.
	p.WaitLog(`^bye without newline$`, time.Second)
}

func TestProcWaitLogFailsWhenProcessEnds(t *testing.T) {
	p := helper(t, "exit", "ZKLOAD_TESTENV_EXIT=0")
	start := time.Now()
	_, err := p.WaitLogContext(context.Background(), 0, `never printed`, 1)
	if err == nil || !strings.Contains(err.Error(), "process ended") {
		t.Errorf("WaitLogContext = %v, want a 'process ended' error", err)
	}
	if time.Since(start) > 5*time.Second {
		t.Errorf("WaitLogContext took %v to notice the exit", time.Since(start))
	}
}

func TestProcEnv(t *testing.T) {
	p := helper(t, "env", "ZKLOAD_TESTENV_FOO=bar")
	p.Wait(10 * time.Second)
	p.WaitLog(`^FOO=bar$`, time.Second)
}

func TestProcKillKillsGroup(t *testing.T) {
	p := helper(t, "grandchild")
	line := p.WaitLog(`^grandchild pid=\d+$`, 10*time.Second)
	gpid, _ := strconv.Atoi(strings.TrimPrefix(line, "grandchild pid="))
	p.Kill()
	if code, exited := p.Exited(); !exited || code != -1 {
		t.Errorf("after Kill: exited=%v code=%d (%s)", exited, code, p.Status())
	}
	deadline := time.Now().Add(5 * time.Second)
	for alive(gpid) {
		if time.Now().After(deadline) {
			t.Fatalf("grandchild %d survived Kill of its process group", gpid)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// alive reports whether pid exists and is not a zombie.
func alive(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i < 0 || !strings.HasPrefix(s[i+1:], " Z")
}

func TestLocustfileSource(t *testing.T) {
	for _, bad := range [][]Class{nil, {{Name: "1x"}}, {{Name: "class"}}, {{Name: "A-B"}}, {{Name: "A"}, {Name: "A"}}, {{Name: "A", Weight: -1}}} {
		if _, err := LocustfileSource(bad); err == nil {
			t.Errorf("LocustfileSource(%v) succeeded", bad)
		}
	}
	path := WriteLocustfile(t, []Class{{Name: "UserA", Weight: 3}, {Name: "UserB", Weight: 1, FixedCount: 2}})
	src, _ := os.ReadFile(path)
	for _, want := range []string{"class UserA(User):\n    weight = 3\n", "class UserB(User):\n    weight = 1\n    fixed_count = 2\n"} {
		if !strings.Contains(string(src), want) {
			t.Errorf("locustfile lacks %q:\n%s", want, src)
		}
	}
	if err := LocustAvailable(); err != nil {
		t.Skipf("cannot check with Locust: %v", err)
	}
	// Locust itself must load it and see both classes.
	out, err := exec.Command(LocustPath, "-f", path, "--list").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "UserA") || !strings.Contains(string(out), "UserB") {
		t.Errorf("locust --list: %v\n%s", err, out)
	}
}

func TestHTTPTarget(t *testing.T) {
	tg := HTTPTarget(t, TargetOptions{
		Status:    map[string]int{"/fail": 500},
		PathDelay: map[string]time.Duration{"/slow": 150 * time.Millisecond},
		BodySize:  10,
		PathBody:  map[string]string{"/body": "hello"},
	})
	if !strings.HasPrefix(tg.URL, "http://127.0.0.1:") {
		t.Errorf("URL = %s", tg.URL)
	}
	get := func(path string) (int, string, time.Duration) {
		start := time.Now()
		resp, err := http.Get(tg.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b), time.Since(start)
	}
	if code, body, _ := get("/ok"); code != 200 || body != "xxxxxxxxxx" {
		t.Errorf("/ok: %d %q", code, body)
	}
	get("/ok")
	if code, _, _ := get("/fail"); code != 500 {
		t.Errorf("/fail: %d", code)
	}
	if _, body, _ := get("/body"); body != "hello" {
		t.Errorf("/body: %q", body)
	}
	if _, _, d := get("/slow"); d < 150*time.Millisecond {
		t.Errorf("/slow answered after %v", d)
	}
	if tg.Count("/ok") != 2 || tg.Count("/fail") != 1 || tg.Count("/none") != 0 || tg.Total() != 5 {
		t.Errorf("counts %v total %d", tg.Counts(), tg.Total())
	}
	if got := strings.Join(tg.Paths(), ","); got != "/body,/fail,/ok,/slow" {
		t.Errorf("Paths = %s", got)
	}
	if n := tg.AgentCount("Go-http-client/"); n != 5 || tg.AgentCount("zkload") != 0 {
		t.Errorf("AgentCount(Go-http-client/) = %d, want 5, and none for zkload", n)
	}
	// Every third request of /some fails, counted per path.
	some := HTTPTarget(t, TargetOptions{Status: map[string]int{"/some": 503}, StatusEvery: map[string]int{"/some": 3}})
	var codes []int
	for range 7 {
		resp, err := http.Get(some.URL + "/some")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		codes = append(codes, resp.StatusCode)
	}
	if fmt.Sprint(codes) != "[200 200 503 200 200 503 200]" {
		t.Errorf("StatusEvery 3: codes %v", codes)
	}
	// A request stuck in a long delay must not block cleanup.
	slow := HTTPTarget(t, TargetOptions{Delay: time.Hour})
	go func() {
		c := http.Client{Timeout: 30 * time.Second}
		if resp, err := c.Get(slow.URL + "/"); err == nil {
			resp.Body.Close()
		}
	}()
	for slow.Total() == 0 {
		time.Sleep(10 * time.Millisecond)
	}
}

func TestCSV(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x_stats.csv")
	content := "Type,Name,Request Count,Failure Count\r\n" +
		"GET,/foo,10,2\r\n" +
		"POST,\"/a,b \"\"q\"\"\",3,0\r\n" +
		",Aggregated,13,2\r\n"
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	if recs := ReadCSV(t, path); len(recs) != 4 || recs[2][1] != `/a,b "q"` {
		t.Errorf("ReadCSV = %q", recs)
	}
	if row := CSVRow(t, path, "POST", `/a,b "q"`); row["Request Count"] != "3" {
		t.Errorf("CSVRow = %v", row)
	}
	if agg := CSVAggregated(t, path); agg["Request Count"] != "13" || agg["Failure Count"] != "2" {
		t.Errorf("CSVAggregated = %v", agg)
	}
	// A file caught mid-rewrite is read again until complete.
	partial := filepath.Join(t.TempDir(), "p.csv")
	os.WriteFile(partial, []byte("Type,Name\r\nGET,/fo"), 0o644)
	go func() {
		time.Sleep(200 * time.Millisecond)
		os.WriteFile(partial, []byte("Type,Name\r\nGET,/foo\r\n"), 0o644)
	}()
	if recs := ReadCSV(t, partial); len(recs) != 2 || recs[1][1] != "/foo" {
		t.Errorf("ReadCSV of a rewritten file = %q", recs)
	}
}

func TestBuildBinary(t *testing.T) {
	bin := BuildBinary(t, "./testdata/hello")
	p := StartProcess(t, bin, []string{"fail"}, nil)
	if code := p.Wait(10 * time.Second); code != 3 {
		t.Errorf("exit code %d, want 3", code)
	}
	p.WaitLog(`^hello from `, time.Second)
	if _, err := Build(t.TempDir(), "./testdata/no-such-package"); err == nil {
		t.Errorf("Build of a missing package succeeded")
	}
}

func TestParseProcAddr(t *testing.T) {
	for in, want := range map[string]string{
		"0100007F:3CC5":                         "127.0.0.1:15557",
		"00000000:1F90":                         "0.0.0.0:8080",
		"00000000000000000000000001000000:0050": "[::1]:80",
		"0000000000000000FFFF00000100007F:0050": "127.0.0.1:80",
	} {
		l, err := parseProcAddr(in)
		if err != nil || l.String() != want {
			t.Errorf("parseProcAddr(%s) = %v, %v; want %s", in, l, err, want)
		}
	}
}

func TestListenersOfThisProcess(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	port := l.Addr().(*net.TCPAddr).Port
	ls, err := Listeners(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	for _, x := range ls {
		if x.Port == port && x.IP.Equal(net.IPv4(127, 0, 0, 1)) {
			return
		}
	}
	t.Errorf("Listeners(self) = %v, lacks 127.0.0.1:%d", ls, port)
}

// TestNewestLocustRuns: the newest Locust, when available here, runs and says which
// release it is; the command parser keeps its environment apart from its program.
func TestNewestLocustRuns(t *testing.T) {
	l, err := parseLocustCommand("env A=1 B=x/y /usr/bin/python3 -m locust")
	if err != nil || l.Path != "/usr/bin/python3" || strings.Join(l.Args, " ") != "-m locust" || strings.Join(l.Env, " ") != "A=1 B=x/y" {
		t.Errorf("parseLocustCommand: %+v, %v", l, err)
	}
	if compareVersions("2.46.3", "2.14.1") != 1 || compareVersions("2.12.1", "2.14.1") != -1 || compareVersions("2.14.1", "2.14.1") != 0 {
		t.Error("compareVersions orders releases wrongly")
	}
	newest, err := NewestLocust()
	if err != nil {
		t.Skipf("the newest Locust is not available: %v", err)
	}
	if !newest.Newer("2.13.0") {
		t.Errorf("newest Locust is %q, want a release after 2.12.1", newest.Version)
	}
}
