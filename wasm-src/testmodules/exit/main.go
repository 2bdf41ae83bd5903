//go:build wasip1

// Command exit is a test module: gw_read calls os.Exit(3), i.e. proc_exit(3).
package main

import (
	"os"

	"coapgw.example/wasm-src/gwabi"
)

//go:wasmexport gw_abi_version
func gwABIVersion() int32 { return gwabi.ABIVersion }

//go:wasmexport gw_init
func gwInit(inputLen int32) int32 {
	gwabi.WriteOutput(gwabi.AppendSensorInfo(gwabi.OutputBuffer(), "exit", "1.0.0", "temperature", "Cel", 1000, 0.0625))
	return 0
}

//go:wasmexport gw_read
func gwRead(inputLen int32) int32 {
	os.Exit(3)
	return 0
}

func main() {}
