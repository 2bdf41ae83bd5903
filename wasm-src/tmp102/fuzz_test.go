package tmp102

import (
	"testing"
	"time"

	"coapgw.example/wasm-src/gwabi"
)

// FuzzInit: gw_init's input is whatever the gateway's configuration holds for the sensor
// (settings, alert limits). Any bytes must give OK or a refusal with an error output, never
// a panic; a refused input must not have written the chip (docs/module-abi.md, "Lifecycle").
func FuzzInit(f *testing.F) {
	f.Add(initInput(alertMap("high", 30, "low", 20), 1, 0x48))
	f.Add(initInput(nil, 1, 0x48))
	f.Add(initInput(alertMap("high", 20, "low", 30), 1, 0x48))
	f.Add([]byte{0xa1, 0x63, 'b', 'u', 's', 0x01})
	f.Add([]byte{0xff})
	f.Fuzz(func(t *testing.T, input []byte) {
		clk := &fakeClock{t: 5 * time.Second}
		c := newChip(clk)
		m := &Module{Driver: Driver{Now: clk.Now, Sleep: clk.Sleep}, Open: func(bus, addr uint8) Bus { return c }}
		st, out := m.Init(input, nil)
		if st != gwabi.OK {
			if len(out) == 0 {
				t.Fatalf("status %d without an error output for % x", st, input)
			}
			if len(c.writes) != 0 || len(c.limits) != 0 {
				t.Fatalf("refused input % x wrote the chip: config %v, limits %v", input, c.writes, c.limits)
			}
			return
		}
		clk.t += time.Second
		m.Read(nil, nil)
	})
}
