package wire

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// PyRepr returns Python's repr() of a str: single quotes unless the text holds a single
// quote and no double quote, with Python's backslash escapes for the rest.
func PyRepr(s string) string {
	quote := byte('\'')
	if strings.IndexByte(s, '\'') >= 0 && strings.IndexByte(s, '"') < 0 {
		quote = '"'
	}
	var b strings.Builder
	b.Grow(len(s) + 2)
	b.WriteByte(quote)
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		i += size
		switch {
		case r == '\\':
			b.WriteString(`\\`)
		case r == rune(quote):
			b.WriteByte('\\')
			b.WriteByte(quote)
		case r == '\t':
			b.WriteString(`\t`)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == utf8.RuneError && size == 1:
			// Invalid UTF-8 cannot occur in a Python str; it is shown as U+FFFD would be.
			b.WriteRune(utf8.RuneError)
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&b, `\x%02x`, r)
		case r < 0x80 || unicode.IsPrint(r):
			b.WriteRune(r)
		case r <= 0xff:
			fmt.Fprintf(&b, `\x%02x`, r)
		case r <= 0xffff:
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			fmt.Fprintf(&b, `\U%08x`, r)
		}
	}
	b.WriteByte(quote)
	return b.String()
}

// ErrorKey is the key under which Locust's Python workers report an error, so that the
// same error from Go and Python workers merges into one row on the master. errText
// must already be scrubbed (ScrubAddress), as Locust keys the scrubbed text.
func ErrorKey(method, name, errText string) string {
	sum := sha256.Sum256([]byte(method + "." + name + "." + PyRepr(errText)))
	return hex.EncodeToString(sum[:])
}

// ScrubAddress replaces a Python object address ("object at 0x7f3a...>") with
// "0x....", as Locust does, so errors that differ only by address merge.
func ScrubAddress(errText string) string {
	const target = "object at 0x"
	i := strings.Index(errText, target)
	if i < 0 {
		return errText
	}
	start := i + len(target) - 2
	end := strings.IndexByte(errText[start:], '>')
	if end < 0 {
		return errText
	}
	return strings.ReplaceAll(errText, errText[start:start+end], "0x....")
}
