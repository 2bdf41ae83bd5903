//go:build !wasip1

// Native tests: they stand in for the host through Native (imports_native.go).

package gwabi

import (
	"encoding/hex"
	"strings"
	"testing"

	"coapgw.example/wasm-src/cbor"
)

// fakeHost records what the guest wrappers pass to the imports.
type fakeHost struct {
	NoHost
	input  []byte
	output []byte
	logs   []string
	last   struct{ bus, addr, reg uint32 }
	result int32
	// The length of an output the host refused as too large.
	refused int
}

func (f *fakeHost) InputRead(dst []byte) int32 { return int32(copy(dst, f.input)) }
func (f *fakeHost) OutputWrite(src []byte) int32 {
	// As the gateway's host does: an output over the limit is refused, and the earlier one kept.
	if len(src) > MaxOutput {
		f.refused = len(src)
		return int32(BadArgument)
	}
	f.output = append(f.output[:0], src...)
	return int32(len(src))
}
func (f *fakeHost) Log(level uint32, msg []byte) { f.logs = append(f.logs, string(msg)) }
func (f *fakeHost) I2CReadReg(bus, addr, reg uint32, dst []byte) int32 {
	f.last.bus, f.last.addr, f.last.reg = bus, addr, reg
	for i := range dst {
		dst[i] = byte(0xA0 + i)
	}
	return f.result
}

func withHost(t *testing.T, f *fakeHost) {
	old := Native
	Native = f
	t.Cleanup(func() { Native = old })
}

func TestStatusTable(t *testing.T) {
	want := map[Status]string{0: "OK", -1: "NOT_READY", -2: "I2C_NACK", -3: "I2C_BUS", -4: "I2C_TIMEOUT",
		-5: "DENIED", -6: "BAD_ARGUMENT", -7: "WRONG_DEVICE", -8: "BAD_CONFIG", -9: "BAD_REQUEST",
		-10: "NOT_INITIALIZED", -11: "INTERNAL", -12: "I2C_UNAVAILABLE"}
	for s, name := range want {
		if s.Name() != name {
			t.Errorf("%d: %s, want %s", s, s.Name(), name)
		}
		if code := strings.ReplaceAll(strings.ToLower(name), "_", "-"); s.Code() != code {
			t.Errorf("%d: code %s, want %s", s, s.Code(), code)
		}
	}
	if Status(-13).Name() != "RATE_LIMITED" || Status(-14).Name() != "UNKNOWN" || Status(1).Code() != "internal" {
		t.Errorf("unknown statuses")
	}
	if FromImport(4) != OK || FromImport(-5) != Denied || FromImport(-99) != Internal {
		t.Errorf("FromImport")
	}
}

func TestAppendError(t *testing.T) {
	got := hex.EncodeToString(AppendError(nil, NotReady, 35, "x"))
	// {"code": "not-ready", "retryAfterMs": 35, "detail": "x"}
	want := "a3" + "64636f6465" + "696e6f742d7265616479" + "6c726574727941667465724d73" + "1823" + "6664657461696c" + "6178"
	if got != want {
		t.Errorf("got %s\nwant %s", got, want)
	}
	if got := hex.EncodeToString(AppendError(nil, BadRequest, 0, "")); got != "a164636f64656b6261642d72657175657374" {
		t.Errorf("code only: %s", got)
	}
}

func TestReadInputAndOutput(t *testing.T) {
	f := &fakeHost{input: []byte{0xa0}}
	withHost(t, f)
	in, err := ReadInput(1)
	if err != nil || len(in) != 1 || in[0] != 0xa0 {
		t.Fatalf("ReadInput: %x %v", in, err)
	}
	if _, err := ReadInput(2); err != ErrInputShort {
		t.Errorf("short input: %v", err)
	}
	if _, err := ReadInput(MaxInput + 1); err != ErrInputTooLarge {
		t.Errorf("large input: %v", err)
	}
	if in, err := ReadInput(0); err != nil || len(in) != 0 {
		t.Errorf("empty input: %v", err)
	}
	if r := WriteError(Denied, 0, "no"); r != -5 {
		t.Errorf("WriteError returned %d", r)
	}
	d, err := cbor.Parse(f.output, make([]cbor.Value, 0, 8))
	if err != nil || !d.Values[d.Lookup(0, "code")].IsText("denied") {
		t.Errorf("error output %x %v", f.output, err)
	}
	// Refused by the host, not by the kit: the host must see it to report bad output
	// (GW_ERR_MODULE_BAD_OUTPUT) rather than a bad argument.
	if r := WriteOutput(make([]byte, MaxOutput+1)); r != int32(BadArgument) || f.refused != MaxOutput+1 {
		t.Errorf("oversized output: %d, host saw %d bytes", r, f.refused)
	}
	Log(LogInfo, "hello")
	if len(f.logs) != 1 || f.logs[0] != "hello" {
		t.Errorf("logs %q", f.logs)
	}
}

