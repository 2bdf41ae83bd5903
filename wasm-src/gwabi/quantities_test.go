//go:build !wasip1

package gwabi_test

import (
	"testing"

	"coapgw.example/wasm-src/cbor"
	"coapgw.example/wasm-src/gwabi"
	"coapgw.example/wasm-src/gwabi/gwtest"
)

func parse(t *testing.T, b []byte) cbor.Doc {
	t.Helper()
	doc, err := cbor.Parse(b, make([]cbor.Value, 0, 64))
	if err != nil {
		t.Fatalf("not CBOR: %v (% x)", err, b)
	}
	return doc
}

func text(t *testing.T, doc cbor.Doc, m int, key string) string {
	t.Helper()
	i := doc.Lookup(m, key)
	if i < 0 || doc.Values[i].Kind != cbor.KindText {
		t.Fatalf("%q missing or not text", key)
	}
	return string(doc.Values[i].Bytes)
}

func number(t *testing.T, doc cbor.Doc, m int, key string) float64 {
	t.Helper()
	i := doc.Lookup(m, key)
	if i < 0 {
		t.Fatalf("%q missing", key)
	}
	f, ok := doc.Values[i].Float64()
	if !ok {
		t.Fatalf("%q is not a number", key)
	}
	return f
}

// ABI 1.1, gw_init: the 1.0 keys describe the primary quantity and equal quantities[0], which
// the host checks (docs/module-abi.md; GW_ERR_MODULE_BAD_OUTPUT otherwise); the module's own
// pairs follow.
func TestAppendQuantities(t *testing.T) {
	qs := []gwabi.Quantity{{Name: "temperature", Unit: "Cel", Resolution: 175.0 / 65535}, {Name: "humidity", Unit: "%RH", Resolution: 100.0 / 65535}}
	out := gwabi.AppendQuantities(nil, 1, "sht3x", "1.0.0", 1000, qs)
	out = cbor.AppendBool(cbor.AppendText(out, "heater"), false)
	doc := parse(t, out)
	if n := doc.Values[0].N; n != 8 {
		t.Fatalf("%d pairs, want 6 (1.0) + quantities + 1 extra", n)
	}
	if text(t, doc, 0, "name") != "sht3x" || text(t, doc, 0, "version") != "1.0.0" || number(t, doc, 0, "periodMs") != 1000 {
		t.Errorf("identity or period wrong: % x", out)
	}
	if text(t, doc, 0, "quantity") != "temperature" || text(t, doc, 0, "unit") != "Cel" || number(t, doc, 0, "resolution") != 175.0/65535 {
		t.Errorf("top-level keys are not quantities[0]: % x", out)
	}
	arr := doc.Lookup(0, "quantities")
	if arr < 0 || doc.Values[arr].Kind != cbor.KindArray {
		t.Fatalf("quantities missing or not an array")
	}
	items := doc.Items(arr, nil)
	if len(items) != len(qs) {
		t.Fatalf("%d quantities, want %d", len(items), len(qs))
	}
	for i, q := range qs {
		m := items[i]
		if doc.Values[m].N != 3 || text(t, doc, m, "name") != q.Name || text(t, doc, m, "unit") != q.Unit || number(t, doc, m, "resolution") != q.Resolution {
			t.Errorf("quantities[%d] is not %+v", i, q)
		}
	}
	if i := doc.Lookup(0, "heater"); i < 0 || doc.Values[i].Kind != cbor.KindBool {
		t.Errorf("the extra pair is lost")
	}
}

// ABI 1.1, gw_read: value/raw/bits of the primary quantity for a 1.0 host, then values and raws
// with every quantity; values[primary] equals value.
func TestAppendMeasurements(t *testing.T) {
	ms := []gwabi.Measurement{{Quantity: "temperature", Value: 25, Raw: 0x6666}, {Quantity: "humidity", Value: 40, Raw: 0x6666}, {Quantity: "dew_point", Value: 10.5}}
	doc := parse(t, gwabi.AppendMeasurements(nil, 16, ms))
	if doc.Values[0].N != 5 || number(t, doc, 0, "value") != 25 || number(t, doc, 0, "raw") != 0x6666 || number(t, doc, 0, "bits") != 16 {
		t.Fatalf("primary keys wrong")
	}
	values, raws := doc.Lookup(0, "values"), doc.Lookup(0, "raws")
	if values < 0 || raws < 0 || doc.Values[values].N != len(ms) || doc.Values[raws].N != len(ms) {
		t.Fatalf("values or raws missing or of the wrong size")
	}
	for _, m := range ms {
		if number(t, doc, values, m.Quantity) != m.Value {
			t.Errorf("values[%s] != %v", m.Quantity, m.Value)
		}
		i := doc.Lookup(raws, m.Quantity)
		if n, ok := doc.Values[i].Int64(); i < 0 || !ok || n != m.Raw {
			t.Errorf("raws[%s] != %d (an integer)", m.Quantity, m.Raw)
		}
	}
}

// A chosen catalogue code replaces the status's name in "code"; an empty one keeps it.
func TestAppendErrorCode(t *testing.T) {
	doc := parse(t, gwabi.AppendErrorCode(nil, gwabi.I2CNack, gwabi.CodeSensorNotReady, 16, "measurement running"))
	if text(t, doc, 0, "code") != "GW_ERR_SENSOR_NOT_READY" || number(t, doc, 0, "retryAfterMs") != 16 || text(t, doc, 0, "detail") != "measurement running" {
		t.Errorf("chosen code lost")
	}
	doc = parse(t, gwabi.AppendErrorCode(nil, gwabi.I2CNack, "", 0, ""))
	if text(t, doc, 0, "code") != "i2c-nack" || doc.Values[0].N != 1 {
		t.Errorf("empty code must write the status's name alone")
	}
}

// Device.Write and Device.Read are single transfers (i2c_write, i2c_read) to the granted address.
func TestDeviceWriteRead(t *testing.T) {
	h := gwtest.New(t)
	chip := gwtest.NewChip(0x44)
	chip.OnWrite = func(c *gwtest.Chip, reg uint8, data []byte) {
		c.SetReg(reg, 0xBE, 0xEF, 0x92) // what the next read returns: a word and its CRC
	}
	h.Attach(1, chip)
	dev := gwabi.Device{Bus: 1, Addr: 0x44}
	if st := dev.Write([]byte{0xF3, 0x2D}); st != gwabi.OK {
		t.Fatalf("write: %s", st.Name())
	}
	var buf [3]byte
	if st := dev.Read(buf[:]); st != gwabi.OK || buf != [3]byte{0xBE, 0xEF, 0x92} {
		t.Fatalf("read: %s % x", st.Name(), buf)
	}
	if len(h.Transfers) != 2 || h.Transfers[0].Op != "i2c_write" || h.Transfers[1].Op != "i2c_read" || h.Transfers[0].Addr != 0x44 {
		t.Errorf("transfers %+v", h.Transfers)
	}
	chip.Fail(gwabi.I2CNack)
	if st := dev.Read(buf[:]); st != gwabi.I2CNack {
		t.Errorf("a NACKed read: %s", st.Name())
	}
	if st := (gwabi.Device{Bus: 1, Addr: 0x45}).Write([]byte{0x30, 0xA2}); st != gwabi.Denied {
		t.Errorf("an address not granted: %s", st.Name())
	}
}
