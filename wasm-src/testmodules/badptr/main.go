//go:build wasip1

// Command badptr is a test module that hands the `gw` imports pointers and lengths
// outside its memory. The ABI says each such call returns -6 (BAD_ARGUMENT) without
// reading or writing anything; gw_read makes every call below on the granted bus
// and address (so the capability check passes and only the range check can refuse),
// then writes {"calls": [names...], "statuses": [results...]} and returns 0.
// `log` has no result; the entry for it is 0 when the call returned at all.
package main

import (
	"coapgw.example/wasm-src/cbor"
	"coapgw.example/wasm-src/gwabi"
)

// Raw declarations with integer pointers (the gwabi ones take unsafe.Pointer, and
// Go's vet and GC rightly dislike unsafe.Pointers that point nowhere).

//go:wasmimport gw input_read
func inputRead(ptr, n uint32) int32

//go:wasmimport gw output_write
func outputWrite(ptr, n uint32) int32

//go:wasmimport gw log
func hostLog(level, ptr, n uint32)

//go:wasmimport gw i2c_write
func i2cWrite(bus, addr, ptr, n uint32) int32

//go:wasmimport gw i2c_read
func i2cRead(bus, addr, ptr, n uint32) int32

//go:wasmimport gw i2c_read_reg
func i2cReadReg(bus, addr, reg, ptr, n uint32) int32

//go:wasmimport gw i2c_write_reg
func i2cWriteReg(bus, addr, reg, ptr, n uint32) int32

const (
	badPtr = 0xFFFFFFF0 // 16 bytes below 4 GiB: past the end of memory, and ptr+64 wraps in 32 bits
	bigLen = 1 << 30    // 1 GiB from a valid pointer: past the end of memory
)

var (
	vals      [32]cbor.Value
	bus, addr uint32
	scratch   [64]byte
)

//go:wasmexport gw_abi_version
func gwABIVersion() int32 { return gwabi.ABIVersion }

//go:wasmexport gw_init
func gwInit(inputLen int32) int32 {
	ii, st := gwabi.ReadInit(inputLen, vals[:0])
	if st != gwabi.OK {
		return int32(st)
	}
	bus, addr = uint32(ii.Bus), uint32(ii.Address)
	gwabi.WriteOutput(gwabi.AppendSensorInfo(gwabi.OutputBuffer(), "badptr", "1.0.0", "temperature", "Cel", 1000, 0.0625))
	return 0
}

//go:wasmexport gw_read
func gwRead(inputLen int32) int32 {
	// A valid guest address: the scratch buffer. Its offset in linear memory is its
	// Go address (uintptr of a pointer, not turned back into a pointer).
	ok := uint32(uintptrOf(&scratch[0]))
	names := [...]string{
		"input_read(bad,64)", "input_read(ok,1<<30)",
		"output_write(bad,64)", "output_write(ok,1<<30)",
		"i2c_write(bad,2)", "i2c_write(ok,1<<30)",
		"i2c_read(bad,2)", "i2c_read(ok,1<<30)",
		"i2c_read_reg(bad,2)", "i2c_read_reg(ok,1<<30)",
		"i2c_write_reg(bad,2)", "i2c_write_reg(ok,1<<30)",
		"log(bad,64)", "log(ok,1<<30)",
	}
	var st [len(names)]int32
	st[0] = inputRead(badPtr, 64)
	st[1] = inputRead(ok, bigLen)
	st[2] = outputWrite(badPtr, 64)
	st[3] = outputWrite(ok, bigLen)
	st[4] = i2cWrite(bus, addr, badPtr, 2)
	st[5] = i2cWrite(bus, addr, ok, bigLen)
	st[6] = i2cRead(bus, addr, badPtr, 2)
	st[7] = i2cRead(bus, addr, ok, bigLen)
	st[8] = i2cReadReg(bus, addr, 0, badPtr, 2)
	st[9] = i2cReadReg(bus, addr, 0, ok, bigLen)
	st[10] = i2cWriteReg(bus, addr, 1, badPtr, 2)
	st[11] = i2cWriteReg(bus, addr, 1, ok, bigLen)
	hostLog(gwabi.LogWarn, badPtr, 64)
	hostLog(gwabi.LogWarn, ok, bigLen)

	out := cbor.AppendMapHeader(gwabi.OutputBuffer(), 2)
	out = cbor.AppendArrayHeader(cbor.AppendText(out, "calls"), len(names))
	for _, n := range names {
		out = cbor.AppendText(out, n)
	}
	out = cbor.AppendArrayHeader(cbor.AppendText(out, "statuses"), len(st))
	for _, s := range st {
		out = cbor.AppendInt(out, int64(s))
	}
	gwabi.WriteOutput(out)
	return 0
}

func main() {}
