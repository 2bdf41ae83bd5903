//go:build !wasip1

// gwtest is built natively only.

package tmp102

import (
	"strings"
	"testing"
	"time"

	"coapgw.example/wasm-src/cbor"
	"coapgw.example/wasm-src/gwabi"
	"coapgw.example/wasm-src/gwabi/gwtest"
)

// Through the module and the gwtest host (the gateway's answers), with the log wired as
// modules/tmp102 wires it: the warn line reaches the host.
func TestModuleLogsTheRestoreToTheHost(t *testing.T) {
	h := gwtest.New(t)
	chip := gwtest.NewChip(0x48).SetWord(RegTemp, c21_5).SetWord(RegConfig, PowerOnConfig).
		SetWord(RegTLow, PowerOnTLow).SetWord(RegTHigh, PowerOnTHigh)
	h.Attach(1, chip)
	clk := &fakeClock{t: 5 * time.Second}
	m := &Module{
		Driver: Driver{Now: clk.Now, Sleep: clk.Sleep, Log: gwabi.Log},
		Open:   func(bus, addr uint8) Bus { return gwabi.Device{Bus: bus, Addr: addr} },
	}
	alert := func(b []byte) []byte {
		b = cbor.AppendMapHeader(cbor.AppendText(b, "alert"), 2)
		return cbor.AppendFloat(cbor.AppendText(cbor.AppendFloat(cbor.AppendText(b, "high"), 30), "low"), 25)
	}
	if st, out := m.Init(gwtest.InitInput(1, 0x48, alert(cbor.AppendMapHeader(nil, 1))), nil); st != gwabi.OK {
		t.Fatalf("%d %x", st, out)
	}
	clk.t += time.Second
	chip.SetWord(RegConfig, PowerOnConfig).SetWord(RegTLow, PowerOnTLow).SetWord(RegTHigh, PowerOnTHigh)
	if st, out := m.Read(nil, nil); st != gwabi.OK {
		t.Fatalf("%d %x", st, out)
	}
	if chip.Word(RegTHigh) != 0x1E00 || chip.Word(RegTLow) != 0x1900 {
		t.Errorf("limits %04x/%04x", chip.Word(RegTHigh), chip.Word(RegTLow))
	}
	if len(h.Logs) != 1 || h.Logs[0].Level != gwabi.LogWarn || !strings.HasPrefix(h.Logs[0].Text, "chip reset detected: T_HIGH 0x5000") {
		t.Errorf("host log %+v", h.Logs)
	}
}
