// The files `npm run new-module` writes (wasm-src/new-module.mjs): a sensor module skeleton that
// builds for GOOS=wasip1 and whose tests pass as generated, against the module kit in this
// checkout (wasm-src/, "The module kit" in wasm-src/README.md). Kept apart from the command so
// the templates read as the files they become. They are JavaScript strings, not .go files:
// Go source under wasm-src/ would be compiled as part of the kit.

/** The kit's module path and version: wasm-src/go.mod and gwabi.Version. */
export const KIT_PATH = 'coapgw.example/wasm-src';
export const KIT_VERSION = 'v1.1.0';

const hex = (n) => `0x${n.toString(16).padStart(2, '0')}`;

/**
 * @param {{ name: string, address: number, dir: string, kitDir: string, gatewayDir: string }} o
 * @returns {Record<string, string>} file name -> contents
 */
export function moduleFiles({ name, address, dir, kitDir, gatewayDir }) {
  const addr = hex(address);
  return {
    'go.mod': `// The ${name} sensor module for coap-sensor-gateway. Change the module path to your own
// (go mod edit -module ...): nothing imports a module's main package, so any path works.
module example.com/${name}

go 1.24

require ${KIT_PATH} ${KIT_VERSION}

// The module kit from the gateway checkout this module was generated from, so it builds
// offline (wasm-src/README.md, "The module kit"). Moved the checkout? go mod edit -replace.
replace ${KIT_PATH} => ${kitDir}
`,

    'main.go': `//go:build wasip1

// Command ${name} is a sensor module for coap-sensor-gateway (module ABI version 1,
// docs/module-abi.md in the gateway's repository). Built as a WASI reactor
// (-buildmode=c-shared): main never runs; the host calls _initialize, then gw_abi_version,
// gw_init and gw_read. This file only exports; the bodies are in module.go, so that the tests
// (module_test.go) call them natively through the kit's test double, gwabi/gwtest.
package main

import "${KIT_PATH}/gwabi"

//go:wasmexport gw_abi_version
func gwABIVersion() int32 { return gwabi.ABIVersion }

//go:wasmexport gw_init
func gwInit(inputLen int32) int32 { return initExport(inputLen) }

//go:wasmexport gw_read
func gwRead(inputLen int32) int32 { return readExport(inputLen) }
`,

    'module.go': `package main

import (
	"${KIT_PATH}/cbor"
	"${KIT_PATH}/gwabi"
)

// Identity announced by gw_init (docs/module-abi.md, "gw_init output on success").
const (
	moduleName    = "${name}"
	moduleVersion = "0.1.0"
)

// module is one instance's state. The host calls one export at a time per instance
// (docs/module-abi.md, "Lifecycle"), so plain package state is safe.
type module struct {
	vals   [32]cbor.Value // the decoded gw_init input: static, no heap use per call
	driver Driver
	ready  bool // a gw_init succeeded
}

var mod module

// initExport is gw_init: check the whole input, talk to the chip, announce the sensor. A
// refused call changes nothing (docs/module-abi.md, "Lifecycle", step 4).
func initExport(inputLen int32) int32 {
	ii, st := gwabi.ReadInit(inputLen, mod.vals[:0])
	if st != gwabi.OK {
		return int32(st) // ReadInit wrote the failure output
	}
	// No settings yet: refuse any, so that a typo in the gateway configuration is an error
	// rather than a silent default. Parse your settings here (ii.Doc, ii.Settings).
	if ii.Settings >= 0 && ii.Doc.Values[ii.Settings].N > 0 {
		return gwabi.WriteError(gwabi.BadConfig, 0, "${name} takes no settings yet")
	}
	d := Driver{Bus: gwabi.Device{Bus: ii.Bus, Addr: ii.Address}}
	// One read before announcing the sensor: a chip that does not answer fails gw_init with
	// the I2C status, which the gateway logs and retries (docs/module-abi.md, "Statuses at gw_init").
	if _, st := d.Read(); st != gwabi.OK {
		return gwabi.WriteError(st, 0, "the chip did not answer a read of its result register")
	}
	mod.driver, mod.ready = d, true
	gwabi.Log(gwabi.LogDebug, "${name}: configured")
	out := gwabi.AppendSensorInfo(gwabi.OutputBuffer(), moduleName, moduleVersion, Quantity, Unit, PeriodMs, LSB)
	gwabi.WriteOutput(out)
	return int32(gwabi.OK)
}

// readExport is gw_read: one reading, {"value", "raw", "bits"}.
func readExport(inputLen int32) int32 {
	in, err := gwabi.ReadInput(inputLen)
	if err != nil {
		return gwabi.WriteError(gwabi.BadRequest, 0, err.Error())
	}
	if st, detail := gwabi.CheckReadInput(in); st != gwabi.OK {
		return gwabi.WriteError(st, 0, detail)
	}
	if !mod.ready {
		return gwabi.WriteError(gwabi.NotInitialized, 0, "gw_read before a successful gw_init")
	}
	r, st := mod.driver.Read()
	if st != gwabi.OK {
		return gwabi.WriteError(st, 0, "reading the result register failed")
	}
	gwabi.WriteOutput(gwabi.AppendReading(gwabi.OutputBuffer(), r.Value, int64(r.Raw), Bits))
	return int32(gwabi.OK)
}

// main never runs in a reactor; it is here so that the package also builds natively.
func main() {}
`,

    'driver.go': `package main

import "${KIT_PATH}/gwabi"

// Bus is the register bus of one chip: gwabi.Device in the module, a gwtest.Chip in tests.
// Bytes are in wire order, first byte on the bus first.
type Bus interface {
	ReadReg(reg uint8, buf []byte) gwabi.Status
	WriteReg(reg uint8, data []byte) gwabi.Status
}

// What the skeleton reads: a 16-bit result register holding a 12-bit two's complement
// temperature, left-justified, 0.0625 °C per count. That is the layout of the TMP102 (SBOS397,
// "Temperature Register") and of LM75-class chips at 12 bits, so the gateway's simulated
// TMP102 answers it. Replace these with your chip's datasheet values.
const (
	RegResult = 0x00          // result register (pointer value)
	Bits      = 12            // significant bits of the result
	LSB       = 0.0625        // value of one count, in Unit
	Quantity  = "temperature" // what the value measures
	Unit      = "Cel"         // SenML unit (RFC 8428, section 12.1)
	PeriodMs  = 1000          // how often the chip has a new value; 10 to 3,600,000 ms
)

// Reading is one measurement.
type Reading struct {
	Value float64 // in Unit
	Raw   uint16  // the register as read, for diagnostics
}

// Driver reads the chip through a Bus.
type Driver struct {
	Bus Bus
}

// Read reads the result register and converts it.
func (d Driver) Read() (Reading, gwabi.Status) {
	var buf [2]byte
	if st := d.Bus.ReadReg(RegResult, buf[:]); st != gwabi.OK {
		return Reading{}, st
	}
	raw := uint16(buf[0])<<8 | uint16(buf[1]) // MSB first on the wire
	return Reading{Value: Convert(raw), Raw: raw}, gwabi.OK
}

// Convert turns the register word into Unit: the top Bits bits, two's complement, times LSB
// (an arithmetic shift keeps the sign).
func Convert(raw uint16) float64 {
	return float64(int16(raw)>>(16-Bits)) * LSB
}
`,

    'driver_test.go': `//go:build !wasip1

package main

import (
	"testing"

	"${KIT_PATH}/gwabi"
	"${KIT_PATH}/gwabi/gwtest"
)

// The 12-bit rows of the TMP102 datasheet (SBOS397, "12-Bit Temperature Data Format"), the
// digital output shifted into the top of the word. Replace with your chip's table.
func TestConvertMatchesTheDatasheet(t *testing.T) {
	for _, c := range []struct {
		count uint16
		want  float64
	}{
		{0x7FF, 127.9375}, {0x640, 100}, {0x190, 25}, {0x004, 0.25}, {0x000, 0},
		{0xFFC, -0.25}, {0xE70, -25}, {0xC90, -55},
	} {
		if got := Convert(c.count << 4); got != c.want {
			t.Errorf("count %#03x: %v, want %v", c.count, got, c.want)
		}
	}
}

// The driver alone, against a simulated chip used as a Bus (no host).
func TestDriverReadsTheResultRegister(t *testing.T) {
	chip := gwtest.NewChip(${addr}).SetWord(RegResult, 0xE700)
	r, st := Driver{Bus: chip}.Read()
	if st != gwabi.OK || r.Value != -25 || r.Raw != 0xE700 {
		t.Fatalf("%s %+v", st.Name(), r)
	}
	chip.Fail(gwabi.I2CNack)
	if _, st := (Driver{Bus: chip}).Read(); st != gwabi.I2CNack {
		t.Errorf("a NACK read as %s", st.Name())
	}
}
`,

    'module_test.go': `//go:build !wasip1

package main

import (
	"testing"

	"${KIT_PATH}/gwabi"
	"${KIT_PATH}/gwabi/gwtest"
)

const testAddress = ${addr}

// setUp gives each test a fresh module and a fake gateway host (gwtest) with the simulated
// chip on bus 1; the host stays installed until the test ends (so no t.Parallel).
func setUp(t *testing.T) (*gwtest.Host, *gwtest.Chip) {
	mod = module{}
	h := gwtest.New(t)
	chip := gwtest.NewChip(testAddress).SetWord(RegResult, 0x1580) // 21.5 °C: 344 counts << 4
	h.Attach(1, chip)
	return h, chip
}

func TestInitAnnouncesTheSensor(t *testing.T) {
	h, _ := setUp(t)
	r := h.Call(initExport, gwtest.InitInput(1, testAddress, nil))
	if r.Status != gwabi.OK {
		t.Fatalf("gw_init: %s", r)
	}
	if name, _ := r.Text("name"); name != moduleName {
		t.Errorf("name %q", name)
	}
	if unit, _ := r.Text("unit"); unit != Unit {
		t.Errorf("unit %q", unit)
	}
	if res, _ := r.Float("resolution"); res != LSB {
		t.Errorf("resolution %v", res)
	}
}

func TestReadReturnsTheChipsValue(t *testing.T) {
	h, chip := setUp(t)
	if r := h.Call(initExport, gwtest.InitInput(1, testAddress, nil)); r.Status != gwabi.OK {
		t.Fatalf("gw_init: %s", r)
	}
	r := h.Call(readExport, nil)
	value, _ := r.Float("value")
	raw, _ := r.Int("raw")
	bits, _ := r.Int("bits")
	if r.Status != gwabi.OK || value != 21.5 || raw != 0x1580 || bits != Bits {
		t.Fatalf("gw_read: %s: value %v raw %#x bits %d", r, value, raw, bits)
	}
	chip.SetWord(RegResult, 0xF3C0) // -12.25 °C
	if v, _ := h.Call(readExport, nil).Float("value"); v != -12.25 {
		t.Errorf("after a change: %v", v)
	}
}

func TestReadBeforeInitIsRefused(t *testing.T) {
	h, _ := setUp(t)
	if r := h.Call(readExport, nil); r.Status != gwabi.NotInitialized {
		t.Errorf("gw_read first: %s", r)
	}
}

func TestUnknownSettingsAreRefused(t *testing.T) {
	h, _ := setUp(t)
	settings := []byte{0xa1, 0x64, 'r', 'a', 't', 'e', 0x01} // {"rate": 1}
	if r := h.Call(initExport, gwtest.InitInput(1, testAddress, settings)); r.Status != gwabi.BadConfig {
		t.Errorf("gw_init with settings: %s", r)
	}
}

func TestAFailedTransferIsReportedWithItsStatus(t *testing.T) {
	h, chip := setUp(t)
	if r := h.Call(initExport, gwtest.InitInput(1, testAddress, nil)); r.Status != gwabi.OK {
		t.Fatalf("gw_init: %s", r)
	}
	chip.Fail(gwabi.I2CNack)
	r := h.Call(readExport, nil)
	if detail, _ := r.Text("detail"); r.Status != gwabi.I2CNack || detail == "" {
		t.Errorf("gw_read on a NACK: %s", r)
	}
}

func TestNoChipAtTheAddressFailsInit(t *testing.T) {
	h, _ := setUp(t)
	h.Grant(1, testAddress+1)
	if r := h.Call(initExport, gwtest.InitInput(1, testAddress+1, nil)); r.Status != gwabi.I2CNack {
		t.Errorf("gw_init with no chip: %s", r)
	}
}
`,

    'gateway.json': `${JSON.stringify(
      {
        driver: 'auto',
        sensors: [{ name, path: `/${name}`, module: `${name}.wasm`, bus: 1, address: addr }],
      },
      null,
      2,
    )}
`,

    '.gitignore': `${name}.wasm
`,

    'README.md': `# ${name}: a sensor module for coap-sensor-gateway

Generated by \`npm run new-module -- ${name}\` in the gateway's checkout (${gatewayDir}). A
WebAssembly module (WASI preview1 reactor) that the gateway loads to read one chip over I2C;
the contract is the gateway's \`docs/module-abi.md\`, the kit it builds on is \`wasm-src/\`
(module \`${KIT_PATH}\`, its README's "The module kit").

| file | what |
|---|---|
| \`driver.go\` | the chip: its registers and conversion, against a small \`Bus\` interface |
| \`module.go\` | \`gw_init\` and \`gw_read\`: input checks, the driver, the outputs |
| \`main.go\` | the three exports (built only for \`GOOS=wasip1\`) |
| \`driver_test.go\`, \`module_test.go\` | tests against a simulated chip (\`gwabi/gwtest\`), no gateway needed |
| \`gateway.json\` | a gateway configuration serving this module at \`/${name}\` |

As generated, the driver reads a 16-bit result register (0x00) as a 12-bit left-justified
temperature, the TMP102 layout, at address ${addr}: on the gateway's simulated bus, where every
configured sensor has a simulated TMP102, it reads that chip's temperature.

## Next steps

1. Write your chip's driver: registers, conversion and \`Quantity\`/\`Unit\`/\`PeriodMs\` in
   \`driver.go\` from its datasheet; settings (if any) in \`initExport\`, \`module.go\`.
2. Test it natively, against a simulated chip:

       go test ./...

   \`gwtest.NewChip(addr).SetReg(...)\` models the chip's registers; \`OnWrite\`/\`OnRead\` add
   behaviour; \`chip.Fail(gwabi.I2CNack)\` makes its next transfer fail.
3. Build the module (Go 1.24 or newer, for \`//go:wasmexport\`):

       GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -trimpath -o ${name}.wasm .

   TinyGo (0.34 or newer; not verified by the gateway's tests):

       tinygo build -target=wasip1 -buildmode=c-shared -scheduler=none -no-debug -o ${name}.wasm .

4. Run it in the gateway, from the gateway's checkout (without I2C hardware the bus is
   simulated; \`--driver simulated\` forces that on a Raspberry Pi):

       npm start -- --config ${dir}/gateway.json

   then read it with any CoAP client, e.g. \`npm run client -- get coap://127.0.0.1/${name}\`. The configuration
   entry (\`gateway.json\`; \`docs/configuration.md\` lists every field):

       { "name": "${name}", "path": "/${name}", "module": "${name}.wasm", "bus": 1, "address": "${addr}" }

   \`module\` is relative to the configuration file. On real hardware, give the bus and
   address your chip is wired to; the module may touch only that address unless a \`grant\`
   says otherwise.

## The kit dependency

\`go.mod\` requires \`${KIT_PATH} ${KIT_VERSION}\` and replaces it with the gateway checkout's
\`wasm-src/\`, so everything builds offline. If the checkout moves:

    go mod edit -replace ${KIT_PATH}=/path/to/coap-sensor-gateway/wasm-src
`,
  };
}
