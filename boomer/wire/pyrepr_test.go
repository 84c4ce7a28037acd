package wire

import (
	"encoding/hex"
	"fmt"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/zkload/zkload/pyfmt"
)

// reprCases are strings whose repr() is easy to get wrong.
var reprCases = []string{
	"",
	"plain",
	"HTTPError('500 Server Error: boom')", // ' only: Python picks double quotes
	`say "hi"`,                            // " only: single quotes, " as is
	`both ' and "`,                        // both: single quotes, \' escaped
	`'`, `"`, `'"`, `"'`,
	`C:\path\to\file \\ \'`,                                    // backslashes
	"line1\nline2\ttab\rcr",                                    // the three named escapes
	"\x00\x01\x07\x08\x0b\x0c\x1b\x1f \x7f",                    // other C0 controls and DEL
	"caf\u00e9 \u00a0nbsp \u00ad shy \u0085 nel \u00ff \u0080", // latin-1: printable or \xNN
	"\u00e9\u0301 e\u0301",                                     // combining mark
	"日本語 한국어 العربية עברית",                                    // CJK, Hangul, RTL scripts
	"\u200b\u200d\u200e\u200f\u2028\u2029\ufeff",               // zero-width, ZWJ, marks, separators, BOM: \uXXXX
	"\u3000 \u2003 \u1680",                                     // non-ASCII spaces: not printable
	"\ue000 \uf8ff \U000f0000",                                 // private use
	"\uffff \ufffe \U0010ffff",                                 // noncharacters
	"\U000e0001 \U000e0041",                                    // tag characters (Cf)
	"🙂🚀 👍🏽 👨‍👩‍👧 🇩🇪",                                           // emoji, skin tone, ZWJ sequence, flag
	"\U0001d11e \U00010348",                                    // astral printable
	"\ufffd",                                                   // the replacement character itself is printable
	"ConnectionError(<urllib3.connection.HTTPConnection object at 0x7f0e8c3e2d30>: Failed to establish a new connection: [Errno 111] Connection refused)",
	"<requests.adapters.HTTPAdapter object at 0x7f3a2c1d5e80> and again <requests.adapters.HTTPAdapter object at 0x7f3a2c1d5e80>",
	"<A object at 0x1111> <B object at 0x2222>", // only the first address is scrubbed
	"<A object at 0x1111 without a closing bracket",
	"<A object at 0x>",
	"> before <A object at 0xabc>",
	"object at 0x",
	"é object at 0xff> é", // non-ASCII before the address
	"Error('<object at 0x123>', \"x\")",
}

// TestStringsMatchPython compares pyfmt.Repr with repr(), ScrubAddress with Locust 2.12.1's
// StatsError.parse_error (given an exception whose repr is the text), and ErrorKey
// with StatsError.create_key for the same exception.
func TestStringsMatchPython(t *testing.T) {
	t.Parallel()
	type c struct {
		Text   string `json:"text"`
		Method string `json:"method"`
		Name   string `json:"name"`
	}
	cases := make([]c, len(reprCases))
	for i, s := range reprCases {
		if !utf8.ValidString(s) {
			t.Fatalf("case %d is not valid UTF-8", i)
		}
		cases[i] = c{Text: s, Method: "GET", Name: fmt.Sprintf("/p%d?q='é'", i)}
	}
	var res []struct {
		Repr       string `json:"repr"`
		ParseError string `json:"parse_error"`
		Key        string `json:"key"`
	}
	runHarness(t, map[string]any{"mode": "strings", "cases": cases}, &res)
	for i, cs := range cases {
		r := res[i]
		if got := pyfmt.Repr(cs.Text); got != r.Repr {
			t.Errorf("pyfmt.Repr(%q)\n  = %s\nPython repr() = %s", cs.Text, got, r.Repr)
		}
		scrubbed := ScrubAddress(cs.Text)
		if scrubbed != r.ParseError {
			t.Errorf("ScrubAddress(%q)\n  = %q\nparse_error = %q", cs.Text, scrubbed, r.ParseError)
		}
		if got := ErrorKey(cs.Method, cs.Name, scrubbed); got != r.Key {
			t.Errorf("ErrorKey(%q, %q, %q) = %s, create_key = %s", cs.Method, cs.Name, scrubbed, got, r.Key)
		}
	}
}

