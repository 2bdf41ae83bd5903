#!/usr/bin/env bash
# Installs what the kernel test tier (npm run test:kernel) needs, from Debian packages:
#   qemu-system-x86   QEMU (software emulation, TCG: no KVM needed)
#   linux-image-amd64 a kernel with i2c-stub, i2c-dev, 9p and virtio as modules (/boot, /lib/modules)
#   busybox-static    the guest's /init shell and tools in the initramfs
#   i2c-tools         i2cset/i2cget, used inside the guest to load and check register values
#   kmod, cpio        modprobe --show-depends and cpio to build the initramfs (usually there already)
# About 170 MB to download. Needs root (CI runs as root). Installing linux-image-amd64 in a
# container only unpacks the kernel and its modules; nothing here boots it on the host.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
SUDO=
if [ "$(id -u)" != 0 ]; then SUDO=sudo; fi
$SUDO apt-get update -qq
# --no-install-recommends keeps firmware and the like out. linux-image-amd64 still pulls in
# initramfs-tools (and in a bare container udev/systemd), whose /boot/initrd.img is not used:
# the tier builds its own initramfs (build-initramfs.sh).
$SUDO apt-get install -y -qq --no-install-recommends \
  qemu-system-x86 linux-image-amd64 busybox-static i2c-tools kmod cpio
