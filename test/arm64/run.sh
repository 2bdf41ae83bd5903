#!/usr/bin/env bash
# npm run test:arm64: the project installed and run the way a Raspberry Pi user does, on a
# Debian trixie arm64 userland emulated by qemu-user (binfmt_misc) on this x86_64 machine.
#
#  1. host: mounts binfmt_misc, installs qemu-user-static, mmdebstrap, arch-test and
#     libcoap3-bin if missing, registers qemu-aarch64;
#  2. builds a Debian trixie arm64 root with mmdebstrap (Debian's nodejs, npm, build-essential,
#     python3; no Go), cached as a tarball keyed by the suite, mirror and package list;
#  3. unpacks it afresh, copies in the project as a clean clone has it (tracked files plus
#     untracked, not ignored ones: no node_modules, build or .git), and runs in a chroot, as
#     an ordinary user "pi", through the emulated arm64 node:
#       npm ci                                   native addons compiled for arm64, bundles built
#       npm run doctor                           must exit 1 with the I2C check FAILed and a fix
#       npm run read -- --driver simulated --json   a reading that says it is simulated
#       npm start -- --driver simulated ...      answers the HOST's libcoap coap-client-notls
#                                                GET /temp with 2.05 and a CBOR reading
#       node --test (a subset, ARM64_TESTS)      the node:test files named there
#  4. prints one line: "PASSED arm64 tier: ...", "FAILED arm64 tier: ..." (exit 1), or
#     "SKIPPED arm64 tier: ..." (exit 0) only where binfmt_misc cannot be mounted or
#     qemu-aarch64 cannot be registered.
#
# Needs root (mount, chroot, apt-get). Logs: build/arm64/logs/. Docs: docs/arm64-tier.md.
#
# Environment:
#   ARM64_CACHE      where the root tarball, the work root and npm's cache live
#                    (default /var/cache/coapgw-arm64; several GB)
#   ARM64_MIRROR     Debian mirror for mmdebstrap (default: the host's first deb.debian.org-style
#                    URI from /etc/apt/sources.list*, else http://deb.debian.org/debian)
#   ARM64_SUITE      default trixie
#   ARM64_TESTS      space-separated test files for the node:test step (default below)
#   ARM64_PORT       UDP port for npm start (default 56830)
#   ARM64_REBUILD=1  rebuild the root tarball even if cached
#   ARM64_NPM_CACHE=0  do not keep npm's download cache between runs (default: kept, under
#                    ARM64_CACHE/npm-cache; a cold run has it empty)
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1
root_dir=$(pwd)
t0=$(date +%s)

suite=${ARM64_SUITE:-trixie}
cache=${ARM64_CACHE:-/var/cache/coapgw-arm64}
port=${ARM64_PORT:-56830}
logs=$root_dir/build/arm64/logs
# What a Pi user installs for `npm ci` (docs/arm64-tier.md): Debian's npm pulls in Debian's
# node-gyp and libnode-dev (Node's headers), so node-gyp downloads nothing. ca-certificates:
# npm's registry over HTTPS (Raspberry Pi OS has it already).
packages="nodejs npm build-essential python3 ca-certificates"
# The node:test subset run under emulation (the whole suite takes about 24 min there, and some of
# its files assume native speed or root; docs/arm64-tier.md): the real i2c-bus addon's kernel
# path, the Go module in the WASM host, the simulated chip, CoAP over UDP, worker threads and
# the bus channel, the launcher and its bundles (read-only tree), the doctor's I2C checks.
default_tests="test/linux-i2c-bus.test.ts test/chain.test.ts test/wasi-preview1.test.ts test/sim-tmp102.test.ts
  test/config.test.ts test/board.test.ts test/coap-server.test.ts test/coap-simulated.test.ts test/coap-observe.test.ts
  test/worker-bus.test.ts test/worker-module.test.ts test/isolation.test.ts test/launch.test.ts test/doctor-i2c.test.ts"
tests=${ARM64_TESTS:-$default_tests}

