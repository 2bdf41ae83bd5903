//go:build wasip1

// Command panic is a test module: gw_read panics. The Go runtime prints
// "panic: sensor exploded" (with a goroutine trace) to fd 2 and calls proc_exit(2).
package main

import "coapgw.example/wasm-src/gwabi"

//go:wasmexport gw_abi_version
func gwABIVersion() int32 { return gwabi.ABIVersion }

//go:wasmexport gw_init
func gwInit(inputLen int32) int32 {
	gwabi.WriteOutput(gwabi.AppendSensorInfo(gwabi.OutputBuffer(), "panic", "1.0.0", "temperature", "Cel", 1000, 0.0625))
	return 0
}

//go:wasmexport gw_read
func gwRead(inputLen int32) int32 {
	panic("sensor exploded")
}

func main() {}
