//go:build !wasip1

// Package gwtest is a test double for sensor module authors: a fake gateway host and
// simulated register-map I2C chips, so `go test` exercises a module's driver and its
// gw_init / gw_read code against a simulated chip, on the development machine, without the
// gateway.
//
// It works through gwabi's native stand-ins for the `gw` imports (gwabi.Native, a
// gwabi.Host): every gwabi call a module makes natively (ReadInput, WriteOutput, Log,
// I2CReadReg, Device.ReadReg...) lands in a Host of this package, which answers as the
// gateway's WASM host does (docs/module-abi.md): a transfer to an address not granted is
// DENIED and reaches no chip, a granted address without a chip NACKs, a transfer over 32
// bytes is BAD_ARGUMENT, and a chip can be told to fail its next transfers with any status.
//
//	func TestRead(t *testing.T) {
//		h := gwtest.New(t) // installed as gwabi.Native until the test ends
//		h.Attach(1, gwtest.NewChip(0x48).SetWord(0x00, 0x1580))
//		if r := h.Call(initExport, gwtest.InitInput(1, 0x48, nil)); r.Status != gwabi.OK {
//			t.Fatalf("gw_init: %s", r)
//		}
//		r := h.Call(readExport, nil)
//		if v, _ := r.Float("value"); v != 21.5 { ... }
//	}
//
// A module's exports live in a file built only for GOOS=wasip1 (//go:wasmexport); keep their
// bodies in functions of an untagged file (initExport, readExport above) so tests call them.
// A Chip is also a register Bus by itself (ReadReg, WriteReg), for testing a driver without
// any host.
//
// gwabi.Native is one package-level value: tests that use a Host must not run in parallel
// (no t.Parallel). Nothing here is built for GOOS=wasip1, so it never reaches a module binary.
package gwtest

import (
	"testing"

	"coapgw.example/wasm-src/gwabi"
)

// Transfer is one I2C import call as the host saw it.
type Transfer struct {
	Op        string // "i2c_write", "i2c_read", "i2c_read_reg" or "i2c_write_reg"
	Bus, Addr uint8
	Reg       uint8  // the register of i2c_read_reg and i2c_write_reg
	Data      []byte // the bytes written, or the bytes read back (nil when the transfer failed)
	Result    int32  // what the import returned: 0 or a negative status
}

// LogLine is one `log` import call.
type LogLine struct {
	Level uint32 // gwabi.LogDebug .. gwabi.LogError
	Text  string
}

type busAddr struct{ bus, addr uint8 }

// Host is a fake gateway host: it implements gwabi.Host. Its fields record what the module
// did; read them after a Call.
type Host struct {
	Input     []byte     // the current call's input (Call sets it)
	Output    []byte     // the current call's output, as last written with output_write
	Logs      []LogLine  // every log line, in order
	Transfers []Transfer // every I2C transfer, in order, refused ones included

	chips  map[busAddr]*Chip
	grants map[busAddr]bool
}

// NewHost returns a host with no chips and no grants. Install it (or use New in a test).
func NewHost() *Host {
	return &Host{chips: map[busAddr]*Chip{}, grants: map[busAddr]bool{}}
}

// New returns a new Host installed as gwabi.Native until the test ends.
func New(tb testing.TB) *Host {
	h := NewHost()
	tb.Cleanup(h.Install())
	return h
}

// Install makes h the host of gwabi's native build and returns the function that puts the
// previous one back.
func (h *Host) Install() (restore func()) {
	old := gwabi.Native
	gwabi.Native = h
	return func() { gwabi.Native = old }
}

// Attach puts chip on bus at chip.Addr and grants that address, as the gateway grants a
// sensor its own bus and address by default (docs/configuration.md, "grant").
func (h *Host) Attach(bus uint8, chip *Chip) *Host {
	h.chips[busAddr{bus, chip.Addr}] = chip
	h.grants[busAddr{bus, chip.Addr}] = true
	return h
}

