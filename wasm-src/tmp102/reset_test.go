package tmp102

import (
	"strings"
	"testing"
	"time"

	"coapgw.example/wasm-src/gwabi"
)

// reset puts the model chip in its power-up state, as a brown-out or a general call
// reset from another master does (SBOS397 "Power-Up", "General Call"); temp is what its
// temperature register holds by the time the driver next looks.
func (c *chip) reset(temp uint16) {
	c.config, c.tHigh, c.tLow, c.temp, c.busyTill = PowerOnConfig, PowerOnTHigh, PowerOnTLow, temp, 0
}

// countingBus counts the transactions that reach the chip.
type countingBus struct {
	Bus
	n int
}

func (b *countingBus) ReadReg(reg uint8, buf []byte) gwabi.Status {
	b.n++
	return b.Bus.ReadReg(reg, buf)
}

func (b *countingBus) WriteReg(reg uint8, data []byte) gwabi.Status {
	b.n++
	return b.Bus.WriteReg(reg, data)
}

// warnings collects the driver's warn lines.
func warnings(d *Driver) *[]string {
	var lines []string
	d.Log = func(level int32, msg string) {
		if level == gwabi.LogWarn {
			lines = append(lines, msg)
		}
	}
	return &lines
}

const c21_5 = 0x158 << 4 // 21.5 °C, 12-bit

func limits3025() Settings {
	s := DefaultSettings()
	s.HasAlert, s.Alert = true, Alert{High: 30 * 16, Low: 25 * 16}
	return s
}

// The fault table's case: power-up conversions, limits 30/25 °C, and a reset whose first
// conversion has ended by the next read, so the temperature register shows nothing. Reads
// every 250 ms (4 Hz) restore the limits within VerifyInterval plus one period, keep
// reporting the temperature, and say so once.
func TestResetRestoresLimitsWithinTheInterval(t *testing.T) {
	d, c, clk := newDriver()
	logs := warnings(d)
	if st, detail := d.Configure(limits3025()); st != gwabi.OK {
		t.Fatal(st, detail)
	}
	clk.t += 40 * time.Millisecond
	c.temp = c21_5
	if _, st, _, _ := d.Read(); st != gwabi.OK {
		t.Fatal(st)
	}
	clk.t += 300 * time.Millisecond
	c.reset(c21_5)
	resetAt := clk.t
	restoredAt := time.Duration(-1)
	for clk.t <= resetAt+VerifyInterval+250*time.Millisecond {
		clk.t += 250 * time.Millisecond
		r, st, _, detail := d.Read()
		if st != gwabi.OK || r.Celsius != 21.5 {
			t.Fatalf("read at +%v: %+v %d %s", clk.t-resetAt, r, st, detail)
		}
		if restoredAt < 0 && c.tHigh == 0x1E00 {
			restoredAt = clk.t
		}
	}
	if restoredAt < 0 || restoredAt-resetAt > VerifyInterval+250*time.Millisecond {
		t.Fatalf("limits %04x/%04x, restored at +%v", c.tHigh, c.tLow, restoredAt-resetAt)
	}
	if c.tHigh != 0x1E00 || c.tLow != 0x1900 || c.config&verifyMask != PowerOnConfig&verifyMask {
		t.Errorf("chip after the restore: config %04x limits %04x/%04x", c.config, c.tHigh, c.tLow)
	}
	want := []string{"chip reset detected: T_HIGH 0x5000, expected 0x1e00; settings restored"}
	if strings.Join(*logs, "|") != strings.Join(want, "|") {
		t.Errorf("warn lines %q, want %q", *logs, want)
	}
	if d.Alert() != limits3025().Alert || d.Settings() != limits3025() {
		t.Errorf("recorded state changed: %+v %+v", d.Alert(), d.Settings())
	}
}

