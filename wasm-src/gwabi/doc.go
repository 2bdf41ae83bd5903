// Package gwabi is the guest side of the gateway's sensor module ABI, version 1.1
// (docs/module-abi.md in the gateway's repository): what a sensor module written in Go
// calls to talk to the gateway's WebAssembly host.
//
// A module is a WASI preview1 reactor (GOOS=wasip1 GOARCH=wasm, -buildmode=c-shared) that
// exports gw_abi_version, gw_init and gw_read. Each export receives the length of its CBOR
// input and returns a Status; this package does the rest:
//
//   - Input: ReadInput copies the call's input out of the host; ReadInit and ParseInit read
//     and check gw_init's {"bus", "address", "settings"}; CheckReadInput checks gw_read's.
//   - Output: OutputBuffer, WriteOutput; AppendSensorInfo (gw_init's answer), AppendReading
//     (gw_read's answer), AppendError and WriteError (a failure with its detail), AppendErrorCode
//     (a failure whose "code" states the sensor's state: CodeSensorNotReady, CodeSensorWrongDevice).
//   - Several quantities (ABI 1.1, ABIMinorVersion): AppendQuantities (gw_init's answer with
//     "quantities", each a Quantity) and AppendMeasurements (gw_read's answer with "values" and
//     "raws", each a Measurement); the first quantity is the one a 1.0 host serves.
//   - I2C: I2CWrite, I2CRead, I2CReadReg, I2CWriteReg, and Device, one granted chip: its
//     register bus (ReadReg, WriteReg) and plain transfers for command chips (Write, Read).
//     Bytes are in wire order; a transfer is at most MaxTransfer bytes.
//   - Logging: Log with LogDebug..LogError.
//   - Statuses: the Status table of the ABI (OK, NotReady, I2CNack ... RateLimited) with
//     Name, Code and FromImport.
//
// The smallest module, its three exports:
//
//	//go:wasmexport gw_abi_version
//	func gwABIVersion() int32 { return gwabi.ABIVersion }
//
//	//go:wasmexport gw_init
//	func gwInit(inputLen int32) int32 {
//		ii, st := gwabi.ReadInit(inputLen, vals[:0])
//		if st != gwabi.OK {
//			return int32(st) // ReadInit wrote the failure output already
//		}
//		dev = gwabi.Device{Bus: ii.Bus, Addr: ii.Address}
//		out := gwabi.AppendSensorInfo(gwabi.OutputBuffer(), "mychip", "0.1.0", "temperature", "Cel", 1000, 0.0625)
//		gwabi.WriteOutput(out)
//		return int32(gwabi.OK)
//	}
//
//	//go:wasmexport gw_read
//	func gwRead(inputLen int32) int32 { ... dev.ReadReg(0x00, buf[:]) ... gwabi.AppendReading ... }
//
// `npm run new-module -- <name>` in the gateway's repository writes such a module, with a
// driver and a test, that builds and passes as generated.
//
// # Two builds of one package
//
// The raw `gw` imports are declared only in imports_wasip1.go (built for GOOS=wasip1, by Go
// and by TinyGo). On any other GOOS, imports_native.go stands in for the host with the
// replaceable Native value (a Host), so `go test` builds and tests this package, and a
// module's driver written against a small Bus interface, on the development machine.
// Package gwabi/gwtest is a ready-made Host with simulated register-map chips for such tests.
//
// # Memory
//
// The guest owns its memory and the host never allocates in it: one static input buffer and
// one static output buffer serve every call (calls never overlap on an instance). A slice
// from ReadInput or OutputBuffer is valid until the next call of the same function.
//
// # TinyGo
//
// Nothing here uses fmt, reflect or goroutines, and the imports take only uint32,
// unsafe.Pointer and int32: TinyGo (0.34 or newer, -scheduler=none) builds it as well as
// standard Go (1.24 or newer, for //go:wasmexport).
//
// # Versions
//
// Version is this package's version; its major number is ABIVersion, the module ABI it
// implements. Releases are tagged wasm-src/vX.Y.Z in the gateway's repository (wasm-src/README.md,
// "The module kit").
package gwabi
