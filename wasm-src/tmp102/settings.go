package tmp102

import (
	"math"

	"coapgw.example/wasm-src/cbor"
	"coapgw.example/wasm-src/gwabi"
)

// Settings are the module-specific gw_init settings of docs/module-abi.md.
type Settings struct {
	Extended bool   // "resolution": 13 (EM=1); false for 12
	Rate     uint16 // CR1:CR0, 0..3 = 0.25, 1, 4, 8 Hz (SBOS397 "Conversion Rate")
	OneShot  bool   // "mode": "oneshot" (SD=1, one conversion per read)
	// HasAlert is set when the settings carry an "alert" map; Alert then holds it
	// (its missing keys at the chip's power-up values). Without it the driver leaves
	// the chip's thermostat configuration as it finds it.
	HasAlert bool
	Alert    Alert
}

// Alert is the thermostat configuration behind the ALERT pin: the limit registers
// and the TM, POL and F1F0 configuration bits (SBOS397 "High- and Low-Limit
// Registers", "Thermostat Mode (TM)", "Polarity (POL)", "Fault Queue (F1/F0)").
type Alert struct {
	High, Low  int16  // T_HIGH and T_LOW in LSB counts of 0.0625 °C
	Interrupt  bool   // TM=1: interrupt mode; false: comparator mode
	ActiveHigh bool   // POL=1: ALERT active high; false: active low
	Faults     uint16 // F1F0 code 0..3 = 1, 2, 4, 6 consecutive faults
}

// Rate codes (CR1:CR0).
const (
	Rate025Hz = 0
	Rate1Hz   = 1
	Rate4Hz   = 2 // power-up default
	Rate8Hz   = 3
)

// Limit ranges in counts. The low end is the chip's specified minimum, -55 °C
// ("Recommended Operating Conditions"); the high end is 150 °C in extended mode
// and the largest 12-bit value, 127.9375 °C, otherwise (SBOS397 "Temperature
// Register" data format tables): a limit the temperature register can never reach
// or hold would silently never fire.
const (
	limitMinCount   = -55 * 16
	limitMax12Count = 0x7FF  // 127.9375 °C
	limitMax13Count = 0x0960 // 150 °C
)

// DefaultAlert is the chip's power-up thermostat configuration (SBOS397
// "Configuration Register" and "High- and Low-Limit Registers" reset values):
// T_HIGH 80 °C, T_LOW 75 °C, comparator mode, active low, one fault.
func DefaultAlert() Alert { return Alert{High: 80 * 16, Low: 75 * 16} }

// FaultCounts maps F1F0 to the number of consecutive faults (SBOS397 "Fault Queue").
var FaultCounts = [4]int{1, 2, 4, 6}

// ConfigBits is the alert part of the configuration register for a.
func (a Alert) ConfigBits() uint16 {
	c := (a.Faults & 3) << 11 // F1 F0
	if a.ActiveHigh {
		c |= CfgPOL
	}
	if a.Interrupt {
		c |= CfgTM
	}
	return c
}

// alertFromConfig reads TM, POL and F1F0 out of a configuration word; the limits
// are left to the caller.
func alertFromConfig(cfg uint16) Alert {
	return Alert{Interrupt: cfg&CfgTM != 0, ActiveHigh: cfg&CfgPOL != 0, Faults: cfg >> 11 & 3}
}

// DefaultSettings: 12 bits, 4 Hz, continuous (the chip's power-up configuration).
func DefaultSettings() Settings { return Settings{Rate: Rate4Hz, Alert: DefaultAlert()} }

// PeriodMs is 1000 / rate: how often a new value appears in continuous mode. In
// one-shot mode each read converts afresh; the rate then only sets this polling hint.
func (s Settings) PeriodMs() int64 {
	return [...]int64{4000, 1000, 250, 125}[s.Rate&3]
}

// Bits is 12 or 13.
func (s Settings) Bits() int {
	if s.Extended {
		return 13
	}
	return 12
}

