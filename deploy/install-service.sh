#!/usr/bin/env bash
# Installs the gateway as a systemd service (docs/service.md), from a checkout where `npm ci` has
# run (node_modules with the native addons, build/bundles):
#
#   sudo deploy/install-service.sh                 # install or upgrade, enable, (re)start
#   sudo deploy/install-service.sh --no-start      # install or upgrade, enable, do not start
#   sudo deploy/install-service.sh --uninstall     # stop, disable, remove (configuration kept)
#   deploy/install-service.sh --root /tmp/stage    # stage every file under a root, touch nothing else
#
# Options: --prefix DIR (default /opt/coap-sensor-gateway), --root DIR (DESTDIR-style staging for
# tests and packaging: files are written under DIR, with the paths inside them as on the target;
# no user, no systemctl, no udevadm), --node PATH (default: `command -v node`), --no-start,
# --uninstall.
#
# What it does, in order: checks Node (>= 20) and the checkout; creates the system user coapgw
# and the groups i2c and gpio where missing; copies the project to the prefix (root-owned,
# world-readable; no .git, tests, benchmarks, Go sources, test modules or dev-only packages) and
# swaps it in whole, so an upgrade leaves no stale file; checks that the copy runs (the bundles'
# manifest, the native addons); writes /etc/coap-sensor-gateway/gateway.json if absent; installs
# the unit and the udev rule; daemon-reload, enable, restart; checks the gateway stays up.
# Running it again upgrades. Exit status 0 on success, 1 with a message on any failure, 2 for a
# usage error.
set -euo pipefail
# bash 5.2 would read '&' in a ${var//pattern/replacement} replacement as the match.
shopt -u patsub_replacement 2>/dev/null || true

readonly SERVICE=coap-sensor-gateway
readonly SERVICE_USER=coapgw
readonly SERVICE_GROUPS=(i2c gpio)
# The same as REQUIRED_NODE_MAJOR in gateway/node-version.mjs (test/systemd-unit.test.ts
# keeps them equal): the unit runs this node, so it is checked here, before anything is copied.
readonly REQUIRED_NODE_MAJOR=20
readonly CONFIG_DIR=/etc/coap-sensor-gateway
readonly CONFIG_FILE=$CONFIG_DIR/gateway.json
readonly UNIT_FILE=/etc/systemd/system/$SERVICE.service
readonly UDEV_RULE=/etc/udev/rules.d/70-coap-sensor-gateway-i2c.rules
readonly INSTALL_INFO=.install-info
# Seconds the gateway must stay up after a start for the install to count as working.
readonly SETTLE_SECONDS=6

SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
PREFIX=/opt/coap-sensor-gateway
ROOT=
NODE=
START=1
ACTION=install

usage() {
  cat <<EOF
usage: $0 [--prefix DIR] [--root DIR] [--node PATH] [--no-start] [--uninstall]
  --prefix DIR   where the project is installed (default /opt/coap-sensor-gateway)
  --root DIR     stage everything under DIR (packaging, tests): no user, systemctl or udevadm
  --node PATH    the Node.js binary the service runs (default: command -v node)
  --no-start     install and enable, but do not start (an upgrade stops the old gateway)
  --uninstall    stop, disable and remove the service and the prefix; keep configuration and user
EOF
}

die() {
  echo "install-service: error: $*" >&2
  # An upgrade that fails after it stopped the gateway (a unit that does not verify, a config
  # that cannot be written) must not leave it down: start what is installed again.
  if [ "${WAS_RUNNING:-0}" -eq 1 ] && [ "${RESTARTED:-0}" -eq 0 ] && [ -z "${ROOT:-}" ]; then
    RESTARTED=1
    systemctl start "$SERVICE" >/dev/null 2>&1 && echo "install-service: started $SERVICE again" >&2
  fi
  exit 1
}
note() { echo "install-service: $*"; }
warn() { echo "install-service: warning: $*" >&2; }

