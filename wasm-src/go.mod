module coapgw/wasm-src

go 1.24
