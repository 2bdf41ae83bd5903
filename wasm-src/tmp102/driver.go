package tmp102

import (
	"time"

	"coapgw.example/wasm-src/gwabi"
)

// Driver talks to one TMP102. It is not safe for concurrent use (the ABI makes one
// call at a time per instance).
type Driver struct {
	Bus Bus
	// Now returns monotonic time (any origin). In the module it reads WASI's monotonic clock.
	Now func() time.Duration
	// Sleep blocks; in the module it is time.Sleep (WASI poll_oneoff).
	Sleep func(time.Duration)
	// Log, when set, receives the driver's own log lines (level gwabi.LogDebug..LogError):
	// one warn line per reset it detects (reset.go). In the module it is gwabi.Log.
	Log func(level int32, msg string)

	settings   Settings
	alert      Alert         // thermostat configuration as read back
	config     uint16        // configuration as written (OS clear): cached, like tmp102.c
	readyAt    time.Duration // no valid temperature before this time
	configured bool
	// lost is set when a transfer failed: the chip may have been unplugged or lost
	// power, and a chip that comes back starts in its power-up state (default
	// configuration, 0 °C until its first conversion). The next Read therefore checks
	// identity and configures again before it trusts the temperature register.
	lost bool
	// verifyAt is when the next check for a reset behind the driver's back is due
	// (reset.go): at most one every VerifyInterval.
	verifyAt time.Duration
}

// Reading is one temperature.
type Reading struct {
	Celsius float64
	Raw     uint16 // temperature register as read (wire order MSB<<8 | LSB)
	Bits    int    // 12 or 13, from the register's own EM flag
}

func (d *Driver) readConfig() (uint16, gwabi.Status) {
	var b [2]byte
	if st := d.Bus.ReadReg(RegConfig, b[:]); st != gwabi.OK {
		return 0, st
	}
	return uint16(b[0])<<8 | uint16(b[1]), gwabi.OK
}

func (d *Driver) writeConfig(c uint16) gwabi.Status {
	b := [2]byte{byte(c >> 8), byte(c)}
	return d.Bus.WriteReg(RegConfig, b[:])
}

// Configure checks that the device is a TMP102 and applies s. Until it succeeds,
// Read returns NotInitialized.
//
// It may be called again on a configured driver (gw_init on a live instance). Then:
//   - when s changes only the thermostat (limits, TM, POL, F1F0) and not resolution,
//     rate or shutdown, the not-ready window is not restarted: those registers do
//     not touch the conversion in progress or the temperature register;
//   - on failure the previous configuration stays in force. The caller validated s
//     before (ParseSettings), so what fails here is the bus or the device; the chip
//     may then be half-written, so the next Read re-applies the previous settings
//     first, as after any failed transfer.
func (d *Driver) Configure(s Settings) (gwabi.Status, string) {
	live := d.configured && !d.lost
	st, detail := d.setUp(s, live && s.sameConversions(d.settings))
	if st != gwabi.OK {
		if d.configured {
			d.lost = true
		}
		return st, detail
	}
	d.configured = true
	return gwabi.OK, ""
}

