package tasks

import (
	"strings"
	"testing"
)

func TestDefaultSuite(t *testing.T) {
	tests := []Test{{Label: "b", Suite: 2}, {Label: "only_when_named"}, {Label: "a", Suite: 1}, {Label: "c", Suite: 3}}
	var got []string
	for _, t := range DefaultSuite(tests) {
		got = append(got, t.Label)
	}
	if strings.Join(got, " ") != "a b c" {
		t.Errorf("default suite %v, want a b c without the Suite 0 test", got)
	}
	if tests[0].Label != "b" {
		t.Errorf("DefaultSuite reordered its argument: %v", tests)
	}
}
