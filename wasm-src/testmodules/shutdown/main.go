//go:build wasip1

// Command shutdown is a test module: a bad new version of a sensor module. gw_init shuts the
// TMP102 down (SD=1 in the configuration register, SBOS397 "Shutdown Mode (SD)") and
// succeeds; every gw_read fails. A hot reload to it must roll back, and the running module
// must set the chip up again: otherwise the chip stays shut down and its temperature
// register frozen.
package main

import (
	"coapgw.example/wasm-src/cbor"
	"coapgw.example/wasm-src/gwabi"
)

var vals [32]cbor.Value

//go:wasmexport gw_abi_version
func gwABIVersion() int32 { return gwabi.ABIVersion }

//go:wasmexport gw_init
func gwInit(inputLen int32) int32 {
	ii, st := gwabi.ReadInit(inputLen, vals[:0])
	if st != gwabi.OK {
		return int32(st)
	}
	gwabi.I2CWriteReg(ii.Bus, ii.Address, 1, []byte{0x61, 0xA0}) // power-on value with SD set
	gwabi.WriteOutput(gwabi.AppendSensorInfo(gwabi.OutputBuffer(), "shutdown", "2.0.0", "temperature", "Cel", 250, 0.0625))
	return 0
}

//go:wasmexport gw_read
func gwRead(inputLen int32) int32 {
	return gwabi.WriteError(gwabi.Internal, 0, "this version cannot read")
}

func main() {}
