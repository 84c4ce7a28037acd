package httpload

import (
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strings"

	"github.com/zkload/zkload/boomer"
	"github.com/zkload/zkload/pyfmt"
	"github.com/zkload/zkload/setting"
	"github.com/zkload/zkload/tasks"
	"github.com/zkload/zkload/tasks/openloop"
)

// Workload is the HTTP workload: the Http user class and its --http-* settings, which
// are the worker's own (no environment variable, no master option) but the open loop's
// rate (--http-rate, ZKLOAD_HTTP_RATE, or the master's), and the Locust release whose
// failure texts it mirrors (--locust-version, or the master's).
type Workload struct {
	// Plan, if set, is the worker's open-loop plan, shared with other workloads' classes
	// so that a controller steers one rate; nil: the Http class's own.
	Plan *openloop.Shared
}

var _ tasks.Workload = Workload{}

// The settings' flag names.
const (
	flagPath     = "http-path"
	flagMethod   = "http-method"
	flagHeader   = "http-header"
	flagBody     = "http-body"
	flagTimeout  = "http-timeout"
	flagInsecure = "http-insecure"
	flagLocust   = "locust-version"
	flagRate     = "http-rate"
)

// RateOption is the master's option, declared by the locustfile that "zkload locustfile
// Http" writes, that sets the Http users' open-loop rate for a test (--http-rate).
const RateOption = "zkload_http_rate"

// maxRate is the highest --http-rate, as the ZooKeeper classes' --rate.
const maxRate = 1e7

// LocustVersionOption is the master's option, declared by the locustfile that "zkload
// locustfile Http" writes, that tells workers the master's Locust release: HttpUser's
// failure texts changed in 2.14.1, and zkload's follow the release the fleet runs so
// that they merge with its Python workers' on the master.
const LocustVersionOption = "zkload_locust_version"

// oldestLocust is the release whose texts apply when neither a flag nor the master
// says which: Debian's Locust, the oldest zkload supports (its version string is empty).
const oldestLocust = "2.12.1"

// Name is "HTTP".
func (Workload) Name() string { return "HTTP" }

// Settings are the --http-* settings, in the order help shows them.
func (Workload) Settings() []*setting.Spec {
	return []*setting.Spec{
		{Flag: flagPath, Default: "/", Arg: "PATH", Group: "HTTP",
			Help: "path to request", Expect: "a path such as /index.html"},
		{Flag: flagMethod, Default: http.MethodGet, Arg: "METHOD", Group: "HTTP",
			Help: "request method", Expect: "an HTTP method such as GET or POST"},
		// Repeatable: Layers.Flags holds one string per flag, so the command joins the
		// values given with "\n" ("Accept: */*\nX-Trace: 1"); no header value can hold a
		// newline anyway.
		{Flag: flagHeader, Arg: "HEADER", Group: "HTTP",
			Help: `request header "Name: value" (repeatable)`, Expect: `a header "Name: value"`},
		{Flag: flagBody, Arg: "BODY", Group: "HTTP",
			Help: "request body"},
		{Flag: flagTimeout, Default: "1m0s", Arg: "DURATION", Group: "HTTP",
			Help: "timeout of one request", Expect: "a positive duration such as 30s"},
		{Flag: flagInsecure, Default: "false", Bool: true, Group: "HTTP",
			Help: "do not verify https certificates (self-signed test servers)", Expect: "true or false"},
		{Flag: flagRate, Env: "ZKLOAD_HTTP_RATE", Option: RateOption, Default: "0", Arg: "OPS", Group: "HTTP",
			Help:   "open loop: requests per second, latency from each planned start (0: closed loop); a worker's own setting is its rate, the master's the fleet's, split over the workers",
			Expect: "requests per second, 0 or more"},
		{Flag: flagLocust, Env: "ZKLOAD_LOCUST_VERSION", Option: LocustVersionOption, Arg: "VERSION", Group: "HTTP",
			Help:   "Locust release whose HttpUser failure texts to mirror (default: the master's, as its locustfile says; else " + oldestLocust + ")",
			Expect: "a Locust release such as 2.46.3"},
	}
}

// Check validates the settings: a method without whitespace, headers "Name: value",
// a positive timeout and a boolean --http-insecure.
func (w Workload) Check(l setting.Layers) error {
	_, err := w.options(l)
	return err
}

// Notes is nil: every setting is used as given.
func (Workload) Notes(setting.Layers) []string { return nil }

// Classes returns the Http class built from the settings; a bad value (which Check
// reports) gets the default.
func (w Workload) Classes(l setting.Layers) []*boomer.UserClass {
	o, _ := w.options(l)
	o.Plan = w.Plan
	return []*boomer.UserClass{Class(o)}
}

// CheckHost wants an http:// or https:// URL with a host when Http is among classes, as
// Locust's HttpUser does.
func (Workload) CheckHost(_ setting.Layers, host string, classes []string) error {
	if !slices.Contains(classes, className) {
		return nil
	}
	return CheckBaseURL(host)
}

// Tests is nil: the suites run the ZooKeeper workload only.
func (Workload) Tests() []tasks.Test { return nil }

