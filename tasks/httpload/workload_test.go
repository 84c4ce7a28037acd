package httpload

import (
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/zkload/zkload/boomer"
	"github.com/zkload/zkload/boomer/recorder"
	"github.com/zkload/zkload/setting"
)

func flags(kv ...string) setting.Layers {
	l := setting.Layers{Flags: map[string]string{}, LookupEnv: func(string) (string, bool) { return "", false }, Environ: []string{}}
	for i := 0; i+1 < len(kv); i += 2 {
		l.Flags[kv[i]] = kv[i+1]
	}
	return l
}

func TestSettingsTable(t *testing.T) {
	want := map[string]string{"http-path": "/", "http-method": "GET", "http-header": "", "http-body": "",
		"http-timeout": "1m0s", "http-insecure": "false", "http-rate": "0", "locust-version": ""}
	var order []string
	for _, s := range (Workload{}).Settings() {
		order = append(order, s.Flag)
		if d, ok := want[s.Flag]; !ok || d != s.Default {
			t.Errorf("--%s default %q, want %q", s.Flag, s.Default, d)
		}
		if s.Flag == flagLocust {
			if s.Option != LocustVersionOption || s.Env != "ZKLOAD_LOCUST_VERSION" {
				t.Errorf("--%s: %+v; want master option %s and env ZKLOAD_LOCUST_VERSION", s.Flag, s, LocustVersionOption)
			}
			continue
		}
		if s.Flag == flagRate {
			if s.Option != RateOption || s.Env != "ZKLOAD_HTTP_RATE" || s.Group != "HTTP" {
				t.Errorf("--%s: %+v; want master option %s and env ZKLOAD_HTTP_RATE", s.Flag, s, RateOption)
			}
			continue
		}
		if s.Group != "HTTP" || s.Env != "" || s.Option != "" || s.Help == "" || s.Secret {
			t.Errorf("--%s: %+v; want group HTTP, help, no env nor master option", s.Flag, s)
		}
	}
	if got := strings.Join(order, " "); got != "http-path http-method http-header http-body http-timeout http-insecure http-rate locust-version" {
		t.Errorf("settings in order %s", got)
	}
	w := Workload{}
	lf, err := w.Locustfile([]string{"Http"}, flags())
	if w.Name() != "HTTP" || w.Tests() != nil || err != nil ||
		!strings.Contains(lf, `parser.add_argument("--zkload-locust-version", type=str, default=locust.__version__ or '2.12.1', include_in_web_ui=False,`) {
		t.Errorf("name %q, tests %v, locustfile %q, %v", w.Name(), w.Tests(), lf, err)
	}
	if lf, err := w.Locustfile([]string{"Get"}, flags()); lf != "" || err != nil {
		t.Errorf("locustfile without Http: %q, %v; want nothing", lf, err)
	}
	if lf, err := w.Locustfile([]string{"Http"}, flags("locust-version", "2.46.3")); err != nil || !strings.Contains(lf, "default='2.46.3',") {
		t.Errorf("locustfile --locust-version 2.46.3: %q, %v; want it as the default", lf, err)
	}
	if _, err := w.Locustfile([]string{"Http"}, flags("locust-version", "newest")); err == nil || err.Error() != `--locust-version "newest": want a Locust release such as 2.46.3` {
		t.Errorf("locustfile --locust-version newest: %v", err)
	}
	// The rate is a master option, in the web UI; a rate given here is its default.
	if !strings.Contains(lf, `parser.add_argument("--zkload-http-rate", type=str, default="", env_var='ZKLOAD_HTTP_RATE',`) {
		t.Errorf("locustfile without --http-rate: %q; want the rate's option, not set", lf)
	}
	if lf, err := w.Locustfile([]string{"Http"}, flags("http-rate", "250")); err != nil || !strings.Contains(lf, `"--zkload-http-rate", type=str, default='250',`) {
		t.Errorf("locustfile --http-rate 250: %q, %v; want it as the default", lf, err)
	}
	if _, err := w.Locustfile([]string{"Http"}, flags("http-rate", "-1")); err == nil || err.Error() != `--http-rate "-1": want requests per second, 0 or more` {
		t.Errorf("locustfile --http-rate -1: %v", err)
	}
	// The master has no option for the other --http-* settings: a flag would be lost.
	_, err = w.Locustfile([]string{"Http"}, flags("http-path", "/x"))
	if want := "--http-path: the master has no option for it, so the locustfile cannot carry it; give it to each worker (zkload worker --http-path ...)"; err == nil || err.Error() != want {
		t.Errorf("locustfile --http-path: %v; want %s", err, want)
	}
}

