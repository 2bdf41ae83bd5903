//go:build wasip1

// Command unknownimport is a test module that imports gw.i2c_teleport, a function
// the ABI does not list (the host must refuse it with GW_ERR_MODULE_UNKNOWN_IMPORT).
// gw_read calls it so the compiler keeps the import.
package main

import "coapgw.example/wasm-src/gwabi"

//go:wasmimport gw i2c_teleport
func i2cTeleport(bus, addr uint32) int32

//go:wasmexport gw_abi_version
func gwABIVersion() int32 { return gwabi.ABIVersion }

//go:wasmexport gw_init
func gwInit(inputLen int32) int32 {
	gwabi.WriteOutput(gwabi.AppendSensorInfo(gwabi.OutputBuffer(), "unknownimport", "1.0.0", "temperature", "Cel", 1000, 0.0625))
	return 0
}

//go:wasmexport gw_read
func gwRead(inputLen int32) int32 { return i2cTeleport(1, 0x48) }

func main() {}
