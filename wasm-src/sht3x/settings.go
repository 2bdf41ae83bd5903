package sht3x

import (
	"time"

	"coapgw.example/wasm-src/cbor"
	"coapgw.example/wasm-src/gwabi"
)

// Repeatability of a single shot measurement (Table 9): higher repeatability takes longer
// (Table 4) and is less noisy (Tables 1 and 2, "Repeatability").
type Repeatability uint8

const (
	RepeatabilityHigh Repeatability = iota // the default, as in Linux's sht3x.c
	RepeatabilityMedium
	RepeatabilityLow
)

var repeatabilityNames = [...]string{"high", "medium", "low"}

// String is the setting's spelling: "high", "medium" or "low".
func (r Repeatability) String() string { return repeatabilityNames[r%3] }

// Command is the single shot command without clock stretching (Table 9).
func (r Repeatability) Command() uint16 {
	return [...]uint16{CmdSingleShotHigh, CmdSingleShotMedium, CmdSingleShotLow}[r%3]
}

// MeasurementTime is the maximum measurement duration (Table 4).
func (r Repeatability) MeasurementTime() time.Duration {
	return [...]time.Duration{MeasurementTimeHigh, MeasurementTimeMedium, MeasurementTimeLow}[r%3]
}

// Period bounds (gw_init's "periodMs", how often the gateway may read). The floor is the
// chip's own fastest rate, 10 measurements per second (Table 10, periodic mode); Sensirion
// warns of self-heating at that rate, and the default is the 1 Hz its accuracy figures were
// measured at. The ceiling is the ABI's (docs/module-abi.md, "Bounds").
const (
	MinPeriodMs     = 100
	MaxPeriodMs     = 3600000
	DefaultPeriodMs = 1000
)

// Settings are the module-specific gw_init settings (docs/module-abi.md, "Example: the SHT3x
// module"): {"repeatability": "high"|"medium"|"low", "heater": bool, "periodMs": integer}.
type Settings struct {
	Repeatability Repeatability
	// Heater switches the built-in heater on (section 4.10): for plausibility checks and
	// drying a condensed sensor; it warms the die by a few °C, so readings are off while on.
	Heater   bool
	PeriodMs int64
}

// DefaultSettings: high repeatability, heater off (the chip's state after a reset), 1 s.
func DefaultSettings() Settings { return Settings{PeriodMs: DefaultPeriodMs} }

// ParseSettings reads the settings map at index idx of doc (-1: none, the defaults). Unknown
// or repeated keys and invalid values give BadConfig with a detail. Everything is checked here,
// before the driver sends any command, so a refused gw_init leaves a live instance as it was.
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
			break
		}
		key, val := &doc.Values[k], &doc.Values[v]
		var bit uint8
		switch {
		case key.IsText("repeatability"):
			bit = 1
			switch {
			case val.IsText("high"):
				s.Repeatability = RepeatabilityHigh
			case val.IsText("medium"):
				s.Repeatability = RepeatabilityMedium
			case val.IsText("low"):
				s.Repeatability = RepeatabilityLow
			default:
				return s, gwabi.BadConfig, "repeatability must be \"high\", \"medium\" or \"low\""
			}
		case key.IsText("heater"):
			bit = 2
			if val.Kind != cbor.KindBool {
				return s, gwabi.BadConfig, "heater must be true or false"
			}
			s.Heater = val.Bool
		case key.IsText("periodMs"):
			bit = 4
			n, ok := val.Int64()
			if !ok || n < MinPeriodMs || n > MaxPeriodMs {
				return s, gwabi.BadConfig, "periodMs must be an integer 100..3600000"
			}
			s.PeriodMs = n
		default:
			return s, gwabi.BadConfig, "unknown setting " + gwabi.KeyName(key)
		}
		if seen&bit != 0 {
			return s, gwabi.BadConfig, "repeated setting " + gwabi.KeyName(key)
		}
		seen |= bit
	}
	return s, gwabi.OK, ""
}
