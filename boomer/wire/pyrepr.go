package wire

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"

	"github.com/zkload/zkload/pyfmt"
)

// ErrorKey is the key under which Locust's Python workers report an error, so that the
// same error from Go and Python workers merges into one row on the master. errText
// must already be scrubbed (ScrubAddress), as Locust keys the scrubbed text.
func ErrorKey(method, name, errText string) string {
	sum := sha256.Sum256([]byte(method + "." + name + "." + pyfmt.Repr(errText)))
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
