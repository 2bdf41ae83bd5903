//go:build wasip1

// Command trap is a test module: gw_init succeeds like a sensor; gw_read executes a
// WebAssembly trap (not a Go panic), under standard Go and under TinyGo alike.
//
// Why a load from 0xFFFFFFF0 or just above: Go turns nil dereferences, bad indexes and
// divisions by zero into panics (explicit checks the compiler emits), and a panic reaches
// the host as a panic report. A load from an address beyond linear memory has no such
// check, so the wasm `i64.load` itself faults and the engine raises a trap (V8:
// "RuntimeError: memory access out of bounds"). Linear memory is far smaller than 4 GiB,
// so the address is always out of bounds.
//
// Why the address comes from gw_read's argument and the value goes to the output:
// TinyGo optimises with LLVM, which deletes a load whose result nothing uses, and may
// fold a load through a global no code writes (or an address made from one) to a
// constant. An earlier version loaded at a constant offset from a global and stored the
// value in a global that nothing read: under TinyGo 0.41.1 the load was gone and gw_read
// returned with no output (GW_ERR_MODULE_BAD_OUTPUT instead of GW_ERR_MODULE_TRAP). Here
// the address is made from input_len, which only the host knows (0 for every gw_read,
// so the address is 0xFFFFFFF0, but no compiler can assume that), turned into a pointer
// from an integer (no object for the optimiser to reason about), and the loaded value is
// written to the output, which leaves the module through the output_write import: the
// load can be neither removed nor replaced by a constant.
package main

import (
	"unsafe"

	"coapgw.example/wasm-src/cbor"
	"coapgw.example/wasm-src/gwabi"
)

// outOfBounds is 16 bytes below 4 GiB, 8-byte aligned: past the end of any linear memory.
const outOfBounds = 0xFFFFFFF0

//go:wasmexport gw_abi_version
func gwABIVersion() int32 { return gwabi.ABIVersion }

//go:wasmexport gw_init
func gwInit(inputLen int32) int32 {
	gwabi.WriteOutput(gwabi.AppendSensorInfo(gwabi.OutputBuffer(), "trap", "1.0.0", "temperature", "Cel", 1000, 0.0625))
	return 0
}

//go:wasmexport gw_read
func gwRead(inputLen int32) int32 {
	// 0xFFFFFFF0 to 0xFFFFFFF8 (aligned): out of bounds for any input_len.
	addr := uintptr(outOfBounds) | uintptr(uint32(inputLen)&1)<<3
	// The word read back as a pointer: an integer turned pointer, as unsafe.Pointer(addr)
	// would be, in the form go vet accepts (it flags a uintptr-to-Pointer conversion).
	p := *(*unsafe.Pointer)(unsafe.Pointer(&addr))
	loaded := *(*uint64)(p) // traps: memory access out of bounds
	out := cbor.AppendMapHeader(gwabi.OutputBuffer(), 3)
	out = cbor.AppendFloat(cbor.AppendText(out, "value"), float64(loaded))
	out = cbor.AppendInt(cbor.AppendText(out, "raw"), int64(loaded&0xFFFF))
	out = cbor.AppendInt(cbor.AppendText(out, "bits"), 0)
	gwabi.WriteOutput(out)
	return 0
}

func main() {}
