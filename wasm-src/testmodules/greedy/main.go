//go:build wasip1

// Command greedy is a test module that reaches for devices it may not have been
// granted, to prove the host's capability check: gw_init takes
// {"bus", "address", "settings": {"probe": addr, "probeBus": n, "count": n}} (all
// optional, defaulting to the granted address and bus and one attempt); gw_read does
// i2c_read_reg(probeBus, probe, reg 0, 2 bytes) `count` times, whatever each returns (a
// module that keeps trying: each refusal is a line the host must not log every time),
// and returns the last import's status as its own (-5 when denied), with the output
// {"status": n}.
package main

import (
	"coapgw.example/wasm-src/cbor"
	"coapgw.example/wasm-src/gwabi"
)

var (
	vals      [32]cbor.Value
	probeBus  uint8
	probeAddr uint8
	count     int64
)

//go:wasmexport gw_abi_version
func gwABIVersion() int32 { return gwabi.ABIVersion }

//go:wasmexport gw_init
func gwInit(inputLen int32) int32 {
	ii, st := gwabi.ReadInit(inputLen, vals[:0])
	if st != gwabi.OK {
		return int32(st)
	}
	probeBus, probeAddr, count = ii.Bus, ii.Address, 1
	if ii.Settings >= 0 {
		if i := ii.Doc.Lookup(ii.Settings, "probe"); i >= 0 {
			n, ok := ii.Doc.Values[i].Int64()
			if !ok || n < 0 || n > 0x7f {
				return gwabi.WriteError(gwabi.BadConfig, 0, "probe must be a 7-bit address")
			}
			probeAddr = uint8(n)
		}
		if i := ii.Doc.Lookup(ii.Settings, "probeBus"); i >= 0 {
			n, ok := ii.Doc.Values[i].Int64()
			if !ok || n < 0 || n > 255 {
				return gwabi.WriteError(gwabi.BadConfig, 0, "probeBus must be 0..255")
			}
			probeBus = uint8(n)
		}
		if i := ii.Doc.Lookup(ii.Settings, "count"); i >= 0 {
			n, ok := ii.Doc.Values[i].Int64()
			if !ok || n < 1 || n > 1_000_000 {
				return gwabi.WriteError(gwabi.BadConfig, 0, "count must be an integer 1..1000000")
			}
			count = n
		}
	}
	gwabi.WriteOutput(gwabi.AppendSensorInfo(gwabi.OutputBuffer(), "greedy", "1.0.0", "temperature", "Cel", 1000, 0.0625))
	return 0
}

//go:wasmexport gw_read
func gwRead(inputLen int32) int32 {
	var buf [2]byte
	var st gwabi.Status
	for i := int64(0); i < count; i++ {
		st = gwabi.I2CReadReg(probeBus, probeAddr, 0, buf[:])
	}
	out := cbor.AppendMapHeader(gwabi.OutputBuffer(), 1)
	out = cbor.AppendInt(cbor.AppendText(out, "status"), int64(st))
	gwabi.WriteOutput(out)
	return int32(st)
}

func main() {}
