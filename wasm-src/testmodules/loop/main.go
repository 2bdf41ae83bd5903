//go:build wasip1

// Command loop is a test module that never returns from gw_read: a real busy loop,
// not a sleep (time.Sleep would end in WASI poll_oneoff, which the host's sleep budget
// already bounds). Only stopping the thread it runs on ends it (in Node: terminating
// the worker), which is what the host's per-call deadline does.
//
// gw_init takes {"bus", "address", "settings": {"healthyReads": n}} (optional, default
// 0): the first n gw_read calls of an instance return a valid reading
// {"value": 20, "raw": 320, "bits": 12}; every later call spins forever.
//
// The loop body updates a global through a function the compiler may not inline
// (//go:noinline), so the loop can be neither removed nor proven empty: Go accepts
// an empty `for {}`, but a loop whose work is visible is unambiguously a busy one.
package main

import (
	"coapgw.example/wasm-src/cbor"
	"coapgw.example/wasm-src/gwabi"
)

var (
	vals         [32]cbor.Value
	healthyReads int64
	reads        int64
	spins        uint64
)

//go:noinline
func spin() { spins++ }

//go:wasmexport gw_abi_version
func gwABIVersion() int32 { return gwabi.ABIVersion }

//go:wasmexport gw_init
func gwInit(inputLen int32) int32 {
	ii, st := gwabi.ReadInit(inputLen, vals[:0])
	if st != gwabi.OK {
		return int32(st)
	}
	healthyReads = 0
	if ii.Settings >= 0 {
		if i := ii.Doc.Lookup(ii.Settings, "healthyReads"); i >= 0 {
			n, ok := ii.Doc.Values[i].Int64()
			if !ok || n < 0 {
				return gwabi.WriteError(gwabi.BadConfig, 0, "healthyReads must be a non-negative integer")
			}
			healthyReads = n
		}
	}
	gwabi.WriteOutput(gwabi.AppendSensorInfo(gwabi.OutputBuffer(), "loop", "1.0.0", "temperature", "Cel", 1000, 0.0625))
	return 0
}

//go:wasmexport gw_read
func gwRead(inputLen int32) int32 {
	reads++
	if reads <= healthyReads {
		out := cbor.AppendMapHeader(gwabi.OutputBuffer(), 3)
		out = cbor.AppendFloat(cbor.AppendText(out, "value"), 20)
		out = cbor.AppendInt(cbor.AppendText(out, "raw"), 320)
		out = cbor.AppendInt(cbor.AppendText(out, "bits"), 12)
		gwabi.WriteOutput(out)
		return 0
	}
	for {
		spin()
	}
}

func main() {}
