package pyfmt

import "testing"

// TestReprKnown holds known answers that need no Python.
func TestReprKnown(t *testing.T) {
	for in, want := range map[string]string{
		"":                                    `''`,
		"HTTPError('500 Server Error: boom')": `"HTTPError('500 Server Error: boom')"`,
		`say "hi"`:                            `'say "hi"'`,
		`both ' and "`:                        `'both \' and "'`,
		"a\\b":                                `'a\\b'`,
		"\t\n\r\x00\x7f":                      `'\t\n\r\x00\x7f'`,
		"é\u00a0\u00ad":                       `'é\xa0\xad'`,
		"\u200b\u2028":                        `'\u200b\u2028'`,
		"🙂\U000e0001":                         `'🙂\U000e0001'`,
	} {
		if got := Repr(in); got != want {
			t.Errorf("Repr(%q) = %s, want %s", in, got, want)
		}
	}
}
