package gwabi

import "coapgw.example/wasm-src/cbor"

// MaxOutput is the largest output output_write accepts (docs/module-abi.md, "Imports").
const MaxOutput = 4096

// MaxInput is the largest input this package reads. The ABI sets no input limit;
// gw_init inputs are a few dozen bytes, so 4 KiB is generous and keeps the buffer static.
const MaxInput = 4096

// MaxTransfer is the largest I2C transfer (the SMBus block limit, docs/module-abi.md).
const MaxTransfer = 32

// Status is the i32 an export returns and an import returns on failure.
type Status int32

// The status table of docs/module-abi.md.
const (
	OK             Status = 0
	NotReady       Status = -1
	I2CNack        Status = -2
	I2CBus         Status = -3
	I2CTimeout     Status = -4
	Denied         Status = -5
	BadArgument    Status = -6
	WrongDevice    Status = -7
	BadConfig      Status = -8
	BadRequest     Status = -9
	NotInitialized Status = -10
	Internal       Status = -11
	I2CUnavailable Status = -12
	// RateLimited comes from the host only: the module used up its bus transaction budget
	// (docs/module-abi.md, "Limits"). A module passes it on as its own status.
	RateLimited    Status = -13
	minKnownStatus        = -13
)

var statusNames = [...]string{
	"OK", "NOT_READY", "I2C_NACK", "I2C_BUS", "I2C_TIMEOUT", "DENIED", "BAD_ARGUMENT",
	"WRONG_DEVICE", "BAD_CONFIG", "BAD_REQUEST", "NOT_INITIALIZED", "INTERNAL", "I2C_UNAVAILABLE",
	"RATE_LIMITED",
}

// The "code" strings of failure outputs: the status name in lower case with dashes,
// as in the doc's example {"code": "not-ready", ...}.
var statusCodes = [...]string{
	"ok", "not-ready", "i2c-nack", "i2c-bus", "i2c-timeout", "denied", "bad-argument",
	"wrong-device", "bad-config", "bad-request", "not-initialized", "internal", "i2c-unavailable",
	"rate-limited",
}

// Name returns the doc's name for s ("NOT_READY"), or "UNKNOWN".
func (s Status) Name() string {
	if s > 0 || s < minKnownStatus {
		return "UNKNOWN"
	}
	return statusNames[-s]
}

// Code returns the output "code" for s ("not-ready"), or "internal" for unknown statuses.
func (s Status) Code() string {
	if s > 0 || s < minKnownStatus {
		return "internal"
	}
	return statusCodes[-s]
}

// FromImport turns an import's i32 result into a Status: >= 0 is OK (a byte count),
// a known negative status stays itself, and anything else becomes Internal.
func FromImport(r int32) Status {
	if r >= 0 {
		return OK
	}
	if r < minKnownStatus {
		return Internal
	}
	return Status(r)
}

// Catalogue codes a module may report in a failure's "code" (docs/module-abi.md, "Output on
// failure"): states of the sensor that only the module can tell. The host lets such a code
// replace the status's; it ignores any other.
const (
	CodeSensorNotReady    = "GW_ERR_SENSOR_NOT_READY"
	CodeSensorWrongDevice = "GW_ERR_SENSOR_WRONG_DEVICE"
)

// AppendError appends the failure output map {"code", "retryAfterMs", "detail"}.
// retryAfterMs is left out when <= 0 and detail when empty.
func AppendError(dst []byte, s Status, retryAfterMs int32, detail string) []byte {
	return AppendErrorCode(dst, s, "", retryAfterMs, detail)
}

// AppendErrorCode is AppendError with a "code" the module chooses (CodeSensorNotReady,
// CodeSensorWrongDevice) in place of the status's own name; an empty code writes s.Code().
// The case it is for: a Sensirion SHT3x NACKs the read header while its measurement runs
// (SHT3x-DIS datasheet, section 4.4), so the transfer fails with I2CNack, yet the module knows
// the sensor is only not ready: it returns I2CNack with CodeSensorNotReady, and the host
// reports GW_ERR_SENSOR_NOT_READY with retryAfterMs and the driver's message beside the detail.
func AppendErrorCode(dst []byte, s Status, code string, retryAfterMs int32, detail string) []byte {
	if code == "" {
		code = s.Code()
	}
	n := 1
	if retryAfterMs > 0 {
		n++
	}
	if detail != "" {
		n++
	}
	dst = cbor.AppendMapHeader(dst, n)
	dst = cbor.AppendText(cbor.AppendText(dst, "code"), code)
	if retryAfterMs > 0 {
		dst = cbor.AppendInt(cbor.AppendText(dst, "retryAfterMs"), int64(retryAfterMs))
	}
	if detail != "" {
		dst = cbor.AppendText(cbor.AppendText(dst, "detail"), detail)
	}
	return dst
}
