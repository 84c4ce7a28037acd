package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/zkload/zkload/setting"
)

// Help groups, in the order --help lists them.
const (
	groupCommon   = "Common options"
	groupWorker   = "Worker options"
	groupStats    = "Extended statistics options"
	groupMetrics  = "Ensemble metrics options"
	groupRunDir   = "Run directory options"
	groupWorkload = " options" // a workload's group is its name + this
)

// flagSet is a subcommand's command line: every flag is a setting.Spec, so that each
// value is read the one way (flag, environment, master, default) and an error names
// where a bad value came from. Flags and positional arguments may come in any order,
// with one or two dashes, as Go's flag package reads them; help lists them as Locust
// does, grouped, with two dashes, defaults and environment variables.
type flagSet struct {
	name, synopsis, about string
	stdout, stderr        io.Writer
	args                  []string // the command line, as given

	specs   []*setting.Spec
	byName  map[string]*setting.Spec
	given   map[string]string // the flags given, by Spec.Flag; repeated ones joined by "\n"
	repeats map[string]bool   // flags whose repetitions accumulate
	// defaulted are the flags whose default the command changed (--report-dir's files).
	defaulted map[string]bool
}

func newFlagSet(name, synopsis, about string, stdout, stderr io.Writer) *flagSet {
	return &flagSet{name: name, synopsis: synopsis, about: about, stdout: stdout, stderr: stderr,
		byName: map[string]*setting.Spec{}, given: map[string]string{}, repeats: map[string]bool{},
		defaulted: map[string]bool{}}
}

// add defines settings as flags, in the group given (for specs without one).
func (fs *flagSet) add(group string, specs ...*setting.Spec) {
	for _, s := range specs {
		if s.Group == "" {
			s.Group = group
		}
		if s.Flag != "" && fs.byName[s.Flag] != nil {
			panic("zkload: flag defined twice: --" + s.Flag) // a programming error
		}
		fs.specs = append(fs.specs, s)
		fs.byName[s.Flag] = s
		if s.Flag == "" {
			fs.byName[s.Env] = s // an environment-only setting is found by its variable
		}
		if s.Short != "" {
			fs.byName[s.Short] = s
		}
	}
}

// repeatable makes a flag accumulate its repetitions (joined by "\n") instead of
// keeping the last one.
func (fs *flagSet) repeatable(name string) { fs.repeats[name] = true }

