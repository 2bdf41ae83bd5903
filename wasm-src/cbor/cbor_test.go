package cbor

import (
	"encoding/hex"
	"math"
	"strings"
	"testing"
)

func h(s string) []byte {
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		panic(err)
	}
	return b
}

// RFC 8949 Appendix A, the integer vectors.
var intVectors = []struct {
	v   int64
	hex string
}{
	{0, "00"}, {1, "01"}, {10, "0a"}, {23, "17"}, {24, "1818"}, {25, "1819"},
	{100, "1864"}, {1000, "1903e8"}, {1000000, "1a000f4240"},
	{1000000000000, "1b000000e8d4a51000"},
	{-1, "20"}, {-10, "29"}, {-100, "3863"}, {-1000, "3903e7"},
	{math.MaxInt64, "1b7fffffffffffffff"}, {math.MinInt64, "3b7fffffffffffffff"},
}

// RFC 8949 Appendix A, the float vectors (in preferred serialization).
var floatVectors = []struct {
	v   float64
	hex string
}{
	{0.0, "f90000"}, {math.Copysign(0, -1), "f98000"}, {1.0, "f93c00"},
	{1.1, "fb3ff199999999999a"}, {1.5, "f93e00"}, {65504.0, "f97bff"},
	{100000.0, "fa47c35000"}, {3.4028234663852886e+38, "fa7f7fffff"},
	{1.0e+300, "fb7e37e43c8800759c"}, {5.960464477539063e-8, "f90001"},
	{0.00006103515625, "f90400"}, {-4.0, "f9c400"}, {-4.1, "fbc010666666666666"},
	{math.Inf(1), "f97c00"}, {math.Inf(-1), "f9fc00"},
	// Not in Appendix A: values the gateway sends and edge cases of the float16 search.
	{21.5, "f94d60"}, {0.0625, "f92c00"}, {0.25, "f93400"}, {-55.0, "f9d2e0"},
	{150.0, "f958b0"}, {127.9375, "f957ff"}, {65505.0, "fa477fe100"}, {65536.0, "fa47800000"},
	{2.9802322387695312e-8, "fa33000000"}, // 2^-25: below binary16 subnormals
	{1.0 / 3, "fb3fd5555555555555"}, {0.1, "fb3fb999999999999a"},
	{6.097555160522461e-05, "f903ff"}, // largest binary16 subnormal
}

func TestEncodeInts(t *testing.T) {
	for _, c := range intVectors {
		if got := hex.EncodeToString(AppendInt(nil, c.v)); got != c.hex {
			t.Errorf("AppendInt(%d) = %s, want %s", c.v, got, c.hex)
		}
	}
	if got := hex.EncodeToString(AppendUint(nil, math.MaxUint64)); got != "1bffffffffffffffff" {
		t.Errorf("AppendUint(max) = %s", got)
	}
	if got := hex.EncodeToString(AppendNegative(nil, math.MaxUint64)); got != "3bffffffffffffffff" {
		t.Errorf("AppendNegative(max) = %s", got)
	}
}

func TestEncodeFloats(t *testing.T) {
	for _, c := range floatVectors {
		if got := hex.EncodeToString(AppendFloat(nil, c.v)); got != c.hex {
			t.Errorf("AppendFloat(%v) = %s, want %s", c.v, got, c.hex)
		}
	}
	if got := hex.EncodeToString(AppendFloat(nil, math.NaN())); got != "f97e00" {
		t.Errorf("AppendFloat(NaN) = %s", got)
	}
}

// Every binary16 value must round-trip through encoder and decoder as f9 xx xx.
func TestAllHalfFloatsRoundTrip(t *testing.T) {
	for i := 0; i < 1<<16; i++ {
		f := halfToFloat64(uint16(i))
		if f != f {
			continue
		}
		enc := AppendFloat(nil, f)
		if len(enc) != 3 || enc[0] != 0xf9 || uint16(enc[1])<<8|uint16(enc[2]) != uint16(i) {
			t.Fatalf("half %04x (%v) encoded as %x", i, f, enc)
		}
	}
}

