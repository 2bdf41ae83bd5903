package tmp102

import (
	"time"

	"coapgw.example/wasm-src/gwabi"
)

// VerifyInterval bounds how long the driver can go on unaware of a reset behind its
// back (a brown-out, or a general call reset from another master: SBOS397 "General
// Call"): Read looks for one at most once per interval of its clock, and whenever the
// temperature register looks like a reset chip's (0x0000, or the 12-bit format when
// 13-bit is configured). Each look costs one register read, and only while the
// settings differ from the power-up ones (resetWitness), so at the default settings it
// costs nothing; otherwise, at 4 Hz, 1.25 transactions per reading instead of 1.
const VerifyInterval = time.Second

// resetWitness picks the one register that shows whether the chip was reset since the
// driver set it up, with the word it should hold. A reset puts every register at once
// at its power-up value (SBOS397 "Power-Up", "General Call"), so one register that the
// driver set to something else is enough: the configuration register when the
// configuration differs from 0x60A0's, else a limit that differs from 80 or 75 °C. ok is
// false when everything the driver wrote is the power-up state: a reset then undoes
// nothing, and read's 0x0000 rule covers the temperature register.
//
// In one-shot mode every read writes the whole configuration word again (oneShot),
// which heals the configuration register after a reset but not the limits: there only
// a limit can tell.
func (d *Driver) resetWitness() (reg uint8, want uint16, ok bool) {
	if !d.settings.OneShot && d.config&verifyMask != PowerOnConfig&verifyMask {
		return RegConfig, d.config, true
	}
	// The limits as written, in the configured layout. After a reset they read as the
	// power-up words, whatever the layout (SBOS397 "High- and Low-Limit Registers").
	if hi := EncodeLimit(d.alert.High, d.settings.Extended); hi != PowerOnTHigh {
		return RegTHigh, hi, true
	}
	if lo := EncodeLimit(d.alert.Low, d.settings.Extended); lo != PowerOnTLow {
		return RegTLow, lo, true
	}
	return 0, 0, false
}

// findReset reads the witness register. found describes what differs ("" when the
// chip holds what the driver wrote).
func (d *Driver) findReset() (found string, st gwabi.Status, detail string) {
	d.verifyAt = d.Now() + VerifyInterval
	reg, want, ok := d.resetWitness()
	if !ok {
		return "", gwabi.OK, ""
	}
	var b [2]byte
	if st := d.Bus.ReadReg(reg, b[:]); st != gwabi.OK {
		return "", st, "checking the chip for a reset failed: " + st.Name()
	}
	got := uint16(b[0])<<8 | uint16(b[1])
	name, powerUp, mask := "configuration", uint16(PowerOnConfig), uint16(verifyMask)
	switch reg {
	case RegTHigh:
		name, powerUp, mask = "T_HIGH", PowerOnTHigh, 0xFFFF
	case RegTLow:
		name, powerUp, mask = "T_LOW", PowerOnTLow, 0xFFFF
	}
	if got&mask == want&mask {
		return "", gwabi.OK, ""
	}
	what := "chip reset detected: "
	if got&mask != powerUp&mask {
		// Not the power-up value: something else wrote the chip (another driver).
		what = "chip settings changed behind the module's back: "
	}
	return what + name + " 0x" + hex16(got) + ", expected 0x" + hex16(want), gwabi.OK, ""
}

// restoreIfReset looks for a reset and, when it finds one, writes the settings again
// and logs one warn line. The temperature register stays trusted when the settings
// convert as the power-up state does (12-bit, 4 Hz, continuous): the chip has gone on
// converting that way since the reset, as after a thermostat-only Configure. Otherwise
// the first conversion in the restored format is waited for, as after a power-up.
func (d *Driver) restoreIfReset() (gwabi.Status, string) {
	found, st, detail := d.findReset()
	if st != gwabi.OK || found == "" {
		return st, detail
	}
	if st, detail := d.reapply(d.settings.sameConversions(DefaultSettings())); st != gwabi.OK {
		d.lost = true // the next Read tries again from scratch
		return st, found + "; restoring the settings failed: " + detail
	}
	if d.Log != nil {
		d.Log(gwabi.LogWarn, found+"; settings restored")
	}
	return gwabi.OK, ""
}
