package sht3x

import (
	"strings"
	"testing"
	"time"

	"coapgw.example/wasm-src/gwabi"
)

func configured(t *testing.T, s Settings) (*Driver, *chip, *fakeClock) {
	t.Helper()
	d, c, clk := newDriver()
	if f := d.Configure(s); !f.OK() {
		t.Fatalf("configure: %s %s", f.Status.Name(), f.Detail)
	}
	c.commands = nil
	return d, c, clk
}

func sameCommands(got []uint16, want ...uint16) bool {
	if len(got) != len(want) {
		return false
	}
	for i := range got {
		if got[i] != want[i] {
			return false
		}
	}
	return true
}

func TestConfigureSequence(t *testing.T) {
	for _, heater := range []bool{false, true} {
		d, c, _ := newDriver()
		s := DefaultSettings()
		s.Heater = heater
		if f := d.Configure(s); !f.OK() {
			t.Fatalf("heater %v: %s %s", heater, f.Status.Name(), f.Detail)
		}
		h := uint16(CmdHeaterOff)
		if heater {
			h = CmdHeaterOn
		}
		if !sameCommands(c.commands, CmdSoftReset, h, CmdReadStatus) || c.spacingFouls != 0 {
			t.Errorf("heater %v: commands %04X, %d sent within 1 ms of the previous", heater, c.commands, c.spacingFouls)
		}
		if (c.status&StatusHeaterOn != 0) != heater {
			t.Errorf("heater %v: chip status 0x%04X", heater, c.status)
		}
	}
}

// A chip still powering up or measuring NACKs its address: one more try after the longest
// measurement, then the set-up goes on.
func TestConfigureRetriesTheResetOnce(t *testing.T) {
	d, c, clk := newDriver()
	c.busyTill = clk.t + time.Millisecond // power-up, Table 4
	if f := d.Configure(DefaultSettings()); !f.OK() {
		t.Fatalf("%s %s", f.Status.Name(), f.Detail)
	}
	d, c, _ = newDriver()
	c.failWrite = []gwabi.Status{gwabi.I2CNack, gwabi.I2CNack}
	if f := d.Configure(DefaultSettings()); f.Status != gwabi.I2CNack || len(c.commands) != 0 {
		t.Errorf("nobody at the address: %s, commands %04X", f.Status.Name(), c.commands)
	}
	if _, f := d.Read(); f.Status != gwabi.NotInitialized {
		t.Errorf("read after a failed configure: %s", f.Status.Name())
	}
}

func TestConfigureRefusesAnotherChip(t *testing.T) {
	// A chip that acknowledges everything and reads back 0xFF: the status word's CRC fails
	// (CRC(0xFFFF) is 0xAC, not 0xFF).
	d, c, _ := newDriver()
	c.notSHT3x = true
	f := d.Configure(DefaultSettings())
	if f.Status != gwabi.WrongDevice || !strings.Contains(f.Detail, "CRC") {
		t.Errorf("0xFF chip: %s %s", f.Status.Name(), f.Detail)
	}
	// The status word's CRC corrupted on the wire.
	d, c, _ = newDriver()
	c.failRead = nil
	d.Bus = corruptingBus{c}
	if f := d.Configure(DefaultSettings()); f.Status != gwabi.WrongDevice {
		t.Errorf("bad status CRC: %s %s", f.Status.Name(), f.Detail)
	}
}

// corruptingBus flips the last bit of every read: the CRC byte of a one-word read.
type corruptingBus struct{ *chip }

func (b corruptingBus) Read(buf []byte) gwabi.Status {
	st := b.chip.Read(buf)
	buf[len(buf)-1] ^= 1
	return st
}

// Table 17: after a soft reset the status reads "reset detected" (bit 4); the heater bit is
// as commanded; bit 1 says the last command was refused.
func TestConfigureChecksTheStatusWord(t *testing.T) {
	cases := []struct {
		name   string
		status uint16
	}{
		{"reset flag clear", 0x0000},
		{"command refused", StatusResetDetected | StatusCommandFailed},
		{"heater on though off was sent", StatusResetDetected | StatusHeaterOn},
	}
	for _, tc := range cases {
		d, c, _ := newDriver()
		d.Bus = fixedStatusBus{c, tc.status}
		if f := d.Configure(DefaultSettings()); f.Status != gwabi.WrongDevice {
			t.Errorf("%s: %s %s", tc.name, f.Status.Name(), f.Detail)
		}
	}
}

