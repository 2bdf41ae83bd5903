package sht3x

import (
	"time"

	"coapgw.example/wasm-src/gwabi"
)

// chip is a command-level SHT3x model for the tests, from the datasheet: single shot without
// clock stretching (a read header before the end of the measurement is NACKed, section 4.4),
// soft reset (NACKs for 1.5 ms, Table 4), the 1 ms command spacing (section 4), heater and
// status register (Table 17), CRCs after every word (section 4.12), and injectable failures.
// The gateway's own simulated SHT3x (drivers/sim/sht3x.ts) is tested against the real module
// in test/sht3x-module.test.ts; this one lets the driver's edge cases run in go test.
type chip struct {
	clock *fakeClock

	rawT, rawRH uint16 // what the next measurement gives
	status      uint16
	busyTill    time.Duration // address NACKed before this (reset)
	measureEnd  time.Duration // a single shot runs until then; 0: none
	lastCmd     time.Duration
	hasCmd      bool
	output      []byte // what the next read returns; nil: the read header is NACKed
	slowBy      time.Duration

	corruptCRC   int // the next result's word (1: T, 2: RH) gets a wrong CRC
	notSHT3x     bool
	failWrite    []gwabi.Status // the next writes fail with these, in order
	failRead     []gwabi.Status
	commands     []uint16
	spacingFouls int // commands sent less than 1 ms after the previous one
}

func newChip(c *fakeClock) *chip {
	return &chip{clock: c, status: StatusAlertPending | StatusResetDetected, rawT: 0x6666, rawRH: 0x6666}
}

func (c *chip) now() time.Duration { return c.clock.t }

func pop(fails *[]gwabi.Status) gwabi.Status {
	if len(*fails) == 0 {
		return gwabi.OK
	}
	st := (*fails)[0]
	*fails = (*fails)[1:]
	return st
}

func (c *chip) Write(data []byte) gwabi.Status {
	if st := pop(&c.failWrite); st != gwabi.OK {
		return st
	}
	now := c.now()
	if now < c.busyTill || (c.measureEnd != 0 && now < c.measureEnd) {
		return gwabi.I2CNack // resetting, or measuring (section 4.4: the chip does not listen)
	}
	if c.hasCmd && now-c.lastCmd < CommandSpacing {
		c.spacingFouls++
		return gwabi.I2CNack
	}
	if len(data) != 2 {
		return gwabi.OK
	}
	code := uint16(data[0])<<8 | uint16(data[1])
	c.commands = append(c.commands, code)
	c.lastCmd, c.hasCmd = now, true
	if c.notSHT3x {
		return gwabi.OK // a chip that ignores what it does not know
	}
	c.output = nil
	c.status &^= StatusCommandFailed
	switch code {
	case CmdSingleShotHigh, CmdSingleShotMedium, CmdSingleShotLow:
		t := map[uint16]time.Duration{CmdSingleShotHigh: MeasurementTimeHigh, CmdSingleShotMedium: MeasurementTimeMedium, CmdSingleShotLow: MeasurementTimeLow}[code]
		c.measureEnd = now + t + c.slowBy
	case CmdSoftReset:
		c.status = StatusAlertPending | StatusResetDetected
		c.busyTill = now + SoftResetTime
		c.hasCmd = false
	case CmdHeaterOn:
		c.status |= StatusHeaterOn
	case CmdHeaterOff:
		c.status &^= StatusHeaterOn
	case CmdReadStatus:
		c.output = words(c.status)
	default:
		c.status |= StatusCommandFailed
		return gwabi.I2CBus // the command byte NACKed
	}
	return gwabi.OK
}

func (c *chip) Read(buf []byte) gwabi.Status {
	if st := pop(&c.failRead); st != gwabi.OK {
		return st
	}
	now := c.now()
	if now < c.busyTill {
		return gwabi.I2CNack
	}
	if c.measureEnd != 0 {
		if now < c.measureEnd {
			return gwabi.I2CNack // section 4.4: no clock stretching, no data yet
		}
		c.measureEnd = 0
		c.output = words(c.rawT, c.rawRH)
		if c.corruptCRC > 0 {
			c.output[c.corruptCRC*3-1] ^= 0x01
			c.corruptCRC = 0
		}
	}
	if c.output == nil {
		if c.notSHT3x {
			for i := range buf {
				buf[i] = 0xFF // a bus that reads back released SDA
			}
			return gwabi.OK
		}
		return gwabi.I2CNack
	}
	for i := range buf {
		buf[i] = 0xFF
		if i < len(c.output) {
			buf[i] = c.output[i]
		}
	}
	c.output = nil
	return gwabi.OK
}

func words(ws ...uint16) []byte {
	var out []byte
	for _, w := range ws {
		b := []byte{byte(w >> 8), byte(w)}
		out = append(out, b[0], b[1], CRC8(b))
	}
	return out
}

type fakeClock struct {
	t     time.Duration
	slept []time.Duration
}

func (f *fakeClock) Now() time.Duration { return f.t }
func (f *fakeClock) Sleep(d time.Duration) {
	f.slept = append(f.slept, d)
	f.t += d
}

func newDriver() (*Driver, *chip, *fakeClock) {
	clk := &fakeClock{t: 5 * time.Second}
	c := newChip(clk)
	return &Driver{Bus: c, Now: clk.Now, Sleep: clk.Sleep}, c, clk
}