// Grant lets the module reach more addresses on bus, as a configuration's "grant" does. A
// granted address without a chip NACKs; an address never granted is DENIED.
func (h *Host) Grant(bus uint8, addrs ...uint8) *Host {
	for _, a := range addrs {
		h.grants[busAddr{bus, a}] = true
	}
	return h
}

// Call runs one export the way the host does: the input is kept on the host side, the export
// gets its length, and what the export wrote with output_write is the result's Output.
func (h *Host) Call(export func(inputLen int32) int32, input []byte) Result {
	h.Input = append([]byte(nil), input...)
	h.Output = nil
	st := export(int32(len(input)))
	return Result{Status: gwabi.Status(st), Output: append([]byte(nil), h.Output...)}
}

// InputRead implements gwabi.Host.
func (h *Host) InputRead(dst []byte) int32 { return int32(copy(dst, h.Input)) }

// OutputWrite implements gwabi.Host: the output is copied at once, as the host does.
func (h *Host) OutputWrite(src []byte) int32 {
	if len(src) > gwabi.MaxOutput {
		return int32(gwabi.BadArgument)
	}
	h.Output = append(h.Output[:0], src...)
	return int32(len(src))
}

// Log implements gwabi.Host.
func (h *Host) Log(level uint32, msg []byte) {
	h.Logs = append(h.Logs, LogLine{Level: level, Text: string(msg)})
}

// I2CWrite implements gwabi.Host: START, addr+W, src, STOP.
func (h *Host) I2CWrite(bus, addr uint32, src []byte) int32 {
	return h.transfer("i2c_write", bus, addr, 0, src, func(c *Chip) { c.write(src) })
}

// I2CRead implements gwabi.Host: START, addr+R, dst, STOP, from the chip's register pointer.
func (h *Host) I2CRead(bus, addr uint32, dst []byte) int32 {
	return h.transfer("i2c_read", bus, addr, 0, dst, func(c *Chip) { c.read(c.pointer, dst) })
}

// I2CReadReg implements gwabi.Host: the register byte, repeated START, dst.
func (h *Host) I2CReadReg(bus, addr, reg uint32, dst []byte) int32 {
	return h.transfer("i2c_read_reg", bus, addr, reg, dst, func(c *Chip) { c.pointer = uint8(reg); c.read(uint8(reg), dst) })
}

// I2CWriteReg implements gwabi.Host: the register byte followed by src.
func (h *Host) I2CWriteReg(bus, addr, reg uint32, src []byte) int32 {
	return h.transfer("i2c_write_reg", bus, addr, reg, src, func(c *Chip) { c.write(append([]byte{uint8(reg)}, src...)) })
}

// transfer applies the host's checks in its order (docs/module-abi.md, "I2C details"), then
// lets the chip answer; every call is recorded.
func (h *Host) transfer(op string, bus, addr, reg uint32, data []byte, do func(*Chip)) int32 {
	t := Transfer{Op: op, Bus: uint8(bus), Addr: uint8(addr), Reg: uint8(reg)}
	t.Result = h.answer(bus, addr, len(data), func(c *Chip) int32 {
		if st := c.nextFault(); st != gwabi.OK {
			return int32(st)
		}
		do(c)
		return 0
	})
	if t.Result == 0 {
		t.Data = append([]byte(nil), data...)
	}
	h.Transfers = append(h.Transfers, t)
	return t.Result
}

func (h *Host) answer(bus, addr uint32, n int, run func(*Chip) int32) int32 {
	switch {
	case bus > 255 || addr > 0x7f:
		return int32(gwabi.BadArgument)
	case n > gwabi.MaxTransfer:
		return int32(gwabi.BadArgument)
	case !h.grants[busAddr{uint8(bus), uint8(addr)}]:
		return int32(gwabi.Denied)
	}
	chip := h.chips[busAddr{uint8(bus), uint8(addr)}]
	if chip == nil {
		return int32(gwabi.I2CNack)
	}
	return run(chip)
}
