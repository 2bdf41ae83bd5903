package tmp102

import (
	"math"
	"testing"
	"time"

	"coapgw.example/wasm-src/cbor"
	"coapgw.example/wasm-src/gwabi"
)

// Limit registers use the temperature register's layout without the D0 format flag
// (SBOS397 "High- and Low-Limit Registers"): the datasheet tables, shifted.
func TestLimitEncodingTables(t *testing.T) {
	for _, e := range table12 {
		c, ok := LimitCount(e.c, false)
		if e.c < -55 {
			continue
		}
		if !ok || EncodeLimit(c, false) != e.code<<4 || DecodeLimit(e.code<<4, false) != c {
			t.Errorf("12-bit %v °C: count %d ok %v word %04x, want %04x", e.c, c, ok, EncodeLimit(c, false), e.code<<4)
		}
	}
	for _, e := range table13 {
		c, ok := LimitCount(e.c, true)
		if !ok || EncodeLimit(c, true) != e.code<<3 || DecodeLimit(e.code<<3, true) != c {
			t.Errorf("13-bit %v °C: count %d ok %v word %04x, want %04x", e.c, c, ok, EncodeLimit(c, true), e.code<<3)
		}
	}
}

func TestLimitEncodingNegative(t *testing.T) {
	cases := []struct {
		c        float64
		w12, w13 uint16
	}{
		// -10.5 °C = -168 counts: 12-bit 0xF58 << 4, 13-bit 0x1F58 << 3
		{-10.5, 0xF580, 0xFAC0},
		{-0.0625, 0xFFF0, 0xFFF8},
		{-55, 0xC900, 0xE480},
		{-25, 0xE700, 0xF380},
	}
	for _, e := range cases {
		for _, ext := range []bool{false, true} {
			want := e.w12
			if ext {
				want = e.w13
			}
			c, ok := LimitCount(e.c, ext)
			w := EncodeLimit(c, ext)
			if !ok || w != want {
				t.Errorf("%v °C ext=%v: %04x ok %v, want %04x", e.c, ext, w, ok, want)
			}
			if back := float64(DecodeLimit(w, ext)) * LSB; back != e.c {
				t.Errorf("%04x ext=%v decodes to %v, want %v", w, ext, back, e.c)
			}
		}
	}
}

func TestLimitRoundingAndRange(t *testing.T) {
	cases := []struct {
		c    float64
		ext  bool
		want float64
		ok   bool
	}{
		{20.03, false, 20, true},
		{20.04, false, 20.0625, true},
		{0.03125, false, 0.0625, true},   // half an LSB: away from zero
		{-0.03125, false, -0.0625, true}, // likewise
		{-10.52, true, -10.5, true},
		{127.9375, false, 127.9375, true},
		{127.96, false, 127.9375, true}, // rounds into range
		{127.97, false, 0, false},       // rounds to 128: not a 12-bit value
		{128, false, 0, false},
		{128, true, 128, true},
		{150, true, 150, true},
		{150.04, true, 0, false},
		{-55, false, -55, true},
		{-55.03, false, -55, true},
		{-55.04, false, 0, false},
		{math.NaN(), true, 0, false},
		{math.Inf(1), true, 0, false},
		{math.Inf(-1), false, 0, false},
		{1e300, true, 0, false},
	}
	for _, e := range cases {
		c, ok := LimitCount(e.c, e.ext)
		if ok != e.ok || (ok && float64(c)*LSB != e.want) {
			t.Errorf("%v ext=%v: %v ok %v, want %v ok %v", e.c, e.ext, float64(c)*LSB, ok, e.want, e.ok)
		}
	}
}

// settingsDoc builds a settings map with fn appending n pairs, and parses it.
func parseSettings(t *testing.T, n int, fn func([]byte) []byte) (Settings, gwabi.Status, string) {
	t.Helper()
	b := fn(cbor.AppendMapHeader(nil, n))
	doc, err := cbor.Parse(b, make([]cbor.Value, 0, 48))
	if err != nil {
		t.Fatal(err)
	}
	return ParseSettings(doc, 0)
}

func alertMap(pairs ...any) func([]byte) []byte {
	return func(b []byte) []byte {
		b = cbor.AppendMapHeader(cbor.AppendText(b, "alert"), len(pairs)/2)
		for i := 0; i < len(pairs); i += 2 {
			b = cbor.AppendText(b, pairs[i].(string))
			switch v := pairs[i+1].(type) {
			case float64:
				b = cbor.AppendFloat(b, v)
			case int:
				b = cbor.AppendInt(b, int64(v))
			case string:
				b = cbor.AppendText(b, v)
			case bool:
				b = cbor.AppendBool(b, v)
			}
		}
		return b
	}
}

