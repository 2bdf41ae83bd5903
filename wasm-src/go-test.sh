#!/usr/bin/env bash
# npm run test:go: the Go unit tests (wasm-src: cbor, gwabi, gwabi/gwtest, tmp102, sht3x; bench/loadgen). Go is needed
# only to change a module, so without Go on the PATH this says so and exits 0, unless
# GW_GO_REQUIRED=1 (CI), which makes a missing Go a failure.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v go >/dev/null; then
  if [ "${GW_GO_REQUIRED:-}" = 1 ]; then
    echo "test:go: Go is not on the PATH and GW_GO_REQUIRED=1" >&2
    exit 1
  fi
  echo "test:go: SKIPPED: Go is not on the PATH (needed only to change a module; README, \"Sensor modules\")"
  exit 0
fi
# Go < 1.21 cannot fetch the toolchain go.mod asks for (go 1.24): as good as no Go.
minor=$(go env GOVERSION | sed -n 's/^go1\.\([0-9]*\).*/\1/p')
if [ -z "$minor" ] || [ "$minor" -lt 21 ]; then
  if [ "${GW_GO_REQUIRED:-}" = 1 ]; then
    echo "test:go: $(go version) is too old (needs >= 1.21) and GW_GO_REQUIRED=1" >&2
    exit 1
  fi
  echo "test:go: SKIPPED: $(go version) is too old (needs >= 1.21; README, \"Sensor modules\")"
  exit 0
fi
(cd wasm-src && go vet ./... && go test ./...)
(cd bench/loadgen && go vet ./... && go test ./...)