func TestEncodeOthers(t *testing.T) {
	cases := []struct {
		got  []byte
		want string
	}{
		{AppendBool(nil, false), "f4"}, {AppendBool(nil, true), "f5"}, {AppendNull(nil), "f6"},
		{AppendText(nil, ""), "60"}, {AppendText(nil, "a"), "6161"}, {AppendText(nil, "IETF"), "6449455446"},
		{AppendText(nil, "\"\\"), "62225c"}, {AppendText(nil, "\u00fc"), "62c3bc"},
		{AppendText(nil, "\u6c34"), "63e6b0b4"}, {AppendText(nil, "\U00010151"), "64f0908591"},
		{AppendBytes(nil, nil), "40"}, {AppendBytes(nil, []byte{1, 2, 3, 4}), "4401020304"},
		{AppendArrayHeader(nil, 0), "80"}, {AppendMapHeader(nil, 0), "a0"},
		{AppendInt(AppendInt(AppendInt(AppendArrayHeader(nil, 3), 1), 2), 3), "83010203"},
	}
	// {"a": 1, "b": [2, 3]}
	m := AppendMapHeader(nil, 2)
	m = AppendInt(AppendText(m, "a"), 1)
	m = AppendInt(AppendInt(AppendArrayHeader(AppendText(m, "b"), 2), 2), 3)
	cases = append(cases, struct {
		got  []byte
		want string
	}{m, "a26161016162820203"})
	// 25-item array: the count needs a one-byte argument.
	a := AppendArrayHeader(nil, 25)
	for i := int64(1); i <= 25; i++ {
		a = AppendInt(a, i)
	}
	cases = append(cases, struct {
		got  []byte
		want string
	}{a, "98190102030405060708090a0b0c0d0e0f101112131415161718181819"})
	for _, c := range cases {
		if got := hex.EncodeToString(c.got); got != c.want {
			t.Errorf("got %s, want %s", got, c.want)
		}
	}
}

func TestAppendDoesNotAllocate(t *testing.T) {
	buf := make([]byte, 0, 256)
	n := testing.AllocsPerRun(100, func() {
		b := AppendMapHeader(buf[:0], 3)
		b = AppendFloat(AppendText(b, "value"), 21.5)
		b = AppendInt(AppendText(b, "raw"), 5504)
		b = AppendInt(AppendText(b, "bits"), 12)
		_ = b
	})
	if n != 0 {
		t.Fatalf("allocs = %v", n)
	}
}

func parse(t *testing.T, s string) Doc {
	t.Helper()
	d, err := Parse(h(s), make([]Value, 0, 64))
	if err != nil {
		t.Fatalf("Parse(%s): %v", s, err)
	}
	return d
}

func TestDecodeInts(t *testing.T) {
	for _, c := range intVectors {
		d := parse(t, c.hex)
		v, ok := d.Root().Int64()
		if !ok || v != c.v {
			t.Errorf("%s: got %d %v, want %d", c.hex, v, ok, c.v)
		}
	}
	// RFC 8949 Appendix A: 18446744073709551615 and -18446744073709551616.
	d := parse(t, "1bffffffffffffffff")
	if r := d.Root(); r.Kind != KindUint || r.Uint != math.MaxUint64 {
		t.Errorf("max uint: %+v", r)
	}
	if _, ok := d.Root().Int64(); ok {
		t.Errorf("max uint must not fit int64")
	}
	d = parse(t, "3bffffffffffffffff")
	if r := d.Root(); r.Kind != KindNegInt || r.Uint != math.MaxUint64 {
		t.Errorf("min negint: %+v", r)
	}
	if f, _ := d.Root().Float64(); f != -18446744073709551616 {
		t.Errorf("min negint as float: %v", f)
	}
}

func TestDecodeFloats(t *testing.T) {
	for _, c := range floatVectors {
		d := parse(t, c.hex)
		f, ok := d.Root().Float64()
		if !ok || f != c.v || math.Signbit(f) != math.Signbit(c.v) {
			t.Errorf("%s: got %v, want %v", c.hex, f, c.v)
		}
	}
	// RFC 8949 Appendix A: non-preferred encodings of infinity and NaN decode too.
	for _, s := range []string{"fa7f800000", "fb7ff0000000000000"} {
		if f, _ := parse(t, s).Root().Float64(); !math.IsInf(f, 1) {
			t.Errorf("%s: %v", s, f)
		}
	}
	for _, s := range []string{"fbfff0000000000000", "faff800000"} {
		if f, _ := parse(t, s).Root().Float64(); !math.IsInf(f, -1) {
			t.Errorf("%s: %v", s, f)
		}
	}
	for _, s := range []string{"f97e00", "fa7fc00000", "fb7ff8000000000000"} {
		if f, _ := parse(t, s).Root().Float64(); f == f {
			t.Errorf("%s: %v, want NaN", s, f)
		}
	}
	// Integers are accepted where a float is expected.
	if f, ok := parse(t, "04").Root().Float64(); !ok || f != 4 {
		t.Errorf("int as float: %v", f)
	}
	if f, ok := parse(t, "29").Root().Float64(); !ok || f != -10 {
		t.Errorf("negint as float: %v", f)
	}
	if _, ok := parse(t, "6161").Root().Float64(); ok {
		t.Errorf("text accepted as float")
	}
}