func TestParseAlert(t *testing.T) {
	s, st, detail := parseSettings(t, 1, alertMap("high", 30.5, "low", -10.5, "mode", "interrupt", "polarity", "active-high", "faults", 4))
	want := Alert{High: 488, Low: -168, Interrupt: true, ActiveHigh: true, Faults: 2}
	if st != gwabi.OK || !s.HasAlert || s.Alert != want {
		t.Fatalf("%+v %d %s", s, st, detail)
	}
	if cfg := s.Alert.ConfigBits(); cfg != CfgF1|CfgPOL|CfgTM {
		t.Errorf("config bits %04x", cfg)
	}
	// every key optional: the power-up values
	s, st, _ = parseSettings(t, 1, alertMap())
	if st != gwabi.OK || !s.HasAlert || s.Alert != DefaultAlert() || s.Alert != (Alert{High: 1280, Low: 1200}) {
		t.Fatalf("empty alert: %+v %d", s, st)
	}
	// no alert: HasAlert false
	s, st, _ = parseSettings(t, 0, func(b []byte) []byte { return b })
	if st != gwabi.OK || s.HasAlert {
		t.Fatalf("no alert: %+v", s)
	}
	for _, n := range []int{1, 2, 4, 6} {
		if s, st, _ := parseSettings(t, 1, alertMap("faults", n)); st != gwabi.OK || FaultCounts[s.Alert.Faults] != n {
			t.Errorf("faults %d: %+v %d", n, s.Alert, st)
		}
	}
	// 140 °C is a 13-bit limit, whichever order "alert" and "resolution" come in
	for _, order := range []bool{false, true} {
		s, st, detail := parseSettings(t, 2, func(b []byte) []byte {
			if order {
				b = cbor.AppendInt(cbor.AppendText(b, "resolution"), 13)
			}
			b = alertMap("high", 140, "low", 130)(b)
			if !order {
				b = cbor.AppendInt(cbor.AppendText(b, "resolution"), 13)
			}
			return b
		})
		if st != gwabi.OK || s.Alert.High != 140*16 || !s.Extended {
			t.Errorf("order %v: %+v %d %s", order, s, st, detail)
		}
	}
}

func TestParseAlertRefusals(t *testing.T) {
	cases := map[string]func([]byte) []byte{
		"low == high":            alertMap("high", 30, "low", 30),
		"low > high":             alertMap("high", 30, "low", 40),
		"equal after rounding":   alertMap("high", 30.01, "low", 29.99),
		"high below default low": alertMap("high", 50), // low stays 75
		"low above default high": alertMap("low", 90),  // high stays 80
		"high 128 at 12 bits":    alertMap("high", 128),
		"high 151 at 13 bits": func(b []byte) []byte {
			return cbor.AppendInt(cbor.AppendText(alertMap("high", 151)(b), "resolution"), 13)
		},
		"low -56":                  alertMap("low", -56),
		"high text":                alertMap("high", "80"),
		"high bool":                alertMap("high", true),
		"mode":                     alertMap("mode", "latch"),
		"polarity":                 alertMap("polarity", "low"),
		"faults 3":                 alertMap("faults", 3),
		"faults 1.5":               alertMap("faults", 1.5),
		"faults text":              alertMap("faults", "1"),
		"unknown key":              alertMap("hysteresis", 2),
		"repeated key":             alertMap("high", 30, "high", 40),
		"not a map":                func(b []byte) []byte { return cbor.AppendInt(cbor.AppendText(b, "alert"), 1) },
		"alert repeated (2 pairs)": func(b []byte) []byte { return alertMap()(alertMap()(b)) },
	}
	for name, fn := range cases {
		n := 1
		if name == "high 151 at 13 bits" || name == "alert repeated (2 pairs)" {
			n = 2
		}
		_, st, detail := parseSettings(t, n, fn)
		if st != gwabi.BadConfig || detail == "" {
			t.Errorf("%s: %d %q", name, st, detail)
		}
	}
}

