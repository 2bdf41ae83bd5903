package tmp102

import (
	"coapgw/wasm-src/cbor"
	"coapgw/wasm-src/gwabi"
)

// Identity reported by gw_init.
const (
	Name    = "tmp102"
	Version = "1.0.0"
)

// Module is the tmp102 module's logic between the ABI bytes and the Driver, so the
// whole gw_init / gw_read behaviour is testable natively. modules/tmp102 wires it
// to the real imports.
type Module struct {
	Driver Driver
	// Open returns the Bus for the granted bus and address of gw_init.
	Open func(bus, addr uint8) Bus
	vals [48]cbor.Value
}

// Init handles gw_init: input is the CBOR input; the output is appended to out.
func (m *Module) Init(input []byte, out []byte) (gwabi.Status, []byte) {
	m.Driver.configured = false
	ii, st, detail := gwabi.ParseInit(input, m.vals[:0])
	if st != gwabi.OK {
		return st, gwabi.AppendError(out, st, 0, detail)
	}
	// A TMP102 answers only at 0x48..0x4B (SBOS397 "Serial Bus Address", ADD0 pin):
	// refusing other addresses keeps a typo from writing a configuration register
	// value into some other chip.
	if ii.Address < 0x48 || ii.Address > 0x4b {
		return gwabi.BadConfig, gwabi.AppendError(out, gwabi.BadConfig, 0, "address must be 0x48..0x4b (TMP102 ADD0 options)")
	}
	s, st, detail := ParseSettings(ii.Doc, ii.Settings)
	if st != gwabi.OK {
		return st, gwabi.AppendError(out, st, 0, detail)
	}
	m.Driver.Bus = m.Open(ii.Bus, ii.Address)
	if st, detail := m.Driver.Configure(s); st != gwabi.OK {
		return st, gwabi.AppendError(out, st, 0, detail)
	}
	return gwabi.OK, gwabi.AppendSensorInfo(out, Name, Version, "temperature", "Cel", s.PeriodMs(), LSB)
}

// Read handles gw_read: {"value": °C, "raw": register, "bits": 12|13}.
func (m *Module) Read(input []byte, out []byte) (gwabi.Status, []byte) {
	if !m.Driver.configured {
		return gwabi.NotInitialized, gwabi.AppendError(out, gwabi.NotInitialized, 0, "read before a successful init")
	}
	if st, detail := gwabi.CheckReadInput(input); st != gwabi.OK {
		return st, gwabi.AppendError(out, st, 0, detail)
	}
	r, st, retry, detail := m.Driver.Read()
	if st != gwabi.OK {
		return st, gwabi.AppendError(out, st, retry, detail)
	}
	out = cbor.AppendMapHeader(out, 3)
	out = cbor.AppendFloat(cbor.AppendText(out, "value"), r.Celsius)
	out = cbor.AppendUint(cbor.AppendText(out, "raw"), uint64(r.Raw))
	return gwabi.OK, cbor.AppendInt(cbor.AppendText(out, "bits"), int64(r.Bits))
}
