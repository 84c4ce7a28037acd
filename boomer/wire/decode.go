package wire

import (
	"encoding/binary"
	"fmt"
	"math"
	"unicode/utf8"
)

// maxDepth bounds nesting in a decoded frame. Locust's deepest message (parsed_options
// with lists) is 4 levels deep; a hostile frame must not exhaust the stack.
const maxDepth = 64

// reader decodes msgpack from a frame without trusting its length claims: a length is
// checked against the bytes left before anything is allocated, so a small frame cannot
// make the worker allocate much more than its own size.
type reader struct {
	b     []byte
	off   int
	depth int
}

func (r *reader) left() int { return len(r.b) - r.off }

func (r *reader) errf(format string, a ...any) error {
	return fmt.Errorf("%w: at byte %d: %s", ErrMalformed, r.off, fmt.Sprintf(format, a...))
}

func (r *reader) byte() (byte, error) {
	if r.off >= len(r.b) {
		return 0, r.errf("unexpected end of frame")
	}
	c := r.b[r.off]
	r.off++
	return c, nil
}

func (r *reader) take(n int) ([]byte, error) {
	if n < 0 || n > r.left() {
		return nil, r.errf("claims %d bytes, %d left", n, r.left())
	}
	p := r.b[r.off : r.off+n]
	r.off += n
	return p, nil
}

func (r *reader) uint(n int) (uint64, error) {
	p, err := r.take(n)
	if err != nil {
		return 0, err
	}
	switch n {
	case 1:
		return uint64(p[0]), nil
	case 2:
		return uint64(binary.BigEndian.Uint16(p)), nil
	case 4:
		return uint64(binary.BigEndian.Uint32(p)), nil
	}
	return binary.BigEndian.Uint64(p), nil
}

// length reads an n-byte length and checks that at least min*length bytes remain.
func (r *reader) length(n, min int) (int, error) {
	u, err := r.uint(n)
	if err != nil {
		return 0, err
	}
	if u > uint64(r.left()/max(min, 1)) {
		return 0, r.errf("claims %d elements, %d bytes left", u, r.left())
	}
	return int(u), nil
}

// value decodes one msgpack value. Integers come back as int64 (uint64 above
// math.MaxInt64), floats as float64, str as string, bin as []byte, arrays as []any,
// maps as map[string]any when every key is text, else map[any]any.
func (r *reader) value() (any, error) {
	c, err := r.byte()
	if err != nil {
		return nil, err
	}
	switch {
	case c <= 0x7f:
		return int64(c), nil
	case c >= 0xe0:
		return int64(int8(c)), nil
	case c >= 0xa0 && c <= 0xbf:
		return r.str(int(c & 0x1f))
	case c >= 0x90 && c <= 0x9f:
		return r.array(int(c & 0x0f))
	case c >= 0x80 && c <= 0x8f:
		return r.mapOf(int(c & 0x0f))
	}
	switch c {
	case 0xc0:
		return nil, nil
	case 0xc2:
		return false, nil
	case 0xc3:
		return true, nil
	case 0xcc, 0xcd, 0xce, 0xcf:
		u, err := r.uint(1 << (c - 0xcc))
		if err != nil {
			return nil, err
		}
		if u > math.MaxInt64 {
			return u, nil
		}
		return int64(u), nil
	case 0xd0:
		u, err := r.uint(1)
		return int64(int8(u)), err
	case 0xd1:
		u, err := r.uint(2)
		return int64(int16(u)), err
	case 0xd2:
		u, err := r.uint(4)
		return int64(int32(u)), err
	case 0xd3:
		u, err := r.uint(8)
		return int64(u), err
	case 0xca:
		u, err := r.uint(4)
		return float64(math.Float32frombits(uint32(u))), err
	case 0xcb:
		u, err := r.uint(8)
		return math.Float64frombits(u), err
	case 0xd9, 0xda, 0xdb:
		n, err := r.length(1<<(c-0xd9), 1)
		if err != nil {
			return nil, err
		}
		return r.str(n)
	case 0xc4, 0xc5, 0xc6:
		n, err := r.length(1<<(c-0xc4), 1)
		if err != nil {
			return nil, err
		}
		p, err := r.take(n)
		return append([]byte(nil), p...), err
	case 0xdc, 0xdd:
		n, err := r.length(2<<(c-0xdc), 1)
		if err != nil {
			return nil, err
		}
		return r.array(n)
	case 0xde, 0xdf:
		n, err := r.length(2<<(c-0xde), 2)
		if err != nil {
			return nil, err
		}
		return r.mapOf(n)
	}
	return nil, r.errf("unsupported msgpack type 0x%02x (Locust sends no ext types)", c)
}

func (r *reader) str(n int) (any, error) {
	p, err := r.take(n)
	if err != nil {
		return nil, err
	}
	if !utf8.Valid(p) {
		return nil, r.errf("str is not valid UTF-8")
	}
	return string(p), nil
}

func (r *reader) enter() error {
	r.depth++
	if r.depth > maxDepth {
		return r.errf("nested deeper than %d", maxDepth)
	}
	return nil
}

func (r *reader) array(n int) (any, error) {
	if err := r.enter(); err != nil {
		return nil, err
	}
	defer func() { r.depth-- }()
	out := make([]any, n)
	for i := range out {
		v, err := r.value()
		if err != nil {
			return nil, err
		}
		out[i] = v
	}
	return out, nil
}

func (r *reader) mapOf(n int) (any, error) {
	if err := r.enter(); err != nil {
		return nil, err
	}
	defer func() { r.depth-- }()
	sm := make(map[string]any, n)
	var am map[any]any // once a key is not text
	for range n {
		k, err := r.value()
		if err != nil {
			return nil, err
		}
		v, err := r.value()
		if err != nil {
			return nil, err
		}
		if b, ok := k.([]byte); ok { // old msgpack packs text keys as raw
			k = string(b)
		}
		switch k.(type) {
		case string, int64, uint64, float64, bool, nil:
		default:
			return nil, r.errf("map key of type %T", k)
		}
		if s, ok := k.(string); ok && am == nil {
			sm[s] = v
			continue
		}
		if am == nil {
			am = make(map[any]any, n)
			for ks, vs := range sm {
				am[ks] = vs
			}
		}
		am[k] = v
	}
	if am != nil {
		return am, nil
	}
	return sm, nil
}