// sameConversions reports whether s and o configure conversions alike (format,
// rate, shutdown): a change limited to the thermostat does not disturb the
// conversion in progress, so the temperature register stays valid.
func (s Settings) sameConversions(o Settings) bool {
	return s.Extended == o.Extended && s.Rate == o.Rate && s.OneShot == o.OneShot
}

// LimitCount rounds c °C to the nearest count of 0.0625 °C (halves away from zero).
// ok is false for values outside the limit range of the format (12- or 13-bit),
// judged after rounding, and for NaN.
func LimitCount(c float64, extended bool) (count int16, ok bool) {
	r := math.Round(c / LSB)
	max := float64(limitMax12Count)
	if extended {
		max = limitMax13Count
	}
	if !(r >= limitMinCount && r <= max) { // written so NaN fails too
		return 0, false
	}
	return int16(r), true
}

// EncodeLimit is the T_HIGH/T_LOW register word for a count: the same layout as
// the temperature register, left-justified, 12-bit (count<<4) or in extended mode
// 13-bit (count<<3), with the unused low bits 0 (SBOS397 "High- and Low-Limit
// Registers": "the same format as the temperature result"). Unlike the temperature
// register, D0 carries no EM flag.
func EncodeLimit(count int16, extended bool) uint16 {
	if extended {
		return uint16(count) << 3
	}
	return uint16(count) << 4
}

// DecodeLimit is the inverse of EncodeLimit. A limit register has no format flag:
// the chip compares it in the format EM currently selects, so the caller says which.
func DecodeLimit(word uint16, extended bool) int16 {
	if extended {
		return int16(word) >> 3
	}
	return int16(word) >> 4
}

// clampCount saturates a count to what the format can hold: a limit kept across a
// switch from 13 to 12 bits above 127.9375 °C becomes 127.9375 °C, as the
// temperature register itself saturates in 12-bit mode.
func clampCount(c int16, extended bool) int16 {
	lo, hi := int16(-2048), int16(0x7FF)
	if extended {
		lo, hi = -4096, 0xFFF
	}
	if c < lo {
		return lo
	}
	if c > hi {
		return hi
	}
	return c
}

// ParseSettings reads the settings map at index idx of doc (-1: no settings, use
// the defaults). Unknown or repeated keys and invalid values give BadConfig. All
// checks happen here, before the driver writes any register, so a refused gw_init
// leaves the chip and a live instance's configuration untouched.
func ParseSettings(doc cbor.Doc, idx int) (Settings, gwabi.Status, string) {
	s := DefaultSettings()
	if idx < 0 {
		return s, gwabi.OK, ""
	}
	it, err := doc.Map(idx)
	if err != nil {
		return s, gwabi.BadConfig, "settings must be a map"
	}
	var seen uint8
	alertIdx := -1
	for {
		k, v, ok := it.Next()
		if !ok {
			break
		}
		key, val := &doc.Values[k], &doc.Values[v]
		var bit uint8
		switch {
		case key.IsText("resolution"):
			bit = 1
			f, ok := val.Float64()
			switch {
			case ok && f == 12:
				s.Extended = false
			case ok && f == 13:
				s.Extended = true
			default:
				return s, gwabi.BadConfig, "resolution must be 12 or 13"
			}
		case key.IsText("rateHz"):
			bit = 2
			f, ok := val.Float64()
			switch {
			case ok && f == 0.25:
				s.Rate = Rate025Hz
			case ok && f == 1:
				s.Rate = Rate1Hz
			case ok && f == 4:
				s.Rate = Rate4Hz
			case ok && f == 8:
				s.Rate = Rate8Hz
			default:
				return s, gwabi.BadConfig, "rateHz must be 0.25, 1, 4 or 8"
			}
		case key.IsText("mode"):
			bit = 4
			switch {
			case val.IsText("continuous"):
				s.OneShot = false
			case val.IsText("oneshot"):
				s.OneShot = true
			default:
				return s, gwabi.BadConfig, "mode must be \"continuous\" or \"oneshot\""
			}
		case key.IsText("alert"):
			bit = 8
			alertIdx = v // parsed below: its limit range depends on "resolution"
		default:
			return s, gwabi.BadConfig, "unknown setting " + gwabi.KeyName(key)
		}
		if seen&bit != 0 {
			return s, gwabi.BadConfig, "repeated setting " + gwabi.KeyName(key)
		}
		seen |= bit
	}
	if alertIdx >= 0 {
		a, st, detail := parseAlert(doc, alertIdx, s.Extended)
		if st != gwabi.OK {
			return s, st, detail
		}
		s.HasAlert, s.Alert = true, a
	}
	return s, gwabi.OK, ""
}

