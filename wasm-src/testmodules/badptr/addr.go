//go:build wasip1

package main

import "unsafe"

// uintptrOf returns the linear-memory offset of p (Go on wasm: pointers are offsets).
func uintptrOf(p *byte) uintptr { return uintptr(unsafe.Pointer(p)) }
