package locuststats

import (
	"strconv"

	"github.com/zkload/zkload/pyfmt"
)

// Num is a number as Python holds it in Locust's stats: an int or a float. The
// difference shows in the CSV files ("15500" against "15500.0").
type Num struct {
	V     float64
	Float bool
}

// Int returns the Python int n.
func Int(n int64) Num { return Num{V: float64(n)} }

// Float returns the Python float f.
func Float(f float64) Num { return Num{V: f, Float: true} }

// String formats n as Python's str() does.
func (n Num) String() string {
	if n.Float {
		return pyfmt.Float(n.V)
	}
	return strconv.FormatInt(int64(n.V), 10)
}

// truthy reports whether Python would take n as true (nonzero).
func (n Num) truthy() bool { return n.V != 0 }

// orZero is Python's `n or 0`: the int 0 for any zero.
func (n Num) orZero() Num {
	if !n.truthy() {
		return Int(0)
	}
	return n
}
