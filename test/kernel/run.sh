#!/usr/bin/env bash
# npm run test:kernel: boots a Debian kernel under QEMU (software emulation, no KVM needed) with
# i2c-stub as /dev/i2c-0 and runs test/kernel/*.kernel-test.ts inside it (bundled to plain
# JavaScript by test/kernel/bundle.mjs first), with the host's node and the project's
# node_modules reached over a read-only 9p share of the host's /.
#
# Exit status: 0 when the guest's tests pass, or when the tier cannot run here (no QEMU, no
# kernel image, QEMU does not boot): then one line starting "SKIPPED" says why. 1 when the tests
# inside fail, the guest stops early or the VM exceeds its time limit.
# Packages: test/kernel/install-deps.sh (apt-get). Docs: docs/kernel-tier.md.
#
# Environment: KTIER_KERNEL=/boot/vmlinuz-<version> (default: the newest installed one that has
# i2c-stub), KTIER_TIMEOUT=seconds for the whole VM run (default 180), KTIER_BOOT_TIMEOUT=seconds
# until the guest's /init must have started (default 60), KTIER_ACCEL (default tcg: /dev/kvm is
# not usable on the CI machines), KTIER_QEMU (default qemu-system-x86_64).
set -uo pipefail
cd "$(dirname "$0")/../.."
root=$(pwd)
out=build/kernel
timeout_s=${KTIER_TIMEOUT:-180}
boot_limit_s=${KTIER_BOOT_TIMEOUT:-60}
qemu=${KTIER_QEMU:-qemu-system-x86_64}
accel=${KTIER_ACCEL:-tcg}

skip() {
  echo "SKIPPED kernel tier: $*"
  exit 0
}
fail() {
  echo "FAILED kernel tier: $*" >&2
  exit 1
}

command -v "$qemu" >/dev/null || skip "$qemu not found (test/kernel/install-deps.sh installs it)"
[ "$(uname -m)" = x86_64 ] || skip "the guest runs the host's own x86_64 node; this host is $(uname -m)"

kernel=${KTIER_KERNEL:-}
if [ -z "$kernel" ]; then
  for k in $(ls -1 /boot/vmlinuz-* 2>/dev/null | sort -V -r); do
    v=${k#/boot/vmlinuz-}
    if ls /lib/modules/"$v"/kernel/drivers/i2c/i2c-stub.ko* >/dev/null 2>&1; then kernel=$k; break; fi
  done
fi
[ -n "$kernel" ] || skip "no kernel image with i2c-stub (/boot/vmlinuz-* and /lib/modules/<version>/.../i2c-stub.ko; test/kernel/install-deps.sh installs linux-image-amd64)"
[ -r "$kernel" ] || skip "kernel image $kernel is not readable by $(id -un)"
kver=${kernel#*/vmlinuz-}
[ -d "/lib/modules/$kver" ] || skip "no /lib/modules/$kver for $kernel"
command -v busybox >/dev/null || skip "busybox not found (test/kernel/install-deps.sh installs busybox-static)"
command -v modprobe >/dev/null || skip "modprobe (kmod) not found"
command -v i2cset >/dev/null || skip "i2cset not found (test/kernel/install-deps.sh installs i2c-tools)"

# The project must be installed: the guest runs it as it is on the host.
[ -f node_modules/i2c-bus/build/Release/i2c.node ] || fail "node_modules/i2c-bus is not built: run npm install first"
[ -f modules/tmp102.wasm ] || fail "modules/tmp102.wasm missing (it is shipped in the repository: check out the whole tree)"

mkdir -p "$out"
initramfs=$out/initramfs-$kver.cpio
test/kernel/build-initramfs.sh "$kver" "$initramfs" || fail "could not build the initramfs"
node test/kernel/bundle.mjs || fail "could not bundle the guest tests (test/kernel/bundle.mjs)"

log=$out/console.log
rm -f "$log"
echo "kernel tier: booting $kernel under QEMU ($accel); boot limit ${boot_limit_s}s, run limit ${timeout_s}s; console in $log"
start=$(date +%s)
# The serial console goes to stdout as it comes (CI log) and to $log, which is parsed below.
timeout -k 5 "$timeout_s" "$qemu" -accel "$accel" -cpu max -m 1024 -smp 2 \
  -nodefaults -display none -monitor none -net none -no-reboot \
  -chardev stdio,id=console,logfile="$log" -serial chardev:console \
  -kernel "$kernel" -initrd "$initramfs" \
  -append "console=ttyS0 panic=-1 quiet ktier.root=$root" \
  -virtfs local,path=/,mount_tag=host0,security_model=none,readonly=on,multidevs=remap \
  < /dev/null 2> "$out/qemu.stderr" &
vm=$!
# A guest that has not reached /init within the boot limit (QEMU that cannot run guests here:
# a KVM that fails them, a kernel that does not boot) is stopped at once, and the tier skipped.
booted=
while kill -0 "$vm" 2>/dev/null; do
  if [ -z "$booted" ]; then
    if grep -qa 'KTIER: booted' "$log" 2>/dev/null; then
      booted=1
    elif [ $(( $(date +%s) - start )) -ge "$boot_limit_s" ]; then
      kill "$vm" 2>/dev/null
      break
    fi
  fi
  sleep 0.5
done
wait "$vm"
qemu_status=$?
elapsed=$(( $(date +%s) - start ))
[ -f "$log" ] && tr -d '\r' < "$log" > "$log.txt" && mv "$log.txt" "$log"

if ! grep -qa '^KTIER: booted' "$log" 2>/dev/null; then
  skip "QEMU could not boot the guest (no /init after ${elapsed}s, boot limit ${boot_limit_s}s, QEMU status $qemu_status): $(tail -n 3 "$out/qemu.stderr" | tr '\n' ' ')"
fi
{ [ "$qemu_status" = 124 ] || [ "$qemu_status" = 137 ]; } && fail "the VM did not finish within ${timeout_s}s (see $log)"
exit_line=$(grep -a '^KTIER-EXIT=' "$log" | tail -n 1)
[ -n "$exit_line" ] || fail "the guest stopped without reporting a result (QEMU status $qemu_status; see $log)"
rc=${exit_line#KTIER-EXIT=}
# node --test's spec reporter ends with "ℹ tests N", "ℹ pass N", "ℹ fail N".
tests=$(grep -a -E '^ℹ tests [0-9]+' "$log" | tail -n 1 | awk '{print $3}')
passed=$(grep -a -E '^ℹ pass [0-9]+' "$log" | tail -n 1 | awk '{print $3}')
failed=$(grep -a -E '^ℹ fail [0-9]+' "$log" | tail -n 1 | awk '{print $3}')
summary="${tests:-?} tests, ${passed:-?} passed, ${failed:-?} failed, guest exit $rc, ${elapsed}s wall"
if [ "$rc" = 0 ] && [ -n "$tests" ] && [ "$tests" -gt 0 ] && [ "${failed:-1}" = 0 ]; then
  echo "PASSED kernel tier: $summary"
  exit 0
fi
fail "$summary (see $log)"
