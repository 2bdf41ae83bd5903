package tmp102

import (
	"coapgw.example/wasm-src/cbor"
	"coapgw.example/wasm-src/gwabi"
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
	// bus and addr of the device the Driver is configured for.
	bus, addr uint8
}

// Init handles gw_init: input is the CBOR input; the output is appended to out.
//
// gw_init may come again on a live instance (docs/module-abi.md, "Lifecycle") to
// change settings. Everything in the input is checked before any register is
// written, so a refused call leaves the chip and the running configuration as they
// were; see Driver.Configure for what a second call keeps.
func (m *Module) Init(input []byte, out []byte) (gwabi.Status, []byte) {
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
	if m.Driver.configured && (ii.Bus != m.bus || ii.Address != m.addr) {
		// Another device: nothing of the old configuration carries over.
		m.Driver.configured = false
	}
	if !m.Driver.configured {
		m.Driver.Bus = m.Open(ii.Bus, ii.Address)
		m.bus, m.addr = ii.Bus, ii.Address
	}
	if st, detail := m.Driver.Configure(s); st != gwabi.OK {
		return st, gwabi.AppendError(out, st, 0, detail)
	}
	out = gwabi.AppendSensorInfoExtra(out, 1, Name, Version, "temperature", "Cel", s.PeriodMs(), LSB)
	return gwabi.OK, AppendAlert(cbor.AppendText(out, "alert"), m.Driver.Alert())
}

// AppendAlert appends the "alert" map of the gw_init output: the thermostat as read
// back from the chip, in the units and words of the "alert" setting, so a client can
// send it back unchanged.
func AppendAlert(dst []byte, a Alert) []byte {
	dst = cbor.AppendMapHeader(dst, 5)
	dst = cbor.AppendFloat(cbor.AppendText(dst, "high"), float64(a.High)*LSB)
	dst = cbor.AppendFloat(cbor.AppendText(dst, "low"), float64(a.Low)*LSB)
	mode, pol := "comparator", "active-low"
	if a.Interrupt {
		mode = "interrupt"
	}
	if a.ActiveHigh {
		pol = "active-high"
	}
	dst = cbor.AppendText(cbor.AppendText(dst, "mode"), mode)
	dst = cbor.AppendText(cbor.AppendText(dst, "polarity"), pol)
	return cbor.AppendInt(cbor.AppendText(dst, "faults"), int64(FaultCounts[a.Faults&3]))
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
