package boomer

import (
	"os"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// cpuMeter measures this process's CPU use over the interval since its last reading,
// as a percentage of the cores the process can use (so 100 means every usable core
// was busy, and Locust's 90% warning keeps its meaning).
type cpuMeter struct {
	lastCPU  time.Duration
	lastWall time.Time
}

func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func usableCores() int {
	n := runtime.NumCPU() // respects the affinity mask
	if g := runtime.GOMAXPROCS(0); g < n {
		n = g
	}
	return max(n, 1)
}

func (m *cpuMeter) percent() float64 {
	cpu, now := processCPU(), time.Now()
	defer func() { m.lastCPU, m.lastWall = cpu, now }()
	if m.lastWall.IsZero() {
		return 0
	}
	wall := now.Sub(m.lastWall)
	if wall <= 0 {
		return 0
	}
	return 100 * float64(cpu-m.lastCPU) / float64(wall) / float64(usableCores())
}

// rssBytes returns the process's resident set size, as psutil reports it to Locust.
func rssBytes() int64 {
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		return int64(ms.Sys)
	}
	f := strings.Fields(string(b))
	if len(f) < 2 {
		return 0
	}
	pages, _ := strconv.ParseInt(f[1], 10, 64)
	return pages * int64(os.Getpagesize())
}
