package boomer

import (
	"bufio"
	"bytes"
	"fmt"
	"math"
	"os"
	"path"
	"strconv"
	"strings"
)

// Why a user limit, and this one.
//
// Every user is a goroutine with its own state, so a worker's memory grows with its
// users: scripts/bench/scale measures about 6 KiB an idle user, and 18-23 KiB an Http
// user whose requests a refusing target fails at once (the garbage of its retries,
// which the GC lets grow to twice what is live). Nothing else bounds the count:
// `zkload run -u 2147483647` used to grow by hundreds of MB a second until the kernel
// killed it, and a master may ask a worker for any number. Users are dispatched and
// started step by step, so memory follows the users actually running; but a count
// that cannot fit only ends in an OOM kill that loses everything the run recorded.
// So a count above what the machine can hold is refused before anything starts
// (zkload run), or cut to what fits with one error (a master's spawn):
//
//	limit = memory available / PerUserMemory
//
// where the memory available is the kernel's MemAvailable (/proc/meminfo) or, if the
// process's cgroup (v2 memory.max or v1 memory.limit_in_bytes) leaves less, what that
// leaves, read when the run or worker starts. It is an upper bound, not a promise:
// users that hold more (a ZooKeeper session's buffers, large responses) run out
// sooner, and the limit says nothing of file descriptors (one a connected user).
// Without /proc (not Linux) the limit is FallbackUserLimit. scripts/bench/scale
// checks the failing user's figure against PerUserMemory.

// PerUserMemory is the memory a user is counted for: the most scripts/bench/scale
// measured for a user (an Http user failing at once, at its peak), with a margin.
const PerUserMemory = 32 << 10

// FallbackUserLimit is the limit where the memory available cannot be read.
const FallbackUserLimit = 1_000_000

// UserLimit is the most users one process may run, and why.
type UserLimit struct {
	Users int
	// Memory is the memory available to users (bytes) and Source where it was read;
	// 0 and "" when unknown (Users is then FallbackUserLimit).
	Memory int64
	Source string
}

// String says the limit and how it follows from the machine, for an error message:
// "617000 users (18.8 GiB available (MemAvailable in /proc/meminfo) / 32 KiB a user)".
func (l UserLimit) String() string {
	if l.Memory <= 0 {
		return fmt.Sprintf("%d users (the fixed limit where memory cannot be read)", l.Users)
	}
	return fmt.Sprintf("%d users (%s available (%s) / %d KiB a user)", l.Users, gib(l.Memory), l.Source, PerUserMemory>>10)
}

// Check returns an error if n users exceed the limit.
func (l UserLimit) Check(n int) error {
	if n > l.Users {
		return fmt.Errorf("%d users: more than this machine can hold; at most %s", n, l)
	}
	return nil
}

func gib(b int64) string { return strconv.FormatFloat(float64(b)/(1<<30), 'f', 1, 64) + " GiB" }

// MachineUserLimit reads the memory available to this process now and returns the
// user limit it allows.
func MachineUserLimit() UserLimit {
	return userLimit(os.ReadFile)
}

// userLimit is MachineUserLimit reading files with read (tests give it a fake /proc
// and /sys/fs/cgroup).
func userLimit(read func(string) ([]byte, error)) UserLimit {
	mem, src := memAvailable(read)
	if mem <= 0 {
		return UserLimit{Users: FallbackUserLimit}
	}
	if cg, csrc := cgroupHeadroom(read); csrc != "" && cg < mem {
		mem, src = max(cg, 0), csrc
	}
	return UserLimit{Users: int(min(mem/PerUserMemory, math.MaxInt32)), Memory: mem, Source: src}
}

// memAvailable is MemAvailable from /proc/meminfo, in bytes (0 if unknown).
func memAvailable(read func(string) ([]byte, error)) (int64, string) {
	b, err := read("/proc/meminfo")
	if err != nil {
		return 0, ""
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) >= 2 && f[0] == "MemAvailable:" {
			if kb, err := strconv.ParseInt(f[1], 10, 64); err == nil && kb > 0 {
				return kb << 10, "MemAvailable in /proc/meminfo"
			}
		}
	}
	return 0, ""
}

// cgroupHeadroom is what this process's memory cgroup leaves: its limit less its
// working set (usage less inactive file cache, as the kernel reclaims that first, and
// as container runtimes count it). src is "" when there is no cgroup limit.
func cgroupHeadroom(read func(string) ([]byte, error)) (headroom int64, src string) {
	b, err := read("/proc/self/cgroup")
	if err != nil {
		return 0, ""
	}
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		// "0::/path" (v2) or "4:memory:/path" (v1).
		parts := strings.SplitN(line, ":", 3)
		if len(parts) != 3 {
			continue
		}
		var dirs []string
		var limitF, usageF, inactiveKey, what string
		switch {
		case parts[0] == "0" && parts[1] == "":
			dirs = []string{path.Join("/sys/fs/cgroup", parts[2]), "/sys/fs/cgroup"}
			limitF, usageF, inactiveKey, what = "memory.max", "memory.current", "inactive_file", "cgroup memory.max"
		case strings.Contains(","+parts[1]+",", ",memory,"):
			dirs = []string{path.Join("/sys/fs/cgroup/memory", parts[2]), "/sys/fs/cgroup/memory"}
			limitF, usageF, inactiveKey, what = "memory.limit_in_bytes", "memory.usage_in_bytes", "total_inactive_file", "cgroup memory.limit_in_bytes"
		default:
			continue
		}
		for _, d := range dirs {
			limit, ok := readInt(read, path.Join(d, limitF))
			if !ok {
				continue // "max", or not mounted here: try the next
			}
			if limit >= 1<<62 { // v1's "no limit"
				break
			}
			usage, _ := readInt(read, path.Join(d, usageF))
			usage -= statValue(read, path.Join(d, "memory.stat"), inactiveKey)
			return limit - max(usage, 0), what + " less the cgroup's use"
		}
	}
	return 0, ""
}

func readInt(read func(string) ([]byte, error), name string) (int64, bool) {
	b, err := read(name)
	if err != nil {
		return 0, false
	}
	n, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
	return n, err == nil
}

func statValue(read func(string) ([]byte, error), name, key string) int64 {
	b, err := read(name)
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(line, " "); ok && k == key {
			n, _ := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			return n
		}
	}
	return 0
}
