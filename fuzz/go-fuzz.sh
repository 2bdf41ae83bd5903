#!/usr/bin/env bash
# npm run fuzz:go: Go's own fuzzer (go test -fuzz) on the Go code that reads input from the
# host: the CBOR decoder (wasm-src/cbor, FuzzParse) and the TMP102 module's gw_init
# (wasm-src/tmp102, FuzzInit). Each target runs for FUZZTIME (default 30s; .ci/run uses 10s).
# A crasher is written under the package's testdata/fuzz/ and fails the run; `go test` then
# replays it as a regression case until it is fixed.
set -euo pipefail
cd "$(dirname "$0")/../wasm-src"
time="${FUZZTIME:-30s}"
go test ./cbor -run '^$' -fuzz '^FuzzParse$' -fuzztime "$time"
go test ./tmp102 -run '^$' -fuzz '^FuzzInit$' -fuzztime "$time"
