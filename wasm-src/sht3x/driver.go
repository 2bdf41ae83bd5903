package sht3x

import (
	"strconv"
	"time"

	"coapgw.example/wasm-src/gwabi"
)

// Failure says why a Configure or Read failed: the status for the export and what the failure
// output carries (docs/module-abi.md, "Output on failure"). Status OK means no failure.
type Failure struct {
	Status gwabi.Status
	// Code is a catalogue code the module reports (gwabi.CodeSensorNotReady), or "" for the
	// status's own name.
	Code         string
	RetryAfterMs int32
	Detail       string
}

// OK reports whether there was no failure.
func (f Failure) OK() bool { return f.Status == gwabi.OK }

func fail(st gwabi.Status, detail string) Failure { return Failure{Status: st, Detail: detail} }

// Reading is one measurement of both quantities.
type Reading struct {
	Celsius   float64
	PercentRH float64
	RawT      uint16 // S_T as read (wire order MSB<<8 | LSB)
	RawRH     uint16 // S_RH as read
}

// Driver talks to one SHT3x. It is not safe for concurrent use (the ABI makes one call at a
// time per instance).
type Driver struct {
	Bus Bus
	// Now returns monotonic time (any origin). In the module it reads WASI's monotonic clock.
	Now func() time.Duration
	// Sleep blocks; in the module it is time.Sleep (WASI poll_oneoff).
	Sleep func(time.Duration)

	settings   Settings
	configured bool
	// lost is set when a transfer failed: the chip may have been unplugged or reset, and a
	// chip that comes back has its heater off (the state after any reset, Table 17). The next
	// Read sets it up again before it measures.
	lost bool
	// lastCommand is when the last command was sent (hasCommand: one was), for the 1 ms
	// spacing of section 4.
	lastCommand time.Duration
	hasCommand  bool
	// pending: a single shot command was acknowledged at pendingAt and its result not read
	// yet (the read header was NACKed: still measuring).
	pending   bool
	pendingAt time.Duration
}

// Settings returns the settings of the last successful Configure.
func (d *Driver) Settings() Settings { return d.settings }

// Configure resets the chip, checks that it answers as an SHT3x and applies s. Until it
// succeeds, Read returns NotInitialized.
//
// It may be called again on a configured driver (gw_init on a live instance). On failure the
// previous settings stay in force, and the next Read sets the chip up with them again (the
// caller validated s before, with ParseSettings, so what fails here is the bus or the device).
func (d *Driver) Configure(s Settings) Failure {
	f := d.setUp(s)
	if !f.OK() {
		if d.configured {
			d.lost = true
		}
		return f
	}
	d.settings, d.configured = s, true
	return Failure{}
}

// setUp: soft reset, heater, then the status register as proof that the chip took both.
func (d *Driver) setUp(s Settings) Failure {
	d.pending = false
	// Soft reset (section 4.9) puts the chip in a known state whatever it was doing: single
	// shot idle, periodic mode left, heater off, alert limits at their defaults. A chip that is
	// still powering up (1 ms, Table 4) or measuring NACKs its address (section 4.4): one more
	// try after the longest measurement tells that from an empty address.
	st := d.command(CmdSoftReset)
	if st == gwabi.I2CNack {
		d.Sleep(MeasurementTimeHigh + Margin)
		st = d.command(CmdSoftReset)
	}
	if st != gwabi.OK {
		return fail(st, "soft reset (0x30A2) failed: "+st.Name())
	}
	d.Sleep(SoftResetTime + Margin) // the chip NACKs until the reset is done (Table 4)
	heater := uint16(CmdHeaterOff)
	if s.Heater {
		heater = CmdHeaterOn
	}
	if st := d.command(heater); st != gwabi.OK {
		return fail(st, "heater command (0x"+hex16(heater)+") failed: "+st.Name())
	}
	status, f := d.readStatus()
	if !f.OK() {
		return f
	}
	// Identity: only a chip that performed the soft reset reads "reset detected" (bit 4,
	// Table 17), only one that took the heater command has bit 1 clear and bit 13 as asked.
	// Another chip at 0x44/0x45, or none on a bus that reads back fixed bytes, fails here (or
	// on the status word's CRC, just before).
	switch {
	case status&StatusResetDetected == 0:
		return fail(gwabi.WrongDevice, "status 0x"+hex16(status)+" after a soft reset: reset flag (bit 4) clear, not an SHT3x")
	case status&StatusCommandFailed != 0:
		return fail(gwabi.WrongDevice, "status 0x"+hex16(status)+": the heater command was refused (bit 1), not an SHT3x")
	case (status&StatusHeaterOn != 0) != s.Heater:
		return fail(gwabi.WrongDevice, "status 0x"+hex16(status)+": heater bit 13 is not as commanded, not an SHT3x")
	}
	d.lost = false
	return Failure{}
}

// command sends a 16-bit command, MSB first (section 4.2), at least CommandSpacing after the
// previous one.
func (d *Driver) command(code uint16) gwabi.Status {
	if d.hasCommand {
		if wait := d.lastCommand + CommandSpacing + Margin - d.Now(); wait > 0 {
			d.Sleep(wait)
		}
	}
	b := [2]byte{byte(code >> 8), byte(code)}
	st := d.Bus.Write(b[:])
	d.lastCommand, d.hasCommand = d.Now(), true
	return st
}

