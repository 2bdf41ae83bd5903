//go:build wasip1

// Command memhog is a test module that grows its memory without bound: gw_read
// appends 1 MiB chunks to a global slice (so nothing is ever garbage) and writes into
// each chunk (so the pages are really used).
//
// gw_init takes {"bus", "address", "settings": {"mib": n}} (optional, default 0):
//   - n = 0: gw_read never stops appending; the call ends only when memory.grow fails
//     and the Go runtime gives up ("fatal error: out of memory", then a trap);
//   - n > 0: gw_read appends n MiB and returns {"value": <MiB held>, "raw": <MiB>,
//     "bits": 0}, so the memory grows from call to call.
package main

import (
	"coapgw.example/wasm-src/cbor"
	"coapgw.example/wasm-src/gwabi"
)

const chunk = 1 << 20

var (
	vals  [32]cbor.Value
	perMi int64
	hoard [][]byte
)

//go:wasmexport gw_abi_version
func gwABIVersion() int32 { return gwabi.ABIVersion }

//go:wasmexport gw_init
func gwInit(inputLen int32) int32 {
	ii, st := gwabi.ReadInit(inputLen, vals[:0])
	if st != gwabi.OK {
		return int32(st)
	}
	perMi = 0
	if ii.Settings >= 0 {
		if i := ii.Doc.Lookup(ii.Settings, "mib"); i >= 0 {
			n, ok := ii.Doc.Values[i].Int64()
			if !ok || n < 0 || n > 1024 {
				return gwabi.WriteError(gwabi.BadConfig, 0, "mib must be an integer 0..1024")
			}
			perMi = n
		}
	}
	gwabi.WriteOutput(gwabi.AppendSensorInfo(gwabi.OutputBuffer(), "memhog", "1.0.0", "temperature", "Cel", 1000, 0.0625))
	return 0
}

func grab() {
	b := make([]byte, chunk)
	for i := 0; i < len(b); i += 4096 {
		b[i] = byte(i >> 12)
	}
	hoard = append(hoard, b)
}

//go:wasmexport gw_read
func gwRead(inputLen int32) int32 {
	if perMi == 0 {
		for {
			grab()
		}
	}
	for i := int64(0); i < perMi; i++ {
		grab()
	}
	held := int64(len(hoard))
	out := cbor.AppendMapHeader(gwabi.OutputBuffer(), 3)
	out = cbor.AppendFloat(cbor.AppendText(out, "value"), float64(held))
	out = cbor.AppendInt(cbor.AppendText(out, "raw"), held)
	out = cbor.AppendInt(cbor.AppendText(out, "bits"), 0)
	gwabi.WriteOutput(out)
	return 0
}

func main() {}
