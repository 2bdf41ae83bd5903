package tmp102

import (
	"testing"
	"time"

	"coapgw.example/wasm-src/cbor"
	"coapgw.example/wasm-src/gwabi"
)

// SBOS397 "Temperature Register", 12-bit data format table: value, 12-bit code.
var table12 = []struct {
	c    float64
	code uint16
}{
	{127.9375, 0x7FF}, {100, 0x640}, {80, 0x500}, {75, 0x4B0}, {50, 0x320}, {25, 0x190},
	{0.25, 0x004}, {0, 0x000}, {-0.25, 0xFFC}, {-25, 0xE70}, {-55, 0xC90},
}

// SBOS397 "Extended Mode (EM)", 13-bit data format table.
var table13 = []struct {
	c    float64
	code uint16
}{
	{150, 0x0960}, {128, 0x0800}, {127.9375, 0x07FF}, {100, 0x0640}, {80, 0x0500}, {75, 0x04B0},
	{50, 0x0320}, {25, 0x0190}, {0.25, 0x0004}, {0, 0x0000}, {-0.25, 0x1FFC}, {-25, 0x1E70},
	{-55, 0x1C90},
}

func TestDecode12(t *testing.T) {
	for _, e := range table12 {
		raw := e.code << 4 // left-justified; D0 of byte 2 is 0 (EM=0)
		c, bits := Decode(raw)
		if c != e.c || bits != 12 {
			t.Errorf("0x%03X (reg 0x%04X): %v °C %d bits, want %v", e.code, raw, c, bits, e.c)
		}
	}
}

func TestDecode13(t *testing.T) {
	for _, e := range table13 {
		raw := e.code<<3 | 1 // left-justified; D0 of byte 2 is the EM flag, 1
		c, bits := Decode(raw)
		if c != e.c || bits != 13 {
			t.Errorf("0x%04X (reg 0x%04X): %v °C %d bits, want %v", e.code, raw, c, bits, e.c)
		}
	}
}

func TestIdentity(t *testing.T) {
	good := []uint16{PowerOnConfig, 0x60A0 | CfgOS, 0xFFF0, 0x6000, 0x7F30}
	bad := []uint16{0x0000, 0xFFFF, 0x40A0, 0x20A0, 0x60A1, 0x60A8, 0x1234}
	for _, cfg := range good {
		d, c, _ := newDriver()
		c.config = cfg
		if st, detail := d.Configure(DefaultSettings()); st != gwabi.OK {
			t.Errorf("0x%04X refused: %d %s", cfg, st, detail)
		}
	}
	for _, cfg := range bad {
		d, c, _ := newDriver()
		c.config = cfg
		if st, _ := d.Configure(DefaultSettings()); st != gwabi.WrongDevice {
			t.Errorf("0x%04X accepted: %d", cfg, st)
		}
		if len(c.writes) != 0 {
			t.Errorf("0x%04X: wrote %x to a device that is not a TMP102", cfg, c.writes)
		}
	}
}

func TestConfigureWords(t *testing.T) {
	cases := []struct {
		s    Settings
		from uint16
		want uint16
	}{
		{DefaultSettings(), PowerOnConfig, 0x6080},
		{Settings{Extended: true, Rate: Rate8Hz}, PowerOnConfig, 0x60D0},
		{Settings{Rate: Rate025Hz, OneShot: true}, PowerOnConfig, 0x6100},
		{Settings{Rate: Rate1Hz}, PowerOnConfig, 0x6040},
		// alert settings (F1 F0 POL TM) survive; SD, EM and CR are replaced
		{Settings{Rate: Rate1Hz}, 0x7FF0, 0x7E40},
	}
	for _, c := range cases {
		d, ch, _ := newDriver()
		ch.config = c.from
		if st, detail := d.Configure(c.s); st != gwabi.OK {
			t.Fatalf("%+v: %d %s", c.s, st, detail)
		}
		if len(ch.writes) != 1 || ch.writes[0] != c.want {
			t.Errorf("%+v from 0x%04X: wrote %04x, want %04x", c.s, c.from, ch.writes, c.want)
		}
	}
}

func TestReadBackMismatch(t *testing.T) {
	d, c, _ := newDriver()
	c.ignoreEM = true
	if st, _ := d.Configure(Settings{Extended: true, Rate: Rate4Hz}); st != gwabi.WrongDevice {
		t.Fatalf("status %d", st)
	}
	if _, st, _, _ := d.Read(); st != gwabi.NotInitialized {
		t.Fatalf("read after failed configure: %d", st)
	}
}

