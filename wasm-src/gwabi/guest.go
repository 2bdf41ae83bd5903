package gwabi

import (
	"errors"
	"unsafe"

	"coapgw.example/wasm-src/cbor"
)

// Log levels of the `log` import.
const (
	LogDebug = 0
	LogInfo  = 1
	LogWarn  = 2
	LogError = 3
)

// Static buffers: the guest owns its memory and the host never allocates in it
// (docs/module-abi.md, "How bytes cross"), so one input and one output buffer per
// instance are enough (calls never overlap on an instance).
var (
	inBuf  [MaxInput]byte
	outBuf [MaxOutput]byte
)

// Errors of ReadInput.
var (
	ErrInputTooLarge = errors.New("gwabi: input larger than MaxInput")
	ErrInputShort    = errors.New("gwabi: host copied fewer input bytes than announced")
	ErrInputImport   = errors.New("gwabi: input_read failed")
)

// ReadInput copies the current call's input into a static buffer with input_read
// and returns it. inputLen is the export's argument: passing it lets ReadInput tell
// an input that does not fit (or a host that copies less) from a complete one.
// The slice stays valid until the next ReadInput.
func ReadInput(inputLen int32) ([]byte, error) {
	if inputLen < 0 || inputLen > MaxInput {
		return nil, ErrInputTooLarge
	}
	if inputLen == 0 {
		return inBuf[:0], nil
	}
	n := inputRead(unsafe.Pointer(&inBuf[0]), uint32(inputLen))
	if n < 0 {
		return nil, ErrInputImport
	}
	if n != inputLen {
		return nil, ErrInputShort
	}
	return inBuf[:n], nil
}

// ReadInit reads and parses gw_init's input in one step. On failure it has written
// the error output already and returns the status for gw_init to return:
//
//	ii, st := gwabi.ReadInit(inputLen, vals[:0])
//	if st != gwabi.OK {
//		return int32(st)
//	}
func ReadInit(inputLen int32, vals []cbor.Value) (InitInput, Status) {
	in, err := ReadInput(inputLen)
	if err != nil {
		return InitInput{}, Status(WriteError(BadConfig, 0, err.Error()))
	}
	ii, st, detail := ParseInit(in, vals)
	if st != OK {
		return ii, Status(WriteError(st, 0, detail))
	}
	return ii, OK
}

// OutputBuffer returns the static output buffer, empty, for encoding an output
// without allocating: out := gwabi.OutputBuffer(); out = cbor.AppendMapHeader(out, 2)...
func OutputBuffer() []byte { return outBuf[:0] }

// WriteOutput hands b to the host as the current call's output (replacing any
// earlier output of the call) and returns the import's result: the byte count or a
// negative status. An output over MaxOutput goes to the host too, which refuses it
// with BadArgument and remembers why: a module that passes that status on is then
// reported as having said too much (GW_ERR_MODULE_BAD_OUTPUT), which never stops
// the gateway, rather than as a bad pointer (GW_ERR_MODULE_BAD_ARGUMENT).
func WriteOutput(b []byte) int32 {
	if len(b) == 0 {
		return outputWrite(nil, 0)
	}
	return outputWrite(unsafe.Pointer(&b[0]), uint32(len(b)))
}

// WriteError writes the failure output {"code", "retryAfterMs", "detail"} and
// returns s as an int32, so an export can `return gwabi.WriteError(...)`.
func WriteError(s Status, retryAfterMs int32, detail string) int32 {
	WriteOutput(AppendError(outBuf[:0], s, retryAfterMs, detail))
	return int32(s)
}

// Log sends one log line to the host (level LogDebug..LogError).
func Log(level int32, msg string) {
	if len(msg) == 0 {
		hostLog(uint32(level), nil, 0)
		return
	}
	hostLog(uint32(level), unsafe.Pointer(unsafe.StringData(msg)), uint32(len(msg)))
}

func ptrOf(b []byte) unsafe.Pointer {
	if len(b) == 0 {
		return nil
	}
	return unsafe.Pointer(&b[0])
}

// transferStatus turns an I2C import result into a Status. Success is 0 or the byte
// count; a positive count short of the request is reported as a bus error.
func transferStatus(r int32, want int) Status {
	if r > 0 && int(r) < want {
		return I2CBus
	}
	return FromImport(r)
}

