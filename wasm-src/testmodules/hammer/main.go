//go:build wasip1

// Command hammer is a test module that floods the bus: gw_read makes `count`
// register reads (settings {"count": n}, default 100) of register 0 at the granted
// address, one after the other, and stops at the first that fails. It returns that
// import's raw status (0 when all succeeded) with the output
// {"ok": <reads that succeeded>, "status": <raw status>}.
//
// The raw import is declared here (not gwabi.I2CReadReg) so the status the host
// returned reaches the output unchanged, including statuses newer than gwabi's table
// (RATE_LIMITED, -13, which gwabi.FromImport would report as INTERNAL).
package main

import (
	"unsafe"

	"coapgw.example/wasm-src/cbor"
	"coapgw.example/wasm-src/gwabi"
)

//go:wasmimport gw i2c_read_reg
//go:noescape
func i2cReadReg(bus, addr, reg uint32, ptr unsafe.Pointer, n uint32) int32

var (
	vals      [32]cbor.Value
	bus, addr uint32
	count     int64
	buf       [2]byte
)

//go:wasmexport gw_abi_version
func gwABIVersion() int32 { return gwabi.ABIVersion }

//go:wasmexport gw_init
func gwInit(inputLen int32) int32 {
	ii, st := gwabi.ReadInit(inputLen, vals[:0])
	if st != gwabi.OK {
		return int32(st)
	}
	bus, addr, count = uint32(ii.Bus), uint32(ii.Address), 100
	if ii.Settings >= 0 {
		if i := ii.Doc.Lookup(ii.Settings, "count"); i >= 0 {
			n, ok := ii.Doc.Values[i].Int64()
			if !ok || n < 0 || n > 1_000_000 {
				return gwabi.WriteError(gwabi.BadConfig, 0, "count must be an integer 0..1000000")
			}
			count = n
		}
	}
	gwabi.WriteOutput(gwabi.AppendSensorInfo(gwabi.OutputBuffer(), "hammer", "1.0.0", "temperature", "Cel", 1000, 0.0625))
	return 0
}

//go:wasmexport gw_read
func gwRead(inputLen int32) int32 {
	ok := int64(0)
	status := int32(0)
	for i := int64(0); i < count; i++ {
		status = i2cReadReg(bus, addr, 0, unsafe.Pointer(&buf[0]), uint32(len(buf)))
		if status < 0 {
			break
		}
		ok++
	}
	out := cbor.AppendMapHeader(gwabi.OutputBuffer(), 2)
	out = cbor.AppendInt(cbor.AppendText(out, "ok"), ok)
	out = cbor.AppendInt(cbor.AppendText(out, "status"), int64(status))
	gwabi.WriteOutput(out)
	return status
}

func main() {}
