package cbor_test

import (
	"fmt"

	"coapgw.example/wasm-src/cbor"
)

// Encoding appends one item per call; a map header counts its pairs.
func ExampleAppendMapHeader() {
	b := cbor.AppendMapHeader(nil, 2)
	b = cbor.AppendFloat(cbor.AppendText(b, "value"), 21.5) // the shortest exact float: float16
	b = cbor.AppendInt(cbor.AppendText(b, "bits"), 12)
	fmt.Printf("% x\n", b)
	// Output:
	// a2 65 76 61 6c 75 65 f9 4d 60 64 62 69 74 73 0c
}

// Decoding fills a caller's []Value (no allocation with a fixed array) and looks keys up.
func ExampleParse() {
	var vals [8]cbor.Value
	doc, err := cbor.Parse([]byte{0xa2, 0x63, 0x62, 0x75, 0x73, 0x01, 0x64, 0x6d, 0x6f, 0x64, 0x65, 0x62, 0x6f, 0x6e}, vals[:0])
	if err != nil {
		fmt.Println(err)
		return
	}
	bus, _ := doc.Values[doc.Lookup(0, "bus")].Int64()
	fmt.Println(bus, doc.Values[doc.Lookup(0, "mode")].IsText("on"), doc.Lookup(0, "rate"))

	_, err = cbor.Parse([]byte{0x9f, 0xff}, vals[:0]) // an indefinite-length array
	fmt.Println(err)
	// Output:
	// 1 true -1
	// cbor: indefinite lengths are not supported
}
