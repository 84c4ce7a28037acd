package boomer

import (
	"io/fs"
	"strings"
	"testing"
)

// fakeFiles reads from a map, as /proc and /sys/fs/cgroup would answer.
func fakeFiles(files map[string]string) func(string) ([]byte, error) {
	return func(name string) ([]byte, error) {
		if s, ok := files[name]; ok {
			return []byte(s), nil
		}
		return nil, fs.ErrNotExist
	}
}

func TestUserLimitFollowsTheMemoryAvailable(t *testing.T) {
	const meminfo = "MemTotal:       24683620 kB\nMemFree:        1000 kB\nMemAvailable:    1048576 kB\n"
	for _, c := range []struct {
		name   string
		files  map[string]string
		users  int
		source string
	}{
		{"no /proc", nil, FallbackUserLimit, ""},
		{"MemAvailable", map[string]string{"/proc/meminfo": meminfo}, (1 << 30) / PerUserMemory, "MemAvailable in /proc/meminfo"},
		{"cgroup v2 below it", map[string]string{
			"/proc/meminfo":                     meminfo,
			"/proc/self/cgroup":                 "0::/job\n",
			"/sys/fs/cgroup/job/memory.max":     "536870912\n",
			"/sys/fs/cgroup/job/memory.current": "300000000\n",
			"/sys/fs/cgroup/job/memory.stat":    "anon 1\ninactive_file 31870912\n",
		}, (536870912 - 300000000 + 31870912) / PerUserMemory, "cgroup memory.max less the cgroup's use"},
		{"cgroup v2 without a limit", map[string]string{
			"/proc/meminfo":                 meminfo,
			"/proc/self/cgroup":             "0::/\n",
			"/sys/fs/cgroup/memory.max":     "max\n",
			"/sys/fs/cgroup/memory.current": "1\n",
		}, (1 << 30) / PerUserMemory, "MemAvailable in /proc/meminfo"},
		{"cgroup v1, namespaced (path not mounted: the root)", map[string]string{
			"/proc/meminfo":     meminfo,
			"/proc/self/cgroup": "5:cpu:/\n4:memory:/docker/abc\n",
			"/sys/fs/cgroup/memory/memory.limit_in_bytes": "268435456",
			"/sys/fs/cgroup/memory/memory.usage_in_bytes": "0",
		}, 268435456 / PerUserMemory, "cgroup memory.limit_in_bytes less the cgroup's use"},
		{"cgroup v1 unlimited", map[string]string{
			"/proc/meminfo":     meminfo,
			"/proc/self/cgroup": "4:memory:/x\n",
			"/sys/fs/cgroup/memory/x/memory.limit_in_bytes": "9223372036854771712",
		}, (1 << 30) / PerUserMemory, "MemAvailable in /proc/meminfo"},
		{"a cgroup already over its limit", map[string]string{
			"/proc/meminfo":                     meminfo,
			"/proc/self/cgroup":                 "0::/job\n",
			"/sys/fs/cgroup/job/memory.max":     "1000",
			"/sys/fs/cgroup/job/memory.current": "5000",
		}, 0, "cgroup memory.max less the cgroup's use"},
	} {
		l := userLimit(fakeFiles(c.files))
		if l.Users != c.users || l.Source != c.source {
			t.Errorf("%s: %+v, want %d users from %q", c.name, l, c.users, c.source)
		}
	}
}

func TestUserLimitCheck(t *testing.T) {
	l := UserLimit{Users: 32768, Memory: 1 << 30, Source: "MemAvailable in /proc/meminfo"}
	if err := l.Check(32768); err != nil {
		t.Errorf("at the limit: %v", err)
	}
	err := l.Check(2147483647)
	want := "2147483647 users: more than this machine can hold; at most 32768 users (1.0 GiB available (MemAvailable in /proc/meminfo) / 32 KiB a user)"
	if err == nil || err.Error() != want {
		t.Errorf("Check: %v\nwant %s", err, want)
	}
	if s := (UserLimit{Users: FallbackUserLimit}).String(); !strings.Contains(s, "fixed limit") {
		t.Errorf("fallback limit says %q", s)
	}
	if MachineUserLimit().Users < 1 {
		t.Errorf("this machine holds no user: %+v", MachineUserLimit())
	}
}