func TestNotReadyWindow(t *testing.T) {
	d, c, clk := newDriver()
	if _, st, _, _ := d.Read(); st != gwabi.NotInitialized {
		t.Fatalf("read before configure: %d", st)
	}
	c.temp = 0 // power-up value
	if st, _ := d.Configure(DefaultSettings()); st != gwabi.OK {
		t.Fatal(st)
	}
	steps := []struct {
		at    time.Duration
		retry int32
	}{{0, 35}, {500 * time.Microsecond, 35}, {time.Millisecond, 34}, {20*time.Millisecond + time.Nanosecond, 15}, {34*time.Millisecond + 100*time.Microsecond, 1}, {34999 * time.Microsecond, 1}}
	start := clk.t
	for _, s := range steps {
		clk.t = start + s.at
		_, st, retry, _ := d.Read()
		if st != gwabi.NotReady || retry != s.retry {
			t.Errorf("at %v: status %d retry %d, want NOT_READY %d", s.at, st, retry, s.retry)
		}
	}
	clk.t = start + 35*time.Millisecond
	c.temp = 0x190 << 4
	r, st, _, _ := d.Read()
	if st != gwabi.OK || r.Celsius != 25 || r.Raw != 0x1900 || r.Bits != 12 {
		t.Errorf("at 35 ms: %+v %d", r, st)
	}
}

func TestContinuous13Bit(t *testing.T) {
	d, c, clk := newDriver()
	if st, _ := d.Configure(Settings{Extended: true, Rate: Rate8Hz}); st != gwabi.OK {
		t.Fatal(st)
	}
	clk.t += time.Second
	c.temp = 0x0960<<3 | 1
	r, st, _, _ := d.Read()
	if st != gwabi.OK || r.Celsius != 150 || r.Bits != 13 || r.Raw != 0x4B01 {
		t.Errorf("%+v %d", r, st)
	}
	// Past the readiness window, a 12-bit value (D0 = 0) in extended mode means the chip
	// was reset behind the driver's back: not a reading, and the chip is set up again.
	c.temp = 0xE70 << 4
	if r, st, retry, _ := d.Read(); st != gwabi.NotReady || retry < 1 || r.Bits != 0 {
		t.Errorf("reset not detected: %+v %v retry %d", r, st, retry)
	}
	c.config = PowerOnConfig // what a reset chip's configuration register holds
	if _, st, _, _ := d.Read(); st != gwabi.NotReady {
		t.Errorf("after the reset the next read sets the chip up and waits a conversion, got %v", st)
	}
	if c.config&CfgEM == 0 {
		t.Errorf("configuration not written again after the reset: %04x", c.config)
	}
	clk.t += time.Second
	c.temp = 0x0960<<3 | 1
	if r, st, _, _ := d.Read(); st != gwabi.OK || r.Celsius != 150 || r.Bits != 13 {
		t.Errorf("after the new set-up: %+v %v", r, st)
	}
	if len(clk.slept) != 0 {
		t.Errorf("continuous mode slept %v", clk.slept)
	}
}

func TestOneShot(t *testing.T) {
	d, c, clk := newDriver()
	if st, _ := d.Configure(Settings{Rate: Rate1Hz, OneShot: true}); st != gwabi.OK {
		t.Fatal(st)
	}
	clk.t += 35 * time.Millisecond
	c.next = 0x320 << 4
	r, st, _, detail := d.Read()
	if st != gwabi.OK || r.Celsius != 50 {
		t.Fatalf("%+v %d %s", r, st, detail)
	}
	if len(c.writes) != 2 || c.writes[1] != 0x6140|CfgOS {
		t.Errorf("writes %04x", c.writes)
	}
	if len(clk.slept) != 1 || clk.slept[0] != 26*time.Millisecond {
		t.Errorf("slept %v", clk.slept)
	}

	// A slower conversion (the datasheet maximum) is polled in 2 ms steps.
	clk.slept = nil
	c.convTime = 35 * time.Millisecond
	c.next = 0xC90 << 4
	r, st, _, _ = d.Read()
	if st != gwabi.OK || r.Celsius != -55 {
		t.Fatalf("%+v %d", r, st)
	}
	if len(clk.slept) != 1+5 { // 26 + 2*5 = 36 ms >= 35 ms
		t.Errorf("slept %v", clk.slept)
	}

	// A conversion that never finishes times out after 60 ms.
	clk.slept = nil
	c.convTime = time.Hour
	c.busyTill = 0
	_, st, _, detail = d.Read()
	if st != gwabi.I2CTimeout {
		t.Fatalf("stuck conversion: %d %s", st, detail)
	}
	var total time.Duration
	for _, s := range clk.slept {
		total += s
	}
	if total != OneShotLimit {
		t.Errorf("waited %v, want %v", total, OneShotLimit)
	}
}

