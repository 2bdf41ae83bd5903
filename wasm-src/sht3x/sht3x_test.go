package sht3x

import "testing"

// Section 4.12, Table 20 "I2C CRC properties": "Example CRC (0xBEEF) = 0x92".
func TestCRC8DatasheetExample(t *testing.T) {
	if got := CRC8([]byte{0xBE, 0xEF}); got != 0x92 {
		t.Fatalf("CRC(0xBEEF) = 0x%02X, want 0x92", got)
	}
	// One bit flipped anywhere in the word changes the checksum (a CRC-8 catches every
	// single-bit error in a 16-bit word).
	for bit := 0; bit < 16; bit++ {
		w := uint16(0xBEEF) ^ 1<<bit
		if CRC8([]byte{byte(w >> 8), byte(w)}) == 0x92 {
			t.Errorf("0x%04X has the CRC of 0xBEEF", w)
		}
	}
}

// Section 4.13, equations 1 and 2, at the ends of the scale and at S = 0x6666 (2/5 of 0xFFFF),
// exact to the last bit of the double: the formulas divide by 2^16 - 1, so these land on
// round values.
func TestConversionDatasheetExamples(t *testing.T) {
	cases := []struct {
		raw       uint16
		celsius   float64
		percentRH float64
	}{
		{0x0000, -45, 0},
		{0xFFFF, 130, 100},
		{0x6666, 25, 40},
	}
	for _, c := range cases {
		if got := Celsius(c.raw); got != c.celsius {
			t.Errorf("T(0x%04X) = %v, want %v", c.raw, got, c.celsius)
		}
		if got := PercentRH(c.raw); got != c.percentRH {
			t.Errorf("RH(0x%04X) = %v, want %v", c.raw, got, c.percentRH)
		}
	}
	// One code is one LSB: 175/65535 °C and 100/65535 %RH, the resolutions gw_init reports.
	if d := Celsius(0x6667) - Celsius(0x6666); d < CelsiusLSB*(1-1e-9) || d > CelsiusLSB*(1+1e-9) {
		t.Errorf("one temperature code = %v °C, want %v", d, CelsiusLSB)
	}
	if d := PercentRH(0x6667) - PercentRH(0x6666); d < PercentRHLSB*(1-1e-9) || d > PercentRHLSB*(1+1e-9) {
		t.Errorf("one humidity code = %v %%RH, want %v", d, PercentRHLSB)
	}
}

// Every code converts within the sensor's output range: -45..130 °C, 0..100 %RH.
func TestConversionRange(t *testing.T) {
	for raw := 0; raw <= 0xFFFF; raw++ {
		c, rh := Celsius(uint16(raw)), PercentRH(uint16(raw))
		if c < -45 || c > 130 || rh < 0 || rh > 100 {
			t.Fatalf("0x%04X: %v °C %v %%RH", raw, c, rh)
		}
	}
}

// Table 9: the single shot codes without clock stretching; Table 4: their maximum durations.
func TestRepeatabilityCommands(t *testing.T) {
	want := map[Repeatability]struct {
		cmd  uint16
		name string
	}{RepeatabilityHigh: {0x2400, "high"}, RepeatabilityMedium: {0x240B, "medium"}, RepeatabilityLow: {0x2416, "low"}}
	for r, w := range want {
		if r.Command() != w.cmd || r.String() != w.name {
			t.Errorf("%d: 0x%04X %s", r, r.Command(), r)
		}
	}
	if RepeatabilityHigh.MeasurementTime().Microseconds() != 15000 || RepeatabilityMedium.MeasurementTime().Microseconds() != 6000 ||
		RepeatabilityLow.MeasurementTime().Microseconds() != 4000 {
		t.Errorf("measurement times are not Table 4's maxima")
	}
}
