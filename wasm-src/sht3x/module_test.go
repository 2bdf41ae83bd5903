//go:build !wasip1

// gwtest (its InitInput and Result) is built natively only.

package sht3x

import (
	"strings"
	"testing"

	"coapgw.example/wasm-src/cbor"
	"coapgw.example/wasm-src/gwabi"
	"coapgw.example/wasm-src/gwabi/gwtest"
)

func newModule() (*Module, *chip, *fakeClock) {
	d, c, clk := newDriver()
	m := &Module{Driver: *d, Open: func(bus, addr uint8) Bus { return c }}
	return m, c, clk
}

func settings(pairs ...any) []byte {
	b := cbor.AppendMapHeader(nil, len(pairs)/2)
	for i := 0; i < len(pairs); i += 2 {
		b = cbor.AppendText(b, pairs[i].(string))
		switch v := pairs[i+1].(type) {
		case string:
			b = cbor.AppendText(b, v)
		case bool:
			b = cbor.AppendBool(b, v)
		case int:
			b = cbor.AppendInt(b, int64(v))
		}
	}
	return b
}

func result(st gwabi.Status, out []byte) gwtest.Result { return gwtest.Result{Status: st, Output: out} }

// gw_init's output, ABI 1.1: the temperature as the primary quantity (what a 1.0 host
// serves), both quantities with their SenML units and one LSB as resolution.
func TestModuleInit(t *testing.T) {
	m, _, _ := newModule()
	r := result(m.Init(gwtest.InitInput(1, 0x44, nil), nil))
	if r.Status != gwabi.OK {
		t.Fatalf("%s", r)
	}
	name, _ := r.Text("name")
	quantity, _ := r.Text("quantity")
	unit, _ := r.Text("unit")
	res, _ := r.Float("resolution")
	period, _ := r.Int("periodMs")
	rep, _ := r.Text("repeatability")
	if name != "sht3x" || quantity != "temperature" || unit != "Cel" || res != 175.0/65535 || period != 1000 || rep != "high" {
		t.Errorf("%s %s %s %v %d %s", name, quantity, unit, res, period, rep)
	}
	doc, _ := r.Doc()
	q := doc.Lookup(0, "quantities")
	if q < 0 || doc.Values[q].N != 2 {
		t.Fatalf("quantities: %s", r)
	}
	items := doc.Items(q, nil)
	for i, want := range []gwabi.Quantity{{Name: "temperature", Unit: "Cel", Resolution: 175.0 / 65535}, {Name: "humidity", Unit: "%RH", Resolution: 100.0 / 65535}} {
		m := items[i]
		got := gwabi.Quantity{Name: string(doc.Values[doc.Lookup(m, "name")].Bytes), Unit: string(doc.Values[doc.Lookup(m, "unit")].Bytes)}
		got.Resolution, _ = doc.Values[doc.Lookup(m, "resolution")].Float64()
		if got != want {
			t.Errorf("quantities[%d] = %+v, want %+v", i, got, want)
		}
	}
}

func TestModuleSettings(t *testing.T) {
	m, c, _ := newModule()
	r := result(m.Init(gwtest.InitInput(1, 0x45, settings("repeatability", "low", "heater", true, "periodMs", 500)), nil))
	period, _ := r.Int("periodMs")
	rep, _ := r.Text("repeatability")
	if r.Status != gwabi.OK || period != 500 || rep != "low" || c.status&StatusHeaterOn == 0 {
		t.Fatalf("%s", r)
	}
	if d, _ := r.Doc(); !d.Values[d.Lookup(0, "heater")].Bool {
		t.Errorf("heater not reported on: %s", r)
	}
	c.commands = nil
	if st, _ := m.Read(nil, nil); st != gwabi.OK || !sameCommands(c.commands, CmdSingleShotLow) {
		t.Errorf("read: %s, commands %04X", st.Name(), c.commands)
	}
}

