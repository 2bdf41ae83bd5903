//go:build wasip1

// Command reportfail is a test module that fails the way its settings say, to check what
// the host makes of a failure's status and output (docs/module-abi.md, "Output on
// failure", "Status codes"). gw_init takes {"bus", "address", "settings": {...}} with:
//
//	"at":           "init" or "read" (default "read"): which export fails
//	"status":       the negative status it returns (default -11, INTERNAL)
//	"code":         the output's "code", a text or an integer (left out when absent)
//	"detail":       the output's "detail" text (left out when absent)
//	"retryAfterMs": the output's "retryAfterMs" integer (left out when absent)
//	"probe":        a 7-bit address on the granted bus to read register 0 of first,
//	                whatever it answers (absent: no transfer), so the failure can follow
//	                a failed I2C call
//
// The output map is written as given, so a test can send any "code" a module might,
// a non-text one included.
// With "at": "read", gw_init succeeds with a sensor's info.
package main

import (
	"coapgw.example/wasm-src/cbor"
	"coapgw.example/wasm-src/gwabi"
)

var (
	vals     [32]cbor.Value
	bus      uint8
	failInit bool
	status   int32 = int32(gwabi.Internal)
	probe          = -1
	// The output keys as CBOR items copied out of the input (the input buffer is reused).
	code, detail, retry []byte
)

// item re-encodes the text or integer at index i of doc (nil for other kinds): a copy,
// since text values alias the input buffer, which the next call reuses.
func item(doc cbor.Doc, i int) []byte {
	v := &doc.Values[i]
	switch v.Kind {
	case cbor.KindText:
		return cbor.AppendText(nil, string(v.Bytes))
	case cbor.KindUint, cbor.KindNegInt:
		n, _ := v.Int64()
		return cbor.AppendInt(nil, n)
	}
	return nil
}

//go:wasmexport gw_abi_version
func gwABIVersion() int32 { return gwabi.ABIVersion }

//go:wasmexport gw_init
func gwInit(inputLen int32) int32 {
	ii, st := gwabi.ReadInit(inputLen, vals[:0])
	if st != gwabi.OK {
		return int32(st)
	}
	bus = ii.Bus
	if s := ii.Settings; s >= 0 {
		d := ii.Doc
		if i := d.Lookup(s, "at"); i >= 0 {
			failInit = d.Values[i].IsText("init")
		}
		if i := d.Lookup(s, "status"); i >= 0 {
			n, ok := d.Values[i].Int64()
			if !ok || n >= 0 || n < -1000 {
				return gwabi.WriteError(gwabi.BadConfig, 0, "status must be a negative integer")
			}
			status = int32(n)
		}
		if i := d.Lookup(s, "probe"); i >= 0 {
			n, ok := d.Values[i].Int64()
			if !ok || n < 0 || n > 0x7f {
				return gwabi.WriteError(gwabi.BadConfig, 0, "probe must be a 7-bit address")
			}
			probe = int(n)
		}
		if i := d.Lookup(s, "code"); i >= 0 {
			code = item(d, i)
		}
		if i := d.Lookup(s, "detail"); i >= 0 {
			detail = item(d, i)
		}
		if i := d.Lookup(s, "retryAfterMs"); i >= 0 {
			retry = item(d, i)
		}
	}
	if failInit {
		return fail()
	}
	gwabi.WriteOutput(gwabi.AppendSensorInfo(gwabi.OutputBuffer(), "reportfail", "1.0.0", "temperature", "Cel", 1000, 0.0625))
	return 0
}

//go:wasmexport gw_read
func gwRead(inputLen int32) int32 { return fail() }

// fail makes the probe transfer, if any, then writes the output and returns the status.
func fail() int32 {
	if probe >= 0 {
		var b [2]byte
		gwabi.I2CReadReg(bus, uint8(probe), 0, b[:])
	}
	keys := [...]string{"code", "detail", "retryAfterMs"}
	items := [...][]byte{code, detail, retry}
	n := 0
	for _, v := range items {
		if v != nil {
			n++
		}
	}
	out := cbor.AppendMapHeader(gwabi.OutputBuffer(), n)
	for i, v := range items {
		if v != nil {
			out = append(cbor.AppendText(out, keys[i]), v...)
		}
	}
	gwabi.WriteOutput(out)
	return status
}

func main() {}