// setUp checks identity and writes the configuration; on success it records the
// settings, the thermostat configuration read back and, unless keepReady, the time
// before which the temperature register is not trusted.
func (d *Driver) setUp(s Settings, keepReady bool) (gwabi.Status, string) {
	cfg, st := d.readConfig()
	if st != gwabi.OK {
		return st, "reading the configuration register failed: " + st.Name()
	}
	// Identity, as tmp102.c's probe: the bits outside TMP102_CONFREG_MASK are R1 R0
	// (read-only, '11': SBOS397 "Converter Resolution (R1 and R0)") and the four low
	// bits of byte 2 (always 0). A different chip, or no chip on a bus that reads
	// back 0xFF/0x00, fails this.
	if cfg&^identityMask != identityValue {
		return gwabi.WrongDevice, "configuration register reads 0x" + hex16(cfg) + ", not a TMP102"
	}

	// The thermostat. With an "alert" setting: exactly that. Without: what the chip
	// holds now, kept as it is. The limit registers have no format flag: the chip
	// stores the bits and reads and compares them in the format EM currently selects
	// (SBOS397 "High- and Low-Limit Registers": "the same format as the temperature
	// result"; TI's TMP110 datasheet says it outright: "if the temperature register
	// format is changed, the low limit register value must be updated accordingly").
	// So when EM changes, the limits are rewritten in the new format with the same
	// °C value; otherwise 80 °C written in 12-bit form would read as 160 °C in 13-bit.
	oldExt := cfg&CfgEM != 0
	var a Alert
	writeLimits := s.HasAlert
	if s.HasAlert {
		a = s.Alert
	} else {
		hi, lo, st, detail := d.readLimits()
		if st != gwabi.OK {
			return st, detail
		}
		a = alertFromConfig(cfg)
		a.High, a.Low = DecodeLimit(hi, oldExt), DecodeLimit(lo, oldExt)
		if oldExt != s.Extended {
			a.High, a.Low = clampCount(a.High, s.Extended), clampCount(a.Low, s.Extended)
			writeLimits = true
		}
	}

	// Limits before the configuration: a mode or polarity change, or conversions
	// that (re)start with this write, then meet the new limits from their first
	// conversion on. (Across an EM change one or the other register is briefly in
	// the wrong format whichever goes first; the gap is a few bus transfers, far
	// shorter than a 26 ms conversion.)
	if writeLimits {
		if st, detail := d.writeLimits(a, s.Extended); st != gwabi.OK {
			return st, detail
		}
	}
	want := CfgR1 | CfgR0 | s.Rate<<6 | a.ConfigBits()
	if s.Extended {
		want |= CfgEM // SBOS397 "Extended Mode (EM)"
	}
	if s.OneShot {
		// SBOS397 "Shutdown Mode (SD)": the chip finishes the current conversion, then
		// shuts down; each Read then starts one conversion with OS.
		want |= CfgSD
	}
	if st := d.writeConfig(want); st != gwabi.OK {
		return st, "writing the configuration register failed: " + st.Name()
	}
	got, st := d.readConfig()
	if st != gwabi.OK {
		return st, "reading back the configuration register failed: " + st.Name()
	}
	if got&verifyMask != want&verifyMask {
		return gwabi.WrongDevice, "configuration register reads back 0x" + hex16(got) +
			" after writing 0x" + hex16(want) + ", not a TMP102"
	}
	// Report what the chip holds, not what was meant (the gateway shows it).
	hi, lo := EncodeLimit(a.High, s.Extended), EncodeLimit(a.Low, s.Extended)
	if writeLimits {
		rhi, rlo, st, _ := d.readLimits()
		if st != gwabi.OK {
			return st, "reading back the limit registers failed: " + st.Name()
		}
		if rhi != hi || rlo != lo {
			return gwabi.WrongDevice, "limit registers read back 0x" + hex16(rhi) + "/0x" + hex16(rlo) +
				" after writing 0x" + hex16(hi) + "/0x" + hex16(lo) + ", not a TMP102"
		}
	}
	d.alert = alertFromConfig(got)
	d.alert.High, d.alert.Low = DecodeLimit(hi, s.Extended), DecodeLimit(lo, s.Extended)
	d.settings, d.config = s, want
	if !keepReady {
		// The temperature register holds 0 °C after power-up until the first
		// conversion ends (and the old format until the first conversion after EM
		// changes); the driver cannot tell a fresh power-up from a running chip, so
		// it assumes the worst, as tmp102.c's ready_time: no reading before the
		// maximum conversion time.
		d.readyAt = d.Now() + ConversionTimeMax
	}
	// The chip was just read back: the next check for a reset is one interval away.
	d.verifyAt = d.Now() + VerifyInterval
	d.lost = false
	return gwabi.OK, ""
}

