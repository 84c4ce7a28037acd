package zookeeper

import (
	"fmt"

	"github.com/zkload/zkload/connstr"
	"github.com/zkload/zkload/setting"
)

// Resolve computes the effective settings: for each setting the worker's flag, else its
// environment variable (or zk-locust's KAZOO_LOCUST_* one), else the master's custom
// option, else the default (setting.Layers.Get). The ensemble comes from --hosts, else
// ZK_LOCUST_HOSTS, else host, the user's host (worker --host or the master's -H), when
// it is a zk:// URL or a host:port list. The --bench-NAME settings come from the
// layers' flags named bench-*, the ZK_LOCUST_BENCH_* variables of l.Environ and the
// master's zk_bench_* options. Errors name the setting's source and say what is
// expected, in one line.
func Resolve(l setting.Layers, host string) (*Settings, error) {
	s := &Settings{}
	var maxWaitSet, valSizeSet bool
	for _, e := range settingsTable() {
		v := l.Get(&e.Spec)
		switch {
		case e.Flag == "hosts" && !v.Given():
			if host == "" {
				continue
			}
			servers, chroot, err := connstr.Parse(host)
			if err != nil {
				return nil, fmt.Errorf("host %q (worker --host or master -H): %w; want zk://host:port[,host:port...][/chroot]", host, err)
			}
			s.Servers, s.Chroot = servers, chroot
			continue
		case e.Flag == "max-wait" && !v.Given():
			continue
		}
		if err := e.apply(s, v); err != nil {
			return nil, err
		}
		switch e.Flag {
		case "max-wait":
			maxWaitSet = true
		case "val-size":
			valSizeSet = v.Given()
		}
	}
	if !maxWaitSet || s.MaxWait < s.MinWait {
		// zk-locust: the maximum defaults to, and is at least, the minimum.
		s.MaxWait = s.MinWait
	}
	s.SizedNames = valSizeSet
	if len(s.Servers) == 0 {
		return nil, fmt.Errorf("no ZooKeeper ensemble: set --hosts or ZK_LOCUST_HOSTS (host:port[,host:port...][/chroot]), or the master's Host (-H zk://host:port,...)")
	}
	s.Bench = NewBench(l)
	return s, nil
}

// check validates the values the worker itself was given (flags and environment), so
// that a bad one stops the command at once; the master's values are checked when users
// start. The ensemble may be missing here: it can come from the master.
func check(l setting.Layers) error {
	l.Master = nil
	for _, e := range settingsTable() {
		v := l.Get(&e.Spec)
		if !v.Given() {
			continue
		}
		var scratch Settings
		if err := e.apply(&scratch, v); err != nil {
			return err
		}
	}
	return nil
}
