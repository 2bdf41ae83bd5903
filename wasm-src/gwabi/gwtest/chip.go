//go:build !wasip1

package gwtest

import "coapgw.example/wasm-src/gwabi"

// Chip is a simulated I2C chip with a register map, the model most sensor datasheets use:
// the first byte of every write is the register pointer, the bytes after it are stored from
// that register on, and a read returns the bytes from the pointer on. Each register has its
// own width (set by SetReg: 1 byte for most chips, 2 for word-register chips such as the
// TMP102 or LM75); a transfer longer than a register goes on into the next registers, as
// chips with auto-increment do. A register never set reads as one byte 0x00. A read leaves
// the pointer where it was.
//
// Behaviour beyond a register map (a conversion that takes time, a self-clearing bit, a
// command-based chip such as the SHT3x) goes into OnWrite and OnRead.
//
// A Chip is also a register bus by itself (ReadReg, WriteReg, with gwabi.Device's
// signatures), for testing a driver with no host at all.
type Chip struct {
	Addr uint8 // its 7-bit address

	// OnWrite, when set, runs after a write stored its bytes: reg is the pointer byte, data
	// the bytes after it (empty for a pointer-only write).
	OnWrite func(c *Chip, reg uint8, data []byte)
	// OnRead, when set, runs before a read copies bytes out from register reg.
	OnRead func(c *Chip, reg uint8)

	regs    [256][]byte
	pointer uint8
	faults  []gwabi.Status
}

// NewChip returns a chip at the 7-bit address addr with every register 0x00.
func NewChip(addr uint8) *Chip { return &Chip{Addr: addr} }

// SetReg sets register reg to the bytes wire, in wire order (first byte on the bus first);
// len(wire) becomes the register's width. It returns c, so set-up chains.
func (c *Chip) SetReg(reg uint8, wire ...byte) *Chip {
	c.regs[reg] = append([]byte(nil), wire...)
	return c
}

// SetWord sets the 16-bit register reg to v, MSB first on the wire.
func (c *Chip) SetWord(reg uint8, v uint16) *Chip { return c.SetReg(reg, byte(v>>8), byte(v)) }

// Reg returns a copy of register reg's bytes in wire order.
func (c *Chip) Reg(reg uint8) []byte {
	if c.regs[reg] == nil {
		return []byte{0}
	}
	return append([]byte(nil), c.regs[reg]...)
}

// Word returns the first two bytes of register reg as a 16-bit value, MSB first.
func (c *Chip) Word(reg uint8) uint16 {
	var b [2]byte
	c.read(reg, b[:])
	return uint16(b[0])<<8 | uint16(b[1])
}

// Pointer is the register pointer as the last write left it.
func (c *Chip) Pointer() uint8 { return c.pointer }

// Fail makes the chip's next transfers fail, one status each, in order (gwabi.OK lets one
// through): Fail(gwabi.I2CNack) is a chip that misses one transfer.
func (c *Chip) Fail(statuses ...gwabi.Status) *Chip {
	c.faults = append(c.faults, statuses...)
	return c
}

func (c *Chip) nextFault() gwabi.Status {
	if len(c.faults) == 0 {
		return gwabi.OK
	}
	st := c.faults[0]
	c.faults = c.faults[1:]
	return st
}

// ReadReg reads len(buf) bytes from register reg on (a register bus without a host).
func (c *Chip) ReadReg(reg uint8, buf []byte) gwabi.Status {
	if len(buf) > gwabi.MaxTransfer {
		return gwabi.BadArgument
	}
	if st := c.nextFault(); st != gwabi.OK {
		return st
	}
	c.pointer = reg
	c.read(reg, buf)
	return gwabi.OK
}

// WriteReg writes data to register reg on (a register bus without a host).
func (c *Chip) WriteReg(reg uint8, data []byte) gwabi.Status {
	if len(data) > gwabi.MaxTransfer {
		return gwabi.BadArgument
	}
	if st := c.nextFault(); st != gwabi.OK {
		return st
	}
	c.write(append([]byte{reg}, data...))
	return gwabi.OK
}

// read copies bytes from register reg on into dst, register after register.
func (c *Chip) read(reg uint8, dst []byte) {
	if c.OnRead != nil {
		c.OnRead(c, reg)
	}
	for n := 0; n < len(dst); reg++ {
		r := c.regs[reg]
		if r == nil {
			r = []byte{0}
		}
		n += copy(dst[n:], r)
	}
}

// write stores a write transfer: the pointer byte, then data from that register on.
func (c *Chip) write(wire []byte) {
	if len(wire) == 0 {
		return // an address-only write (a probe): no pointer byte
	}
	c.pointer = wire[0]
	data := wire[1:]
	reg := c.pointer
	for rest := data; len(rest) > 0; reg++ {
		if c.regs[reg] == nil {
			c.regs[reg] = []byte{0}
		}
		rest = rest[copy(c.regs[reg], rest):]
	}
	if c.OnWrite != nil {
		c.OnWrite(c, c.pointer, append([]byte(nil), data...))
	}
}
