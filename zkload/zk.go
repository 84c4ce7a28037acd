package main

import (
	"strings"

	"github.com/zkload/zkload/boomer"
	"github.com/zkload/zkload/setting"
	"github.com/zkload/zkload/tasks/zookeeper"
)

// zkFlags are the ZooKeeper workloads' settings: one flag per zk-locust setting (each
// also read from its environment variable), plus the open-ended --bench-NAME VALUE.
type zkFlags struct {
	fs    *flagSet
	vals  map[string]*string
	bench map[string]string
}

func (z *zkFlags) register(fs *flagSet) {
	z.fs = fs
	z.vals = map[string]*string{}
	z.bench = map[string]string{}
	for _, s := range (zookeeper.Workload{}).Settings() {
		if s.Open {
			continue // --bench-NAME: defineBench
		}
		p := new(string)
		z.vals[s.Flag] = p
		help := "ZooKeeper: " + s.Help + " (env " + s.Env
		if s.Option != "" {
			help += ", master option --" + strings.ReplaceAll(s.Option, "_", "-")
		}
		fs.StringVar(p, s.Flag, s.Default, help+")")
	}
	fs.preparse = append(fs.preparse, z.defineBench)
}

// benchValue is one --bench-NAME flag.
type benchValue struct {
	m    map[string]string
	name string
}

func (b benchValue) String() string {
	if b.m == nil {
		return ""
	}
	return b.m[b.name]
}

func (b benchValue) Set(v string) error { b.m[b.name] = v; return nil }

// defineBench defines a flag for every --bench-NAME on the command line, since their
// names are open-ended.
func (z *zkFlags) defineBench(args []string) {
	for _, a := range args {
		if a == "--" {
			return
		}
		name := strings.TrimLeft(a, "-")
		if len(name) == len(a) || len(a)-len(name) > 2 {
			continue
		}
		name, _, _ = strings.Cut(name, "=")
		rest, ok := strings.CutPrefix(name, "bench-")
		if !ok || rest == "" || z.fs.Lookup(name) != nil {
			continue
		}
		z.fs.Var(benchValue{m: z.bench, name: zookeeper.NormalizeBenchName(rest)}, name,
			"ZooKeeper: open-ended setting for workloads (env ZK_LOCUST_BENCH_"+strings.ToUpper(zookeeper.NormalizeBenchName(rest))+")")
	}
}

// layers returns the worker's own settings: flags given on the command line and the
// environment.
func (z *zkFlags) layers() setting.Layers {
	flags := map[string]string{}
	if z.fs != nil {
		for name, p := range z.vals {
			if z.fs.set(name) {
				flags[name] = *p
			}
		}
	}
	for name, v := range z.bench {
		flags["bench-"+name] = v
	}
	return setting.Layers{Flags: flags}
}

func (z *zkFlags) validate(fs *flagSet) error {
	if err := (zookeeper.Workload{}).Check(z.layers()); err != nil {
		return fs.fail("%v", err)
	}
	return nil
}

// classes returns the ZooKeeper user classes, one per zk-locust task set.
func (z *zkFlags) classes() []*boomer.UserClass {
	return zookeeper.Workload{}.Classes(z.layers())
}

// zkLocustfileArgs returns the locustfile lines that declare the ZooKeeper settings as
// custom arguments of the master: they show in its web UI, and reach workers in
// parsed_options. Their defaults are empty, meaning "not set by the master". It is empty
// when no ZooKeeper class is in the locustfile.
func zkLocustfileArgs(classes []*boomer.UserClass) string {
	return zookeeper.Workload{}.Locustfile(classNames(classes))
}