skip() {
  echo "SKIPPED arm64 tier: $*"
  exit 0
}
fail() {
  echo "FAILED arm64 tier: $* ($(( $(date +%s) - t0 ))s; logs in build/arm64/logs)" >&2
  exit 1
}
step() {
  echo "== arm64 tier [$(( $(date +%s) - t0 ))s]: $*"
}

[ "$(id -u)" = 0 ] || {
  [ -e /proc/sys/fs/binfmt_misc/register ] || skip "binfmt_misc is not mounted and only root can mount it (run as root)"
  fail "needs root for chroot and mounts (CI runs as root)"
}
[ "$(uname -m)" = x86_64 ] || [ "$(uname -m)" = aarch64 ] || fail "untested host architecture $(uname -m)"

mkdir -p "$logs"
rm -f "$logs"/*.log "$logs"/*.out "$logs"/*.err "$logs"/*.bin 2>/dev/null

# --- 1. binfmt_misc and qemu-aarch64 --------------------------------------------------------
step "host tools and binfmt_misc"
native=
[ "$(uname -m)" = aarch64 ] && native=1   # an arm64 host runs the root without emulation
if [ -z "$native" ] && [ ! -e /proc/sys/fs/binfmt_misc/register ]; then
  mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc 2>"$logs/binfmt-mount.err" ||
    skip "binfmt_misc cannot be mounted here: $(tr '\n' ' ' < "$logs/binfmt-mount.err")"
fi

need=()
[ -n "$native" ] || [ -x /usr/bin/qemu-aarch64-static ] || need+=(qemu-user-static)
command -v mmdebstrap >/dev/null || need+=(mmdebstrap)
command -v arch-test >/dev/null || need+=(arch-test)   # mmdebstrap needs it for a foreign arch
command -v coap-client-notls >/dev/null || need+=(libcoap3-bin)
command -v node >/dev/null || fail "the host's node is needed to check the outputs (test/arm64/check-output.mjs)"
if [ ${#need[@]} -gt 0 ]; then
  echo "missing on the host: ${need[*]}; running test/arm64/install-deps.sh"
  bash test/arm64/install-deps.sh > "$logs/host-apt.log" 2>&1 ||
    fail "test/arm64/install-deps.sh failed (see build/arm64/logs/host-apt.log)"
fi

# Debian's qemu-user-static registers its formats in its postinst only outside containers and
# only through binfmt-support's update-binfmts; systemd-binfmt needs a running systemd. Neither
# is there in CI's container, so write the package's own systemd binfmt.d line (flags OCF-style
# "F": the kernel opens the interpreter now, so the chroot needs no copy of it) to the kernel.
fmt=/proc/sys/fs/binfmt_misc/qemu-aarch64
if [ -z "$native" ]; then
  if [ ! -e "$fmt" ]; then
    conf=/usr/lib/binfmt.d/qemu-aarch64.conf
    [ -r "$conf" ] || skip "qemu-aarch64 cannot be registered: $conf missing (qemu-user-static too old?)"
    grep -v '^#' "$conf" | head -n 1 > /proc/sys/fs/binfmt_misc/register 2>"$logs/binfmt-register.err" ||
      skip "qemu-aarch64 cannot be registered with binfmt_misc: $(tr '\n' ' ' < "$logs/binfmt-register.err")"
  fi
  [ "$(head -n 1 "$fmt")" = enabled ] || echo 1 > "$fmt" 2>/dev/null ||
    skip "qemu-aarch64 is registered but disabled, and cannot be enabled"
  interp=$(sed -n 's/^interpreter //p' "$fmt")
  flags=$(sed -n 's/^flags: //p' "$fmt")
  echo "binfmt_misc: qemu-aarch64 -> $interp (flags $flags)"
fi

# --- 2. the arm64 root, cached ---------------------------------------------------------------
mirror=${ARM64_MIRROR:-}
if [ -z "$mirror" ]; then
  mirror=$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources 2>/dev/null |
    grep -v '^[[:space:]]*#' | grep -oE '(https?://[^ ]+/debian)/?( |$)' | grep -v security | head -n 1 | tr -d ' ')
  mirror=${mirror%/}
  [ -n "$mirror" ] || mirror=http://deb.debian.org/debian
fi
# The user the steps run as, like a Pi's first user (trixie's --variant=apt has no useradd).
add_user='echo "pi:x:1000:1000:pi:/home/pi:/bin/bash" >> "$1/etc/passwd" &&
  echo "pi:x:1000:" >> "$1/etc/group" &&
  { [ ! -f "$1/etc/shadow" ] || echo "pi:*:20000:0:99999:7:::" >> "$1/etc/shadow"; } &&
  mkdir -p "$1/home/pi" && chown 1000:1000 "$1/home/pi"'
# Documentation and man pages are left out (they cost emulated dpkg time and nothing runs them).
mm_opts=(--arch=arm64 --variant=apt --include="${packages// /,}"
  --dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/doc/*'
  --dpkgopt='path-include=/usr/share/doc/*/copyright' --dpkgopt='force-unsafe-io'
  --aptopt='Acquire::Retries "3"'
  --customize-hook="$add_user")
