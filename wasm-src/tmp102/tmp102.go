// Package tmp102 is the TMP102 driver logic of the tmp102 sensor module: pure Go,
// independent of WebAssembly, written against a register Bus and an injected clock
// so it is tested natively (go test) against a register-level chip model.
//
// References: TI TMP102 datasheet SBOS397 (cited below by section title, because
// section numbers differ between revisions) and the Linux hwmon driver
// drivers/hwmon/tmp102.c, whose identity check and 35 ms readiness rule this follows.
package tmp102

import (
	"time"

	"coapgw.example/wasm-src/gwabi"
)

// Bus is one I2C device's registers. Bytes are in wire order (the TMP102 sends and
// takes the MSB first: SBOS397 "Temperature Register", "Configuration Register").
// Both methods return gwabi.OK or the negative status of the failed transfer.
// gwabi.Device implements it over the `gw` imports.
type Bus interface {
	ReadReg(reg uint8, buf []byte) gwabi.Status
	WriteReg(reg uint8, data []byte) gwabi.Status
}

// Pointer register values (SBOS397 "Pointer Register": P1P0; P7..P2 are 0).
const (
	RegTemp   = 0x00 // read-only
	RegConfig = 0x01
	RegTLow   = 0x02
	RegTHigh  = 0x03
)

// Configuration register bits as a 16-bit word, byte 1 (sent first) in the high
// half: OS R1 R0 F1 F0 POL TM SD | CR1 CR0 AL EM 0 0 0 0 (SBOS397 "Configuration
// Register", power-up/reset value 0x60A0). Same values as tmp102.c's TMP102_CONF_*.
const (
	CfgOS  = 0x8000 // one-shot / conversion ready
	CfgR1  = 0x4000 // converter resolution, read-only, reads 1
	CfgR0  = 0x2000 // converter resolution, read-only, reads 1
	CfgF1  = 0x1000 // fault queue
	CfgF0  = 0x0800 // fault queue
	CfgPOL = 0x0400 // ALERT polarity
	CfgTM  = 0x0200 // thermostat mode
	CfgSD  = 0x0100 // shutdown
	CfgCR1 = 0x0080 // conversion rate
	CfgCR0 = 0x0040 // conversion rate
	CfgAL  = 0x0020 // alert, read-only
	CfgEM  = 0x0010 // extended (13-bit) mode

	// PowerOnConfig is the power-up/reset value of the configuration register.
	PowerOnConfig = 0x60A0
	// PowerOnTHigh and PowerOnTLow are the power-up/reset values of the limit registers,
	// 80 °C and 75 °C in the 12-bit layout (SBOS397 "High- and Low-Limit Registers").
	PowerOnTHigh = 0x5000
	PowerOnTLow  = 0x4B00

	// identityMask: every bit that may legitimately vary (writable bits plus OS and
	// AL), as TMP102_CONFREG_MASK in tmp102.c. What is left must read R1|R0 = 11 with
	// the four low bits of byte 2 zero; anything else is not a TMP102 (-ENODEV there).
	identityMask  = CfgSD | CfgTM | CfgPOL | CfgF0 | CfgF1 | CfgOS | CfgEM | CfgAL | CfgCR0 | CfgCR1
	identityValue = CfgR1 | CfgR0

	// alertMask: the thermostat bits (fault queue, polarity, thermostat mode). The
	// driver writes them from the "alert" setting, or as it read them without one.
	alertMask = CfgF1 | CfgF0 | CfgPOL | CfgTM

	// verifyMask: bits that must read back exactly as written (not OS, whose read
	// meaning differs from its write meaning, and not the read-only AL).
	verifyMask = CfgR1 | CfgR0 | alertMask | CfgSD | CfgCR1 | CfgCR0 | CfgEM
)

// Timing from SBOS397 "Electrical Characteristics" (conversion time 26 ms typical,
// 35 ms maximum) and "One-Shot/Conversion Ready (OS)".
const (
	ConversionTimeMax = 35 * time.Millisecond
	ConversionTimeTyp = 26 * time.Millisecond
	// OneShotPollStep is the wait between OS polls once the typical time has passed.
	OneShotPollStep = 2 * time.Millisecond
	// OneShotLimit bounds a one-shot conversion: well past the 35 ms maximum, so a
	// chip that never reports completion is a fault, not a slow conversion.
	OneShotLimit = 60 * time.Millisecond
)

// LSB is the value of one temperature LSB in both 12- and 13-bit formats, in °C
// (SBOS397 "Temperature Register").
const LSB = 0.0625

// Decode converts a temperature register (wire order MSB<<8|LSB) to °C.
//
// The format comes from the register itself, not from what the driver configured:
// bit D0 of byte 2 reads 1 in extended mode (EM=1), where the value is 13 bits,
// left-justified with 3 low bits; in normal mode it is 12 bits with 4 low zero
// bits (SBOS397 "Temperature Register", "Extended Mode (EM)"). An arithmetic shift
// of the register as int16 keeps two's complement negative values negative.
func Decode(raw uint16) (celsius float64, bits int) {
	if raw&1 != 0 {
		return float64(int16(raw)>>3) * LSB, 13
	}
	return float64(int16(raw)>>4) * LSB, 12
}