// readLimits reads T_HIGH and T_LOW (wire order, MSB first).
func (d *Driver) readLimits() (hi, lo uint16, st gwabi.Status, detail string) {
	var b [2]byte
	if st = d.Bus.ReadReg(RegTHigh, b[:]); st != gwabi.OK {
		return 0, 0, st, "reading the T_HIGH register failed: " + st.Name()
	}
	hi = uint16(b[0])<<8 | uint16(b[1])
	if st = d.Bus.ReadReg(RegTLow, b[:]); st != gwabi.OK {
		return 0, 0, st, "reading the T_LOW register failed: " + st.Name()
	}
	return hi, uint16(b[0])<<8 | uint16(b[1]), gwabi.OK, ""
}

// writeLimits writes T_HIGH and T_LOW for a in the given format.
func (d *Driver) writeLimits(a Alert, extended bool) (gwabi.Status, string) {
	hi, lo := EncodeLimit(a.High, extended), EncodeLimit(a.Low, extended)
	b := [2]byte{byte(hi >> 8), byte(hi)}
	if st := d.Bus.WriteReg(RegTHigh, b[:]); st != gwabi.OK {
		return st, "writing the T_HIGH register failed: " + st.Name()
	}
	b = [2]byte{byte(lo >> 8), byte(lo)}
	if st := d.Bus.WriteReg(RegTLow, b[:]); st != gwabi.OK {
		return st, "writing the T_LOW register failed: " + st.Name()
	}
	return gwabi.OK, ""
}

// Alert returns the thermostat configuration as read back from the chip by the last
// successful Configure (limits decoded in the format then configured).
func (d *Driver) Alert() Alert { return d.alert }

// Settings returns the settings of the last successful Configure.
func (d *Driver) Settings() Settings { return d.settings }

// Read takes one reading. Failures:
//   - NotInitialized before a successful Configure;
//   - NotReady (with retryAfterMs >= 1) within 35 ms of Configure, and within 35 ms of
//     restoring settings that change conversions after a reset behind its back (reset.go);
//   - the bus status of a failed transfer;
//   - I2CTimeout when a one-shot conversion does not report completion within OneShotLimit.
func (d *Driver) Read() (r Reading, st gwabi.Status, retryAfterMs int32, detail string) {
	if !d.configured {
		return r, gwabi.NotInitialized, 0, "read before a successful init"
	}
	checked := false
	if d.lost {
		// Restore the whole previous configuration, thermostat included: a chip that
		// lost power comes back with the power-up limits (80/75 °C), and a failed
		// re-configuration may have written some registers and not others.
		if st, detail := d.reapply(false); st != gwabi.OK {
			return Reading{}, st, 0, "re-configuring after a failed transfer: " + detail
		}
	} else if d.Now() >= d.verifyAt {
		checked = true
		if st, detail := d.restoreIfReset(); st != gwabi.OK {
			if isBusFailure(st) {
				d.lost = true
			}
			return Reading{}, st, 0, detail
		}
	}
	r, st, retryAfterMs, detail = d.read(checked)
	if isBusFailure(st) {
		d.lost = true
	}
	return r, st, retryAfterMs, detail
}

// reapply writes the settings of the last successful set-up again, with the
// thermostat read back then: that is what the gateway was told (the "alert" output),
// so that is what goes back. keepReady as for setUp.
func (d *Driver) reapply(keepReady bool) (gwabi.Status, string) {
	s, r := d.settings, d.settings
	r.HasAlert, r.Alert = true, d.alert
	st, detail := d.setUp(r, keepReady)
	d.settings = s
	return st, detail
}

// isBusFailure reports statuses after which the chip's state is unknown.
func isBusFailure(st gwabi.Status) bool {
	switch st {
	case gwabi.I2CNack, gwabi.I2CBus, gwabi.I2CTimeout, gwabi.I2CUnavailable:
		return true
	}
	return false
}