// parse reads the command line: flags and positional arguments in any order ("--" ends
// the flags). Bad flags give one line on stderr and errUsage; --help prints the help
// and returns flag.ErrHelp.
func (fs *flagSet) parse(args []string) ([]string, error) {
	fs.args = args
	set := flag.NewFlagSet("zkload "+fs.name, flag.ContinueOnError)
	set.SetOutput(io.Discard)
	set.Usage = func() {}
	define := func(name string, s *setting.Spec) {
		record := func(v string) error {
			if prev, ok := fs.given[s.Flag]; ok && fs.repeats[s.Flag] {
				v = prev + "\n" + v
			}
			fs.given[s.Flag] = v
			return nil
		}
		if s.Bool {
			set.Var(boolFlag(record), name, "")
		} else {
			set.Func(name, "", record)
		}
	}
	for _, s := range fs.specs {
		if s.Open || s.Flag == "" {
			continue // open families below; environment-only settings have no flag
		}
		define(s.Flag, s)
		if s.Short != "" {
			define(s.Short, s)
		}
	}
	// Open-ended families (--bench-NAME): a flag for each one on the command line.
	for _, a := range args {
		if a == "--" {
			break
		}
		name := strings.TrimLeft(a, "-")
		if len(name) == len(a) || len(a)-len(name) > 2 {
			continue
		}
		name, _, _ = strings.Cut(name, "=")
		for _, s := range fs.specs {
			if rest, ok := strings.CutPrefix(name, s.Flag); s.Open && ok && rest != "" && set.Lookup(name) == nil {
				name := name
				set.Func(name, "", func(v string) error { fs.given[name] = v; return nil })
			}
		}
	}
	var pos []string
	for {
		if err := set.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				fs.help(fs.stdout)
				return nil, flag.ErrHelp
			}
			return nil, fs.fail("%v (see zkload %s --help)", err, fs.name)
		}
		args = set.Args()
		if len(args) == 0 {
			return pos, nil
		}
		if args[0] == "--" {
			return append(pos, args[1:]...), nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

// boolFlag is a flag without a value (--force), recorded as "true" or its =value.
type boolFlag func(string) error

func (b boolFlag) String() string     { return "" }
func (b boolFlag) Set(v string) error { return b(v) }
func (b boolFlag) IsBoolFlag() bool   { return true }

// layers are the settings' sources for this command line.
func (fs *flagSet) layers() setting.Layers { return setting.Layers{Flags: fs.given} }

// get resolves a flag's value (flag, environment, default).
func (fs *flagSet) get(name string) setting.Value {
	s := fs.byName[name]
	if s == nil {
		panic("zkload: no flag --" + name) // a programming error
	}
	return fs.layers().Get(s)
}

// text is a flag's resolved text.
func (fs *flagSet) text(name string) string { return fs.get(name).Text }

// set reports whether the flag was given on the command line.
func (fs *flagSet) set(name string) bool {
	_, ok := fs.given[name]
	return ok
}

// flag reports a boolean flag's value.
func (fs *flagSet) flag(name string) (bool, error) { return fs.get(name).Bool() }

// setDefault changes a flag's default (--report-dir's file names), which the flag and
// its environment variable still override.
func (fs *flagSet) setDefault(name, value string) {
	s := *fs.byName[name]
	s.Default = value
	fs.defaulted[name] = true
	fs.byName[name] = &s
	for i, o := range fs.specs {
		if o.Flag == name {
			fs.specs[i] = &s
		}
	}
}

// fail reports bad input in one line and returns errUsage (exit code 2).
func (fs *flagSet) fail(format string, a ...any) error {
	fmt.Fprintf(fs.stderr, "zkload %s: %s\n", fs.name, fmt.Sprintf(format, a...))
	return errUsage
}

// check turns a setting's error into a one-line usage error.
func (fs *flagSet) check(err error) error {
	if err == nil {
		return nil
	}
	return fs.fail("%v", err)
}

// help prints the usage: synopsis, description, then the flags by group, as Locust's
// --help reads.
func (fs *flagSet) help(w io.Writer) {
	fmt.Fprintf(w, "Usage: zkload %s %s\n\n%s\n", fs.name, fs.synopsis, fs.about)
	var groups []string
	byGroup := map[string][]*setting.Spec{}
	for _, s := range fs.specs {
		if byGroup[s.Group] == nil {
			groups = append(groups, s.Group)
		}
		byGroup[s.Group] = append(byGroup[s.Group], s)
	}
	// A master's option name means something only where a master's options reach:
	// a worker, and the locustfile that adds them to the master.
	master := fs.name == "worker" || fs.name == "locustfile"
	for _, g := range groups {
		fmt.Fprintf(w, "\n%s:\n", g)
		for _, s := range byGroup[g] {
			fmt.Fprint(w, helpEntry(s, master))
		}
	}
}

// helpEntry is one flag's lines of help: "  -u, --users N" then its text, defaults
// and sources (the master's option when master is set), wrapped.
func helpEntry(s *setting.Spec, master bool) string {
	name := "--" + s.Flag
	if s.Flag == "" {
		name = s.Env + "=" + s.Arg // environment only
	}
	if s.Open {
		name += "NAME"
	}
	if s.Short != "" {
		name = "-" + s.Short + ", " + name
	}
	if !s.Bool && s.Flag != "" {
		arg := s.Arg
		if arg == "" {
			arg = "VALUE"
		}
		name += " " + arg
	}
	text := s.Help
	var notes []string
	if s.Default != "" && !s.Bool {
		notes = append(notes, "default: "+s.Default)
	}
	if s.Env != "" && s.Flag != "" {
		env := s.Env
		if s.Open {
			env += "NAME"
		}
		notes = append(notes, "env: "+env)
	}
	if master && s.Option != "" && !s.Secret {
		notes = append(notes, "master: --"+strings.ReplaceAll(s.Option, "_", "-"))
	}
	if len(notes) > 0 {
		text += " [" + strings.Join(notes, "; ") + "]"
	}
	const col = 26
	var b strings.Builder
	b.WriteString("  " + name)
	indent := strings.Repeat(" ", col)
	lines := wrap(text, 88-col)
	if len(name)+2 < col-1 {
		b.WriteString(strings.Repeat(" ", col-len(name)-2))
	} else {
		b.WriteString("\n" + indent)
	}
	b.WriteString(strings.Join(lines, "\n"+indent))
	b.WriteString("\n")
	return b.String()
}

// wrap breaks text into lines of at most width characters, at spaces.
func wrap(text string, width int) []string {
	var lines []string
	line := ""
	for _, w := range strings.Fields(text) {
		if line != "" && len(line)+1+len(w) > width {
			lines = append(lines, line)
			line = ""
		}
		if line != "" {
			line += " "
		}
		line += w
	}
	return append(lines, line)
}