// A read that finds 0x0000, a reset chip's value before its first conversion, looks for
// a reset at once, whatever the interval: restored in that same read, which then waits
// one conversion and reports the temperature as before.
func TestResetSeenAsZeroIsRestoredInTheSameRead(t *testing.T) {
	d, c, clk := newDriver()
	logs := warnings(d)
	if st, _ := d.Configure(limits3025()); st != gwabi.OK {
		t.Fatal(st)
	}
	clk.t += 40 * time.Millisecond
	c.temp = c21_5
	if _, st, _, _ := d.Read(); st != gwabi.OK {
		t.Fatal(st)
	}
	clk.t += 250 * time.Millisecond // the check is not due
	c.reset(0)
	clk.onSleep = func() { c.temp = c21_5 }
	if r, st, _, detail := d.Read(); st != gwabi.OK || r.Celsius != 21.5 {
		t.Fatalf("%+v %d %s", r, st, detail)
	}
	if c.tHigh != 0x1E00 || c.tLow != 0x1900 || len(*logs) != 1 {
		t.Errorf("limits %04x/%04x, warn lines %q", c.tHigh, c.tLow, *logs)
	}
}

// Settings that change conversions (8 Hz here; 13-bit, one-shot below): the configuration
// register is the witness; the restore waits out the first conversion, as after a power-up.
func TestResetRestoresConfigurationThenWaitsAConversion(t *testing.T) {
	d, c, clk := newDriver()
	logs := warnings(d)
	s := Settings{Rate: Rate8Hz, HasAlert: true, Alert: Alert{High: 30 * 16, Low: 25 * 16, Interrupt: true, ActiveHigh: true, Faults: 2}}
	if st, _ := d.Configure(s); st != gwabi.OK {
		t.Fatal(st)
	}
	written := c.config &^ CfgAL
	clk.t += 2 * time.Second
	c.reset(c21_5)
	r, st, retry, _ := d.Read()
	if st != gwabi.NotReady || retry != 35 || r.Bits != 0 {
		t.Fatalf("first read after the reset: %+v %d retry %d", r, st, retry)
	}
	if c.config&^CfgAL != written || c.tHigh != 0x1E00 || c.tLow != 0x1900 {
		t.Errorf("config %04x (want %04x) limits %04x/%04x", c.config, written, c.tHigh, c.tLow)
	}
	want := "chip reset detected: configuration 0x60a0, expected 0x" + hex16(written) + "; settings restored"
	if len(*logs) != 1 || (*logs)[0] != want {
		t.Errorf("warn lines %q, want %q", *logs, want)
	}
	clk.t += ConversionTimeMax
	if r, st, _, _ := d.Read(); st != gwabi.OK || r.Celsius != 21.5 {
		t.Errorf("after the conversion: %+v %d", r, st)
	}
	if len(*logs) != 1 {
		t.Errorf("one event, one line: %q", *logs)
	}
}

// 13-bit: the reset chip's 12-bit temperature register gives it away at the next read,
// before the interval is up, and the settings go back at once.
func TestResetInExtendedModeRestoredAtTheNextRead(t *testing.T) {
	d, c, clk := newDriver()
	logs := warnings(d)
	if st, _ := d.Configure(Settings{Extended: true, Rate: Rate4Hz}); st != gwabi.OK {
		t.Fatal(st)
	}
	clk.t += 40 * time.Millisecond
	c.temp = 0x158<<3 | 1
	if r, st, _, _ := d.Read(); st != gwabi.OK || r.Bits != 13 {
		t.Fatal(r, st)
	}
	clk.t += 250 * time.Millisecond
	c.reset(c21_5)
	if _, st, retry, _ := d.Read(); st != gwabi.NotReady || retry != 35 {
		t.Fatalf("%d retry %d", st, retry)
	}
	// 80/75 °C kept across the reset, in the 13-bit layout
	if c.config&CfgEM == 0 || c.tHigh != 0x2800 || c.tLow != 0x2580 || len(*logs) != 1 {
		t.Errorf("config %04x limits %04x/%04x, warn lines %q", c.config, c.tHigh, c.tLow, *logs)
	}
}

