//go:build wasip1

// Command badsignature is a test module: every export is present, but gw_read takes
// two parameters instead of one. The JS API reports only names and kinds, so the host
// must read the signature from the binary and refuse the module with
// GW_ERR_MODULE_MISSING_EXPORT rather than call it with a missing argument.
package main

import "coapgw.example/wasm-src/gwabi"

//go:wasmexport gw_abi_version
func gwABIVersion() int32 { return gwabi.ABIVersion }

//go:wasmexport gw_init
func gwInit(inputLen int32) int32 {
	gwabi.WriteOutput(gwabi.AppendSensorInfo(gwabi.OutputBuffer(), "badsignature", "1.0.0", "temperature", "Cel", 1000, 0.0625))
	return 0
}

//go:wasmexport gw_read
func gwRead(inputLen int32, extra int32) int32 { return int32(gwabi.NotReady) + extra }

func main() {}
