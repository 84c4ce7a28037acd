// Package freeport finds TCP ports on 127.0.0.1 that are free, for the test helpers and
// benchmarks that start servers on loopback. Nothing here imports testing.
package freeport

import "net"

// Ports returns n distinct TCP ports on 127.0.0.1 that were free a moment ago. All n
// stay bound until it has them, so none repeats; another process can still take one
// before the caller binds it.
func Ports(n int) ([]int, error) {
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	ports := make([]int, 0, n)
	for len(ports) < n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// Port returns one TCP port on 127.0.0.1 that was free a moment ago (see Ports).
func Port() (int, error) {
	p, err := Ports(1)
	if err != nil {
		return 0, err
	}
	return p[0], nil
}
