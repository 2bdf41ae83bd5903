//go:build wasip1

// Command trap is a test module: gw_init succeeds like a sensor; gw_read executes a
// WebAssembly trap (not a Go panic).
//
// Why a load from 0xFFFFFFF0: Go turns nil dereferences, bad indexes and divisions
// by zero into panics (explicit checks the compiler emits), and a panic reaches the
// host as proc_exit(2). A load from an address beyond linear memory has no such
// check: the address is non-nil and unsafe.Add skips bounds checks, so the wasm
// `i64.load` itself faults and the engine raises a trap (V8: "RuntimeError: memory
// access out of bounds"). Linear memory is far smaller than 4 GiB, so the address
// is always out of bounds. The same source traps under TinyGo.
package main

import (
	"unsafe"

	"coapgw/wasm-src/gwabi"
)

var anchor uint64
var sink uint64

//go:wasmexport gw_abi_version
func gwABIVersion() int32 { return gwabi.ABIVersion }

//go:wasmexport gw_init
func gwInit(inputLen int32) int32 {
	gwabi.WriteOutput(gwabi.AppendSensorInfo(gwabi.OutputBuffer(), "trap", "1.0.0", "temperature", "Cel", 1000, 0.0625))
	return 0
}

//go:wasmexport gw_read
func gwRead(inputLen int32) int32 {
	base := unsafe.Pointer(&anchor)
	p := (*uint64)(unsafe.Add(base, uintptr(0xFFFFFFF0)-uintptr(base)))
	sink = *p // traps: memory access out of bounds
	return 0
}

func main() {}