func TestBusFailuresPropagate(t *testing.T) {
	for _, st := range []gwabi.Status{gwabi.I2CNack, gwabi.I2CBus, gwabi.I2CTimeout, gwabi.Denied, gwabi.I2CUnavailable} {
		// init: configuration read fails
		d, c, clk := newDriver()
		c.failRead[RegConfig] = st
		if got, _ := d.Configure(DefaultSettings()); got != st {
			t.Errorf("config read %d: got %d", st, got)
		}
		// init: configuration write fails
		d, c, clk = newDriver()
		c.failWrite[RegConfig] = st
		if got, _ := d.Configure(DefaultSettings()); got != st {
			t.Errorf("config write %d: got %d", st, got)
		}
		// read: temperature read fails
		d, c, clk = newDriver()
		d.Configure(DefaultSettings())
		clk.t += time.Second
		c.failRead[RegTemp] = st
		if _, got, _, detail := d.Read(); got != st || detail == "" {
			t.Errorf("temp read %d: got %d %q", st, got, detail)
		}
		// one-shot: start fails
		d, c, clk = newDriver()
		d.Configure(Settings{OneShot: true})
		clk.t += time.Second
		c.failWrite[RegConfig] = st
		if _, got, _, _ := d.Read(); got != st {
			t.Errorf("one-shot start %d: got %d", st, got)
		}
	}
}

// --- Module: the gw_init / gw_read bytes ---

func initInput(settings func([]byte) []byte, nSettings int, addr int64) []byte {
	n := 2
	if settings != nil {
		n = 3
	}
	b := cbor.AppendMapHeader(nil, n)
	b = cbor.AppendInt(cbor.AppendText(b, "bus"), 1)
	b = cbor.AppendInt(cbor.AppendText(b, "address"), addr)
	if settings != nil {
		b = settings(cbor.AppendMapHeader(cbor.AppendText(b, "settings"), nSettings))
	}
	return b
}

func newModule() (*Module, *chip, *fakeClock) {
	d, c, clk := newDriver()
	m := &Module{Driver: *d, Open: func(bus, addr uint8) Bus {
		if bus != 1 || addr != 0x48 {
			panic("wrong device opened")
		}
		return c
	}}
	return m, c, clk
}

func decode(t *testing.T, out []byte) cbor.Doc {
	t.Helper()
	d, err := cbor.Parse(out, make([]cbor.Value, 0, 32))
	if err != nil {
		t.Fatalf("output %x: %v", out, err)
	}
	return d
}

func TestModuleInitOutput(t *testing.T) {
	rates := map[float64]int64{0.25: 4000, 1: 1000, 4: 250, 8: 125}
	for hz, period := range rates {
		m, _, _ := newModule()
		st, out := m.Init(initInput(func(b []byte) []byte {
			b = cbor.AppendFloat(cbor.AppendText(b, "rateHz"), hz)
			b = cbor.AppendInt(cbor.AppendText(b, "resolution"), 13)
			return cbor.AppendText(cbor.AppendText(b, "mode"), "continuous")
		}, 3, 0x48), nil)
		if st != gwabi.OK {
			t.Fatalf("%v Hz: %d %x", hz, st, out)
		}
		d := decode(t, out)
		if p, _ := d.Values[d.Lookup(0, "periodMs")].Int64(); p != period {
			t.Errorf("%v Hz: periodMs %d", hz, p)
		}
		for k, v := range map[string]string{"name": "tmp102", "version": "1.0.0", "quantity": "temperature", "unit": "Cel"} {
			if !d.Values[d.Lookup(0, k)].IsText(v) {
				t.Errorf("%s != %s", k, v)
			}
		}
		if r, _ := d.Values[d.Lookup(0, "resolution")].Float64(); r != 0.0625 {
			t.Errorf("resolution %v", r)
		}
	}
	// no settings at all: defaults, 4 Hz
	m, _, _ := newModule()
	st, out := m.Init(initInput(nil, 0, 0x48), nil)
	if d := decode(t, out); st != gwabi.OK || func() int64 { p, _ := d.Values[d.Lookup(0, "periodMs")].Int64(); return p }() != 250 {
		t.Errorf("defaults: %d %x", st, out)
	}
}