# ---- arguments ---------------------------------------------------------------------------------
parse_args() {
  while [ $# -gt 0 ]; do
    case $1 in
      --prefix) [ $# -ge 2 ] || { usage >&2; exit 2; }; PREFIX=$2; shift 2 ;;
      --prefix=*) PREFIX=${1#*=}; shift ;;
      --root) [ $# -ge 2 ] || { usage >&2; exit 2; }; ROOT=$2; shift 2 ;;
      --root=*) ROOT=${1#*=}; shift ;;
      --node) [ $# -ge 2 ] || { usage >&2; exit 2; }; NODE=$2; shift 2 ;;
      --node=*) NODE=${1#*=}; shift ;;
      --no-start) START=0; shift ;;
      --uninstall) ACTION=uninstall; shift ;;
      -h | --help) usage; exit 0 ;;
      *) echo "install-service: unknown argument: $1" >&2; usage >&2; exit 2 ;;
    esac
  done
}

# A path the unit can use as it is: absolute, no characters systemd would split or expand, and
# not somewhere the sandbox hides (ProtectHome=yes: /home, /root, /run/user; PrivateTmp=yes).
check_service_path() {
  local what=$1 p=$2
  case $p in /*) ;; *) die "$what must be an absolute path, got '$p'" ;; esac
  [[ $p =~ ^[A-Za-z0-9._/+-]+$ ]] || die "$what '$p' has characters a unit's ExecStart cannot take as they are (use letters, digits and . _ / + -)"
  case $p/ in
    /home/* | /root/* | /run/user/*) die "$what '$p' is under /home, /root or /run/user, which the service cannot see (ProtectHome=yes): use a system location such as /opt or /usr" ;;
    /tmp/* | /var/tmp/*) die "$what '$p' is under /tmp or /var/tmp, which the service does not share (PrivateTmp=yes)" ;;
  esac
}

resolve_paths() {
  PREFIX=${PREFIX%/}
  [ -n "$PREFIX" ] || die "--prefix cannot be /"
  check_service_path "--prefix" "$PREFIX"
  if [ -n "$ROOT" ]; then
    case $ROOT in /*) ;; *) ROOT=$PWD/$ROOT ;; esac
    ROOT=${ROOT%/}
    [ -n "$ROOT" ] || die "--root cannot be /: leave it out to install on this machine"
    mkdir -p "$ROOT" || die "cannot create --root $ROOT"
    ROOT=$(cd "$ROOT" && pwd -P)
  fi
  DEST=$ROOT$PREFIX
  # Copying a tree into itself: refused. (--uninstall may run from the installed copy.)
  if [ "$ACTION" = install ]; then
    case $DEST/ in "$SRC"/*) die "the install location $DEST is inside the checkout $SRC" ;; esac
    case $SRC/ in "$DEST"/*) die "the checkout $SRC is inside the install location $DEST: install from a checkout elsewhere" ;; esac
  fi
}

# ---- checks before anything is written ---------------------------------------------------------
check_live_system() {
  [ -z "$ROOT" ] || return 0
  [ "$(id -u)" -eq 0 ] || die "run as root (sudo $0 ...), or stage the files with --root DIR"
  [ -d /run/systemd/system ] || die "systemd is not running on this machine (no /run/systemd/system): stage the files with --root DIR instead"
  command -v systemctl >/dev/null || die "systemctl not found"
}

check_node() {
  if [ -z "$NODE" ]; then
    NODE=$(command -v node) || die "node is not on the PATH: install Node.js >= $REQUIRED_NODE_MAJOR (Debian trixie, Raspberry Pi OS trixie: apt install nodejs), or pass --node PATH"
  fi
  if [ ! -f "$NODE" ] || [ ! -x "$NODE" ]; then die "--node $NODE is not an executable file"; fi
  local version real
  version=$("$NODE" -p 'process.versions.node' 2>/dev/null) || die "$NODE does not run (node -p process.versions.node failed)"
  [ "${version%%.*}" -ge "$REQUIRED_NODE_MAJOR" ] 2>/dev/null ||
    die "$NODE is Node.js $version; the gateway needs Node.js >= $REQUIRED_NODE_MAJOR (Debian trixie, Raspberry Pi OS trixie: apt install nodejs; bookworm ships 18: see README, \"On a Raspberry Pi\")"
  NODE_VERSION=$version
  real=$(readlink -f "$NODE")
  if [ -z "$ROOT" ]; then
    check_service_path "node ($NODE)" "$NODE"
    [ "$real" = "$NODE" ] || check_service_path "node ($NODE, a link to $real)" "$real"
  else
    # Staging: the unit names the target's node, which may live elsewhere than this machine's.
    (check_service_path "node ($NODE)" "$NODE" && check_service_path "node ($NODE, a link to $real)" "$real") 2>&1 |
      sed 's/^install-service: error: /install-service: warning: the staged unit runs /' >&2 || true
  fi
}

check_checkout() {
  local f
  for f in package.json gateway/cli/launch.mjs gateway/bundle-manifest.mjs deploy/$SERVICE.service deploy/70-coap-sensor-gateway-i2c.rules; do
    [ -f "$SRC/$f" ] || die "$SRC/$f is missing: run this script from a complete checkout of the gateway"
  done
  [ -d "$SRC/node_modules" ] || die "$SRC/node_modules is missing: run \`npm ci\` in $SRC first (it installs the dependencies, compiles the native addons and builds the bundles)"
  [ -f "$SRC/build/bundles/manifest.json" ] || die "$SRC/build/bundles/manifest.json is missing: run \`npm ci\` (or \`npm run build\`) in $SRC first"
  [ -f "$SRC/modules/tmp102.wasm" ] || die "$SRC/modules/tmp102.wasm is missing: the TMP102 module ships in the repository; this checkout is incomplete"
  # Stale bundles or addons built for another node: refused here, before the gateway is stopped.
  check_copy "$SRC" || die "the checkout $SRC cannot run as it is (above)"
}

# ---- user and groups ---------------------------------------------------------------------------
ensure_user() {
  local g
  for g in "${SERVICE_GROUPS[@]}"; do
    # The unit's SupplementaryGroups= fails the start (216/GROUP) when a group does not exist;
    # Raspberry Pi OS has both, a plain Debian machine may have neither.
    if ! getent group "$g" >/dev/null; then
      groupadd --system "$g" || die "groupadd --system $g failed"
      note "created the system group $g (the unit's SupplementaryGroups= needs it to exist; Raspberry Pi OS's udev rules give it the devices)"
    fi
  done
  if ! getent passwd "$SERVICE_USER" >/dev/null; then
    useradd --system --user-group --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin \
      --comment "CoAP sensor gateway" "$SERVICE_USER" || die "useradd $SERVICE_USER failed"
    note "created the system user $SERVICE_USER (no home, no login shell)"
  fi
  usermod --append --groups "$(IFS=,; echo "${SERVICE_GROUPS[*]}")" "$SERVICE_USER" || die "usermod: adding $SERVICE_USER to ${SERVICE_GROUPS[*]} failed"
}

# ---- the copy ----------------------------------------------------------------------------------
# What the service does not need. Paths are anchored at the checkout's top (tar member names
# start with ./). build/wasm holds the test modules (tens of MB); the shipped module is in modules/.
readonly EXCLUDES=(./.git ./.ci ./.github ./test ./bench ./wasm-src ./build/wasm ./coverage ./junit.xml ./.gitignore './*.log' ./node_modules/.cache)

# npm's own record of which installed packages only devDependencies need ("dev": true in
# package-lock.json); "devOptional" ones may be needed and stay.
dev_only_packages() {
  [ -f "$SRC/package-lock.json" ] || return 0
  "$NODE" -e '
    const lock = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
    for (const [p, meta] of Object.entries(lock.packages ?? {})) if (p && meta.dev === true) console.log("./" + p);
  ' "$SRC/package-lock.json" || die "cannot read $SRC/package-lock.json"
}

# The bundles the manifest names: the ones the launcher runs.
manifest_bundles() {
  "$NODE" -e '
    const m = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
    for (const f of Object.values(m.bundles ?? {})) console.log(f);
  ' "$SRC/build/bundles/manifest.json" || die "cannot read $SRC/build/bundles/manifest.json: run \`npm run build\` in $SRC"
}

# Bundles of earlier builds, which npm run build keeps for a while for gateways still running them.
stale_bundles() {
  local keep f
  keep=" manifest.json $(manifest_bundles | tr '\n' ' ')"
  for f in "$SRC"/build/bundles/*; do
    [ -f "$f" ] || continue
    f=${f##*/}
    case $keep in *" $f "*) ;; *) echo "$f" ;; esac
  done
}