// One-shot mode: each read's OS write puts the configuration word back, not the limits,
// so a limit is the witness.
func TestResetInOneShotModeRestoresTheLimits(t *testing.T) {
	d, c, clk := newDriver()
	logs := warnings(d)
	s := limits3025()
	s.OneShot = true
	if st, _ := d.Configure(s); st != gwabi.OK {
		t.Fatal(st)
	}
	c.next = c21_5
	clk.t += 2 * time.Second
	c.reset(c21_5)
	if _, st, _, _ := d.Read(); st != gwabi.NotReady {
		t.Fatalf("first read after the reset: %d", st)
	}
	if c.config&CfgSD == 0 || c.tHigh != 0x1E00 || c.tLow != 0x1900 || len(*logs) != 1 {
		t.Errorf("config %04x limits %04x/%04x, warn lines %q", c.config, c.tHigh, c.tLow, *logs)
	}
	clk.t += ConversionTimeMax
	if r, st, _, _ := d.Read(); st != gwabi.OK || r.Celsius != 21.5 {
		t.Errorf("%+v %d", r, st)
	}
}

// Without a reset the check writes nothing and logs nothing; one that meets a value that
// is not the power-up one says the chip was written by someone else.
func TestNoResetNoRestore(t *testing.T) {
	d, c, clk := newDriver()
	logs := warnings(d)
	if st, _ := d.Configure(limits3025()); st != gwabi.OK {
		t.Fatal(st)
	}
	c.temp = c21_5
	nWrites, nLimits := len(c.writes), len(c.limits)
	for i := 0; i < 20; i++ {
		clk.t += 250 * time.Millisecond
		if _, st, _, _ := d.Read(); st != gwabi.OK {
			t.Fatal(st)
		}
	}
	if len(c.writes) != nWrites || len(c.limits) != nLimits || len(*logs) != 0 {
		t.Errorf("writes %d->%d limits %d->%d, warn lines %q", nWrites, len(c.writes), nLimits, len(c.limits), *logs)
	}
	c.tHigh = 0x2000 // 32 °C: not a reset
	clk.t += VerifyInterval
	if _, st, _, _ := d.Read(); st != gwabi.OK || c.tHigh != 0x1E00 {
		t.Fatalf("%d %04x", st, c.tHigh)
	}
	if len(*logs) != 1 || !strings.HasPrefix((*logs)[0], "chip settings changed behind the module's back: T_HIGH 0x2000") {
		t.Errorf("warn lines %q", *logs)
	}
}

// A failed check or restore is a bus failure like any other: the status goes back, and the
// next read sets the chip up from scratch.
func TestResetCheckFailure(t *testing.T) {
	d, c, clk := newDriver()
	if st, _ := d.Configure(limits3025()); st != gwabi.OK {
		t.Fatal(st)
	}
	c.temp = c21_5
	clk.t += 2 * time.Second
	c.reset(c21_5)
	c.failRead[RegTHigh] = gwabi.I2CNack
	if _, st, _, detail := d.Read(); st != gwabi.I2CNack || !strings.Contains(detail, "checking the chip for a reset") {
		t.Fatalf("%d %s", st, detail)
	}
	delete(c.failRead, RegTHigh)
	if _, st, _, _ := d.Read(); st != gwabi.NotReady || c.tHigh != 0x1E00 {
		t.Errorf("the next read: %d, T_HIGH %04x", st, c.tHigh)
	}
}

// The cost: at the power-up settings nothing is checked (one transaction per reading);
// otherwise one register read per VerifyInterval.
func TestResetCheckCost(t *testing.T) {
	for _, tc := range []struct {
		name  string
		s     Settings
		extra int
	}{
		{"power-up settings", DefaultSettings(), 0},
		// reads from 40 ms to 4.79 s after the set-up, which read the chip back:
		// checks at the first reads past 1, 2, 3 and 4 s
		{"limits 30/25", limits3025(), 4},
		{"8 Hz", Settings{Rate: Rate8Hz}, 4},
	} {
		d, c, clk := newDriver()
		bus := &countingBus{Bus: c}
		d.Bus = bus
		if st, _ := d.Configure(tc.s); st != gwabi.OK {
			t.Fatal(st)
		}
		clk.t += 40 * time.Millisecond
		c.temp = c21_5
		bus.n = 0
		const reads = 20 // 5 s at 4 Hz
		for i := 0; i < reads; i++ {
			if _, st, _, _ := d.Read(); st != gwabi.OK {
				t.Fatal(tc.name, st)
			}
			clk.t += 250 * time.Millisecond
		}
		if bus.n != reads+tc.extra {
			t.Errorf("%s: %d transactions for %d reads, want %d", tc.name, bus.n, reads, reads+tc.extra)
		}
	}
}
