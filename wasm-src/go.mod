module coapgw.example/wasm-src

go 1.24