# Only a directory this script wrote (it leaves .install-info) is ever replaced or removed; a git
# checkout is never one, even one cloned into the prefix: its .git would go with it.
looks_installed() { [ -f "$1/$INSTALL_INFO" ] && [ ! -e "$1/.git" ]; }

copy_tree() {
  local new=$1 args=(--anchored --no-wildcards-match-slash) p
  for p in "${EXCLUDES[@]}"; do args+=("--exclude=$p"); done
  while IFS= read -r p; do args+=("--exclude=$p"); done < <(dev_only_packages)
  while IFS= read -r p; do args+=("--exclude=./build/bundles/$p"); done < <(stale_bundles)
  rm -rf "$new"
  mkdir -p "$new"
  (cd "$SRC" && tar -c "${args[@]}" -f - .) | tar -x --no-same-owner -C "$new" -f - || die "copying $SRC to $new failed"
  {
    echo "installed=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo "source=$SRC"
    if command -v git >/dev/null && [ -d "$SRC/.git" ]; then echo "commit=$(git -c safe.directory="$SRC" -C "$SRC" rev-parse HEAD 2>/dev/null || echo unknown)"; fi
    echo "node=$NODE $NODE_VERSION"
  } >"$new/$INSTALL_INFO"
}

# Files root-owned and readable by all, nothing writable but by root: the service user reads the
# tree and writes nothing into it (ProtectSystem=strict makes it read-only anyway).
fix_permissions() {
  chmod -R u=rwX,go=rX "$1"
  if [ "$(id -u)" -eq 0 ]; then chown -R 0:0 "$1"; fi
}

