package locuststats

import (
	"math"
	"strconv"
	"strings"
)

// PyFloat formats f as Python 3's str() and repr() of a float: the shortest digits
// that read back as f, in positional notation when the decimal exponent is in
// [-4, 16) (with ".0" for integral values), otherwise in exponent notation with a
// signed, at least two-digit exponent ("1e+16", "1.5e-05"); "inf", "-inf", "nan".
func PyFloat(f float64) string {
	switch {
	case math.IsNaN(f):
		return "nan"
	case math.IsInf(f, 1):
		return "inf"
	case math.IsInf(f, -1):
		return "-inf"
	}
	// Go's 'e' with precision -1 gives the shortest round-trip digits, as Python's repr.
	s := strconv.FormatFloat(f, 'e', -1, 64)
	sign := ""
	if s[0] == '-' {
		sign, s = "-", s[1:]
	}
	mant, expText, _ := strings.Cut(s, "e")
	exp, _ := strconv.Atoi(expText)
	digits := strings.Replace(mant, ".", "", 1)
	if f == 0 {
		return sign + "0.0"
	}
	if exp < -4 || exp >= 16 {
		m := digits[:1]
		if len(digits) > 1 {
			m += "." + digits[1:]
		}
		es := "+"
		if exp < 0 {
			es, exp = "-", -exp
		}
		e := strconv.Itoa(exp)
		if len(e) < 2 {
			e = "0" + e
		}
		return sign + m + "e" + es + e
	}
	if exp < 0 {
		return sign + "0." + strings.Repeat("0", -exp-1) + digits
	}
	if len(digits) <= exp+1 {
		return sign + digits + strings.Repeat("0", exp+1-len(digits)) + ".0"
	}
	return sign + digits[:exp+1] + "." + digits[exp+1:]
}

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
		return PyFloat(n.V)
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
