//go:build wasip1

// Command panicstdout is a test module that panics the way a TinyGo-built module does,
// from standard Go: TinyGo's runtime prints its panic report to fd 1 (its wasip1
// `putchar` writes to stdout) and then executes `unreachable`, where Go's c-shared
// runtime prints to fd 2. So gw_read writes, with fd_write directly to fd 1:
//
//   - at least `settings.before` bytes of ordinary output first (default 0; whole lines
//     of 63 dots, so the banner still starts a line), so a test can push the banner past
//     what the host keeps of the start of stdout;
//   - then the banner "panic: sensor exploded\n" one byte per fd_write, as TinyGo's
//     putchar wrote before it buffered (and as its 120-byte buffer still splits a long
//     report), so the host must see the banner across writes;
//
// and then traps with `unreachable` (runtime.Breakpoint: Go's wasm `breakpoint` is an
// UNDEF, which assembles to `unreachable`, runtime/asm_wasm.s). Nothing reaches fd 2.
// Built with TinyGo itself, runtime.Breakpoint panics ("Breakpoint not supported"),
// which also prints a banner to fd 1 and traps: a panic either way.
package main

import (
	"runtime"
	"unsafe"

	"coapgw.example/wasm-src/cbor"
	"coapgw.example/wasm-src/gwabi"
)

// iovec is WASI preview1's ciovec: two u32 (legacy/preview1/witx/typenames.witx). Go's
// wasm pointers are 64-bit, so the pointer is stored as the u32 offset it is.
type iovec struct {
	buf    uint32
	bufLen uint32
}

//go:wasmimport wasi_snapshot_preview1 fd_write
//go:noescape
func fdWrite(fd uint32, iovs unsafe.Pointer, iovsLen uint32, nwritten unsafe.Pointer) uint32

const stdout = 1

var (
	vals   [32]cbor.Value
	before int64
	dots   [64]byte
)

func write(b []byte) {
	if len(b) == 0 {
		return
	}
	iov := iovec{buf: uint32(uintptr(unsafe.Pointer(&b[0]))), bufLen: uint32(len(b))}
	var n uint32
	fdWrite(stdout, unsafe.Pointer(&iov), 1, unsafe.Pointer(&n))
}

//go:wasmexport gw_abi_version
func gwABIVersion() int32 { return gwabi.ABIVersion }

//go:wasmexport gw_init
func gwInit(inputLen int32) int32 {
	ii, st := gwabi.ReadInit(inputLen, vals[:0])
	if st != gwabi.OK {
		return int32(st)
	}
	if ii.Settings >= 0 {
		if i := ii.Doc.Lookup(ii.Settings, "before"); i >= 0 {
			n, ok := ii.Doc.Values[i].Int64()
			if !ok || n < 0 || n > 1<<20 {
				return gwabi.WriteError(gwabi.BadConfig, 0, "before must be 0..1048576 bytes")
			}
			before = n
		}
	}
	for i := range dots {
		dots[i] = '.'
	}
	dots[len(dots)-1] = '\n'
	gwabi.WriteOutput(gwabi.AppendSensorInfo(gwabi.OutputBuffer(), "panicstdout", "1.0.0", "temperature", "Cel", 1000, 0.0625))
	return 0
}

//go:wasmexport gw_read
func gwRead(inputLen int32) int32 {
	for left := before; left > 0; left -= int64(len(dots)) {
		write(dots[:])
	}
	banner := "panic: sensor exploded\n"
	for i := 0; i < len(banner); i++ {
		b := [1]byte{banner[i]}
		write(b[:])
	}
	runtime.Breakpoint()
	return 0
}

func main() {}
