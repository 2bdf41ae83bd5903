//go:build wasip1

// Command sleeper is a test module: gw_read sleeps for an hour (time.Sleep inside an
// export ends in WASI poll_oneoff). The host must end the call at its sleep budget
// with GW_ERR_MODULE_DEADLINE instead of blocking its thread for an hour.
package main

import (
	"time"

	"coapgw.example/wasm-src/gwabi"
)

//go:wasmexport gw_abi_version
func gwABIVersion() int32 { return gwabi.ABIVersion }

//go:wasmexport gw_init
func gwInit(inputLen int32) int32 {
	gwabi.WriteOutput(gwabi.AppendSensorInfo(gwabi.OutputBuffer(), "sleeper", "1.0.0", "temperature", "Cel", 1000, 0.0625))
	return 0
}

//go:wasmexport gw_read
func gwRead(inputLen int32) int32 {
	time.Sleep(time.Hour)
	return int32(gwabi.NotReady)
}

func main() {}