// parseAlert reads the "alert" map: {"high", "low", "mode", "polarity", "faults"},
// every key optional, missing ones at the power-up values.
func parseAlert(doc cbor.Doc, idx int, extended bool) (Alert, gwabi.Status, string) {
	a := DefaultAlert()
	it, err := doc.Map(idx)
	if err != nil {
		return a, gwabi.BadConfig, "alert must be a map"
	}
	rangeText := "-55..127.9375 °C (12-bit resolution)"
	if extended {
		rangeText = "-55..150 °C (13-bit resolution)"
	}
	var seen uint8
	for {
		k, v, ok := it.Next()
		if !ok {
			break
		}
		key, val := &doc.Values[k], &doc.Values[v]
		var bit uint8
		switch {
		case key.IsText("high"), key.IsText("low"):
			bit = 1
			if key.IsText("low") {
				bit = 2
			}
			f, ok := val.Float64()
			if !ok {
				return a, gwabi.BadConfig, "alert." + string(key.Bytes) + " must be a number (°C)"
			}
			c, ok := LimitCount(f, extended)
			if !ok {
				return a, gwabi.BadConfig, "alert." + string(key.Bytes) + " must be within " + rangeText
			}
			if bit == 1 {
				a.High = c
			} else {
				a.Low = c
			}
		case key.IsText("mode"):
			bit = 4
			switch {
			case val.IsText("comparator"):
				a.Interrupt = false
			case val.IsText("interrupt"):
				a.Interrupt = true
			default:
				return a, gwabi.BadConfig, "alert.mode must be \"comparator\" or \"interrupt\""
			}
		case key.IsText("polarity"):
			bit = 8
			switch {
			case val.IsText("active-low"):
				a.ActiveHigh = false
			case val.IsText("active-high"):
				a.ActiveHigh = true
			default:
				return a, gwabi.BadConfig, "alert.polarity must be \"active-low\" or \"active-high\""
			}
		case key.IsText("faults"):
			bit = 16
			f, ok := val.Float64()
			code := -1
			for i, n := range FaultCounts {
				if ok && f == float64(n) {
					code = i
				}
			}
			if code < 0 {
				return a, gwabi.BadConfig, "alert.faults must be 1, 2, 4 or 6"
			}
			a.Faults = uint16(code)
		default:
			return a, gwabi.BadConfig, "unknown alert setting " + gwabi.KeyName(key)
		}
		if seen&bit != 0 {
			return a, gwabi.BadConfig, "repeated alert setting " + gwabi.KeyName(key)
		}
		seen |= bit
	}
	// Comparator mode releases ALERT below T_LOW and fires at T_HIGH or above
	// (SBOS397 "Thermostat Mode (TM)"): with T_LOW >= T_HIGH there is no hysteresis
	// band, and in interrupt mode both crossings would be the same. Compared after
	// rounding, so two values within one LSB are refused too. Missing keys count at
	// their power-up values (80 and 75 °C).
	if a.Low >= a.High {
		return a, gwabi.BadConfig, "alert.low must be below alert.high (after rounding to 0.0625 °C; " +
			"a missing one is at its power-up value, high 80 °C, low 75 °C)"
	}
	return a, gwabi.OK, ""
}
