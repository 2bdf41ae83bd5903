package gwabi

import "coapgw.example/wasm-src/cbor"

// Quantity is one quantity a module measures, as gw_init declares it in ABI 1.1
// (docs/module-abi.md): a name (/^[a-z][a-z0-9_]{0,31}$/, unique, not "alert"), a SenML unit
// (RFC 8428 section 12.1, RFC 8798) and the value of one LSB (positive).
type Quantity struct {
	Name       string
	Unit       string
	Resolution float64
}

// Measurement is one quantity's value in a gw_read output of ABI 1.1.
type Measurement struct {
	Quantity string  // a name gw_init declared in "quantities"
	Value    float64 // in that quantity's unit; finite
	Raw      int64   // the chip's raw code for it, for diagnostics (at most 53 bits)
}

// AppendQuantities appends the whole gw_init success output of a module that measures several
// quantities (ABI 1.1): the 1.0 keys {"name", "version", "quantity", "unit", "periodMs",
// "resolution"} describing qs[0], the primary quantity (what a 1.0 host serves), then
// "quantities" with every entry of qs, the primary first. The ABI requires quantities[0] to
// equal the top-level keys; taking both from qs[0] keeps them equal. qs must hold 1 to 8
// quantities. As with AppendSensorInfoExtra, extra counts the module's own key/value pairs,
// which the caller appends right after.
func AppendQuantities(dst []byte, extra int, name, version string, periodMs int64, qs []Quantity) []byte {
	p := qs[0]
	dst = AppendSensorInfoExtra(dst, 1+extra, name, version, p.Name, p.Unit, periodMs, p.Resolution)
	dst = cbor.AppendArrayHeader(cbor.AppendText(dst, "quantities"), len(qs))
	for _, q := range qs {
		dst = cbor.AppendMapHeader(dst, 3)
		dst = cbor.AppendText(cbor.AppendText(dst, "name"), q.Name)
		dst = cbor.AppendText(cbor.AppendText(dst, "unit"), q.Unit)
		dst = cbor.AppendFloat(cbor.AppendText(dst, "resolution"), q.Resolution)
	}
	return dst
}

// AppendMeasurements appends the whole gw_read success output of ABI 1.1 for a module that
// declared quantities: {"value", "raw", "bits"} of ms[0], the primary quantity (what a 1.0
// host reads), then "values" and "raws", maps from each measurement's quantity name to its
// value and its raw code. bits is the resolution that produced the primary value (0 to 64).
// ms must hold every declared quantity once, the primary first, as the ABI requires
// ("values" has exactly the declared names, and values[quantities[0]] equals "value").
func AppendMeasurements(dst []byte, bits int, ms []Measurement) []byte {
	p := ms[0]
	dst = cbor.AppendMapHeader(dst, 5)
	dst = cbor.AppendFloat(cbor.AppendText(dst, "value"), p.Value)
	dst = cbor.AppendInt(cbor.AppendText(dst, "raw"), p.Raw)
	dst = cbor.AppendInt(cbor.AppendText(dst, "bits"), int64(bits))
	dst = cbor.AppendMapHeader(cbor.AppendText(dst, "values"), len(ms))
	for _, m := range ms {
		dst = cbor.AppendFloat(cbor.AppendText(dst, m.Quantity), m.Value)
	}
	dst = cbor.AppendMapHeader(cbor.AppendText(dst, "raws"), len(ms))
	for _, m := range ms {
		dst = cbor.AppendInt(cbor.AppendText(dst, m.Quantity), m.Raw)
	}
	return dst
}
