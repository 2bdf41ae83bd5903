//go:build wasip1

// Command logflood is a test module: each gw_read logs without bound, through the gw.log
// import (settings {"via": "gw"}, the default) or as one 1 MiB write of newlines to stdout
// ({"via": "stdout"}), then returns a valid reading of 21.5 °C. The host must keep to its
// per-call log budget, so the flood costs the gateway a bounded amount of work.
package main

import (
	"os"

	"coapgw.example/wasm-src/cbor"
	"coapgw.example/wasm-src/gwabi"
)

var (
	vals      [32]cbor.Value
	newlines  [1 << 20]byte
	viaStdout bool
)

//go:wasmexport gw_abi_version
func gwABIVersion() int32 { return gwabi.ABIVersion }

//go:wasmexport gw_init
func gwInit(inputLen int32) int32 {
	ii, st := gwabi.ReadInit(inputLen, vals[:0])
	if st != gwabi.OK {
		return int32(st)
	}
	viaStdout = false
	if ii.Settings >= 0 {
		if i := ii.Doc.Lookup(ii.Settings, "via"); i >= 0 {
			viaStdout = ii.Doc.Values[i].IsText("stdout")
		}
	}
	for i := range newlines {
		newlines[i] = '\n'
	}
	gwabi.WriteOutput(gwabi.AppendSensorInfo(gwabi.OutputBuffer(), "logflood", "1.0.0", "temperature", "Cel", 250, 0.0625))
	return 0
}

//go:wasmexport gw_read
func gwRead(inputLen int32) int32 {
	if viaStdout {
		os.Stdout.Write(newlines[:])
	} else {
		for i := 0; i < 300000; i++ {
			gwabi.Log(gwabi.LogError, "flood")
		}
	}
	out := gwabi.OutputBuffer()
	out = cbor.AppendMapHeader(out, 3)
	out = cbor.AppendFloat(cbor.AppendText(out, "value"), 21.5)
	out = cbor.AppendUint(cbor.AppendText(out, "raw"), 0x1580)
	out = cbor.AppendInt(cbor.AppendText(out, "bits"), 12)
	gwabi.WriteOutput(out)
	return 0
}

func main() {}
