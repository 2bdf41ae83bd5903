#!/usr/bin/env bash
# Installs on the host what the arm64 tier (npm run test:arm64, test/arm64/run.sh) needs, from
# Debian packages (run.sh calls this itself when one is missing):
#   qemu-user-static  qemu-aarch64, registered with binfmt_misc by run.sh (its postinst does not
#                     register anything inside a container, and bookworm has no systemd running)
#   mmdebstrap        builds the Debian trixie arm64 root
#   arch-test         mmdebstrap requires it to bootstrap a foreign architecture
#   libcoap3-bin      coap-client-notls, the host-side CoAP client of the start step
# About 45 MB to download. Needs root.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
SUDO=
if [ "$(id -u)" != 0 ]; then SUDO=sudo; fi
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends qemu-user-static mmdebstrap arch-test libcoap3-bin
