package control

import "testing"

// TestNum: reasons show rates as people write them: four significant digits below
// 1000, whole numbers from there on, never an exponent.
func TestNum(t *testing.T) {
	for v, want := range map[float64]string{13454.4: "13454", 1000: "1000", 999.94: "999.9", 400: "400", 12.345: "12.35", 0.5: "0.5", 0: "0"} {
		if got := num(v); got != want {
			t.Errorf("num(%v) = %q, want %q", v, got, want)
		}
	}
}