// fixedStatusBus answers the status register with a fixed word (and a right CRC).
type fixedStatusBus struct {
	*chip
	status uint16
}

func (b fixedStatusBus) Read(buf []byte) gwabi.Status {
	if st := b.chip.Read(buf); st != gwabi.OK {
		return st
	}
	copy(buf, words(b.status))
	return gwabi.OK
}

// The datasheet's example value end to end: 0x6666 in both words is 25 °C and 40 %RH, with
// the wait of Table 4's maximum between command and read (the chip NACKs an earlier read).
func TestRead(t *testing.T) {
	for _, rep := range []Repeatability{RepeatabilityHigh, RepeatabilityMedium, RepeatabilityLow} {
		s := DefaultSettings()
		s.Repeatability = rep
		d, c, clk := configured(t, s)
		clk.slept = nil
		r, f := d.Read()
		if !f.OK() {
			t.Fatalf("%s: %s %s", rep, f.Status.Name(), f.Detail)
		}
		if r.Celsius != 25 || r.PercentRH != 40 || r.RawT != 0x6666 || r.RawRH != 0x6666 {
			t.Errorf("%s: %+v", rep, r)
		}
		if !sameCommands(c.commands, rep.Command()) || c.spacingFouls != 0 {
			t.Errorf("%s: commands %04X, %d too close", rep, c.commands, c.spacingFouls)
		}
		if n := len(clk.slept); n == 0 || clk.slept[n-1] != rep.MeasurementTime()+Margin {
			t.Errorf("%s: slept %v, want the maximum measurement time %v + margin last", rep, clk.slept, rep.MeasurementTime())
		}
	}
}

func TestReadValues(t *testing.T) {
	d, c, _ := configured(t, DefaultSettings())
	for _, raw := range [][2]uint16{{0, 0}, {0xFFFF, 0xFFFF}, {0x6666, 0x8000}} {
		c.rawT, c.rawRH = raw[0], raw[1]
		r, f := d.Read()
		if !f.OK() || r.RawT != raw[0] || r.RawRH != raw[1] || r.Celsius != Celsius(raw[0]) || r.PercentRH != PercentRH(raw[1]) {
			t.Errorf("%04X: %+v %s", raw, r, f.Detail)
		}
	}
}

// Section 4.4: with clock stretching disabled a read header before the result is NACKed. The
// chip acknowledged the command, so that NACK means "not ready", reported with the catalogue
// code; the next read fetches the same measurement without a new command.
func TestReadNotReady(t *testing.T) {
	d, c, clk := configured(t, DefaultSettings())
	c.slowBy = 5 * time.Millisecond // a chip slower than the datasheet's maximum
	_, f := d.Read()
	if f.Status != gwabi.I2CNack || f.Code != gwabi.CodeSensorNotReady || f.RetryAfterMs != 16 {
		t.Fatalf("got %s %q retry %d, want I2C_NACK with %s, retry 16", f.Status.Name(), f.Code, f.RetryAfterMs, gwabi.CodeSensorNotReady)
	}
	clk.t += 16 * time.Millisecond
	r, f := d.Read()
	if !f.OK() || r.Celsius != 25 || !sameCommands(c.commands, CmdSingleShotHigh) {
		t.Errorf("second read: %+v %s %s, commands %04X", r, f.Status.Name(), f.Detail, c.commands)
	}
}

// A result older than the period is not served as a reading of now: a new measurement starts.
func TestReadDropsAStaleResult(t *testing.T) {
	d, c, clk := configured(t, DefaultSettings())
	c.slowBy = 5 * time.Millisecond
	if _, f := d.Read(); f.Code != gwabi.CodeSensorNotReady {
		t.Fatalf("%s %s", f.Status.Name(), f.Detail)
	}
	c.slowBy = 0
	clk.t += 2 * time.Second // past periodMs 1000
	c.rawT = 0
	r, f := d.Read()
	if !f.OK() || r.RawT != 0 || !sameCommands(c.commands, CmdSingleShotHigh, CmdSingleShotHigh) {
		t.Errorf("%+v %s, commands %04X", r, f.Detail, c.commands)
	}
}

