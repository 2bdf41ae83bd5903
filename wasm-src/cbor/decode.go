package cbor

import (
	"errors"
	"math"
	"unicode/utf8"
)

// MaxDepth is how deeply arrays and maps may nest. A top-level scalar has depth 0,
// the items of a top-level map depth 1; an input nesting containers 17 deep is refused.
const MaxDepth = 16

// Decoding errors. Parse returns one of these; it never panics on any input.
var (
	ErrTruncated    = errors.New("cbor: truncated input")
	ErrTrailing     = errors.New("cbor: trailing bytes after the top-level item")
	ErrDepth        = errors.New("cbor: nesting deeper than 16")
	ErrIndefinite   = errors.New("cbor: indefinite lengths are not supported")
	ErrUnsupported  = errors.New("cbor: unsupported item (tag or simple value)")
	ErrMalformed    = errors.New("cbor: reserved additional information 28..30")
	ErrInvalidUTF8  = errors.New("cbor: text string is not valid UTF-8")
	ErrTooManyItems = errors.New("cbor: more items than the caller's value buffer holds")
	ErrEmpty        = errors.New("cbor: empty input")
	ErrNotMap       = errors.New("cbor: not a map")
)

// Kind tells which field of a Value is meaningful.
type Kind uint8

const (
	KindInvalid   Kind = iota
	KindUint           // non-negative integer: Uint
	KindNegInt         // negative integer -1-Uint
	KindFloat          // Float (from float16, float32 or float64)
	KindText           // Bytes holds UTF-8
	KindBytes          // Bytes
	KindBool           // Bool
	KindNull           // null
	KindUndefined      // undefined (f7)
	KindArray          // N items follow
	KindMap            // N key/value pairs follow
)

// Value is one decoded item. Parse stores a whole document as a flat slice of
// Values in document order (pre-order): a container is followed by its items, and
// End is the index just past the container's last descendant, so a reader can skip
// a subtree in O(1). Text and byte strings alias the input; nothing is copied.
type Value struct {
	Kind  Kind
	Bool  bool
	N     int    // arrays: item count; maps: pair count
	End   int    // index of the first Value after this one and its descendants
	Uint  uint64 // integer argument: the value for KindUint, -1-Uint for KindNegInt
	Float float64
	Bytes []byte // KindText and KindBytes: a sub-slice of the input
}

// Int64 returns an integer item as int64; ok is false for other kinds and for
// integers outside the int64 range.
func (v *Value) Int64() (int64, bool) {
	switch v.Kind {
	case KindUint:
		if v.Uint <= math.MaxInt64 {
			return int64(v.Uint), true
		}
	case KindNegInt:
		if v.Uint <= math.MaxInt64 {
			return -1 - int64(v.Uint), true
		}
	}
	return 0, false
}

// Float64 returns a float item, or an integer item converted to float64 (the ABI
// lets a writer send 4 for 4.0: preferred serialization keeps integers integers).
func (v *Value) Float64() (float64, bool) {
	switch v.Kind {
	case KindFloat:
		return v.Float, true
	case KindUint:
		return float64(v.Uint), true
	case KindNegInt:
		return -1 - float64(v.Uint), true
	}
	return 0, false
}

// IsText reports whether v is a text string equal to s (no allocation).
func (v *Value) IsText(s string) bool {
	return v.Kind == KindText && string(v.Bytes) == s
}

// Doc is a parsed document: Values[0] is the top-level item.
type Doc struct {
	Values []Value
}

// Parse decodes exactly one well-formed CBOR item from data into buf (reusing its
// storage: pass a fixed array's slice to avoid heap use) and returns the document.
// It rejects empty and truncated input, indefinite lengths, tags, simple values
// other than false/true/null/undefined, invalid UTF-8 in text, nesting deeper than
// MaxDepth, and bytes after the item.
func Parse(data []byte, buf []Value) (Doc, error) {
	if len(data) == 0 {
		return Doc{}, ErrEmpty
	}
	p := parser{data: data, vals: buf[:0]}
	if err := p.item(0); err != nil {
		return Doc{}, err
	}
	if p.off != len(data) {
		return Doc{}, ErrTrailing
	}
	return Doc{Values: p.vals}, nil
}

type parser struct {
	data []byte
	off  int
	vals []Value
}

// head reads an initial byte and its argument (RFC 8949 section 3).
func (p *parser) head() (major byte, ai byte, arg uint64, err error) {
	if p.off >= len(p.data) {
		return 0, 0, 0, ErrTruncated
	}
	ib := p.data[p.off]
	p.off++
	major, ai = ib>>5, ib&0x1f
	var n int
	switch {
	case ai < 24:
		return major, ai, uint64(ai), nil
	case ai == 24:
		n = 1
	case ai == 25:
		n = 2
	case ai == 26:
		n = 4
	case ai == 27:
		n = 8
	case ai == 31:
		return major, ai, 0, ErrIndefinite
	default:
		return major, ai, 0, ErrMalformed
	}
	if len(p.data)-p.off < n {
		return 0, 0, 0, ErrTruncated
	}
	for i := 0; i < n; i++ {
		arg = arg<<8 | uint64(p.data[p.off+i])
	}
	p.off += n
	return major, ai, arg, nil
}

