//go:build !race

package zookeeper

// raceDetector is set when the tests run with -race.
const raceDetector = false