// A chip that never ends its measurement is a fault after NotReadyLimit, not "not ready"
// forever; the next read sets it up again.
func TestReadGivesUpOnAChipThatNeverAnswers(t *testing.T) {
	d, c, clk := configured(t, DefaultSettings())
	c.slowBy = time.Hour
	var f Failure
	for i := 0; i < 20; i++ {
		if _, f = d.Read(); f.Code != gwabi.CodeSensorNotReady {
			break
		}
		clk.t += time.Duration(f.RetryAfterMs) * time.Millisecond
	}
	if f.Status != gwabi.I2CNack || f.Code != "" || clk.t-5*time.Second < NotReadyLimit {
		t.Fatalf("got %s %q after %v", f.Status.Name(), f.Code, clk.t-5*time.Second)
	}
	c.slowBy, c.measureEnd, c.commands = 0, 0, nil
	if r, f := d.Read(); !f.OK() || r.Celsius != 25 || !sameCommands(c.commands, CmdSoftReset, CmdHeaterOff, CmdReadStatus, CmdSingleShotHigh) {
		t.Errorf("after the fault: %+v %s, commands %04X", r, f.Detail, c.commands)
	}
}

// A wrong CRC on either word is data corrupted on the wire: I2C_BUS, naming the word. The
// chip is fine, so the next read measures again without a reset.
func TestReadWrongCRC(t *testing.T) {
	for word, name := range map[int]string{1: "temperature", 2: "humidity"} {
		d, c, _ := configured(t, DefaultSettings())
		c.corruptCRC = word
		_, f := d.Read()
		if f.Status != gwabi.I2CBus || !strings.HasPrefix(f.Detail, name+" word 0x6666 with CRC") {
			t.Errorf("%s: %s %s", name, f.Status.Name(), f.Detail)
		}
		if r, f := d.Read(); !f.OK() || r.Celsius != 25 || !sameCommands(c.commands, CmdSingleShotHigh, CmdSingleShotHigh) {
			t.Errorf("%s: next read %+v %s, commands %04X", name, r, f.Detail, c.commands)
		}
	}
}

// After a failed transfer the chip may have lost power (heater off, Table 17): the next read
// sets it up again with the settings in force.
func TestReadSetsUpAgainAfterABusFailure(t *testing.T) {
	s := DefaultSettings()
	s.Heater = true
	d, c, _ := configured(t, s)
	c.failWrite = []gwabi.Status{gwabi.I2CBus}
	if _, f := d.Read(); f.Status != gwabi.I2CBus {
		t.Fatalf("%s", f.Status.Name())
	}
	c.status &^= StatusHeaterOn // a power cycle meanwhile
	r, f := d.Read()
	if !f.OK() || r.Celsius != 25 || !sameCommands(c.commands, CmdSoftReset, CmdHeaterOn, CmdReadStatus, CmdSingleShotHigh) {
		t.Errorf("%+v %s, commands %04X", r, f.Detail, c.commands)
	}
}

// gw_init again with a failing bus keeps the previous settings: the next read restores them.
func TestReconfigureFailureKeepsTheOldSettings(t *testing.T) {
	s := DefaultSettings()
	s.Heater = true
	d, c, _ := configured(t, s)
	c.failWrite = []gwabi.Status{gwabi.I2CTimeout}
	if f := d.Configure(DefaultSettings()); f.Status != gwabi.I2CTimeout {
		t.Fatalf("%s", f.Status.Name())
	}
	if !d.Settings().Heater {
		t.Errorf("settings changed by a failed configure")
	}
	if _, f := d.Read(); !f.OK() || !sameCommands(c.commands, CmdSoftReset, CmdHeaterOn, CmdReadStatus, CmdSingleShotHigh) {
		t.Errorf("%s, commands %04X", f.Detail, c.commands)
	}
}

func TestReadBeforeConfigure(t *testing.T) {
	d, c, _ := newDriver()
	if _, f := d.Read(); f.Status != gwabi.NotInitialized || len(c.commands) != 0 {
		t.Errorf("%s, commands %04X", f.Status.Name(), c.commands)
	}
}