// I2CWrite: START, addr+W, buf, STOP.
func I2CWrite(bus, addr uint8, buf []byte) Status {
	if len(buf) > MaxTransfer {
		return BadArgument
	}
	return transferStatus(i2cWrite(uint32(bus), uint32(addr), ptrOf(buf), uint32(len(buf))), len(buf))
}

// I2CRead: START, addr+R, len(buf) bytes into buf, STOP.
func I2CRead(bus, addr uint8, buf []byte) Status {
	if len(buf) > MaxTransfer {
		return BadArgument
	}
	return transferStatus(i2cRead(uint32(bus), uint32(addr), ptrOf(buf), uint32(len(buf))), len(buf))
}

// I2CReadReg writes the register byte reg, then a repeated START and reads
// len(buf) bytes in wire order (first byte on the bus in buf[0]).
func I2CReadReg(bus, addr, reg uint8, buf []byte) Status {
	if len(buf) > MaxTransfer {
		return BadArgument
	}
	return transferStatus(i2cReadReg(uint32(bus), uint32(addr), uint32(reg), ptrOf(buf), uint32(len(buf))), len(buf))
}

// I2CWriteReg writes the register byte reg followed by buf.
func I2CWriteReg(bus, addr, reg uint8, buf []byte) Status {
	if len(buf) > MaxTransfer {
		return BadArgument
	}
	return transferStatus(i2cWriteReg(uint32(bus), uint32(addr), uint32(reg), ptrOf(buf), uint32(len(buf))), len(buf))
}

// Device is one granted I2C device; it implements the register Bus that drivers
// (package tmp102) are written against, and the command bus of chips without registers
// (package sht3x: a 16-bit command written, then a plain read).
type Device struct {
	Bus, Addr uint8
}

// Write sends data to the device in one transfer: START, addr+W, data, STOP (I2CWrite).
func (d Device) Write(data []byte) Status { return I2CWrite(d.Bus, d.Addr, data) }

// Read reads len(buf) bytes from the device in one transfer: START, addr+R, buf, STOP (I2CRead).
func (d Device) Read(buf []byte) Status { return I2CRead(d.Bus, d.Addr, buf) }

// ReadReg reads len(buf) bytes of register reg in wire order.
func (d Device) ReadReg(reg uint8, buf []byte) Status { return I2CReadReg(d.Bus, d.Addr, reg, buf) }

// WriteReg writes data (wire order) to register reg.
func (d Device) WriteReg(reg uint8, data []byte) Status {
	return I2CWriteReg(d.Bus, d.Addr, reg, data)
}

// AppendSensorInfo appends the gw_init success output of docs/module-abi.md:
// {"name", "version", "quantity", "unit", "periodMs", "resolution"}.
func AppendSensorInfo(dst []byte, name, version, quantity, unit string, periodMs int64, resolution float64) []byte {
	return AppendSensorInfoExtra(dst, 0, name, version, quantity, unit, periodMs, resolution)
}

// AppendSensorInfoExtra is AppendSensorInfo for a module that adds extra key/value
// pairs of its own (for example the TMP102's "alert" map): the map header counts
// them, and the caller appends exactly extra pairs right after.
func AppendSensorInfoExtra(dst []byte, extra int, name, version, quantity, unit string, periodMs int64, resolution float64) []byte {
	dst = cbor.AppendMapHeader(dst, 6+extra)
	dst = cbor.AppendText(cbor.AppendText(dst, "name"), name)
	dst = cbor.AppendText(cbor.AppendText(dst, "version"), version)
	dst = cbor.AppendText(cbor.AppendText(dst, "quantity"), quantity)
	dst = cbor.AppendText(cbor.AppendText(dst, "unit"), unit)
	dst = cbor.AppendInt(cbor.AppendText(dst, "periodMs"), periodMs)
	return cbor.AppendFloat(cbor.AppendText(dst, "resolution"), resolution)
}

// AppendReading appends the gw_read success output of docs/module-abi.md:
// {"value", "raw", "bits"}: value in the unit gw_init announced (finite), raw the register
// value as read from the chip (at most 53 bits, for diagnostics), bits the resolution that
// produced it (0 to 64).
func AppendReading(dst []byte, value float64, raw int64, bits int) []byte {
	dst = cbor.AppendMapHeader(dst, 3)
	dst = cbor.AppendFloat(cbor.AppendText(dst, "value"), value)
	dst = cbor.AppendInt(cbor.AppendText(dst, "raw"), raw)
	return cbor.AppendInt(cbor.AppendText(dst, "bits"), int64(bits))
}