# The bundles must find their workers, addons and modules relative to themselves: a bundle that
# embeds the checkout's absolute path (file:///home/pi/...) would run the checkout's files, which
# ProtectHome=yes hides. gateway/bundle-file.mjs makes them relative; this guards against a
# build that is not.
check_relocatable() {
  local dest=$1 src_url file
  src_url=$("$NODE" -p 'require("url").pathToFileURL(process.argv[1]).href + "/"' "$SRC")
  for file in $(manifest_bundles); do
    if grep -qF -- "$src_url" "$dest/build/bundles/$file"; then
      echo "build/bundles/$file embeds the checkout's path ($src_url...): it would not run from $PREFIX; rebuild with \`npm run build\` in $SRC" >&2
      return 1
    fi
  done
}

# The installed tree, checked as the gateway would check it: the launcher's bundle manifest
# (every bundle present, no source changed since it was built) and the native addons loading
# in this node (a node of another major version than the one `npm ci` ran with cannot load them).
check_copy() {
  local dest=$1 addon
  # shellcheck disable=SC2016 # JavaScript, not shell
  "$NODE" --input-type=module -e '
    const { pathToFileURL } = await import("node:url");
    const m = await import(pathToFileURL(process.argv[1]).href);
    try { m.checkedManifest(); } catch (err) { console.error(`${err.code ?? "error"}: ${err.message}`); process.exit(1); }
  ' "$dest/gateway/bundle-manifest.mjs" || { echo "the bundles in $dest do not pass the launcher's check (above): run \`npm ci\` or \`npm run build\` in $SRC, then this script again" >&2; return 1; }
  for addon in i2c-bus epoll; do
    [ -d "$dest/node_modules/$addon" ] || continue
    "$NODE" -e 'require(process.argv[1])' "$dest/node_modules/$addon" 2>/dev/null ||
      { echo "the native addon $addon does not load in $NODE (Node.js $NODE_VERSION): run \`npm ci\` in $SRC with this node, then this script again" >&2; return 1; }
  done
}

# Swaps the new tree in whole and checks it; on any failure the previous installation is put back.
install_tree() {
  local new=$DEST.new old=$DEST.old
  if [ -e "$DEST" ] && ! looks_installed "$DEST"; then
    die "$DEST exists and is not an installation made by this script (no $INSTALL_INFO, or a git checkout): choose another --prefix, or move it away"
  fi
  mkdir -p "$(dirname "$DEST")"
  copy_tree "$new"
  # Stopped only now, after the slow part: the old gateway must not run on a half-swapped tree.
  stop_if_running
  rm -rf "$old"
  if [ -e "$DEST" ]; then mv "$DEST" "$old"; fi
  mv "$new" "$DEST"
  if ! check_relocatable "$DEST" || ! check_copy "$DEST"; then
    rm -rf "$DEST"
    if [ -e "$old" ]; then mv "$old" "$DEST"; fi
    if [ "${WAS_RUNNING:-0}" -eq 1 ]; then systemctl start "$SERVICE" || true; RESTARTED=1; fi
    die "the new installation in $DEST does not work (above); $( [ -e "$DEST" ] && echo "the previous one is back in place" || echo "nothing is installed")"
  fi
  fix_permissions "$DEST"
  rm -rf "$old"
  note "installed the gateway in $DEST ($(du -sh "$DEST" | cut -f1))"
}

# ---- configuration, unit, udev rule ------------------------------------------------------------
write_default_config() {
  local file=$ROOT$CONFIG_FILE
  if [ -e "$file" ]; then
    note "keeping the existing configuration $CONFIG_FILE"
    return 0
  fi
  mkdir -p "$ROOT$CONFIG_DIR"
  chmod 0755 "$ROOT$CONFIG_DIR"
  # One TMP102 on bus 1 (header pins 3 and 5) at 0x48 (ADD0 to GND), the shipped module, the
  # chip's defaults; docs/configuration.md has every field. No sha256 pin: an upgrade may ship
  # a rebuilt module, and a pin would then refuse it (docs/service.md says how to pin).
  cat >"$file.tmp" <<EOF
{
  "driver": "auto",
  "sensors": [
    {
      "name": "tmp102",
      "path": "/temp",
      "module": "$PREFIX/modules/tmp102.wasm",
      "bus": 1,
      "address": "0x48",
      "settings": { "resolution": 12, "rateHz": 4, "mode": "continuous" }
    }
  ]
}
EOF
  if [ -z "$ROOT" ]; then
    chgrp "$SERVICE_USER" "$file.tmp"
    chmod 0640 "$file.tmp"
  else
    chmod 0644 "$file.tmp"
  fi
  mv "$file.tmp" "$file"
  note "wrote the default configuration $CONFIG_FILE (one TMP102 on bus 1 at 0x48)"
}

# The units to order the gateway after: the i2c-dev driver and each bus the configuration
# reads, none when it simulates. An unreadable configuration is the gateway's to report (with
# the field's name): this assumes bus 1.
i2c_units() {
  local buses
  buses=$("$NODE" -e '
    const c = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
    if (c.driver === "simulated") process.exit(0);
    const buses = new Set((Array.isArray(c.sensors) ? c.sensors : []).map((s) => s?.bus ?? 1));
    console.log([...(buses.size ? buses : [1])].filter(Number.isInteger).join(" "));
  ' "$ROOT$CONFIG_FILE" 2>/dev/null) || { warn "cannot read the buses from $CONFIG_FILE; ordering the service after /dev/i2c-1"; buses=1; }
  [ -n "$buses" ] || return 0
  local units="modprobe@i2c_dev.service" n
  for n in $buses; do units+=" dev-i2c\\x2d$n.device"; done
  printf '%s' "$units"
}

render_unit() {
  local template=$SRC/deploy/$SERVICE.service out=$ROOT$UNIT_FILE units line
  units=$(i2c_units)
  mkdir -p "$(dirname "$out")"
  {
    echo "# Installed by deploy/install-service.sh from deploy/$SERVICE.service ($(date -u +%Y-%m-%d))."
    echo "# Running the script again overwrites this file: put local changes in a drop-in,"
    echo "# \`systemctl edit $SERVICE\`."
    while IFS= read -r line || [ -n "$line" ]; do
      case $line in
        '#'*) ;;
        *)
          line=${line//@NODE@/$NODE}
          line=${line//@PREFIX@/$PREFIX}
          line=${line//@CONFIG@/$CONFIG_FILE}
          line=${line//@I2C_UNITS@/$units}
          [[ ! $line =~ @[A-Z0-9_]+@ ]] || die "deploy/$SERVICE.service: unknown placeholder in: $line"
          # No adapter to wait for (the configuration simulates): no empty Wants=/After= either.
          case $line in Wants= | After=) continue ;; esac
          ;;
      esac
      printf '%s\n' "$line"
    done <"$template"
  } >"$out.tmp"
  chmod 0644 "$out.tmp"
  mv "$out.tmp" "$out"
  if [ -z "$ROOT" ] && command -v systemd-analyze >/dev/null; then
    systemd-analyze verify --man=no --recursive-errors=no "$out" || die "systemd-analyze verify found errors in $out (above)"
  fi
  note "installed $UNIT_FILE (ExecStart $NODE; ordered after: ${units:-nothing, the configuration simulates})"
}

install_udev_rule() {
  mkdir -p "$(dirname "$ROOT$UDEV_RULE")"
  install -m 0644 "$SRC/deploy/70-coap-sensor-gateway-i2c.rules" "$ROOT$UDEV_RULE"
  [ -z "$ROOT" ] || return 0
  if command -v udevadm >/dev/null; then
    udevadm control --reload-rules || warn "udevadm control --reload-rules failed"
    # Re-run the rules for adapters that exist already, so systemd sees them tagged now.
    udevadm trigger --subsystem-match=i2c-dev || warn "udevadm trigger failed"
  fi
}

# ---- systemd -----------------------------------------------------------------------------------
unit_state() { systemctl show "$SERVICE" -p "$1" --value 2>/dev/null || true; }

stop_if_running() {
  [ -z "$ROOT" ] || return 0
  if systemctl is-active --quiet "$SERVICE" 2>/dev/null; then
    note "stopping the running gateway for the upgrade"
    systemctl stop "$SERVICE" || die "systemctl stop $SERVICE failed"
    WAS_RUNNING=1
  fi
}

missing_adapters() {
  local u n missing=
  for u in $(i2c_units); do
    case $u in dev-i2c*) n=${u#dev-i2c\\x2d}; n=${n%.device}; [ -e "/dev/i2c-$n" ] || missing+=" /dev/i2c-$n" ;; esac
  done
  printf '%s' "${missing# }"
}

enable_and_start() {
  systemctl daemon-reload || die "systemctl daemon-reload failed"
  systemctl enable "$SERVICE" >/dev/null 2>&1 || die "systemctl enable $SERVICE failed"
  note "enabled $SERVICE (starts at boot)"
  if [ "$START" -eq 0 ]; then
    if [ "${WAS_RUNNING:-0}" -eq 1 ]; then note "--no-start: the gateway was stopped for the upgrade; start it with: systemctl start $SERVICE"; fi
    return 0
  fi
  # From here this function starts the new installation itself; die must not start it again.
  RESTARTED=1
  local missing
  missing=$(missing_adapters)
  if [ -n "$missing" ]; then
    # systemctl start would wait the device timeout (90 s) for the adapter; queue the start.
    systemctl restart --no-block "$SERVICE" || die "systemctl restart $SERVICE failed"
    die "installed and enabled, but $missing does not exist: enable I2C (raspi-config nonint do_i2c 0, or dtparam=i2c_arm=on in /boot/firmware/config.txt) and reboot; until then the gateway waits for it and then refuses to start (journalctl -u $SERVICE)"
  fi
  systemctl restart "$SERVICE" || die "systemctl restart $SERVICE failed: journalctl -u $SERVICE -n 30"
  local restarts
  restarts=$(unit_state NRestarts)
  sleep "$SETTLE_SECONDS"
  if [ "$(unit_state ActiveState)" != active ] || [ "$(unit_state NRestarts)" != "$restarts" ]; then
    journalctl -u "$SERVICE" -n 20 --no-pager -o cat >&2 2>/dev/null || true
    die "installed and enabled, but the gateway did not stay up (its last lines above). Check the wiring: sudo -u $SERVICE_USER $NODE $PREFIX/gateway/cli/launch.mjs doctor --config $CONFIG_FILE; fix, then: systemctl restart $SERVICE"
  fi
  note "started $SERVICE: it is running"
}

print_next_steps() {
  cat <<EOF

The gateway is installed as $SERVICE.service.
  logs:           journalctl -u $SERVICE -f          (warnings and worse: -p warning)
  check wiring:   sudo -u $SERVICE_USER $NODE $PREFIX/gateway/cli/launch.mjs doctor --config $CONFIG_FILE
  configuration:  $CONFIG_FILE   (docs/configuration.md; then: systemctl restart $SERVICE)
  reload modules: systemctl reload $SERVICE
  upgrade:        git pull && npm ci && sudo deploy/install-service.sh
  uninstall:      sudo $PREFIX/deploy/install-service.sh --uninstall --prefix $PREFIX
EOF
}

# ---- uninstall ---------------------------------------------------------------------------------
uninstall() {
  if [ -z "$ROOT" ]; then
    systemctl disable --now "$SERVICE" >/dev/null 2>&1 || true
  fi
  rm -f "$ROOT$UNIT_FILE" "$ROOT$UDEV_RULE"
  if [ -e "$DEST" ]; then
    looks_installed "$DEST" || die "$DEST is not an installation of the gateway: not removing it"
    rm -rf "$DEST"
  fi
  if [ -z "$ROOT" ]; then
    systemctl daemon-reload || true
    systemctl reset-failed "$SERVICE" >/dev/null 2>&1 || true
    if command -v udevadm >/dev/null; then udevadm control --reload-rules || true; fi
  fi
  note "removed $SERVICE.service, the udev rule and $DEST"
  note "kept $CONFIG_DIR and the user $SERVICE_USER; to remove them: rm -r $CONFIG_DIR; userdel $SERVICE_USER"
}

main() {
  parse_args "$@"
  resolve_paths
  check_live_system
  if [ "$ACTION" = uninstall ]; then
    uninstall
    return 0
  fi
  check_node
  check_checkout
  if [ -z "$ROOT" ]; then ensure_user; fi
  install_tree
  write_default_config
  install_udev_rule
  render_unit
  if [ -z "$ROOT" ]; then
    enable_and_start
  else
    note "staged under $ROOT: nothing enabled or started"
  fi
  print_next_steps
}

# The whole file is read before main runs, so --uninstall can remove the copy it runs from.
main "$@"