func TestCheckNamesTheFlag(t *testing.T) {
	cases := []struct {
		l    setting.Layers
		want string
	}{
		{flags("http-method", ""), `--http-method "": want an HTTP method such as GET or POST`},
		{flags("http-method", "G ET"), `--http-method "G ET": want an HTTP method such as GET or POST`},
		{flags("http-timeout", "0s"), `--http-timeout "0s": want a positive duration such as 30s`},
		{flags("http-timeout", "soon"), `--http-timeout "soon": want a positive duration such as 30s`},
		{flags("http-header", "A: b\nnocolon"), `--http-header "nocolon": want a header "Name: value"`},
		{flags("http-header", ": empty name"), `--http-header ": empty name": want a header "Name: value"`},
		{flags("http-insecure", "maybe"), `--http-insecure "maybe": want true or false`},
		{flags("http-rate", "fast"), `--http-rate "fast": want requests per second, 0 or more`},
		{flags("http-rate", "-5"), `--http-rate "-5": want requests per second, 0 or more`},
	}
	for _, c := range cases {
		err := Workload{}.Check(c.l)
		if err == nil || err.Error() != c.want {
			t.Errorf("Check(%v) = %v; want %s", c.l.Flags, err, c.want)
		}
	}
	if err := (Workload{}).Check(flags()); err != nil {
		t.Errorf("defaults: %v", err)
	}
	if err := (Workload{}).Check(flags("http-method", "post", "http-header", "A: b\nC:d", "http-timeout", "250ms", "http-insecure", "true")); err != nil {
		t.Errorf("good values: %v", err)
	}
}

// TestClassSendsTheRequest runs the class built from the settings against a test server:
// the method, path, headers and body arrive, and the stats rows are Locust's.
func TestClassSendsTheRequest(t *testing.T) {
	var mu sync.Mutex
	var got []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		got = append(got, r.Method+" "+r.URL.Path+" "+r.Header.Get("X-One")+","+r.Header.Get("X-Two")+" "+string(body))
		mu.Unlock()
		if r.URL.Path == "/missing" {
			http.NotFound(w, r)
			return
		}
		io.WriteString(w, "hello")
	}))
	defer srv.Close()
	run := func(l setting.Layers) (map[string]int64, map[string]int64, []string) {
		classes := Workload{}.Classes(l)
		if len(classes) != 1 || classes[0].Name != "Http" {
			t.Fatalf("classes %v", classes)
		}
		rec := recorder.New(recorder.Options{})
		us, err := boomer.NewUsers(classes, rec, srv.URL, slog.New(slog.NewTextHandler(io.Discard, nil)))
		if err != nil {
			t.Fatal(err)
		}
		us.Configure(&boomer.Env{}, "", 2*time.Second, nil, nil)
		us.SetTargets(map[string]int{"Http": 1})
		time.Sleep(300 * time.Millisecond)
		<-us.StopAll(2 * time.Second)
		reqs, fails := map[string]int64{}, map[string]int64{}
		r := rec.Report()
		for _, e := range r.Stats {
			reqs[e.Method+" "+e.Name] += e.NumRequests
			fails[e.Method+" "+e.Name] += e.NumFailures
		}
		var errs []string
		for _, e := range r.Errors {
			errs = append(errs, e.Error)
		}
		return reqs, fails, errs
	}
	reqs, fails, _ := run(flags("http-method", "post", "http-path", "echo", "http-header", "X-One: 1\nX-Two:  2 ", "http-body", "payload"))
	if reqs["POST /echo"] == 0 || fails["POST /echo"] != 0 {
		t.Errorf("requests %v, failures %v; want POST /echo without failures", reqs, fails)
	}
	mu.Lock()
	if len(got) == 0 || got[0] != "POST /echo 1,2 payload" {
		t.Errorf("server saw %q; want POST /echo with both headers and the body", got)
	}
	mu.Unlock()
	_, fails, errs := run(flags("http-path", "/missing"))
	if want := "HTTPError('404 Client Error: Not Found for url: " + srv.URL + "/missing')"; fails["GET /missing"] == 0 || len(errs) != 1 || errs[0] != want {
		t.Errorf("failures %v, errors %q; want %s, requests' HTTPError repr as 2.12.1's HttpUser records it", fails, errs, want)
	}
	_, _, errs = run(flags("http-path", "/missing", "locust-version", "2.46.3"))
	if want := "HTTPError('404 Client Error: Not Found for url: /missing')"; len(errs) != 1 || errs[0] != want {
		t.Errorf("with --locust-version 2.46.3: errors %q; want %s (the name, since 2.14.1)", errs, want)
	}
}

