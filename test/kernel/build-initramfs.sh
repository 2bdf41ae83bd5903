#!/usr/bin/env bash
# Builds the kernel tier's initramfs from what the Debian packages installed on this machine:
# busybox-static for the shell, the kernel's own .ko files (9p over virtio to reach the host's
# file system, i2c-stub and i2c-dev for /dev/i2c-0) and test/kernel/init as /init.
#
#   test/kernel/build-initramfs.sh <kernel-version> <output.cpio>
#
# Modules come in dependency order from `modprobe --show-depends` against
# /lib/modules/<kernel-version> (modules.dep of the installed linux-image package), so the
# guest's busybox insmod needs no modules.dep of its own. Modules the kernel has built in
# (`builtin ...` lines) are skipped.
set -euo pipefail
kver=${1:?usage: build-initramfs.sh <kernel-version> <output.cpio>}
out=${2:?usage: build-initramfs.sh <kernel-version> <output.cpio>}
here=$(cd "$(dirname "$0")" && pwd)
busybox=$(command -v busybox || true)
[ -n "$busybox" ] || { echo "busybox not found (apt-get install busybox-static)" >&2; exit 1; }
if ! file -L "$busybox" 2>/dev/null | grep -q 'statically linked' && ldd "$busybox" >/dev/null 2>&1; then
  echo "$busybox is dynamically linked; the initramfs needs busybox-static" >&2; exit 1
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work"/{bin,dev,proc,sys,host,lib/modules}
cp "$busybox" "$work/bin/busybox"
for applet in sh mount umount insmod chroot cat echo sleep poweroff sync mkdir ls dmesg; do
  ln -s busybox "$work/bin/$applet"
done

# The modules, each once, dependencies first.
: > "$work/lib/modules/load.list"
for mod in virtio_pci 9pnet_virtio 9p i2c-stub i2c-dev; do
  modprobe -d / -S "$kver" --show-depends "$mod" | while read -r kind path _; do
    [ "$kind" = insmod ] || continue
    name=$(basename "$path")
    if ! grep -qx "$name" "$work/lib/modules/load.list"; then
      case "$path" in
        *.ko) cp "$path" "$work/lib/modules/$name" ;;
        *.ko.xz) xz -dc "$path" > "$work/lib/modules/${name%.xz}"; name=${name%.xz} ;;
        *.ko.zst) zstd -qdc "$path" > "$work/lib/modules/${name%.zst}"; name=${name%.zst} ;;
        *) echo "unexpected module file $path" >&2; exit 1 ;;
      esac
      echo "$name" >> "$work/lib/modules/load.list"
    fi
  done
done
grep -qx 'i2c-stub.ko' "$work/lib/modules/load.list" || { echo "i2c-stub not found for kernel $kver" >&2; exit 1; }

cp "$here/init" "$work/init"
chmod 755 "$work/init"
mkdir -p "$(dirname "$out")"
# Uncompressed newc archive: the kernel unpacks it directly, no decompressor needed.
(cd "$work" && find . -print0 | LC_ALL=C sort -z | cpio --null -o -H newc --quiet) > "$out.tmp"
mv "$out.tmp" "$out"
echo "initramfs $out: $(wc -c < "$out") bytes, modules: $(tr '\n' ' ' < "$work/lib/modules/load.list")"