func TestDecodeSimpleAndText(t *testing.T) {
	cases := []struct {
		hex  string
		kind Kind
	}{{"f4", KindBool}, {"f5", KindBool}, {"f6", KindNull}, {"f7", KindUndefined}}
	for _, c := range cases {
		if k := parse(t, c.hex).Root().Kind; k != c.kind {
			t.Errorf("%s: kind %d", c.hex, k)
		}
	}
	if !parse(t, "f5").Root().Bool || parse(t, "f4").Root().Bool {
		t.Errorf("bool values")
	}
	texts := map[string]string{"60": "", "6161": "a", "6449455446": "IETF", "62225c": "\"\\",
		"62c3bc": "\u00fc", "63e6b0b4": "\u6c34", "64f0908591": "\U00010151"}
	for s, want := range texts {
		if !parse(t, s).Root().IsText(want) {
			t.Errorf("%s: not text %q", s, want)
		}
	}
	if r := parse(t, "4401020304").Root(); r.Kind != KindBytes || string(r.Bytes) != "\x01\x02\x03\x04" {
		t.Errorf("bytes: %+v", r)
	}
}

func TestDecodeContainers(t *testing.T) {
	// [1, [2, 3], [4, 5]]
	d := parse(t, "8301820203820405")
	items := d.Items(0, nil)
	if len(items) != 3 || d.Values[items[1]].N != 2 || d.Values[items[2]].End != len(d.Values) {
		t.Fatalf("nested arrays: %v %+v", items, d.Values)
	}
	if v, _ := d.Values[d.Items(items[2], nil)[1]].Int64(); v != 5 {
		t.Errorf("[2][1] = %d", v)
	}
	// {"a": 1, "b": [2, 3]}
	d = parse(t, "a26161016162820203")
	if v, _ := d.Values[d.Lookup(0, "a")].Int64(); v != 1 {
		t.Errorf("a = %d", v)
	}
	if b := d.Lookup(0, "b"); d.Values[b].Kind != KindArray || d.Values[b].N != 2 {
		t.Errorf("b: %+v", d.Values[b])
	}
	if d.Lookup(0, "c") != -1 {
		t.Errorf("missing key found")
	}
	// ["a", {"b": "c"}]
	d = parse(t, "826161a161626163")
	if m := d.Items(0, nil)[1]; !d.Values[d.Lookup(m, "b")].IsText("c") {
		t.Errorf("[1].b")
	}
	// {"a": "A", "b": "B", "c": "C", "d": "D", "e": "E"}
	d = parse(t, "a56161614161626142616361436164614461656145")
	if !d.Values[d.Lookup(0, "e")].IsText("E") {
		t.Errorf("e")
	}
	// {1: 2, 3: 4}: non-text keys parse; text lookups do not match them.
	d = parse(t, "a201020304")
	if d.Root().N != 2 || d.Lookup(0, "1") != -1 {
		t.Errorf("int keys")
	}
	it, _ := d.Map(0)
	n := 0
	for {
		k, v, ok := it.Next()
		if !ok {
			break
		}
		kk, _ := d.Values[k].Int64()
		vv, _ := d.Values[v].Int64()
		if vv != kk+1 {
			t.Errorf("pair %d: %d", kk, vv)
		}
		n++
	}
	if n != 2 {
		t.Errorf("iterated %d pairs", n)
	}
	if !parse(t, "a0").IsEmptyMap() || parse(t, "80").IsEmptyMap() || parse(t, "a16161f6").IsEmptyMap() {
		t.Errorf("IsEmptyMap")
	}
	// 25 items
	d = parse(t, "98190102030405060708090a0b0c0d0e0f101112131415161718181819")
	if d.Root().N != 25 || len(d.Items(0, nil)) != 25 {
		t.Errorf("25 items")
	}
}

