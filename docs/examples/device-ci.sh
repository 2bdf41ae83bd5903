#!/usr/bin/env bash
# A device project's CI job against the simulated gateway (docs/simulation.md, "For CI of other
# projects"). It starts the gateway on a scenario (the sensor unplugged from 5 s to 35 s of a
# 45 s run) ten times faster than real time, on a free port, observes /temp with libcoap's
# coap-client the way a device would (re-registering after an error notification ends the
# observation, RFC 7641 section 4.2, once the error's Max-Age has passed), and checks that the
# device saw the documented 5.03 during the fault and readings again after it.
#
#   GATEWAY_DIR=/path/to/coap-sensor-gateway bash docs/examples/device-ci.sh
#
# Needs: the gateway installed in GATEWAY_DIR (npm ci), libcoap's client (Debian: libcoap3-bin).
set -euo pipefail
GATEWAY_DIR=${GATEWAY_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
COAP_CLIENT=$(command -v coap-client || command -v coap-client-notls || command -v coap-client-openssl)
out=$(mktemp -d)
trap 'kill "$gw" 2>/dev/null || true; rm -rf "$out"' EXIT

# The first line on stdout is JSON with the port; the rest are JSON lines (scenario events, the end).
node "$GATEWAY_DIR/gateway/cli/launch.mjs" start --host 127.0.0.1 \
  --scenario "$GATEWAY_DIR/fixtures/scenarios/unplugged-30s.json" --time-scale 10 --exit-after-scenario \
  >"$out/events" 2>"$out/log" &
gw=$!
for _ in $(seq 100); do [ -s "$out/events" ] && break; sleep 0.1; done
port=$(head -n 1 "$out/events" | sed -n 's/.*"port":\([0-9]*\).*/\1/p')
[ -n "$port" ] || { echo "no port: $(cat "$out/events" "$out/log")"; exit 1; }
echo "gateway on udp 127.0.0.1:$port"

# The device: observe /temp, one short registration after another, until the gateway exits at the
# end of the scenario. coap-client keeps waiting for its -s duration after an error notification
# has ended the observation (RFC 7641 section 4.2), so a 1 s observation stands for a device that
# re-registers once the 5.03's Max-Age (1 s at --time-scale 10) has passed.
RETRY_S=0.5   # below the 5.03's Max-Age of 1 s, so that the device sees the fault more than once
runs=()
n=0
while kill -0 "$gw" 2>/dev/null; do
  n=$((n + 1))
  "$COAP_CLIENT" -m get -s 1 -B 1 -A 50 "coap://127.0.0.1:$port/temp" >"$out/run$n.out" 2>"$out/run$n.err" || true
  class=""
  grep -q '"value"' "$out/run$n.out" && class+="R"
  grep -q '^5\.03' "$out/run$n.err" && class+="E"
  runs+=("${class:--}")
  # After an error a device waits for its Max-Age before asking again (RFC 7252 section 5.10.5).
  [[ $class == *E* ]] && sleep "$RETRY_S"
done
wait "$gw"   # exits 0 when the scenario has run to its end
echo "observations (R: readings, E: 5.03): ${runs[*]}"

# 5.03 with the code the fault table documents, then readings again. A reading before the fault
# is not required: the fault starts 0.5 s after the port line, which a slow CI machine may miss.
[[ ${runs[0]} == R* ]] || echo "note: the first observation started after the fault had begun"
last_e=-1
for i in "${!runs[@]}"; do [[ ${runs[$i]} == *E* ]] && last_e=$i; done
[ "$last_e" -ge 0 ] || { echo "FAIL: no 5.03 during the fault"; exit 1; }
grep -qs 'GW_ERR_I2C_NACK' "$out"/run*.err || { echo "FAIL: the 5.03 does not carry GW_ERR_I2C_NACK"; exit 1; }
after=("${runs[@]:$((last_e + 1))}")
[[ " ${after[*]} " == *R* ]] || { echo "FAIL: no reading after the fault"; exit 1; }
echo "PASS: 5.03 GW_ERR_I2C_NACK while unplugged, readings again after it"