func TestI2CWrappers(t *testing.T) {
	f := &fakeHost{}
	withHost(t, f)
	var buf [2]byte
	if st := (Device{Bus: 1, Addr: 0x48}).ReadReg(1, buf[:]); st != OK || buf != [2]byte{0xA0, 0xA1} {
		t.Errorf("ReadReg: %d %x", st, buf)
	}
	if f.last.bus != 1 || f.last.addr != 0x48 || f.last.reg != 1 {
		t.Errorf("args %+v", f.last)
	}
	f.result = 2
	if st := I2CReadReg(1, 0x48, 0, buf[:]); st != OK {
		t.Errorf("byte count as success: %d", st)
	}
	f.result = 1
	if st := I2CReadReg(1, 0x48, 0, buf[:]); st != I2CBus {
		t.Errorf("short read: %d", st)
	}
	f.result = -2
	if st := I2CReadReg(1, 0x48, 0, buf[:]); st != I2CNack {
		t.Errorf("nack: %d", st)
	}
	if st := I2CReadReg(1, 0x48, 0, make([]byte, 33)); st != BadArgument {
		t.Errorf("33-byte transfer: %d", st)
	}
	Native = NoHost{}
	if st := I2CWrite(1, 0x48, buf[:]); st != I2CUnavailable {
		t.Errorf("no host: %d", st)
	}
}

func enc(build func([]byte) []byte) []byte { return build(nil) }

func TestParseInit(t *testing.T) {
	vals := make([]cbor.Value, 0, 32)
	good := enc(func(b []byte) []byte {
		b = cbor.AppendMapHeader(b, 3)
		b = cbor.AppendInt(cbor.AppendText(b, "bus"), 1)
		b = cbor.AppendInt(cbor.AppendText(b, "address"), 0x48)
		b = cbor.AppendMapHeader(cbor.AppendText(b, "settings"), 0)
		return b
	})
	ii, st, detail := ParseInit(good, vals)
	if st != OK || ii.Bus != 1 || ii.Address != 0x48 || ii.Settings < 0 {
		t.Fatalf("good: %+v %d %s", ii, st, detail)
	}
	bad := map[string][]byte{
		"not cbor":  {0x1c},
		"not a map": {0x80},
		"no bus": enc(func(b []byte) []byte {
			return cbor.AppendInt(cbor.AppendText(cbor.AppendMapHeader(b, 1), "address"), 0x48)
		}),
		"no address": enc(func(b []byte) []byte {
			return cbor.AppendInt(cbor.AppendText(cbor.AppendMapHeader(b, 1), "bus"), 1)
		}),
		"address 0x80": enc(func(b []byte) []byte {
			b = cbor.AppendInt(cbor.AppendText(cbor.AppendMapHeader(b, 2), "bus"), 1)
			return cbor.AppendInt(cbor.AppendText(b, "address"), 0x80)
		}),
		"bus -1": enc(func(b []byte) []byte {
			b = cbor.AppendInt(cbor.AppendText(cbor.AppendMapHeader(b, 2), "bus"), -1)
			return cbor.AppendInt(cbor.AppendText(b, "address"), 0x48)
		}),
		"bus float": enc(func(b []byte) []byte {
			b = cbor.AppendFloat(cbor.AppendText(cbor.AppendMapHeader(b, 2), "bus"), 1.5)
			return cbor.AppendInt(cbor.AppendText(b, "address"), 0x48)
		}),
		"unknown key": enc(func(b []byte) []byte {
			b = cbor.AppendInt(cbor.AppendText(cbor.AppendMapHeader(b, 3), "bus"), 1)
			b = cbor.AppendInt(cbor.AppendText(b, "address"), 0x48)
			return cbor.AppendNull(cbor.AppendText(b, "sensor"))
		}),
		"repeated key": enc(func(b []byte) []byte {
			b = cbor.AppendInt(cbor.AppendText(cbor.AppendMapHeader(b, 3), "bus"), 1)
			b = cbor.AppendInt(cbor.AppendText(b, "address"), 0x48)
			return cbor.AppendInt(cbor.AppendText(b, "bus"), 2)
		}),
		"settings not a map": enc(func(b []byte) []byte {
			b = cbor.AppendInt(cbor.AppendText(cbor.AppendMapHeader(b, 3), "bus"), 1)
			b = cbor.AppendInt(cbor.AppendText(b, "address"), 0x48)
			return cbor.AppendArrayHeader(cbor.AppendText(b, "settings"), 0)
		}),
	}
	for name, in := range bad {
		if _, st, detail := ParseInit(in, vals); st != BadConfig || detail == "" {
			t.Errorf("%s: status %d detail %q", name, st, detail)
		}
	}
	long := cbor.AppendText(cbor.AppendMapHeader(nil, 1), strings.Repeat("é", 40))
	long = cbor.AppendNull(long)
	_, _, detail = ParseInit(long, vals)
	if out := AppendError(nil, BadConfig, 0, detail); func() error { _, err := cbor.Parse(out, vals); return err }() != nil {
		t.Errorf("detail with a cut key is not valid UTF-8: %q", detail)
	}
}

func TestCheckReadInput(t *testing.T) {
	if st, _ := CheckReadInput(nil); st != OK {
		t.Errorf("empty")
	}
	if st, _ := CheckReadInput([]byte{0xa0}); st != OK {
		t.Errorf("{}")
	}
	for _, in := range [][]byte{{0xa1, 0x61, 0x61, 0x01}, {0x80}, {0xf6}, {0xa0, 0x00}, {0xff}} {
		if st, _ := CheckReadInput(in); st != BadRequest {
			t.Errorf("%x accepted", in)
		}
	}
}
