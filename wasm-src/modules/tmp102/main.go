//go:build wasip1

// Command tmp102 is the TMP102 sensor module (module ABI version 1, docs/module-abi.md).
// Built as a WASI reactor (-buildmode=c-shared): main never runs; the host calls
// _initialize, then gw_abi_version, gw_init and gw_read. The logic lives in package
// tmp102 (tested natively); this file only wires it to the `gw` imports.
package main

import (
	"time"

	"coapgw.example/wasm-src/gwabi"
	"coapgw.example/wasm-src/tmp102"
)

var (
	// start anchors the monotonic clock: time.Since reads WASI's monotonic clock
	// (clock_time_get), which the gateway's tests drive.
	start = time.Now()
	mod   = tmp102.Module{
		Driver: tmp102.Driver{Now: func() time.Duration { return time.Since(start) }, Sleep: time.Sleep, Log: gwabi.Log},
		Open:   func(bus, addr uint8) tmp102.Bus { return gwabi.Device{Bus: bus, Addr: addr} },
	}
)

//go:wasmexport gw_abi_version
func gwABIVersion() int32 { return gwabi.ABIVersion }

//go:wasmexport gw_init
func gwInit(inputLen int32) int32 {
	in, err := gwabi.ReadInput(inputLen)
	if err != nil {
		return gwabi.WriteError(gwabi.BadConfig, 0, err.Error())
	}
	st, out := mod.Init(in, gwabi.OutputBuffer())
	gwabi.WriteOutput(out)
	return int32(st)
}

//go:wasmexport gw_read
func gwRead(inputLen int32) int32 {
	in, err := gwabi.ReadInput(inputLen)
	if err != nil {
		return gwabi.WriteError(gwabi.BadRequest, 0, err.Error())
	}
	st, out := mod.Read(in, gwabi.OutputBuffer())
	gwabi.WriteOutput(out)
	return int32(st)
}

func main() {}
