//go:build wasip1

package gwabi

import "unsafe"

// The `gw` imports of docs/module-abi.md, exactly. Only i32-sized parameters cross:
// unsafe.Pointer and uint32 lower to i32, and an int32 result to i32 (Go and TinyGo
// both accept these types in //go:wasmimport). //go:noescape because the host copies
// at once and never keeps a pointer, so buffers need not move to the heap.

//go:wasmimport gw input_read
//go:noescape
func inputRead(ptr unsafe.Pointer, n uint32) int32

//go:wasmimport gw output_write
//go:noescape
func outputWrite(ptr unsafe.Pointer, n uint32) int32

//go:wasmimport gw log
//go:noescape
func hostLog(level uint32, ptr unsafe.Pointer, n uint32)

//go:wasmimport gw i2c_write
//go:noescape
func i2cWrite(bus, addr uint32, ptr unsafe.Pointer, n uint32) int32

//go:wasmimport gw i2c_read
//go:noescape
func i2cRead(bus, addr uint32, ptr unsafe.Pointer, n uint32) int32

//go:wasmimport gw i2c_read_reg
//go:noescape
func i2cReadReg(bus, addr, reg uint32, ptr unsafe.Pointer, n uint32) int32

//go:wasmimport gw i2c_write_reg
//go:noescape
func i2cWriteReg(bus, addr, reg uint32, ptr unsafe.Pointer, n uint32) int32