// TestURLIsNameFollowsTheRelease: the flag wins, then the master's option, then 2.12.1.
func TestURLIsNameFollowsTheRelease(t *testing.T) {
	master := func(v string) *boomer.Env {
		return &boomer.Env{ParsedOptions: map[string]any{LocustVersionOption: v}}
	}
	for _, c := range []struct {
		flag string
		env  *boomer.Env
		want bool
	}{
		{"", nil, false},
		{"", &boomer.Env{}, false},
		{"", master("2.12.1"), false},
		{"", master("2.14.0"), false},
		{"", master("2.14.1"), true},
		{"", master("2.46.3"), true},
		{"", master("3.0"), true},
		{"2.12.1", master("2.46.3"), false},
		{"2.46.3", master("2.12.1"), true},
		{"2.15.0.dev7", nil, true},
	} {
		if got := urlIsName(c.flag, c.env); got != c.want {
			t.Errorf("urlIsName(%q, %v) = %v, want %v", c.flag, c.env, got, c.want)
		}
	}
}

// TestRatePrecedence: the worker's --http-rate (or ZKLOAD_HTTP_RATE) wins; without one
// the master's option sets the rate when a test starts, and a bad one names it.
func TestRatePrecedence(t *testing.T) {
	master := func(v any) *boomer.Env { return &boomer.Env{ParsedOptions: map[string]any{RateOption: v}} }
	env := func(v string) setting.Layers {
		l := flags()
		l.LookupEnv = func(k string) (string, bool) { return v, k == "ZKLOAD_HTTP_RATE" }
		return l
	}
	for _, c := range []struct {
		l    setting.Layers
		env  *boomer.Env
		want float64
		err  string
	}{
		{flags(), nil, 0, ""},
		{flags(), master(""), 0, ""},
		{flags(), master("120"), 120, ""},
		{flags(), master(75.5), 75.5, ""},
		{flags("http-rate", "300"), master("120"), 300, ""},
		{flags("http-rate", "0"), master("120"), 0, ""}, // the worker's own closed loop
		{env("40"), master("120"), 40, ""},
		{flags(), master("lots"), 0, `master option --zkload-http-rate "lots": want requests per second, 0 or more`},
	} {
		o, err := Workload{}.options(c.l)
		if err != nil {
			t.Fatal(err)
		}
		got, err := o.rate(c.env)
		if got != c.want || (err == nil) != (c.err == "") || err != nil && err.Error() != c.err {
			t.Errorf("flags %v, master %v: rate %v, %v; want %v, %q", c.l.Flags, c.env, got, err, c.want, c.err)
		}
	}
}

