// Package sht3x is the Sensirion SHT3x-DIS (SHT30, SHT31, SHT35) driver logic of the sht3x
// sensor module: pure Go, independent of WebAssembly, written against a command Bus and an
// injected clock so it is tested natively (go test) against a command-level chip model.
//
// References: Sensirion "Datasheet SHT3x-DIS", version 6, February 2019 (cited by section and
// table), and the Linux hwmon driver drivers/hwmon/sht3x.c, whose choice this follows: single
// shot measurements without clock stretching, then a wait of the maximum measurement time
// (the Raspberry Pi's bcm2835 I2C controller mishandles some clock stretching:
// raspberrypi/linux issues 254 and 4884).
package sht3x

import (
	"time"

	"coapgw.example/wasm-src/gwabi"
)

// Bus is one I2C device without registers: the SHT3x takes a 16-bit command, MSB first, in
// one write (section 4.2), and answers a later plain read (section 4.4). Both methods return
// gwabi.OK or the negative status of the failed transfer. gwabi.Device implements it.
type Bus interface {
	Write(data []byte) gwabi.Status
	Read(buf []byte) gwabi.Status
}

// Addresses by the ADDR pin (Table 7 "I2C device address"): 0x44 with ADDR low (the default
// of most breakout boards), 0x45 with ADDR high.
const (
	AddressADDRLow  = 0x44
	AddressADDRHigh = 0x45
)

// Commands (16 bits, sent MSB first; section 4.2). Each code carries its own 3-bit checksum,
// so a code with one bit flipped is not another command but an invalid one.
const (
	// Single shot, clock stretching disabled (Table 9): the chip NACKs a read header until the
	// result is ready, so the driver waits the maximum measurement time first.
	CmdSingleShotHigh   = 0x2400
	CmdSingleShotMedium = 0x240B
	CmdSingleShotLow    = 0x2416
	CmdSoftReset        = 0x30A2 // section 4.9, Table 14
	CmdHeaterOn         = 0x306D // section 4.10, Table 16
	CmdHeaterOff        = 0x3066
	CmdReadStatus       = 0xF32D // section 4.11, Table 17: one word and its CRC
)

// Status register bits (Table 17).
const (
	StatusAlertPending  = 1 << 15
	StatusHeaterOn      = 1 << 13
	StatusResetDetected = 1 << 4 // set by a hard reset, a soft reset or a supply failure
	StatusCommandFailed = 1 << 1 // the last command was not processed (invalid, or a checksum failed)
)

// Timing from Table 4 "System timing specifications" (maximum values: what a driver must wait)
// and section 4.
const (
	MeasurementTimeHigh   = 15 * time.Millisecond
	MeasurementTimeMedium = 6 * time.Millisecond
	MeasurementTimeLow    = 4 * time.Millisecond
	SoftResetTime         = 1500 * time.Microsecond
	// CommandSpacing: "After sending a command to the sensor a minimal waiting time of 1 ms is
	// needed before another command can be received by the sensor" (section 4).
	CommandSpacing = time.Millisecond
	// Margin is added to every wait above. Waiting exactly the datasheet's time can land a hair
	// short when the driver's clock and the chip's (or a host's millisecond float) round apart;
	// Linux's sht3x.c sleeps with usleep_range(t, t + 1000) for the same reason. 0.1 ms is 0.7 %
	// of a high repeatability measurement.
	Margin = 100 * time.Microsecond
	// NotReadyLimit bounds how long a measurement may keep the read header NACKed before the
	// driver stops calling the chip "not ready" and reports the NACK: several times the longest
	// maximum of Table 4, so a chip that never answers is a fault, not a slow measurement.
	NotReadyLimit = 100 * time.Millisecond
)

// RawMax is the full scale of a 16-bit output: the conversion formulas divide by 2^16 - 1
// (section 4.13).
const RawMax = 65535

// Resolutions: the value of one LSB of each output (section 4.13).
const (
	CelsiusLSB   = 175.0 / RawMax
	PercentRHLSB = 100.0 / RawMax
)

// CRC-8 of section 4.12, Table 20 "I2C CRC properties": polynomial 0x31 (x^8 + x^5 + x^4 + 1),
// initialisation 0xFF, no reflection, no final XOR; example CRC(0xBEEF) = 0x92.
const (
	crcPolynomial = 0x31
	crcInit       = 0xFF
)

// CRC8 is the checksum the chip sends after every 16-bit word (and expects after every data
// word written): data in wire order, MSB first.
func CRC8(data []byte) uint8 {
	crc := uint8(crcInit)
	for _, b := range data {
		crc ^= b
		for i := 0; i < 8; i++ {
			if crc&0x80 != 0 {
				crc = crc<<1 ^ crcPolynomial
			} else {
				crc <<= 1
			}
		}
	}
	return crc
}

// Celsius converts a raw temperature S_T: T = -45 + 175 * S_T / (2^16 - 1) (section 4.13,
// equation 2). 0 is -45 °C, 0xFFFF is 130 °C.
func Celsius(raw uint16) float64 {
	return -45 + 175*float64(raw)/RawMax
}

// PercentRH converts a raw humidity S_RH: RH = 100 * S_RH / (2^16 - 1) (section 4.13,
// equation 1). Every 16-bit code gives 0..100 by this formula; the clamp is a guard, not a
// correction: the gateway's humidity must never leave 0..100 %RH, and Sensirion's later
// formulas (the SHT4x's RH = -6 + 125 * S / (2^16 - 1)) do leave it and must be cropped, so
// the guard stays put should this conversion ever be widened.
func PercentRH(raw uint16) float64 {
	rh := 100 * float64(raw) / RawMax
	if rh < 0 {
		return 0
	}
	if rh > 100 {
		return 100
	}
	return rh
}
