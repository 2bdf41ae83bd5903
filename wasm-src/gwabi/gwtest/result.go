//go:build !wasip1

package gwtest

import (
	"encoding/hex"

	"coapgw.example/wasm-src/cbor"
	"coapgw.example/wasm-src/gwabi"
)

// Result is what one export call gave the host: its status and its output (CBOR).
type Result struct {
	Status gwabi.Status
	Output []byte
}

// String shows the status by name and the output in hex, for test failure messages.
func (r Result) String() string {
	return r.Status.Name() + " output " + hex.EncodeToString(r.Output)
}

// Doc decodes the output (docs/module-abi.md: a CBOR map with text keys).
func (r Result) Doc() (cbor.Doc, error) {
	return cbor.Parse(r.Output, make([]cbor.Value, 0, 256))
}

// lookup finds key in the top-level output map; nil when absent or the output is not one.
func (r Result) lookup(key string) *cbor.Value {
	doc, err := r.Doc()
	if err != nil {
		return nil
	}
	i := doc.Lookup(0, key)
	if i < 0 {
		return nil
	}
	return &doc.Values[i]
}

// Float returns the number under key in the output map ("value", "resolution"...): a float,
// or an integer as a float. ok is false when it is absent or not a number.
func (r Result) Float(key string) (v float64, ok bool) {
	if val := r.lookup(key); val != nil {
		return val.Float64()
	}
	return 0, false
}

// Int returns the integer under key in the output map ("raw", "bits", "periodMs"...).
func (r Result) Int(key string) (v int64, ok bool) {
	if val := r.lookup(key); val != nil {
		return val.Int64()
	}
	return 0, false
}

// Text returns the text under key in the output map ("code", "detail", "unit"...).
func (r Result) Text(key string) (s string, ok bool) {
	if val := r.lookup(key); val != nil && val.Kind == cbor.KindText {
		return string(val.Bytes), true
	}
	return "", false
}

// InitInput encodes a gw_init input {"bus", "address", "settings"} as the gateway sends it.
// settings is one encoded CBOR map (cbor.AppendMapHeader and its pairs), or nil for none.
func InitInput(bus, addr uint8, settings []byte) []byte {
	n := 2
	if settings != nil {
		n = 3
	}
	b := cbor.AppendMapHeader(nil, n)
	b = cbor.AppendUint(cbor.AppendText(b, "bus"), uint64(bus))
	b = cbor.AppendUint(cbor.AppendText(b, "address"), uint64(addr))
	if settings != nil {
		b = append(cbor.AppendText(b, "settings"), settings...)
	}
	return b
}
