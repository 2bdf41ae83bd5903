//go:build wasip1

// Command missingexport is a test module without gw_read (the host must refuse it
// with GW_ERR_MODULE_MISSING_EXPORT).
package main

import "coapgw.example/wasm-src/gwabi"

//go:wasmexport gw_abi_version
func gwABIVersion() int32 { return gwabi.ABIVersion }

//go:wasmexport gw_init
func gwInit(inputLen int32) int32 {
	gwabi.WriteOutput(gwabi.AppendSensorInfo(gwabi.OutputBuffer(), "missingexport", "1.0.0", "temperature", "Cel", 1000, 0.0625))
	return 0
}

func main() {}
