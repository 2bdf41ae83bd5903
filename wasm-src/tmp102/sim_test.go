package tmp102

import (
	"time"

	"coapgw.example/wasm-src/gwabi"
)

// chip is a register-level TMP102 model for the tests: configuration register with
// read-only R1R0/AL, shutdown and one-shot (OS) with a conversion time, and
// injectable bus failures.
type chip struct {
	clock *fakeClock

	config   uint16
	tHigh    uint16 // limit registers as stored: 13 bits, read in the current EM format
	tLow     uint16
	temp     uint16 // temperature register content
	next     uint16 // what the next conversion produces
	convTime time.Duration
	busyTill time.Duration // one-shot conversion end; 0 when idle
	ignoreEM bool          // a look-alike that does not implement EM

	failRead  map[uint8]gwabi.Status
	failWrite map[uint8]gwabi.Status
	writes    []uint16 // configuration words written
	limits    []uint16 // limit words written, T_HIGH and T_LOW in write order
}

func newChip(c *fakeClock) *chip {
	return &chip{clock: c, config: PowerOnConfig, tHigh: 0x5000, tLow: 0x4B00, convTime: 26 * time.Millisecond,
		failRead: map[uint8]gwabi.Status{}, failWrite: map[uint8]gwabi.Status{}}
}

func (c *chip) update() {
	if c.busyTill != 0 && c.clock.t >= c.busyTill {
		c.busyTill = 0
		c.temp = c.next
		c.config |= CfgOS
	}
}

func (c *chip) ReadReg(reg uint8, buf []byte) gwabi.Status {
	if st, ok := c.failRead[reg]; ok {
		return st
	}
	c.update()
	var v uint16
	switch reg {
	case RegTemp:
		v = c.temp
	case RegConfig:
		v = c.config
		if c.busyTill != 0 {
			v &^= CfgOS // OS reads 0 while converting
		}
	case RegTLow, RegTHigh:
		v = c.tLow
		if reg == RegTHigh {
			v = c.tHigh
		}
		if c.config&CfgEM != 0 {
			v &= 0xFFF8
		} else {
			v &= 0xFFF0
		}
	}
	if len(buf) != 2 {
		return gwabi.BadArgument
	}
	buf[0], buf[1] = byte(v>>8), byte(v)
	return gwabi.OK
}

func (c *chip) WriteReg(reg uint8, data []byte) gwabi.Status {
	if st, ok := c.failWrite[reg]; ok {
		return st
	}
	c.update()
	if len(data) != 2 {
		return gwabi.OK
	}
	if reg == RegTLow || reg == RegTHigh {
		w := (uint16(data[0])<<8 | uint16(data[1])) & 0xFFF8
		c.limits = append(c.limits, w)
		if reg == RegTHigh {
			c.tHigh = w
		} else {
			c.tLow = w
		}
		return gwabi.OK
	}
	if reg != RegConfig {
		return gwabi.OK
	}
	w := uint16(data[0])<<8 | uint16(data[1])
	c.writes = append(c.writes, w)
	writable := uint16(CfgF1 | CfgF0 | CfgPOL | CfgTM | CfgSD | CfgCR1 | CfgCR0 | CfgEM)
	if c.ignoreEM {
		writable &^= CfgEM
	}
	c.config = c.config&^writable | w&writable
	if w&CfgOS != 0 && w&CfgSD != 0 && c.busyTill == 0 {
		c.config &^= CfgOS
		c.busyTill = c.clock.t + c.convTime
	}
	return gwabi.OK
}

type fakeClock struct {
	t     time.Duration
	slept []time.Duration
	// onSleep, when set, runs after each sleep: a test's way to change the chip meanwhile.
	onSleep func()
}

func (f *fakeClock) Now() time.Duration { return f.t }
func (f *fakeClock) Sleep(d time.Duration) {
	f.slept = append(f.slept, d)
	f.t += d
	if f.onSleep != nil {
		f.onSleep()
	}
}

func newDriver() (*Driver, *chip, *fakeClock) {
	clk := &fakeClock{t: 5 * time.Second}
	c := newChip(clk)
	return &Driver{Bus: c, Now: clk.Now, Sleep: clk.Sleep}, c, clk
}
