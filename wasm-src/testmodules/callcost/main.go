//go:build wasip1

// Command callcost is a benchmark module (bench/wasm-path.ts): it measures what crossing
// the JS/WebAssembly boundary costs, not what a sensor costs.
//
//   - bench_nop() returns 1 and does nothing else: calling it from JS is the host->guest
//     cost, Go's //go:wasmexport entry included (it switches to a goroutine stack and
//     back through the runtime on every call).
//   - bench_imports(n) calls gw.i2c_write(0, 0x80, nil, 0) n times and returns how many of
//     those calls answered BAD_ARGUMENT (n when the host is the gateway's): the
//     guest->host cost is (bench_imports(n) - bench_imports(0)) / n. Address 0x80 is not
//     a 7-bit address, so the host's first argument check refuses it: no memory access,
//     no allocation, no log line, no token, no state; only the crossing and one compare.
//   - bench_input_read(n) calls gw.input_read(buf, 0) n times and returns how many answered
//     0 bytes: the cheapest import a real module makes on every call (the host still
//     bounds-checks and builds two empty typed-array views), for comparison.
//
// gw_abi_version, gw_init and gw_read are there so the gateway's validator accepts the
// module like any other; gw_read always answers NOT_READY.
//
// The raw imports are declared here (not through gwabi) so that nothing but the call
// sits in the loops. No fmt, no goroutines: TinyGo (-scheduler=none) builds it too.
package main

import (
	"unsafe"

	"coapgw.example/wasm-src/gwabi"
)

//go:wasmimport gw i2c_write
//go:noescape
func i2cWrite(bus, addr uint32, ptr unsafe.Pointer, n uint32) int32

//go:wasmimport gw input_read
//go:noescape
func inputRead(ptr unsafe.Pointer, n uint32) int32

// badAddress is the first value above the 7-bit address range (docs/module-abi.md, "I2C details").
const badAddress = 0x80

var buf [1]byte

//go:wasmexport bench_nop
func benchNop() int32 { return 1 }

//go:wasmexport bench_imports
func benchImports(n int32) int32 {
	refused := int32(0)
	for i := int32(0); i < n; i++ {
		if i2cWrite(0, badAddress, nil, 0) == int32(gwabi.BadArgument) {
			refused++
		}
	}
	return refused
}

//go:wasmexport bench_input_read
func benchInputRead(n int32) int32 {
	empty := int32(0)
	for i := int32(0); i < n; i++ {
		if inputRead(unsafe.Pointer(&buf[0]), 0) == 0 {
			empty++
		}
	}
	return empty
}

//go:wasmexport gw_abi_version
func gwABIVersion() int32 { return gwabi.ABIVersion }

//go:wasmexport gw_init
func gwInit(inputLen int32) int32 {
	gwabi.WriteOutput(gwabi.AppendSensorInfo(gwabi.OutputBuffer(), "callcost", "1.0.0", "temperature", "Cel", 1000, 0.0625))
	return 0
}

//go:wasmexport gw_read
func gwRead(inputLen int32) int32 {
	return gwabi.WriteError(gwabi.NotReady, 1000, "callcost is a benchmark module: it has no sensor")
}

func main() {}
