package tmp102

import (
	"coapgw/wasm-src/cbor"
	"coapgw/wasm-src/gwabi"
)

// Settings are the module-specific gw_init settings of docs/module-abi.md.
type Settings struct {
	Extended bool   // "resolution": 13 (EM=1); false for 12
	Rate     uint16 // CR1:CR0, 0..3 = 0.25, 1, 4, 8 Hz (SBOS397 "Conversion Rate")
	OneShot  bool   // "mode": "oneshot" (SD=1, one conversion per read)
}

// Rate codes (CR1:CR0).
const (
	Rate025Hz = 0
	Rate1Hz   = 1
	Rate4Hz   = 2 // power-up default
	Rate8Hz   = 3
)

// DefaultSettings: 12 bits, 4 Hz, continuous (the chip's power-up configuration).
func DefaultSettings() Settings { return Settings{Rate: Rate4Hz} }

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

// ParseSettings reads the settings map at index idx of doc (-1: no settings, use
// the defaults). Unknown or repeated keys and invalid values give BadConfig.
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
	for {
		k, v, ok := it.Next()
		if !ok {
			return s, gwabi.OK, ""
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
		default:
			return s, gwabi.BadConfig, "unknown setting " + gwabi.KeyName(key)
		}
		if seen&bit != 0 {
			return s, gwabi.BadConfig, "repeated setting " + gwabi.KeyName(key)
		}
		seen |= bit
	}
}
