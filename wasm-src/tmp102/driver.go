package tmp102

import (
	"time"

	"coapgw/wasm-src/gwabi"
)

// Driver talks to one TMP102. It is not safe for concurrent use (the ABI makes one
// call at a time per instance).
type Driver struct {
	Bus Bus
	// Now returns monotonic time (any origin). In the module it reads WASI's monotonic clock.
	Now func() time.Duration
	// Sleep blocks; in the module it is time.Sleep (WASI poll_oneoff).
	Sleep func(time.Duration)

	settings   Settings
	config     uint16        // configuration as written (OS clear): cached, like tmp102.c
	readyAt    time.Duration // no valid temperature before this time
	configured bool
	// lost is set when a transfer failed: the chip may have been unplugged or lost
	// power, and a chip that comes back starts in its power-up state (default
	// configuration, 0 °C until its first conversion). The next Read therefore checks
	// identity and configures again before it trusts the temperature register.
	lost bool
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
func (d *Driver) Configure(s Settings) (gwabi.Status, string) {
	d.configured = false
	st, detail := d.setUp(s)
	if st != gwabi.OK {
		return st, detail
	}
	d.configured = true
	return gwabi.OK, ""
}

// setUp checks identity and writes the configuration; on success it records the
// settings and the time before which the temperature register is not trusted.
func (d *Driver) setUp(s Settings) (gwabi.Status, string) {
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
	want := cfg&keepMask | CfgR1 | CfgR0 | s.Rate<<6
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
	d.settings, d.config = s, want
	// The temperature register holds 0 °C after power-up until the first conversion
	// ends (and the old format until the first conversion after EM changes); the
	// driver cannot tell a fresh power-up from a running chip, so it assumes the
	// worst, as tmp102.c's ready_time: no reading before the maximum conversion time.
	d.readyAt = d.Now() + ConversionTimeMax
	d.lost = false
	return gwabi.OK, ""
}

// Settings returns the settings of the last successful Configure.
func (d *Driver) Settings() Settings { return d.settings }

// Read takes one reading. Failures:
//   - NotInitialized before a successful Configure;
//   - NotReady (with retryAfterMs >= 1) within 35 ms of Configure;
//   - the bus status of a failed transfer;
//   - I2CTimeout when a one-shot conversion does not report completion within OneShotLimit.
func (d *Driver) Read() (r Reading, st gwabi.Status, retryAfterMs int32, detail string) {
	if !d.configured {
		return r, gwabi.NotInitialized, 0, "read before a successful init"
	}
	if d.lost {
		if st, detail := d.setUp(d.settings); st != gwabi.OK {
			return r, st, 0, "re-configuring after a failed transfer: " + detail
		}
	}
	r, st, retryAfterMs, detail = d.read()
	if isBusFailure(st) {
		d.lost = true
	}
	return r, st, retryAfterMs, detail
}

// isBusFailure reports statuses after which the chip's state is unknown.
func isBusFailure(st gwabi.Status) bool {
	switch st {
	case gwabi.I2CNack, gwabi.I2CBus, gwabi.I2CTimeout, gwabi.I2CUnavailable:
		return true
	}
	return false
}

func (d *Driver) read() (r Reading, st gwabi.Status, retryAfterMs int32, detail string) {
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
	var b [2]byte
	if st := d.Bus.ReadReg(RegTemp, b[:]); st != gwabi.OK {
		return r, st, 0, "reading the temperature register failed: " + st.Name()
	}
	r.Raw = uint16(b[0])<<8 | uint16(b[1])
	r.Celsius, r.Bits = Decode(r.Raw)
	return r, gwabi.OK, 0, ""
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
