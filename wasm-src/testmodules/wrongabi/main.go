//go:build wasip1

// Command wrongabi is a test module: gw_abi_version returns 99 (the host must refuse
// it with GW_ERR_MODULE_ABI_VERSION). Otherwise a complete module.
package main

import "coapgw.example/wasm-src/gwabi"

//go:wasmexport gw_abi_version
func gwABIVersion() int32 { return 99 }

//go:wasmexport gw_init
func gwInit(inputLen int32) int32 {
	gwabi.WriteOutput(gwabi.AppendSensorInfo(gwabi.OutputBuffer(), "wrongabi", "1.0.0", "temperature", "Cel", 1000, 0.0625))
	return 0
}

//go:wasmexport gw_read
func gwRead(inputLen int32) int32 { return int32(gwabi.NotReady) }

func main() {}