// Everything is checked before a command reaches the chip.
func TestModuleRefusesBadConfig(t *testing.T) {
	cases := []struct {
		addr     uint8
		settings []byte
		detail   string
	}{
		{0x48, nil, "address must be 0x44 or 0x45"},
		{0x44, settings("repeatability", "best"), "repeatability must be"},
		{0x44, settings("heater", "on"), "heater must be true or false"},
		{0x44, settings("periodMs", 50), "periodMs must be an integer 100..3600000"},
		{0x44, settings("periodMs", 3600001), "periodMs must be"},
		{0x44, settings("rateHz", 4), "unknown setting \"rateHz\""},
		{0x44, settings("heater", true, "heater", false), "repeated setting \"heater\""},
	}
	for _, tc := range cases {
		m, c, _ := newModule()
		r := result(m.Init(gwtest.InitInput(1, tc.addr, tc.settings), nil))
		detail, _ := r.Text("detail")
		if r.Status != gwabi.BadConfig || !strings.HasPrefix(detail, tc.detail) || len(c.commands) != 0 {
			t.Errorf("%q: %s %q, commands %04X", tc.detail, r.Status.Name(), detail, c.commands)
		}
	}
}

// gw_read's output, ABI 1.1: value/raw/bits of the temperature, values and raws of both.
func TestModuleRead(t *testing.T) {
	m, c, _ := newModule()
	if r := result(m.Read(nil, nil)); r.Status != gwabi.NotInitialized {
		t.Errorf("before init: %s", r)
	}
	if st, _ := m.Init(gwtest.InitInput(1, 0x44, nil), nil); st != gwabi.OK {
		t.Fatal(st.Name())
	}
	c.rawT, c.rawRH = 0x6666, 0xFFFF
	r := result(m.Read(nil, nil))
	value, _ := r.Float("value")
	raw, _ := r.Int("raw")
	bits, _ := r.Int("bits")
	if r.Status != gwabi.OK || value != 25 || raw != 0x6666 || bits != 16 {
		t.Fatalf("%s", r)
	}
	doc, _ := r.Doc()
	values, raws := doc.Lookup(0, "values"), doc.Lookup(0, "raws")
	num := func(m int, k string) float64 { f, _ := doc.Values[doc.Lookup(m, k)].Float64(); return f }
	if doc.Values[values].N != 2 || num(values, "temperature") != 25 || num(values, "humidity") != 100 ||
		num(raws, "temperature") != 0x6666 || num(raws, "humidity") != 0xFFFF {
		t.Errorf("values/raws: %s", r)
	}
	if r := result(m.Read([]byte{0x01}, nil)); r.Status != gwabi.BadRequest {
		t.Errorf("read input 1: %s", r)
	}
}

// The failure output of a NACKed read header: the I2C status, the code that says the sensor
// is not ready, and when to try again (docs/module-abi.md, "Output on failure").
func TestModuleNotReadyOutput(t *testing.T) {
	m, c, _ := newModule()
	if st, _ := m.Init(gwtest.InitInput(1, 0x44, nil), nil); st != gwabi.OK {
		t.Fatal(st.Name())
	}
	c.slowBy = 5e6
	r := result(m.Read(nil, nil))
	code, _ := r.Text("code")
	retry, _ := r.Int("retryAfterMs")
	if r.Status != gwabi.I2CNack || code != "GW_ERR_SENSOR_NOT_READY" || retry != 16 {
		t.Errorf("%s", r)
	}
}

// The whole output fits the ABI's 4096 bytes many times over (the host refuses more).
func TestModuleOutputSizes(t *testing.T) {
	m, _, _ := newModule()
	_, init := m.Init(gwtest.InitInput(1, 0x44, nil), nil)
	_, read := m.Read(nil, nil)
	if len(init) > 512 || len(read) > 512 {
		t.Errorf("init %d bytes, read %d bytes", len(init), len(read))
	}
}