// Locustfile declares, when Http is among classes, the option that tells workers the
// master's Locust release (its default is the release the master runs) and the open
// loop's rate (--zkload-http-rate, in the web UI; --http-rate given here becomes its
// default, else it is empty: "not set"). The other --http-* settings have no master
// option, so a flag given is refused: it would be lost.
func (w Workload) Locustfile(classes []string, l setting.Layers) (string, error) {
	for _, s := range w.Settings() {
		if _, ok := l.Flags[s.Flag]; ok && s.Option == "" {
			return "", fmt.Errorf("--%s: the master has no option for it, so the locustfile cannot carry it; give it to each worker (zkload worker --%s ...)", s.Flag, s.Flag)
		}
	}
	if !slices.Contains(classes, className) {
		return "", nil
	}
	def := "locust.__version__ or " + pyfmt.Repr(oldestLocust)
	if v, ok := l.Flags[flagLocust]; ok {
		if err := checkLocustVersion(l.Get(w.spec(flagLocust))); err != nil {
			return "", err
		}
		def = pyfmt.Repr(v)
	}
	rateDef := `""`
	if v, ok := l.Flags[flagRate]; ok {
		if _, err := l.Get(w.spec(flagRate)).Float(0, maxRate); err != nil {
			return "", err
		}
		rateDef = pyfmt.Repr(v)
	}
	rate := w.spec(flagRate)
	return `

# The master's Locust release, for zkload workers: their Http failure texts follow it, as
# HttpUser's changed in 2.14.1 (Debian's Locust 2.12.1 reports an empty version). And the
# Http users' open-loop rate per worker: empty means "not set" (the closed loop, unless a
# worker sets one).
import locust
from locust import events


@events.init_command_line_parser.add_listener
def _zkload_http_arguments(parser):
    parser.add_argument("--zkload-locust-version", type=str, default=` + def + `, include_in_web_ui=False,
        help="Locust release whose HttpUser failure texts zkload workers mirror")
    parser.add_argument("--` + strings.ReplaceAll(RateOption, "_", "-") + `", type=str, default=` + rateDef + `, env_var=` + pyfmt.Repr(rate.Env) + `,
        help=` + pyfmt.Repr(rate.Help+" (worker default: "+rate.Default+"; a worker's --http-rate or "+rate.Env+" wins)") + `)
`, nil
}

// spec returns the setting with the given flag.
func (w Workload) spec(flag string) *setting.Spec {
	for _, s := range w.Settings() {
		if s.Flag == flag {
			return s
		}
	}
	panic("httpload: no setting --" + flag) // a typo in this package
}

// versionRx is a Locust release: 2.46.3, 2.12.
var versionRx = regexp.MustCompile(`^[0-9]+\.[0-9]+(\.[0-9]+)?([.a-z0-9+-]*)$`)

// checkLocustVersion accepts an empty value (not set) or a release number.
func checkLocustVersion(v setting.Value) error {
	if v.Text != "" && !versionRx.MatchString(v.Text) {
		return v.Bad()
	}
	return nil
}

// options reads the settings; on a bad value it returns the error naming it and the
// options read so far (the rest at their zero value, which Class defaults).
func (w Workload) options(l setting.Layers) (Options, error) {
	specs := map[string]*setting.Spec{}
	for _, s := range w.Settings() {
		specs[s.Flag] = s
	}
	get := func(flag string) setting.Value { return l.Get(specs[flag]) }
	o := Options{Path: get(flagPath).Text, Body: get(flagBody).Text}
	m := get(flagMethod)
	if m.Text == "" || strings.ContainsAny(m.Text, " \t\r\n") {
		return o, m.Bad()
	}
	o.Method = m.Text
	headers, err := parseHeaders(get(flagHeader))
	if err != nil {
		return o, err
	}
	o.Headers = headers
	if o.Timeout, err = get(flagTimeout).Duration(); err != nil {
		return o, err
	}
	if o.Insecure, err = get(flagInsecure).Bool(); err != nil {
		return o, err
	}
	lv := get(flagLocust)
	if err := checkLocustVersion(lv); err != nil {
		return o, err
	}
	o.LocustVersion = lv.Text
	rv := get(flagRate)
	if o.Rate, err = rv.Float(0, maxRate); err != nil {
		return o, err
	}
	if rv.Source == setting.FromDefault {
		o.MasterRate = specs[flagRate] // the master's option, when a test starts
	}
	return o, nil
}

// parseHeaders reads the "\n"-joined "Name: value" lines of --http-header; an error
// names the bad one.
func parseHeaders(v setting.Value) (http.Header, error) {
	if v.Text == "" {
		return nil, nil
	}
	h := http.Header{}
	for _, line := range strings.Split(v.Text, "\n") {
		k, val, ok := strings.Cut(line, ":")
		if !ok || strings.TrimSpace(k) == "" {
			one := v
			one.Text = line
			return nil, one.Bad()
		}
		h.Add(strings.TrimSpace(k), strings.TrimSpace(val))
	}
	return h, nil
}