// TestCheckHost: Http wants an http(s) URL with a host, as Locust's HttpUser; a host
// that is not Http's concern (no Http class) passes.
func TestCheckHost(t *testing.T) {
	w := Workload{}
	for host, want := range map[string]string{
		"http://127.0.0.1:8080":     "",
		"https://example.test/base": "",
		"":                          "no host",
		"127.0.0.1:8080":            `host "127.0.0.1:8080" has no scheme; want a URL such as http://127.0.0.1:8080`,
		"ftp://127.0.0.1":           "scheme ftp: is not http or https",
		"zk://127.0.0.1:2181":       "scheme zk: is not http or https",
		"http://":                   "has no host name",
	} {
		err := w.CheckHost(setting.Layers{}, host, []string{"Get", "Http"})
		if want == "" && err != nil || want != "" && (err == nil || !strings.Contains(err.Error(), want)) {
			t.Errorf("CheckHost(%q) = %v, want %q", host, err, want)
		}
	}
	if err := w.CheckHost(setting.Layers{}, "zk://127.0.0.1:2181", []string{"Get"}); err != nil {
		t.Errorf("CheckHost without Http = %v, want nil", err)
	}
}

// TestFailureTextsGroup: the Http class against a server answering random bytes, and
// one that never answers, records a handful of distinct failure texts over many
// requests, naming the target and never the local socket, as Python Locust's HttpUser
// would (the ReadTimeout exactly as it records it; the status line in a fixed text,
// where Python quotes it).
func TestFailureTextsGroup(t *testing.T) {
	for _, tc := range []struct {
		name    string
		silent  bool
		timeout string
		n, max  int // connections to wait for; distinct texts allowed
		want    string
	}{
		{"random bytes", false, "5s", 200, 3, "BadStatusLine('not an HTTP status line')"},
		{"silent", true, "50ms", 10, 1, `ReadTimeout(ReadTimeoutError("HTTPConnectionPool(host='127.0.0.1', port=PORT): Read timed out. (read timeout=0.05)"))`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			release := make(chan struct{})
			t.Cleanup(func() { close(release); ln.Close() })
			enough := make(chan struct{})
			var mu sync.Mutex
			local := map[string]bool{}
			r := rand.New(rand.NewPCG(1, 2))
			go func() {
				for {
					conn, err := ln.Accept()
					if err != nil {
						return
					}
					mu.Lock()
					_, port, _ := net.SplitHostPort(conn.RemoteAddr().String())
					local[port] = true
					if len(local) == tc.n {
						close(enough)
					}
					b := make([]byte, 1+r.IntN(300))
					for i := range b {
						b[i] = byte(r.UintN(256))
					}
					mu.Unlock()
					go func() {
						defer conn.Close()
						conn.Read(make([]byte, 4096)) // the request
						if tc.silent {
							<-release
							return
						}
						conn.Write(b)
					}()
				}
			}()
			classes := Workload{}.Classes(flags("http-timeout", tc.timeout))
			rec := recorder.New(recorder.Options{})
			us, err := boomer.NewUsers(classes, rec, "http://"+ln.Addr().String(), slog.New(slog.NewTextHandler(io.Discard, nil)))
			if err != nil {
				t.Fatal(err)
			}
			us.Configure(&boomer.Env{}, "", 0, nil, nil)
			us.SetTargets(map[string]int{"Http": 2})
			select {
			case <-enough:
			case <-time.After(30 * time.Second):
				t.Fatalf("fewer than %d requests in 30 s", tc.n)
			}
			<-us.StopAll(0)
			texts := map[string]int64{}
			for _, e := range rec.Report().Errors {
				if e.Method != "GET" || e.Name != "/" {
					t.Errorf("failure row %s %s, want GET /", e.Method, e.Name)
				}
				texts[e.Error] += e.Occurrences
			}
			_, port, _ := net.SplitHostPort(ln.Addr().String())
			want := strings.ReplaceAll(tc.want, "PORT", port)
			if len(texts) == 0 || len(texts) > tc.max || texts[want] == 0 {
				t.Errorf("failure texts %v; want at most %d, among them %s", texts, tc.max, want)
			}
			mu.Lock()
			defer mu.Unlock()
			for text := range texts {
				for lp := range local {
					if strings.Contains(text, lp) {
						t.Errorf("failure text %s holds local port %s", text, lp)
					}
				}
			}
		})
	}
}