// item parses one item at the given nesting depth and its descendants.
func (p *parser) item(depth int) error {
	major, ai, arg, err := p.head()
	if err != nil {
		return err
	}
	if len(p.vals) == cap(p.vals) {
		return ErrTooManyItems
	}
	idx := len(p.vals)
	p.vals = append(p.vals, Value{})
	v := Value{Uint: arg}
	switch major {
	case majorUint:
		v.Kind = KindUint
	case majorNegInt:
		v.Kind = KindNegInt
	case majorBytes, majorText:
		// Compare against what is left before converting, so a huge length cannot overflow int.
		if arg > uint64(len(p.data)-p.off) {
			return ErrTruncated
		}
		s := p.data[p.off : p.off+int(arg) : p.off+int(arg)]
		p.off += int(arg)
		v.Kind, v.Bytes, v.Uint = KindBytes, s, 0
		if major == majorText {
			if !utf8.Valid(s) {
				return ErrInvalidUTF8
			}
			v.Kind = KindText
		}
	case majorArray, majorMap:
		if depth >= MaxDepth {
			return ErrDepth
		}
		count := arg
		if major == majorMap {
			if count > math.MaxUint64/2 {
				return ErrTruncated
			}
			count *= 2
		}
		// Every item takes at least one byte: a count beyond the remaining input is truncated.
		if count > uint64(len(p.data)-p.off) {
			return ErrTruncated
		}
		v.Kind, v.N, v.Uint = KindArray, int(arg), 0
		if major == majorMap {
			v.Kind = KindMap
		}
		for i := uint64(0); i < count; i++ {
			if err := p.item(depth + 1); err != nil {
				return err
			}
		}
	case majorTag:
		return ErrUnsupported
	case majorSimple:
		v.Uint = 0
		switch ai {
		case 20, 21:
			v.Kind, v.Bool = KindBool, ai == 21
		case 22:
			v.Kind = KindNull
		case 23:
			v.Kind = KindUndefined
		case 25:
			v.Kind, v.Float = KindFloat, halfToFloat64(uint16(arg))
		case 26:
			v.Kind, v.Float = KindFloat, float64(math.Float32frombits(uint32(arg)))
		case 27:
			v.Kind, v.Float = KindFloat, math.Float64frombits(arg)
		default:
			return ErrUnsupported
		}
	}
	v.End = len(p.vals)
	p.vals[idx] = v
	return nil
}

// Root returns the top-level item.
func (d Doc) Root() *Value { return &d.Values[0] }

// IsEmptyMap reports whether the document is exactly {} (a0).
func (d Doc) IsEmptyMap() bool {
	return len(d.Values) == 1 && d.Values[0].Kind == KindMap
}

// MapIter walks the pairs of a map.
type MapIter struct {
	vals []Value
	next int
	left int
}

// Map returns an iterator over the map at index i (0 is the top-level item).
func (d Doc) Map(i int) (MapIter, error) {
	if i < 0 || i >= len(d.Values) || d.Values[i].Kind != KindMap {
		return MapIter{}, ErrNotMap
	}
	return MapIter{vals: d.Values, next: i + 1, left: d.Values[i].N}, nil
}

// Next returns the indexes of the next key and its value; ok is false at the end.
func (it *MapIter) Next() (key, val int, ok bool) {
	if it.left == 0 {
		return 0, 0, false
	}
	it.left--
	key = it.next
	val = it.vals[key].End
	it.next = it.vals[val].End
	return key, val, true
}

// Lookup returns the index of the value stored under text key k in the map at
// index m, or -1 when the key is absent or m is not a map.
func (d Doc) Lookup(m int, k string) int {
	it, err := d.Map(m)
	if err != nil {
		return -1
	}
	for {
		key, val, ok := it.Next()
		if !ok {
			return -1
		}
		if d.Values[key].IsText(k) {
			return val
		}
	}
}

// Items returns the indexes of the items of the array at index a (appended to dst),
// or nil when a is not an array.
func (d Doc) Items(a int, dst []int) []int {
	if a < 0 || a >= len(d.Values) || d.Values[a].Kind != KindArray {
		return nil
	}
	i := a + 1
	for n := 0; n < d.Values[a].N; n++ {
		dst = append(dst, i)
		i = d.Values[i].End
	}
	return dst
}