key=$(printf '%s\n' "$suite" "$mirror" "${mm_opts[@]}" | sha256sum | cut -c1-16)
tarball=$cache/rootfs-$suite-arm64-$key.tar
mkdir -p "$cache"
if [ -n "${ARM64_REBUILD:-}" ] || [ ! -s "$tarball" ]; then
  step "building the $suite arm64 root with mmdebstrap from $mirror (cold: about 10-15 min)"
  tb=$(date +%s)
  part=$cache/building-$key.tar   # mmdebstrap picks the output format by the name's ending
  rm -rf "$part"
  # Each line of the log gets the seconds since the build started.
  timeout -k 10 2400 mmdebstrap "${mm_opts[@]}" "$suite" "$part" "$mirror" 2>&1 |
    while IFS= read -r line; do printf '[%4ds] %s\n' $(( $(date +%s) - tb )) "$line"; done > "$logs/mmdebstrap.log"
  [ "${PIPESTATUS[0]}" = 0 ] ||
    { rm -rf "$part"; tail -n 5 "$logs/mmdebstrap.log"; fail "mmdebstrap failed or timed out (see build/arm64/logs/mmdebstrap.log)"; }
  mv "$part" "$tarball"
  echo "root built in $(( $(date +%s) - tb ))s: $tarball ($(du -h "$tarball" | cut -f1))"
  # Older tarballs of other keys are only disk space now.
  find "$cache" -maxdepth 1 -name "rootfs-$suite-arm64-*.tar" ! -name "$(basename "$tarball")" -delete
else
  echo "cached root: $tarball"
fi

# --- 3. a fresh work root -------------------------------------------------------------------
work=$cache/work
guest=$work/root
app=/home/pi/coap-sensor-gateway
server_pid=