// TestPyReprEveryCodePoint compares pyfmt.Repr of every single code point with what Python's
// repr() does to it: literal if str.isprintable(), else \xNN, \uNNNN or \UNNNNNNNN.
// Code points that Python's Unicode database (14.0 in Debian's 3.11) leaves unassigned
// but Go's newer tables know are version skew: they are counted and logged, not failed.
func TestPyReprEveryCodePoint(t *testing.T) {
	t.Parallel()
	var res struct {
		Printable  string `json:"printable"`
		Unassigned string `json:"unassigned"`
		Unidata    string `json:"unidata"`
	}
	runHarness(t, map[string]any{"mode": "printable"}, &res)
	printable, err1 := hex.DecodeString(res.Printable)
	unassigned, err2 := hex.DecodeString(res.Unassigned)
	if err1 != nil || err2 != nil || len(printable) != 0x110000/8 || len(unassigned) != 0x110000/8 {
		t.Fatalf("bad bitmaps from Python (%v, %v)", err1, err2)
	}
	bit := func(b []byte, r rune) bool { return b[r>>3]&(1<<(r&7)) != 0 }
	var skew []rune
	failures := 0
	for r := rune(0); r < 0x110000; r++ {
		if r >= 0xd800 && r <= 0xdfff {
			continue // surrogates cannot occur in valid UTF-8
		}
		var want string
		switch {
		case r == '\\':
			want = `'\\'`
		case r == '\'':
			want = `"'"`
		case r == '\t':
			want = `'\t'`
		case r == '\n':
			want = `'\n'`
		case r == '\r':
			want = `'\r'`
		case bit(printable, r):
			want = "'" + string(r) + "'"
		case r <= 0xff:
			want = fmt.Sprintf(`'\x%02x'`, r)
		case r <= 0xffff:
			want = fmt.Sprintf(`'\u%04x'`, r)
		default:
			want = fmt.Sprintf(`'\U%08x'`, r)
		}
		got := pyfmt.Repr(string(r))
		if got == want {
			continue
		}
		if bit(unassigned, r) && unicode.IsPrint(r) {
			skew = append(skew, r)
			continue
		}
		failures++
		if failures <= 20 {
			t.Errorf("pyfmt.Repr(U+%04X) = %s, Python repr() = %s", r, got, want)
		}
	}
	if failures > 20 {
		t.Errorf("... %d code points differ in all", failures)
	}
	if len(skew) > 0 {
		t.Logf("%d code points are printable in Go's Unicode %s tables but unassigned in Python's %s "+
			"(e.g. U+%04X); errors containing them get a different key than a Python worker's", len(skew),
			unicode.Version, res.Unidata, skew[0])
	}
}

// TestErrorKeyComposition pins ErrorKey's input to method + "." + name + "." + repr(error).
func TestErrorKeyComposition(t *testing.T) {
	a := ErrorKey("GET", "a.b", "c")
	b := ErrorKey("GET.a", "b", "c")
	if a != b {
		// Python builds the same f-string, so these collide there too; the test documents it.
		t.Errorf("ErrorKey differs from Python's plain concatenation: %s vs %s", a, b)
	}
	if len(a) != 64 || strings.Trim(a, "0123456789abcdef") != "" {
		t.Errorf("ErrorKey %q is not lower-case sha256 hex", a)
	}
}

// TestErrorKeyKnown holds known answers that need no Python.
func TestErrorKeyKnown(t *testing.T) {
	// The key the reference observed from a real Python worker (§5.1).
	got := ErrorKey("GET", "/missing", "HTTPError('404 Client Error: File not found for url: http://127.0.0.1:8000/missing')")
	if want := "d7b8aca0ac6b2c2a410f953d76e4018dbc73981acb7dd2144e883c2a83711356"; got != want {
		t.Errorf("ErrorKey = %s, want %s", got, want)
	}
	for in, want := range map[string]string{
		"no address":                            "no address",
		"<X object at 0x7f3a12345678>":          "<X object at 0x....>",
		"<X object at 0xab> <X object at 0xab>": "<X object at 0x....> <X object at 0x....>",
		"<X object at 0xab> <Y object at 0xcd>": "<X object at 0x....> <Y object at 0xcd>",
		"<X object at 0xab":                     "<X object at 0xab",
	} {
		if got := ScrubAddress(in); got != want {
			t.Errorf("ScrubAddress(%q) = %q, want %q", in, got, want)
		}
	}
}
