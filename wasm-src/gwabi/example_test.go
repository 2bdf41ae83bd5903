//go:build !wasip1

// Runnable examples: each runs natively against gwtest's fake host, which stands in for the
// gateway behind gwabi.Native, so `go test` checks every Output below.

package gwabi_test

import (
	"fmt"

	"coapgw.example/wasm-src/cbor"
	"coapgw.example/wasm-src/gwabi"
	"coapgw.example/wasm-src/gwabi/gwtest"
)

// A module's gw_init: read and check the input, answer with the sensor's description.
func ExampleReadInit() {
	h := gwtest.NewHost()
	defer h.Install()()

	var vals [32]cbor.Value
	gwInit := func(inputLen int32) int32 {
		ii, st := gwabi.ReadInit(inputLen, vals[:0])
		if st != gwabi.OK {
			return int32(st) // the failure output is written already
		}
		fmt.Printf("bus %d, address %#x\n", ii.Bus, ii.Address)
		out := gwabi.AppendSensorInfo(gwabi.OutputBuffer(), "mychip", "0.1.0", "temperature", "Cel", 1000, 0.0625)
		gwabi.WriteOutput(out)
		return int32(gwabi.OK)
	}

	r := h.Call(gwInit, gwtest.InitInput(1, 0x48, nil))
	unit, _ := r.Text("unit")
	fmt.Println(r.Status.Name(), unit)

	r = h.Call(gwInit, gwtest.InitInput(1, 0x48, []byte{0x80})) // settings: an array, not a map
	detail, _ := r.Text("detail")
	fmt.Println(r.Status.Name(), detail)
	// Output:
	// bus 1, address 0x48
	// OK Cel
	// BAD_CONFIG settings must be a map
}

// ReadInput copies the call's input out of the host; gw_read's must be empty or {}.
func ExampleReadInput() {
	h := gwtest.NewHost()
	defer h.Install()()

	gwRead := func(inputLen int32) int32 {
		in, err := gwabi.ReadInput(inputLen)
		if err != nil {
			return gwabi.WriteError(gwabi.BadRequest, 0, err.Error())
		}
		if st, detail := gwabi.CheckReadInput(in); st != gwabi.OK {
			return gwabi.WriteError(st, 0, detail)
		}
		fmt.Printf("input of %d byte(s)\n", len(in))
		return int32(gwabi.OK)
	}
	fmt.Println(h.Call(gwRead, nil).Status.Name())
	fmt.Println(h.Call(gwRead, []byte{0xa0}).Status.Name()) // {}
	fmt.Println(h.Call(gwRead, []byte{0x01}).Status.Name()) // 1: not a map
	// Output:
	// input of 0 byte(s)
	// OK
	// input of 1 byte(s)
	// OK
	// BAD_REQUEST
}

// gw_read's answer: {"value", "raw", "bits"}, in the unit gw_init announced.
func ExampleAppendReading() {
	h := gwtest.NewHost()
	defer h.Install()()

	gwRead := func(int32) int32 {
		raw := int64(0x1580) // a TMP102 word: 344 counts of 0.0625 °C, left-justified
		gwabi.WriteOutput(gwabi.AppendReading(gwabi.OutputBuffer(), float64(raw>>4)*0.0625, raw, 12))
		return int32(gwabi.OK)
	}
	r := h.Call(gwRead, nil)
	value, _ := r.Float("value")
	bits, _ := r.Int("bits")
	fmt.Printf("% x\n", r.Output)
	fmt.Println(value, bits)
	// Output:
	// a3 65 76 61 6c 75 65 f9 4d 60 63 72 61 77 19 15 80 64 62 69 74 73 0c
	// 21.5 12
}

