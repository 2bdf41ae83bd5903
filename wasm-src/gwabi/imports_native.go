//go:build !wasip1

package gwabi

import "unsafe"

// Native stand-ins for the `gw` imports, so this package and code built on it
// compile and test on the development machine. They forward to Native, which
// tests replace; by default every I2C call fails with I2C_UNAVAILABLE.

// Host is what the native stand-ins call. Byte slices are views of the guest buffers.
type Host interface {
	InputRead(dst []byte) int32
	OutputWrite(src []byte) int32
	Log(level uint32, msg []byte)
	I2CWrite(bus, addr uint32, src []byte) int32
	I2CRead(bus, addr uint32, dst []byte) int32
	I2CReadReg(bus, addr, reg uint32, dst []byte) int32
	I2CWriteReg(bus, addr, reg uint32, src []byte) int32
}

// Native is the host the native build talks to.
var Native Host = NoHost{}

// NoHost has no input, discards output and logs, and has no I2C adapter.
type NoHost struct{}

func (NoHost) InputRead([]byte) int32                          { return 0 }
func (NoHost) OutputWrite(src []byte) int32                    { return int32(len(src)) }
func (NoHost) Log(uint32, []byte)                              {}
func (NoHost) I2CWrite(uint32, uint32, []byte) int32           { return int32(I2CUnavailable) }
func (NoHost) I2CRead(uint32, uint32, []byte) int32            { return int32(I2CUnavailable) }
func (NoHost) I2CReadReg(uint32, uint32, uint32, []byte) int32 { return int32(I2CUnavailable) }
func (NoHost) I2CWriteReg(uint32, uint32, uint32, []byte) int32 {
	return int32(I2CUnavailable)
}

func view(ptr unsafe.Pointer, n uint32) []byte {
	if n == 0 {
		return nil
	}
	return unsafe.Slice((*byte)(ptr), n)
}

func inputRead(ptr unsafe.Pointer, n uint32) int32   { return Native.InputRead(view(ptr, n)) }
func outputWrite(ptr unsafe.Pointer, n uint32) int32 { return Native.OutputWrite(view(ptr, n)) }
func hostLog(level uint32, ptr unsafe.Pointer, n uint32) {
	Native.Log(level, view(ptr, n))
}
func i2cWrite(bus, addr uint32, ptr unsafe.Pointer, n uint32) int32 {
	return Native.I2CWrite(bus, addr, view(ptr, n))
}
func i2cRead(bus, addr uint32, ptr unsafe.Pointer, n uint32) int32 {
	return Native.I2CRead(bus, addr, view(ptr, n))
}
func i2cReadReg(bus, addr, reg uint32, ptr unsafe.Pointer, n uint32) int32 {
	return Native.I2CReadReg(bus, addr, reg, view(ptr, n))
}
func i2cWriteReg(bus, addr, reg uint32, ptr unsafe.Pointer, n uint32) int32 {
	return Native.I2CWriteReg(bus, addr, reg, view(ptr, n))
}
