package gwabi

import (
	"unicode/utf8"

	"coapgw.example/wasm-src/cbor"
)

// InitInput is a validated gw_init input {"bus", "address", "settings"}.
type InitInput struct {
	Bus      uint8
	Address  uint8
	Doc      cbor.Doc
	Settings int // index of the settings map in Doc.Values, -1 when absent
}

// ParseInit decodes and checks a gw_init input: a map with exactly the keys of
// docs/module-abi.md, "bus" (0..255) and "address" (a 7-bit address) required,
// "settings" an optional map that the module checks itself. Unknown or repeated
// keys are refused (a typo must not silently fall back to a default). vals is the
// storage for the decoded values (see cbor.Parse). On failure the status is
// BadConfig and detail says why.
func ParseInit(in []byte, vals []cbor.Value) (ii InitInput, st Status, detail string) {
	ii.Settings = -1
	doc, err := cbor.Parse(in, vals)
	if err != nil {
		return ii, BadConfig, "init input is not valid CBOR: " + err.Error()
	}
	ii.Doc = doc
	it, err := doc.Map(0)
	if err != nil {
		return ii, BadConfig, "init input is not a map"
	}
	var seen uint8
	for {
		k, v, ok := it.Next()
		if !ok {
			break
		}
		key := &doc.Values[k]
		val := &doc.Values[v]
		var bit uint8
		switch {
		case key.IsText("bus"):
			bit = 1
			n, ok := val.Int64()
			if !ok || n < 0 || n > 255 {
				return ii, BadConfig, "bus must be an integer 0..255"
			}
			ii.Bus = uint8(n)
		case key.IsText("address"):
			bit = 2
			n, ok := val.Int64()
			if !ok || n < 0 || n > 0x7f {
				return ii, BadConfig, "address must be a 7-bit integer 0..127"
			}
			ii.Address = uint8(n)
		case key.IsText("settings"):
			bit = 4
			if val.Kind != cbor.KindMap {
				return ii, BadConfig, "settings must be a map"
			}
			ii.Settings = v
		default:
			return ii, BadConfig, "unknown init key " + KeyName(key)
		}
		if seen&bit != 0 {
			return ii, BadConfig, "repeated init key " + KeyName(key)
		}
		seen |= bit
	}
	if seen&1 == 0 {
		return ii, BadConfig, "bus missing"
	}
	if seen&2 == 0 {
		return ii, BadConfig, "address missing"
	}
	return ii, OK, ""
}

// KeyName quotes a map key for an error detail (text keys only; others are "(non-text key)").
func KeyName(key *cbor.Value) string {
	if key.Kind != cbor.KindText {
		return "(non-text key)"
	}
	if len(key.Bytes) > 32 {
		n := 32
		for n > 0 && !utf8.RuneStart(key.Bytes[n]) { // do not cut a character in two
			n--
		}
		return "\"" + string(key.Bytes[:n]) + "...\""
	}
	return "\"" + string(key.Bytes) + "\""
}

// CheckReadInput accepts the gw_read inputs of ABI version 1: empty, or an empty map.
func CheckReadInput(in []byte) (Status, string) {
	if len(in) == 0 {
		return OK, ""
	}
	var vals [2]cbor.Value
	doc, err := cbor.Parse(in, vals[:0])
	if err != nil || !doc.IsEmptyMap() {
		return BadRequest, "read input must be empty or an empty map"
	}
	return OK, ""
}