mounted_under() { # mount points under $1, deepest first
  awk -v p="$1" '$2 == p || index($2, p "/") == 1 { print $2 }' /proc/self/mounts | sort -r
}
cleanup() {
  if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
    kill -TERM -- "-$server_pid" 2>/dev/null
    sleep 2
    kill -KILL -- "-$server_pid" 2>/dev/null
  fi
  for m in $(mounted_under "$guest"); do
    umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null
  done
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# One run at a time: a second one would unmount the first one's /proc and /dev and delete its root.
exec 9>"$cache/.lock"
flock -n 9 || fail "another arm64 run holds $cache/.lock (wait for it to finish)"
cleanup
[ -z "$(mounted_under "$guest")" ] || fail "could not unmount an earlier run's mounts under $guest"
# --one-file-system: should a bind mount have survived, rm stops at it instead of walking into the host.
rm -rf --one-file-system "$work"
mkdir -p "$guest"
step "unpacking the root"
tar -C "$guest" -xf "$tarball" || fail "could not unpack $tarball"

# The project as a clean clone has it. `git ls-files --others --exclude-standard` adds files
# not committed yet (a clean clone has none, so in CI this is exactly the clone).
step "copying the project in"
mkdir -p "$guest$app"
if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
  git ls-files -z --cached --others --exclude-standard |
    while IFS= read -r -d '' f; do [ -f "$f" ] || [ -L "$f" ] && printf '%s\0' "$f"; done |
    tar --null -T - -cf - | tar -C "$guest$app" -xf - || fail "could not copy the project"
else
  tar --exclude=./node_modules --exclude=./build --exclude=./.git -cf - . | tar -C "$guest$app" -xf - ||
    fail "could not copy the project"
fi
chown -R 1000:1000 "$guest/home/pi"
for d in node_modules build .git; do
  [ ! -e "$guest$app/$d" ] || fail "the copy has $d: it must be what a clean clone has"
done
echo "copied $(find "$guest$app" -type f | wc -l) files"

# Name resolution for npm's registry; the host's CA bundle, which this sandbox's HTTPS egress
# needs (a Pi's own ca-certificates are enough there); npm's download cache kept between runs.
rm -f "$guest/etc/resolv.conf" && cp -L /etc/resolv.conf "$guest/etc/resolv.conf"
cp -L /etc/ssl/certs/ca-certificates.crt "$guest/etc/ssl/host-ca-certificates.crt" 2>/dev/null
mount -t proc proc "$guest/proc" || fail "mount proc"
mount -t sysfs sysfs "$guest/sys" || fail "mount sysfs"
mount --rbind /dev "$guest/dev" && mount --make-rslave "$guest/dev" || fail "bind /dev"
mount -t tmpfs tmpfs "$guest/tmp" || fail "mount tmpfs on /tmp"
chmod 1777 "$guest/tmp"
if [ "${ARM64_NPM_CACHE:-1}" != 0 ]; then
  mkdir -p "$cache/npm-cache" "$guest/home/pi/.npm"
  chown 1000:1000 "$cache/npm-cache" "$guest/home/pi/.npm"
  mount --bind "$cache/npm-cache" "$guest/home/pi/.npm" || fail "bind npm cache"
fi
# A registry other than npm's default, if the host is set up with one, is the one to use.
registry=$(npm config get registry 2>/dev/null || true)

# Runs a command in the guest as pi, in the project, with a clean environment.
guest_env=(HOME=/home/pi USER=pi LOGNAME=pi SHELL=/bin/bash LANG=C.UTF-8 TERM=dumb
  PATH=/usr/local/bin:/usr/bin:/bin CI=true npm_config_update_notifier=false)
[ -f "$guest/etc/ssl/host-ca-certificates.crt" ] && guest_env+=(NODE_EXTRA_CA_CERTS=/etc/ssl/host-ca-certificates.crt)
[ -n "$registry" ] && guest_env+=(npm_config_registry="$registry")
for v in http_proxy https_proxy no_proxy HTTP_PROXY HTTPS_PROXY NO_PROXY; do
  [ -n "${!v:-}" ] && guest_env+=("$v=${!v}")
done
in_guest() { # in_guest SECONDS COMMAND...
  local secs=$1
  shift
  timeout -k 10 "$secs" chroot --userspec=1000:1000 "$guest" /usr/bin/env -i "${guest_env[@]}" \
    /bin/bash -c 'cd "$0" && exec "$@"' "$app" "$@"
}

step "checking the guest"
arch=$(in_guest 60 uname -m 2>&1) || fail "cannot run the arm64 userland: $arch"
[ "$arch" = aarch64 ] || fail "uname -m in the guest says $arch, not aarch64"
node_v=$(in_guest 120 node --version 2>&1) || fail "the guest's node does not run: $node_v"
npm_v=$(in_guest 120 npm --version 2>&1) || fail "the guest's npm does not run: $npm_v"
node_arch=$(in_guest 120 node -p 'process.arch + " " + process.platform' 2>&1)
[ "$node_arch" = "arm64 linux" ] || fail "the guest's node says $node_arch"
! in_guest 30 sh -c 'command -v go' >/dev/null 2>&1 || fail "the guest has Go on its PATH; it must not"
elf=$(node test/arm64/check-output.mjs elf-machine "$guest/usr/bin/node")
echo "guest: uname -m $arch; node $node_v ($node_arch, $elf); npm $npm_v; no go"

# --- 4. the steps a Pi user takes ------------------------------------------------------------
results=()
step "npm ci"
ts=$(date +%s)
in_guest 1500 npm ci --no-audit --no-fund > "$logs/npm-ci.log" 2>&1
rc=$?
ci_s=$(( $(date +%s) - ts ))
tail -n 15 "$logs/npm-ci.log"
[ $rc = 0 ] || fail "npm ci exited $rc after ${ci_s}s (see build/arm64/logs/npm-ci.log)"
grep -qiE 'nodejs\.org|download.*headers|gyp (http|info download)' "$logs/npm-ci.log" &&
  echo "note: node-gyp mentions downloading headers (see npm-ci.log)"
for addon in node_modules/i2c-bus/build/Release/i2c.node node_modules/epoll/build/Release/epoll.node; do
  [ -f "$guest$app/$addon" ] || fail "npm ci did not build $addon"
  m=$(node test/arm64/check-output.mjs elf-machine "$guest$app/$addon")
  [ "$m" = "ELF64 aarch64" ] || fail "$addon is $m, not an ARM aarch64 ELF"
  echo "$addon: $m"
done
[ -d "$guest$app/node_modules/@esbuild/linux-arm64" ] || fail "npm ci did not install @esbuild/linux-arm64"
ls "$guest$app"/build/bundles/* >/dev/null 2>&1 || fail "npm ci's postinstall made no build/bundles"
[ -f "$guest$app/modules/tmp102.wasm" ] || fail "modules/tmp102.wasm is not in the tree (it is shipped, not built at install)"
[ ! -e "$guest$app/build/wasm/go" ] || fail "npm ci built Go modules (build/wasm/go) on a machine without Go"
# Both addons load in the emulated arm64 node (epoll is only loaded on a Pi with an ALERT GPIO).
loaded=$(in_guest 120 node -e 'const i2c = require("i2c-bus"); const { Gpio } = require("onoff");
  console.log("i2c-bus openSync:", typeof i2c.openSync, "onoff Gpio.accessible:", Gpio.accessible)' 2>&1) ||
  fail "the arm64 addons do not load: $loaded"
echo "$loaded"
results+=("npm ci ${ci_s}s (i2c.node, epoll.node aarch64, both load)")

step "npm run doctor (no /dev/i2c-*: must fail the I2C check with a fix, exit 1)"
ls /dev/i2c-* >/dev/null 2>&1 && fail "the host has /dev/i2c-* (bound into the guest): the no-I2C case cannot be tested"
ts=$(date +%s)
in_guest 300 npm run --silent doctor > "$logs/doctor.out" 2>&1
rc=$?
cat "$logs/doctor.out"
[ $rc = 1 ] || fail "npm run doctor exited $rc, not 1"
grep -qE '^ *FAIL +I2C enabled' "$logs/doctor.out" || fail "doctor did not report the I2C check failed"
grep -A1 -E '^ *FAIL +I2C enabled' "$logs/doctor.out" | grep -q 'fix:' || fail "doctor's I2C failure has no fix line"
results+=("doctor exit 1 with the I2C fix ($(( $(date +%s) - ts ))s)")

step "npm run read -- --driver simulated --json"
ts=$(date +%s)
in_guest 300 npm run --silent read -- --driver simulated --json > "$logs/read.out" 2> "$logs/read.err"
rc=$?
cat "$logs/read.out" "$logs/read.err"
[ $rc = 0 ] || fail "npm run read exited $rc"
what=$(node test/arm64/check-output.mjs read-json "$logs/read.out") || fail "npm run read: $what"
results+=("read: $what ($(( $(date +%s) - ts ))s)")

step "npm start on 127.0.0.1:$port, GET /temp from the host's libcoap"
# A session of its own, so the whole tree (npm, sh, node, its workers) is stopped at the end.
ts=$(date +%s)
setsid bash -c 'exec "$@"' _ timeout -k 10 600 chroot --userspec=1000:1000 "$guest" /usr/bin/env -i "${guest_env[@]}" \
  /bin/bash -c 'cd "$0" && exec npm start -- --driver simulated --port "$1" --host 127.0.0.1' "$app" "$port" \
  > "$logs/start.out" 2>&1 &
server_pid=$!
banner=
for _ in $(seq 1 240); do
  if grep -q '^coap-sensor-gateway listening on udp' "$logs/start.out"; then banner=1; break; fi
  kill -0 "$server_pid" 2>/dev/null || break
  sleep 0.5
done
cat "$logs/start.out"
[ -n "$banner" ] || fail "npm start printed no 'coap-sensor-gateway listening on udp' banner within 120s"
start_s=$(( $(date +%s) - ts ))
# -v 7 logs each PDU (the response's code as "c:2.05"); -o gets the payload, which libcoap
# writes there only for a 2.xx response. Emulated start-up may leave the first try unanswered.
got=
for _ in 1 2 3; do
  rm -f "$logs/temp.bin"
  timeout 60 coap-client-notls -v 7 -m get -A 60 -B 20 -o "$logs/temp.bin" "coap://127.0.0.1:$port/temp" > "$logs/coap-client.out" 2>&1
  crc=$?
  if [ $crc = 0 ] && [ -s "$logs/temp.bin" ]; then got=1; break; fi
  sleep 2
done
grep -E '^v:1 ' "$logs/coap-client.out"
[ -n "$got" ] || fail "coap-client-notls GET /temp got no payload (exit $crc; see build/arm64/logs/coap-client.out)"
grep -qE '^v:1 t:(ACK|CON|NON) c:2\.05 ' "$logs/coap-client.out" || fail "GET /temp did not answer 2.05 (see build/arm64/logs/coap-client.out)"
what=$(node test/arm64/check-output.mjs cbor-reading "$logs/temp.bin") || fail "GET /temp payload: $what"
echo "GET /temp: 2.05, $what"
kill -TERM -- "-$server_pid" 2>/dev/null
wait "$server_pid" 2>/dev/null
server_pid=
results+=("start: banner after ${start_s}s, libcoap GET /temp 2.05 $(echo "$what" | cut -d' ' -f1-3)")

for f in $tests; do [ -f "$guest$app/$f" ] || fail "ARM64_TESTS names $f, which the tree does not have"; done
step "node:test subset ($(echo "$tests" | wc -w) files): $(echo $tests)"
ts=$(date +%s)
# shellcheck disable=SC2086
in_guest 1200 node --import tsx --test --test-concurrency=1 --test-reporter=spec $tests > "$logs/node-test.log" 2>&1
rc=$?
test_s=$(( $(date +%s) - ts ))
grep -E '^(✖|ℹ)|# Subtest|not ok' "$logs/node-test.log" | tail -n 40
n_tests=$(grep -a -E '^ℹ tests [0-9]+' "$logs/node-test.log" | tail -n 1 | awk '{print $3}')
n_pass=$(grep -a -E '^ℹ pass [0-9]+' "$logs/node-test.log" | tail -n 1 | awk '{print $3}')
n_fail=$(grep -a -E '^ℹ fail [0-9]+' "$logs/node-test.log" | tail -n 1 | awk '{print $3}')
n_skip=$(grep -a -E '^ℹ skipped [0-9]+' "$logs/node-test.log" | tail -n 1 | awk '{print $3}')
[ $rc = 124 ] || [ $rc = 137 ] && fail "node:test subset exceeded 1200s"
[ $rc = 0 ] && [ -n "$n_tests" ] && [ "$n_tests" -gt 0 ] && [ "${n_fail:-1}" = 0 ] ||
  fail "node:test subset: ${n_tests:-?} tests, ${n_pass:-?} passed, ${n_fail:-?} failed, exit $rc (see build/arm64/logs/node-test.log)"
results+=("node:test $(echo "$tests" | wc -w) files: $n_pass passed, ${n_skip:-0} skipped, 0 failed in ${test_s}s")

summary=$(IFS=';'; echo "${results[*]}" | sed 's/;/; /g')
echo "PASSED arm64 tier: $suite arm64 ($node_v, npm $npm_v, uname -m $arch): $summary; $(( $(date +%s) - t0 ))s total"