// read takes the reading proper. checked says whether this Read already looked for a
// reset; if not, a temperature register that looks like a reset chip's makes it look.
func (d *Driver) read(checked bool) (r Reading, st gwabi.Status, retryAfterMs int32, detail string) {
	if now := d.Now(); now < d.readyAt {
		left := d.readyAt - now
		ms := int32((left + time.Millisecond - 1) / time.Millisecond) // round up
		if ms < 1 {
			ms = 1
		}
		return r, gwabi.NotReady, ms, "first conversion not finished"
	}
	if d.settings.OneShot {
		if st, detail := d.oneShot(); st != gwabi.OK {
			return r, st, 0, detail
		}
	}
	raw, st := d.readTemp()
	if st != gwabi.OK {
		return r, st, 0, "reading the temperature register failed: " + st.Name()
	}
	// A chip that lost power or saw a general-call reset comes back 12-bit, continuous, and
	// reading 0 °C until its first conversion ends (SBOS397 "Power-Up", "General Call").
	// The register's own D0 tells its format: one that disagrees with the configured
	// resolution means the chip was reset behind the driver's back.
	if (raw&1 == 1) != d.settings.Extended {
		if !checked {
			if st, detail := d.restoreIfReset(); st != gwabi.OK {
				return r, st, 0, detail
			}
			if d.Now() < d.readyAt { // restored: 13-bit values only after a conversion
				return d.read(true)
			}
		}
		d.lost = true
		return r, gwabi.NotReady, int32(ConversionTimeMax / time.Millisecond), "the chip was reset (resolution changed); configuring it again"
	}
	// Exactly 0x0000 is 0 °C, or a chip just reset whose first conversion is not done. In
	// continuous mode look for a reset (restoring what it undid), wait one conversion and
	// look again: a real 0 °C stays (near) 0, a reset chip now holds the real value.
	// (One-shot mode converted just now: its value is real.)
	if raw == 0 && !d.settings.OneShot {
		if !checked {
			if st, detail := d.restoreIfReset(); st != gwabi.OK {
				return r, st, 0, detail
			}
			if d.Now() < d.readyAt {
				return d.read(true)
			}
		}
		d.Sleep(ConversionTimeMax)
		if raw, st = d.readTemp(); st != gwabi.OK {
			return r, st, 0, "reading the temperature register again failed: " + st.Name()
		}
	}
	r.Raw = raw
	r.Celsius, r.Bits = Decode(r.Raw)
	return r, gwabi.OK, 0, ""
}

func (d *Driver) readTemp() (uint16, gwabi.Status) {
	var b [2]byte
	if st := d.Bus.ReadReg(RegTemp, b[:]); st != gwabi.OK {
		return 0, st
	}
	return uint16(b[0])<<8 | uint16(b[1]), gwabi.OK
}

// oneShot starts a conversion and waits for it (SBOS397 "One-Shot/Conversion Ready
// (OS)": in shutdown mode, writing OS=1 starts one conversion; OS reads 0 while it
// runs and 1 when it is done). Sleep the typical 26 ms first, then poll every 2 ms.
func (d *Driver) oneShot() (gwabi.Status, string) {
	if st := d.writeConfig(d.config | CfgOS); st != gwabi.OK {
		return st, "starting a one-shot conversion failed: " + st.Name()
	}
	waited := ConversionTimeTyp
	d.Sleep(ConversionTimeTyp)
	for {
		cfg, st := d.readConfig()
		if st != gwabi.OK {
			return st, "polling the one-shot conversion failed: " + st.Name()
		}
		if cfg&CfgOS != 0 {
			return gwabi.OK, ""
		}
		if waited >= OneShotLimit {
			return gwabi.I2CTimeout, "one-shot conversion not finished after 60 ms"
		}
		d.Sleep(OneShotPollStep)
		waited += OneShotPollStep
	}
}

func hex16(v uint16) string {
	const digits = "0123456789abcdef"
	return string([]byte{digits[v>>12], digits[v>>8&15], digits[v>>4&15], digits[v&15]})
}
