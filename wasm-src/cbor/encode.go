package cbor

import "math"

// Major types, RFC 8949 section 3.1.
const (
	majorUint   = 0
	majorNegInt = 1
	majorBytes  = 2
	majorText   = 3
	majorArray  = 4
	majorMap    = 5
	majorTag    = 6
	majorSimple = 7
)

// appendHead writes a head with the shortest argument encoding (section 4.2.1).
func appendHead(dst []byte, major byte, arg uint64) []byte {
	m := major << 5
	switch {
	case arg < 24:
		return append(dst, m|byte(arg))
	case arg <= math.MaxUint8:
		return append(dst, m|24, byte(arg))
	case arg <= math.MaxUint16:
		return append(dst, m|25, byte(arg>>8), byte(arg))
	case arg <= math.MaxUint32:
		return append(dst, m|26, byte(arg>>24), byte(arg>>16), byte(arg>>8), byte(arg))
	default:
		return append(dst, m|27, byte(arg>>56), byte(arg>>48), byte(arg>>40), byte(arg>>32),
			byte(arg>>24), byte(arg>>16), byte(arg>>8), byte(arg))
	}
}

// AppendUint appends an unsigned integer (major type 0).
func AppendUint(dst []byte, v uint64) []byte { return appendHead(dst, majorUint, v) }

// AppendInt appends a signed integer: major type 0 when v >= 0, else major type 1
// with argument -1-v.
func AppendInt(dst []byte, v int64) []byte {
	if v >= 0 {
		return appendHead(dst, majorUint, uint64(v))
	}
	return appendHead(dst, majorNegInt, uint64(-1-v))
}

// AppendNegative appends the negative integer -1-n (major type 1). It reaches the
// values below math.MinInt64, down to -2^64, that AppendInt cannot express.
func AppendNegative(dst []byte, n uint64) []byte { return appendHead(dst, majorNegInt, n) }

// AppendText appends a UTF-8 text string (major type 3). The caller provides valid UTF-8.
func AppendText(dst []byte, s string) []byte {
	dst = appendHead(dst, majorText, uint64(len(s)))
	return append(dst, s...)
}

// AppendBytes appends a byte string (major type 2).
func AppendBytes(dst []byte, b []byte) []byte {
	dst = appendHead(dst, majorBytes, uint64(len(b)))
	return append(dst, b...)
}

// AppendArrayHeader starts an array of n items; the caller appends the n items next.
func AppendArrayHeader(dst []byte, n int) []byte {
	return appendHead(dst, majorArray, uint64(n))
}

// AppendMapHeader starts a map of n pairs; the caller appends n keys and values next,
// alternating (key first). Keys of the ABI are text: use AppendText.
func AppendMapHeader(dst []byte, n int) []byte {
	return appendHead(dst, majorMap, uint64(n))
}

// AppendBool appends false (f4) or true (f5).
func AppendBool(dst []byte, b bool) []byte {
	if b {
		return append(dst, 0xf5)
	}
	return append(dst, 0xf4)
}

// AppendNull appends null (f6).
func AppendNull(dst []byte) []byte { return append(dst, 0xf6) }

// AppendFloat appends f in the shortest IEEE 754 form that represents it exactly
// (RFC 8949 section 4.2.2): float16 if exact, else float32 if exact, else float64.
// Every NaN is written as the canonical quiet NaN f9 7e 00 (section 4.2.2 allows it,
// and the ABI has no use for NaN payloads); infinities as f9 7c 00 / f9 fc 00.
func AppendFloat(dst []byte, f float64) []byte {
	if f != f {
		return append(dst, 0xf9, 0x7e, 0x00)
	}
	f32 := float32(f)
	if float64(f32) != f {
		b := math.Float64bits(f)
		return append(dst, 0xfb, byte(b>>56), byte(b>>48), byte(b>>40), byte(b>>32),
			byte(b>>24), byte(b>>16), byte(b>>8), byte(b))
	}
	if h, ok := float32ToHalf(f32); ok {
		return append(dst, 0xf9, byte(h>>8), byte(h))
	}
	b := math.Float32bits(f32)
	return append(dst, 0xfa, byte(b>>24), byte(b>>16), byte(b>>8), byte(b))
}

// float32ToHalf returns the IEEE 754 binary16 bits of f when f is exactly
// representable as binary16 (normal, subnormal, zero or infinity), ok=false otherwise.
func float32ToHalf(f float32) (uint16, bool) {
	b := math.Float32bits(f)
	sign := uint16(b>>16) & 0x8000
	exp := int32(b>>23) & 0xff
	mant := b & 0x7fffff
	switch {
	case exp == 0xff: // infinity (NaN is handled by the caller)
		if mant != 0 {
			return 0, false
		}
		return sign | 0x7c00, true
	case exp == 0: // zero or float32 subnormal: the subnormal is far below binary16 range
		if mant != 0 {
			return 0, false
		}
		return sign, true
	}
	e := exp - 127 // unbiased exponent
	switch {
	case e >= -14 && e <= 15: // binary16 normal: 10 mantissa bits
		if mant&0x1fff != 0 {
			return 0, false
		}
		return sign | uint16(e+15)<<10 | uint16(mant>>13), true
	case e >= -24 && e < -14: // binary16 subnormal: value = m * 2^-24, m < 1024
		full := mant | 0x800000   // value = full * 2^(e-23)
		shift := uint32(-(e + 1)) // m = full * 2^(e+1)
		if full&(1<<shift-1) != 0 {
			return 0, false
		}
		return sign | uint16(full>>shift), true
	}
	return 0, false
}

// halfToFloat64 decodes IEEE 754 binary16 bits (RFC 8949 Appendix D).
func halfToFloat64(h uint16) float64 {
	exp := int(h>>10) & 0x1f
	mant := float64(h & 0x3ff)
	var v float64
	switch exp {
	case 0:
		v = math.Ldexp(mant, -24)
	case 31:
		if mant == 0 {
			v = math.Inf(1)
		} else {
			v = math.NaN()
		}
	default:
		v = math.Ldexp(mant+1024, exp-25)
	}
	if h&0x8000 != 0 {
		return -v
	}
	return v
}