func TestDecodeErrors(t *testing.T) {
	cases := []struct {
		hex string
		err error
	}{
		{"", ErrEmpty},
		{"18", ErrTruncated}, {"19 01", ErrTruncated}, {"1b 00 00 00", ErrTruncated},
		{"62 61", ErrTruncated}, {"83 01 02", ErrTruncated}, {"a1 61 61", ErrTruncated},
		{"f9 00", ErrTruncated}, {"fb 00 00 00 00 00 00 00", ErrTruncated},
		{"7b ff ff ff ff ff ff ff ff", ErrTruncated}, // huge length must not overflow
		{"9b ff ff ff ff ff ff ff ff", ErrTruncated},
		{"bb ff ff ff ff ff ff ff ff", ErrTruncated},
		{"01 02", ErrTrailing}, {"a0 00", ErrTrailing},
		// RFC 8949 Appendix A indefinite-length vectors: refused.
		{"5f 42 01 02 43 03 04 05 ff", ErrIndefinite}, {"7f 65 73 74 72 65 61 64 6d 69 6e 67 ff", ErrIndefinite},
		{"9f ff", ErrIndefinite}, {"bf 61 61 01 ff", ErrIndefinite}, {"ff", ErrIndefinite},
		{"1c", ErrMalformed}, {"3d", ErrMalformed}, {"fe", ErrMalformed},
		// tags and unassigned simple values
		{"c0 74 32 30 31 33 2d 30 33 2d 32 31 54 32 30 3a 30 34 3a 30 30 5a", ErrUnsupported},
		{"c2 49 01 00 00 00 00 00 00 00 00", ErrUnsupported},
		{"f0", ErrUnsupported}, {"f8 ff", ErrUnsupported},
		{"62 c3 28", ErrInvalidUTF8}, {"61 ff", ErrInvalidUTF8},
	}
	for _, c := range cases {
		_, err := Parse(h(c.hex), make([]Value, 0, 64))
		if err != c.err {
			t.Errorf("%s: err %v, want %v", c.hex, err, c.err)
		}
	}
}

func TestDepthLimit(t *testing.T) {
	// 16 nested arrays around 0 are fine, 17 are refused.
	ok := strings.Repeat("81", 16) + "00"
	if _, err := Parse(h(ok), make([]Value, 0, 64)); err != nil {
		t.Fatalf("16 levels: %v", err)
	}
	bad := strings.Repeat("81", 17) + "00"
	if _, err := Parse(h(bad), make([]Value, 0, 64)); err != ErrDepth {
		t.Fatalf("17 levels: %v", err)
	}
	// maps count the same way
	bad = strings.Repeat("a1 61 61", 17) + "00"
	if _, err := Parse(h(bad), make([]Value, 0, 64)); err != ErrDepth {
		t.Fatalf("17 map levels: %v", err)
	}
}

func TestTooManyItems(t *testing.T) {
	if _, err := Parse(h("83010203"), make([]Value, 0, 3)); err != ErrTooManyItems {
		t.Fatalf("err %v", err)
	}
	if _, err := Parse(h("83010203"), make([]Value, 0, 4)); err != nil {
		t.Fatalf("err %v", err)
	}
}

func TestParseDoesNotAllocate(t *testing.T) {
	// {"bus": 1, "address": 72, "settings": {"rateHz": 0.25}}
	in := AppendInt(AppendText(AppendMapHeader(nil, 3), "bus"), 1)
	in = AppendInt(AppendText(in, "address"), 72)
	in = AppendFloat(AppendText(AppendMapHeader(AppendText(in, "settings"), 1), "rateHz"), 0.25)
	buf := make([]Value, 0, 16)
	_, err := Parse(in, buf)
	if err != nil {
		t.Fatal(err)
	}
	n := testing.AllocsPerRun(100, func() {
		d, _ := Parse(in, buf)
		_ = d.Lookup(0, "settings")
	})
	if n != 0 {
		t.Fatalf("allocs = %v", n)
	}
}

// Round trip of a typical gw_init input.
func FuzzParse(f *testing.F) {
	f.Add(h("a26161016162820203"))
	f.Add(h("bf61610161629f0203ffff"))
	f.Fuzz(func(t *testing.T, b []byte) {
		d, err := Parse(b, make([]Value, 0, 32))
		if err == nil && (len(d.Values) == 0 || d.Values[0].End != len(d.Values)) {
			t.Fatalf("inconsistent document for %x", b)
		}
	})
}
