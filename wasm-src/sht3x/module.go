package sht3x

import (
	"coapgw.example/wasm-src/cbor"
	"coapgw.example/wasm-src/gwabi"
)

// Identity reported by gw_init.
const (
	Name    = "sht3x"
	Version = "1.0.0"
)

// Quantities, the primary first (module ABI 1.1): a 1.0 host serves the temperature alone.
// Units are SenML symbols (RFC 8428 section 12.1: "Cel", "%RH"); a resolution is one LSB of
// the 16-bit output (section 4.13).
var Quantities = [2]gwabi.Quantity{
	{Name: "temperature", Unit: "Cel", Resolution: CelsiusLSB},
	{Name: "humidity", Unit: "%RH", Resolution: PercentRHLSB},
}

// Bits of each raw output (section 4.13: 16-bit words).
const Bits = 16

// Module is the sht3x module's logic between the ABI bytes and the Driver, so the whole
// gw_init / gw_read behaviour is testable natively. modules/sht3x wires it to the real imports.
type Module struct {
	Driver Driver
	// Open returns the Bus for the granted bus and address of gw_init.
	Open func(bus, addr uint8) Bus
	vals [32]cbor.Value
	// bus and addr of the device the Driver is configured for.
	bus, addr uint8
}

// Init handles gw_init: input is the CBOR input; the output is appended to out. Everything in
// the input is checked before any command is sent, so a refused call leaves a live instance's
// chip and configuration as they were.
func (m *Module) Init(input []byte, out []byte) (gwabi.Status, []byte) {
	ii, st, detail := gwabi.ParseInit(input, m.vals[:0])
	if st != gwabi.OK {
		return st, gwabi.AppendError(out, st, 0, detail)
	}
	// An SHT3x answers only at 0x44 or 0x45 (Table 7, ADDR pin): refusing other addresses keeps
	// a typo from sending a soft reset command to some other chip.
	if ii.Address != AddressADDRLow && ii.Address != AddressADDRHigh {
		return gwabi.BadConfig, gwabi.AppendError(out, gwabi.BadConfig, 0, "address must be 0x44 or 0x45 (SHT3x ADDR pin low or high)")
	}
	s, st, detail := ParseSettings(ii.Doc, ii.Settings)
	if st != gwabi.OK {
		return st, gwabi.AppendError(out, st, 0, detail)
	}
	if m.Driver.configured && (ii.Bus != m.bus || ii.Address != m.addr) {
		m.Driver.configured = false // another device: nothing of the old one carries over
	}
	if !m.Driver.configured {
		m.Driver.Bus = m.Open(ii.Bus, ii.Address)
		m.bus, m.addr = ii.Bus, ii.Address
	}
	if f := m.Driver.Configure(s); !f.OK() {
		return f.Status, appendFailure(out, f)
	}
	out = gwabi.AppendQuantities(out, 2, Name, Version, s.PeriodMs, Quantities[:])
	// The module's own keys: the settings in force, in the form of the settings, so a client
	// sees them and can send them back.
	out = cbor.AppendText(cbor.AppendText(out, "repeatability"), s.Repeatability.String())
	return gwabi.OK, cbor.AppendBool(cbor.AppendText(out, "heater"), s.Heater)
}

// Read handles gw_read: the temperature as value/raw/bits (ABI 1.0), and both quantities in
// values/raws (ABI 1.1).
func (m *Module) Read(input []byte, out []byte) (gwabi.Status, []byte) {
	if !m.Driver.configured {
		return gwabi.NotInitialized, gwabi.AppendError(out, gwabi.NotInitialized, 0, "read before a successful init")
	}
	if st, detail := gwabi.CheckReadInput(input); st != gwabi.OK {
		return st, gwabi.AppendError(out, st, 0, detail)
	}
	r, f := m.Driver.Read()
	if !f.OK() {
		return f.Status, appendFailure(out, f)
	}
	ms := [2]gwabi.Measurement{
		{Quantity: Quantities[0].Name, Value: r.Celsius, Raw: int64(r.RawT)},
		{Quantity: Quantities[1].Name, Value: r.PercentRH, Raw: int64(r.RawRH)},
	}
	return gwabi.OK, gwabi.AppendMeasurements(out, Bits, ms[:])
}

func appendFailure(out []byte, f Failure) []byte {
	return gwabi.AppendErrorCode(out, f.Status, f.Code, f.RetryAfterMs, f.Detail)
}