func TestModuleBadConfig(t *testing.T) {
	cases := map[string][]byte{
		"resolution 14": initInput(func(b []byte) []byte { return cbor.AppendInt(cbor.AppendText(b, "resolution"), 14) }, 1, 0x48),
		"resolution text": initInput(func(b []byte) []byte {
			return cbor.AppendText(cbor.AppendText(b, "resolution"), "12")
		}, 1, 0x48),
		"rateHz 2":     initInput(func(b []byte) []byte { return cbor.AppendInt(cbor.AppendText(b, "rateHz"), 2) }, 1, 0x48),
		"rateHz 0.5":   initInput(func(b []byte) []byte { return cbor.AppendFloat(cbor.AppendText(b, "rateHz"), 0.5) }, 1, 0x48),
		"mode":         initInput(func(b []byte) []byte { return cbor.AppendText(cbor.AppendText(b, "mode"), "fast") }, 1, 0x48),
		"unknown":      initInput(func(b []byte) []byte { return cbor.AppendBool(cbor.AppendText(b, "alert"), true) }, 1, 0x48),
		"address 0x50": initInput(nil, 0, 0x50),
		"not cbor":     {0xff},
		"missing bus":  cbor.AppendInt(cbor.AppendText(cbor.AppendMapHeader(nil, 1), "address"), 0x48),
		"repeated rate": initInput(func(b []byte) []byte {
			b = cbor.AppendInt(cbor.AppendText(b, "rateHz"), 1)
			return cbor.AppendInt(cbor.AppendText(b, "rateHz"), 8)
		}, 2, 0x48),
	}
	for name, in := range cases {
		m, c, _ := newModule()
		st, out := m.Init(in, nil)
		d := decode(t, out)
		if st != gwabi.BadConfig || !d.Values[d.Lookup(0, "code")].IsText("bad-config") || d.Lookup(0, "detail") < 0 {
			t.Errorf("%s: %d %x", name, st, out)
		}
		if len(c.writes) != 0 {
			t.Errorf("%s: chip written", name)
		}
		if st, _ := m.Read(nil, nil); st != gwabi.NotInitialized {
			t.Errorf("%s: read after failed init: %d", name, st)
		}
	}
}

func TestModuleRead(t *testing.T) {
	m, c, clk := newModule()
	if st, out := m.Read(nil, nil); st != gwabi.NotInitialized || !decode(t, out).Values[1+0+1].IsText("not-initialized") {
		t.Errorf("before init: %d %x", st, out)
	}
	if st, _ := m.Init(initInput(nil, 0, 0x48), nil); st != gwabi.OK {
		t.Fatal(st)
	}
	// right after init: NOT_READY with retryAfterMs
	st, out := m.Read(nil, nil)
	d := decode(t, out)
	if r, _ := d.Values[d.Lookup(0, "retryAfterMs")].Int64(); st != gwabi.NotReady || r != 35 ||
		!d.Values[d.Lookup(0, "code")].IsText("not-ready") {
		t.Errorf("not ready: %d %x", st, out)
	}
	clk.t += 40 * time.Millisecond
	c.temp = 0x158 << 4 // 21.5 °C
	for _, in := range [][]byte{nil, {0xa0}} {
		st, out = m.Read(in, nil)
		if st != gwabi.OK {
			t.Fatalf("read: %d %x", st, out)
		}
		// {"value": 21.5, "raw": 5504, "bits": 12}: the doc's example, byte for byte
		want := "a3" + "6576616c7565" + "f94d60" + "63726177" + "191580" + "6462697473" + "0c"
		if got := hexs(out); got != want {
			t.Errorf("read output %s, want %s", got, want)
		}
	}
	for _, in := range [][]byte{{0xa1, 0x61, 0x61, 0x01}, {0x80}, {0x1c}, {0xa0, 0xa0}} {
		if st, out := m.Read(in, nil); st != gwabi.BadRequest || !decode(t, out).Values[1].IsText("code") {
			t.Errorf("input %x: %d", in, st)
		}
	}
}

func hexs(b []byte) string {
	const digits = "0123456789abcdef"
	s := make([]byte, 0, 2*len(b))
	for _, c := range b {
		s = append(s, digits[c>>4], digits[c&15])
	}
	return string(s)
}

func TestZeroIsConfirmedInContinuousMode(t *testing.T) {
	d, c, clk := newDriver()
	if st, _ := d.Configure(DefaultSettings()); st != gwabi.OK {
		t.Fatal(st)
	}
	clk.t += time.Second
	// 0x0000 right after a reset: the driver waits one conversion and reads again.
	c.temp = 0
	clk.onSleep = func() { c.temp = 0x190 << 4 } // the first conversion ends: 25 °C
	r, st, _, _ := d.Read()
	if st != gwabi.OK || r.Celsius != 25 {
		t.Errorf("a reset chip's 0x0000 was reported: %+v %v", r, st)
	}
	if len(clk.slept) != 1 || clk.slept[0] != ConversionTimeMax {
		t.Errorf("slept %v, want one conversion time", clk.slept)
	}
	// A real 0 °C stays 0 after the wait and is reported.
	clk.onSleep = nil
	c.temp = 0
	if r, st, _, _ := d.Read(); st != gwabi.OK || r.Celsius != 0 || r.Bits != 12 {
		t.Errorf("a real 0 °C: %+v %v", r, st)
	}
}
