package connstr

import (
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	cases := []struct {
		in      string
		servers string
		chroot  string
		bad     string
	}{
		{in: "127.0.0.1:2181", servers: "127.0.0.1:2181"},
		{in: "zk://a:12345,b:65535/app/x/", servers: "a:12345,b:65535", chroot: "/app/x"},
		{in: "a,b:2182", servers: "a:2181,b:2182"},
		{in: "[::1]:21810", servers: "[::1]:21810"},
		{in: "zk://a:1/", servers: "a:1"},
		{in: "a:65536", bad: "port must be 1-65535"},
		{in: "a:0", bad: "port must be 1-65535"},
		{in: "http://a:80", bad: "not zk://"},
		{in: "a:1,,b:2", bad: "empty host"},
		{in: "", bad: "no host"},
	}
	for _, c := range cases {
		s, ch, err := Parse(c.in)
		if c.bad != "" {
			if err == nil || !strings.Contains(err.Error(), c.bad) {
				t.Errorf("Parse(%q) = %v, %q, %v; want error %q", c.in, s, ch, err, c.bad)
			}
			continue
		}
		if err != nil || strings.Join(s, ",") != c.servers || ch != c.chroot {
			t.Errorf("Parse(%q) = %v, %q, %v; want %s %q", c.in, s, ch, err, c.servers, c.chroot)
		}
	}
}
