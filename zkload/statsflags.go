package main

import (
	"errors"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/zkload/zkload/stats"
)

// statsFlags are the extended-statistics settings, named as zk-locust's
// (locust_extra/stats.py): collection is on when the interval is positive and at least
// one output file is set.
type statsFlags struct {
	collect string // milliseconds
	csv     string
	distrib string
}

func (s *statsFlags) register(fs *flagSet) {
	fs.StringVar(&s.collect, "stats-collect", "0", "extended stats: snapshot interval in ms, 0 for off (env LOCUST_EXTRA_STATS_COLLECT; see doc/stats.md)")
	fs.StringVar(&s.csv, "stats-csv", "", "extended stats: time-series CSV file (env LOCUST_EXTRA_STATS_CSV)")
	fs.StringVar(&s.distrib, "stats-distrib", "", "extended stats: histogram distribution file, JSON Lines (env LOCUST_EXTRA_STATS_DISTRIB)")
}

// collector validates the settings and returns the collector, or nil when extended
// statistics are off. clientID goes in every row; users gives the running user count.
// A file set on the command line without an interval is an error; one set only in the
// environment is ignored then, as zk-locust does.
func (s *statsFlags) collector(fs *flagSet, clientID string, users func() int, log *slog.Logger) (*stats.Collector, error) {
	collect := envOr(fs, "stats-collect", "LOCUST_EXTRA_STATS_COLLECT", s.collect)
	csvPath := envOr(fs, "stats-csv", "LOCUST_EXTRA_STATS_CSV", s.csv)
	distPath := envOr(fs, "stats-distrib", "LOCUST_EXTRA_STATS_DISTRIB", s.distrib)
	what := "--stats-collect"
	if !fs.set("stats-collect") && os.Getenv("LOCUST_EXTRA_STATS_COLLECT") != "" {
		what = "LOCUST_EXTRA_STATS_COLLECT"
	}
	ms, err := strconv.Atoi(strings.TrimSpace(collect))
	if err != nil || ms < 0 {
		return nil, fs.fail("%s %q: want milliseconds, a whole number (0 for off)", what, collect)
	}
	if ms == 0 {
		for _, f := range []string{"stats-csv", "stats-distrib"} {
			if fs.set(f) {
				return nil, fs.fail("--%s needs --stats-collect MS (or LOCUST_EXTRA_STATS_COLLECT) above 0", f)
			}
		}
		return nil, nil
	}
	if csvPath == "" && distPath == "" {
		return nil, fs.fail("%s %d: give --stats-csv FILE or --stats-distrib FILE (or LOCUST_EXTRA_STATS_CSV/_DISTRIB)", what, ms)
	}
	c, err := stats.New(stats.Options{
		Interval: time.Duration(ms) * time.Millisecond, CSVPath: csvPath, DistribPath: distPath,
		ClientID: clientID, Users: users, Logger: log,
	})
	if err != nil {
		setting := "extended stats"
		var pe *os.PathError
		if errors.As(err, &pe) {
			setting = map[bool]string{true: "--stats-csv", false: "--stats-distrib"}[pe.Path == csvPath]
			err = pe
		}
		return nil, fs.fail("%s: %v", setting, err)
	}
	return c, nil
}