// readStatus reads the status register: Read Status, then one word and its CRC (Table 17).
func (d *Driver) readStatus() (uint16, Failure) {
	if st := d.command(CmdReadStatus); st != gwabi.OK {
		return 0, fail(st, "read status command (0xF32D) failed: "+st.Name())
	}
	var b [3]byte
	if st := d.Bus.Read(b[:]); st != gwabi.OK {
		return 0, fail(st, "reading the status register failed: "+st.Name())
	}
	if crc := CRC8(b[:2]); crc != b[2] {
		return 0, fail(gwabi.WrongDevice, "status word 0x"+hex16(word(b[:]))+" with CRC 0x"+hex8(b[2])+
			", expected 0x"+hex8(crc)+": not an SHT3x, or a noisy bus")
	}
	return word(b[:]), Failure{}
}

// Read takes one reading: a single shot without clock stretching, a wait of the maximum
// measurement time, then both words with their CRCs (section 4.4). Failures:
//   - NotInitialized before a successful Configure;
//   - I2CNack with Code gwabi.CodeSensorNotReady and a retry time when the read header is
//     NACKed after the command was acknowledged: the measurement is still running (section
//     4.4); the next Read fetches that result first;
//   - I2CBus when a CRC does not match (the data were corrupted on the wire);
//   - the bus status of any other failed transfer (the next Read sets the chip up again).
func (d *Driver) Read() (Reading, Failure) {
	if !d.configured {
		return Reading{}, fail(gwabi.NotInitialized, "read before a successful init")
	}
	if d.lost {
		if f := d.setUp(d.settings); !f.OK() {
			f.Detail = "setting the chip up again after a failed transfer: " + f.Detail
			return Reading{}, f
		}
	}
	if d.pending {
		// A result is used only while it is as fresh as the period promises (gw_init's
		// periodMs): an older one would be served as a reading of now. A new command discards
		// it (it clears the chip's output buffer).
		age := d.Now() - d.pendingAt
		if age <= time.Duration(d.settings.PeriodMs)*time.Millisecond {
			return d.fetch(age)
		}
		d.pending = false
	}
	rep := d.settings.Repeatability
	if st := d.command(rep.Command()); st != gwabi.OK {
		d.lost = isBusFailure(st)
		return Reading{}, fail(st, "single shot command (0x"+hex16(rep.Command())+") failed: "+st.Name())
	}
	d.pending, d.pendingAt = true, d.Now()
	d.Sleep(rep.MeasurementTime() + Margin)
	return d.fetch(d.Now() - d.pendingAt)
}

// fetch reads the result of the pending measurement, started age ago.
func (d *Driver) fetch(age time.Duration) (Reading, Failure) {
	var b [6]byte
	st := d.Bus.Read(b[:])
	if st == gwabi.I2CNack && age < NotReadyLimit {
		// The chip acknowledged the command, so it is there: a NACKed read header means its
		// measurement is not finished (section 4.4, clock stretching disabled). The bus says
		// I2C_NACK; the sensor is only not ready (docs/module-abi.md, "Output on failure").
		left := d.settings.Repeatability.MeasurementTime() + Margin
		return Reading{}, Failure{Status: gwabi.I2CNack, Code: gwabi.CodeSensorNotReady, RetryAfterMs: ceilMs(left),
			Detail: "measurement not finished (read header NACKed " + itoa(int64(age/time.Microsecond)) + " µs after the command)"}
	}
	d.pending = false
	if st != gwabi.OK {
		d.lost = isBusFailure(st)
		detail := "reading the measurement failed: " + st.Name()
		if st == gwabi.I2CNack {
			detail = "no measurement result " + itoa(int64(age/time.Millisecond)) + " ms after the command (read header NACKed)"
		}
		return Reading{}, fail(st, detail)
	}
	// Section 4.4: T MSB, T LSB, CRC, RH MSB, RH LSB, CRC; each CRC covers its word (4.12).
	for i, name := range [2]string{"temperature", "humidity"} {
		w := b[i*3 : i*3+3]
		if crc := CRC8(w[:2]); crc != w[2] {
			return Reading{}, fail(gwabi.I2CBus, name+" word 0x"+hex16(word(w))+" with CRC 0x"+hex8(w[2])+", expected 0x"+hex8(crc))
		}
	}
	r := Reading{RawT: word(b[0:3]), RawRH: word(b[3:6])}
	r.Celsius, r.PercentRH = Celsius(r.RawT), PercentRH(r.RawRH)
	return r, Failure{}
}

// isBusFailure reports statuses after which the chip's state is unknown.
func isBusFailure(st gwabi.Status) bool {
	switch st {
	case gwabi.I2CNack, gwabi.I2CBus, gwabi.I2CTimeout, gwabi.I2CUnavailable:
		return true
	}
	return false
}

func word(b []byte) uint16 { return uint16(b[0])<<8 | uint16(b[1]) }

func ceilMs(d time.Duration) int32 {
	return int32((d + time.Millisecond - 1) / time.Millisecond)
}

const hexDigits = "0123456789ABCDEF"

func hex16(v uint16) string {
	return string([]byte{hexDigits[v>>12], hexDigits[v>>8&15], hexDigits[v>>4&15], hexDigits[v&15]})
}

func hex8(v uint8) string { return string([]byte{hexDigits[v>>4], hexDigits[v&15]}) }

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