func TestConfigureAlert(t *testing.T) {
	d, c, _ := newDriver()
	s := DefaultSettings()
	s.HasAlert = true
	s.Alert = Alert{High: 30 * 16, Low: -168, Interrupt: true, ActiveHigh: true, Faults: 3}
	if st, detail := d.Configure(s); st != gwabi.OK {
		t.Fatal(st, detail)
	}
	if c.tHigh != 0x1E00 || c.tLow != 0xF580 {
		t.Errorf("limits %04x %04x", c.tHigh, c.tLow)
	}
	// 4 Hz, continuous, F1F0=11, POL, TM
	if c.config&^CfgAL != 0x6080|CfgF1|CfgF0|CfgPOL|CfgTM {
		t.Errorf("config %04x", c.config)
	}
	if d.Alert() != s.Alert {
		t.Errorf("read back %+v", d.Alert())
	}
	// 13-bit: the same °C in the 13-bit layout
	d, c, _ = newDriver()
	s.Extended = true
	if st, _ := d.Configure(s); st != gwabi.OK || c.tHigh != 0x0F00 || c.tLow != 0xFAC0 || d.Alert() != s.Alert {
		t.Errorf("13-bit: %d %04x %04x %+v", st, c.tHigh, c.tLow, d.Alert())
	}
}

// Without "alert" the driver keeps the chip's thermostat as it is, but when EM
// changes it rewrites the limits in the new format with the same °C value.
func TestConfigureKeepsAlertAcrossEM(t *testing.T) {
	d, c, _ := newDriver()
	c.config = PowerOnConfig | CfgPOL | CfgF0
	if st, _ := d.Configure(DefaultSettings()); st != gwabi.OK {
		t.Fatal(st)
	}
	if len(c.limits) != 0 {
		t.Errorf("limits written without an alert setting or EM change: %04x", c.limits)
	}
	if a := d.Alert(); a != (Alert{High: 1280, Low: 1200, ActiveHigh: true, Faults: 1}) {
		t.Errorf("alert %+v", a)
	}
	// to 13 bits: 80/75 °C as 13-bit words
	if st, _ := d.Configure(Settings{Extended: true, Rate: Rate4Hz}); st != gwabi.OK {
		t.Fatal(st)
	}
	if c.tHigh != 0x2800 || c.tLow != 0x2580 {
		t.Errorf("13-bit limits %04x %04x", c.tHigh, c.tLow)
	}
	if a := d.Alert(); a.High != 1280 || a.Low != 1200 || !a.ActiveHigh || a.Faults != 1 {
		t.Errorf("alert %+v", a)
	}
	// set 140/130 °C at 13 bits, then back to 12 bits: saturated at 127.9375 °C
	s := Settings{Extended: true, Rate: Rate4Hz, HasAlert: true, Alert: Alert{High: 140 * 16, Low: 130 * 16}}
	if st, _ := d.Configure(s); st != gwabi.OK {
		t.Fatal(st)
	}
	if st, _ := d.Configure(DefaultSettings()); st != gwabi.OK {
		t.Fatal(st)
	}
	if c.tHigh != 0x7FF0 || c.tLow != 0x7FF0 || d.Alert().High != 0x7FF {
		t.Errorf("12-bit limits %04x %04x %+v", c.tHigh, c.tLow, d.Alert())
	}
}

func TestReconfigureAlertOnlyKeepsReadiness(t *testing.T) {
	d, c, clk := newDriver()
	if st, _ := d.Configure(DefaultSettings()); st != gwabi.OK {
		t.Fatal(st)
	}
	clk.t += 100 * time.Millisecond
	c.temp = 0x190 << 4
	s := DefaultSettings()
	s.HasAlert, s.Alert = true, Alert{High: 30 * 16, Low: 20 * 16}
	if st, _ := d.Configure(s); st != gwabi.OK {
		t.Fatal(st)
	}
	if r, st, _, _ := d.Read(); st != gwabi.OK || r.Celsius != 25 {
		t.Errorf("after an alert-only change: %+v %d", r, st)
	}
	// a rate change restarts the window
	s.Rate = Rate8Hz
	if st, _ := d.Configure(s); st != gwabi.OK {
		t.Fatal(st)
	}
	if _, st, retry, _ := d.Read(); st != gwabi.NotReady || retry != 35 {
		t.Errorf("after a rate change: %d %d", st, retry)
	}
}