// An I2C register read: the register byte, a repeated START, then the bytes in wire order.
func ExampleDevice_ReadReg() {
	h := gwtest.NewHost()
	defer h.Install()()
	h.Attach(1, gwtest.NewChip(0x48).SetWord(0x00, 0x1580))

	var buf [2]byte
	st := gwabi.Device{Bus: 1, Addr: 0x48}.ReadReg(0x00, buf[:])
	fmt.Println(st.Name(), buf)

	st = gwabi.Device{Bus: 1, Addr: 0x49}.ReadReg(0x00, buf[:]) // not granted to this module
	fmt.Println(st.Name())
	// Output:
	// OK [21 128]
	// DENIED
}

// Log sends one line to the gateway's log, under the module's sensor name.
func ExampleLog() {
	h := gwtest.NewHost()
	defer h.Install()()

	gwabi.Log(gwabi.LogWarn, "conversion took longer than the datasheet says")
	fmt.Println(h.Logs[0].Level, h.Logs[0].Text)
	// Output:
	// 2 conversion took longer than the datasheet says
}

// A failing call returns a negative status, and may write {"code", "retryAfterMs", "detail"}:
// the detail reaches the gateway's log, retryAfterMs paces the next try.
func ExampleWriteError() {
	h := gwtest.NewHost()
	defer h.Install()()

	gwRead := func(int32) int32 {
		return gwabi.WriteError(gwabi.NotReady, 35, "first conversion not finished")
	}
	r := h.Call(gwRead, nil)
	code, _ := r.Text("code")
	retry, _ := r.Int("retryAfterMs")
	fmt.Println(int32(r.Status), r.Status.Name(), code, retry)
	// Output:
	// -1 NOT_READY not-ready 35
}

// The status table, and how an import's result becomes a status.
func ExampleStatus() {
	for _, s := range []gwabi.Status{gwabi.OK, gwabi.I2CNack, gwabi.Denied, gwabi.RateLimited} {
		fmt.Println(int32(s), s.Name(), s.Code())
	}
	fmt.Println(gwabi.FromImport(2).Name(), gwabi.FromImport(-99).Name())
	// Output:
	// 0 OK ok
	// -2 I2C_NACK i2c-nack
	// -5 DENIED denied
	// -13 RATE_LIMITED rate-limited
	// OK INTERNAL
}

// ABI 1.1: a module that measures several quantities declares them in gw_init's output; the
// 1.0 keys describe the first (a 1.0 host serves that one alone).
func ExampleAppendQuantities() {
	qs := []gwabi.Quantity{
		{Name: "temperature", Unit: "Cel", Resolution: 0.01},
		{Name: "humidity", Unit: "%RH", Resolution: 0.01},
	}
	out := gwabi.AppendQuantities(gwabi.OutputBuffer(), 0, "mychip", "0.1.0", 1000, qs)
	doc, _ := cbor.Parse(out, make([]cbor.Value, 0, 32))
	q := doc.Lookup(0, "quantities")
	second := doc.Items(q, nil)[1]
	fmt.Println(string(doc.Values[doc.Lookup(0, "unit")].Bytes), doc.Values[q].N, string(doc.Values[doc.Lookup(second, "unit")].Bytes))
	// Output:
	// Cel 2 %RH
}

// ABI 1.1: gw_read's answer with every quantity: "value", "raw" and "bits" of the first, and
// "values" and "raws" by quantity name.
func ExampleAppendMeasurements() {
	h := gwtest.NewHost()
	defer h.Install()()

	gwRead := func(int32) int32 {
		ms := []gwabi.Measurement{
			{Quantity: "temperature", Value: 25, Raw: 0x6666},
			{Quantity: "humidity", Value: 40, Raw: 0x6666},
		}
		gwabi.WriteOutput(gwabi.AppendMeasurements(gwabi.OutputBuffer(), 16, ms))
		return int32(gwabi.OK)
	}
	r := h.Call(gwRead, nil)
	value, _ := r.Float("value")
	doc, _ := r.Doc()
	values := doc.Lookup(0, "values")
	rh, _ := doc.Values[doc.Lookup(values, "humidity")].Float64()
	fmt.Println(value, rh)
	// Output:
	// 25 40
}