func TestReconfigureFailureKeepsOldSettings(t *testing.T) {
	d, c, clk := newDriver()
	if st, _ := d.Configure(DefaultSettings()); st != gwabi.OK {
		t.Fatal(st)
	}
	clk.t += 100 * time.Millisecond
	c.temp = 0x190 << 4
	s := Settings{Extended: true, Rate: Rate8Hz, HasAlert: true, Alert: Alert{High: 30 * 16, Low: 20 * 16}}
	c.failWrite[RegConfig] = gwabi.I2CBus // limits written, configuration not
	if st, _ := d.Configure(s); st != gwabi.I2CBus {
		t.Fatalf("status %d", st)
	}
	delete(c.failWrite, RegConfig)
	if d.Settings().Extended || d.Settings().HasAlert {
		t.Errorf("settings replaced: %+v", d.Settings())
	}
	if c.tHigh != 0x0F00 { // 30 °C as a 13-bit word: the half-written state
		t.Fatalf("T_HIGH %04x", c.tHigh)
	}
	// the next read re-applies the old configuration, thermostat included (80/75 °C
	// as read back at the first set-up), then waits out the conversion
	if _, st, _, _ := d.Read(); st != gwabi.NotReady {
		t.Errorf("read after failed reconfigure: %d", st)
	}
	if c.config&CfgEM != 0 || c.config&(CfgCR1|CfgCR0) != Rate4Hz<<6 || c.tHigh != 0x5000 || c.tLow != 0x4B00 {
		t.Errorf("config %04x limits %04x %04x", c.config, c.tHigh, c.tLow)
	}
	if d.Settings().HasAlert {
		t.Errorf("recovery changed the recorded settings: %+v", d.Settings())
	}
	clk.t += 35 * time.Millisecond
	if r, st, _, _ := d.Read(); st != gwabi.OK || r.Celsius != 25 {
		t.Errorf("%+v %d", r, st)
	}
}

func TestModuleAlertOutputAndRejectedReconfigure(t *testing.T) {
	m, c, clk := newModule()
	in := initInput(alertMap("high", 30.5, "low", -10.5, "polarity", "active-high", "faults", 2), 1, 0x48)
	st, out := m.Init(in, nil)
	if st != gwabi.OK {
		t.Fatalf("%d %x", st, out)
	}
	d := decode(t, out)
	a := d.Lookup(0, "alert")
	hi, _ := d.Values[d.Lookup(a, "high")].Float64()
	lo, _ := d.Values[d.Lookup(a, "low")].Float64()
	faults, _ := d.Values[d.Lookup(a, "faults")].Int64()
	if hi != 30.5 || lo != -10.5 || faults != 2 || !d.Values[d.Lookup(a, "mode")].IsText("comparator") ||
		!d.Values[d.Lookup(a, "polarity")].IsText("active-high") || d.Values[0].N != 7 {
		t.Errorf("alert output %x", out)
	}
	clk.t += 40 * time.Millisecond
	c.temp = 0x158 << 4
	nWrites, nLimits := len(c.writes), len(c.limits)
	// low >= high: refused before any register is touched; reads go on
	st, out = m.Init(initInput(alertMap("high", 20, "low", 20), 1, 0x48), nil)
	if st != gwabi.BadConfig || !decode(t, out).Values[2].IsText("bad-config") {
		t.Errorf("refused reconfigure: %d %x", st, out)
	}
	if len(c.writes) != nWrites || len(c.limits) != nLimits {
		t.Errorf("registers written by a refused reconfigure")
	}
	if st, out := m.Read(nil, nil); st != gwabi.OK {
		t.Errorf("read after refused reconfigure: %d %x", st, out)
	}
	// no settings at all: the default output still says what the chip holds
	m, _, _ = newModule()
	st, out = m.Init(initInput(nil, 0, 0x48), nil)
	d = decode(t, out)
	a = d.Lookup(0, "alert")
	if hi, _ := d.Values[d.Lookup(a, "high")].Float64(); st != gwabi.OK || hi != 80 {
		t.Errorf("default alert %x", out)
	}
}

// A second gw_init for another address is a first init of that device: the old
// chip keeps its configuration, the new one is set up from scratch.
func TestModuleReinitOtherAddress(t *testing.T) {
	clk := &fakeClock{t: 5 * time.Second}
	chips := map[uint8]*chip{0x48: newChip(clk), 0x49: newChip(clk)}
	m := &Module{Driver: Driver{Now: clk.Now, Sleep: clk.Sleep}, Open: func(bus, addr uint8) Bus { return chips[addr] }}
	if st, out := m.Init(initInput(alertMap("high", 30, "low", 20), 1, 0x48), nil); st != gwabi.OK {
		t.Fatalf("%d %x", st, out)
	}
	clk.t += time.Second
	if st, out := m.Init(initInput(alertMap("high", 40, "low", 35), 1, 0x49), nil); st != gwabi.OK {
		t.Fatalf("%d %x", st, out)
	}
	if chips[0x48].tHigh != EncodeLimit(30*16, false) || chips[0x49].tHigh != EncodeLimit(40*16, false) {
		t.Errorf("limits %04x %04x", chips[0x48].tHigh, chips[0x49].tHigh)
	}
	if st, _ := m.Read(nil, nil); st != gwabi.NotReady {
		t.Errorf("new device read: %d, want NOT_READY (a first init)", st)
	}
}
