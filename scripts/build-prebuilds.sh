#!/usr/bin/env bash
# Cross-builds the native payload-store addon (native/) for the gateway boards into native/prebuilds/, where
# node-gyp-build finds it before trying a local build, so a gateway image needs no compiler:
#   native/prebuilds/linux-arm64/node.napi.armv8.node   (aarch64-linux-gnu: Pi 3/4/5, CM4, Zero 2 W on 64-bit OS)
#   native/prebuilds/linux-arm/node.napi.armv7.node     (arm-linux-gnueabihf: the same boards on 32-bit Raspberry Pi OS)
#   native/prebuilds/linux-x64/node.napi.node           (x86_64-linux-gnu: x86 gateways; the host's gcc on x86)
# Node-API keeps the binary valid across Node versions (napi tag); the addon avoids glibc symbols newer than 2.17
# (arm64) and 2.10 (arm), so the binaries load on Raspberry Pi OS Buster and later. Needs Debian's cross compilers:
#   apt-get install g++-aarch64-linux-gnu g++-arm-linux-gnueabihf
# Usage: scripts/build-prebuilds.sh [arm64] [arm] [x64]      (default: arm64 and arm)
# Node headers: $NODEDIR, else npm's nodedir setting, else node-gyp downloads them.
# Output: $PREBUILDS_DIR (default native/prebuilds); `npm run package` points it at the bundle it builds.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
node_gyp="${NODE_GYP:-$(npm root -g)/npm/node_modules/node-gyp/bin/node-gyp.js}"
[ -f "$node_gyp" ] || { echo "node-gyp not found at $node_gyp (set NODE_GYP)" >&2; exit 1; }
nodedir="${NODEDIR:-$(npm config get nodedir 2>/dev/null || true)}"
out="${PREBUILDS_DIR:-$root/native/prebuilds}"
[ "$nodedir" = "undefined" ] && nodedir=""
targets=("$@")
[ ${#targets[@]} -eq 0 ] && targets=(arm64 arm)

for arch in "${targets[@]}"; do
  case "$arch" in
    arm64) triple=aarch64-linux-gnu; file=node.napi.armv8.node ;;
    arm) triple=arm-linux-gnueabihf; file=node.napi.armv7.node ;;
    x64) triple=x86_64-linux-gnu; file=node.napi.node ;;
    *) echo "unknown target $arch (arm64, arm or x64)" >&2; exit 2 ;;
  esac
  command -v "$triple-gcc" >/dev/null || { echo "$triple-gcc missing: apt-get install g++-$triple" >&2; exit 1; }
  # A scratch copy: node-gyp builds into ./build, which holds the host's own addon.
  work="$(mktemp -d)"
  trap 'rm -rf "$work"' EXIT
  cp -r "$root/native/binding.gyp" "$root/native/src" "$work/"
  echo "== linux-$arch ($triple)"
  (
    cd "$work"
    CC="$triple-gcc" CXX="$triple-g++" LINK="$triple-g++" AR="$triple-ar" \
      node "$node_gyp" rebuild --arch="$arch" ${nodedir:+--nodedir="$nodedir"} >build.log 2>&1 \
      || { tail -30 build.log >&2; exit 1; }
  )
  mkdir -p "$out/linux-$arch"
  cp "$work/build/Release/wharf_segments.node" "$out/linux-$arch/$file"
  file "$out/linux-$arch/$file" 2>/dev/null || ls -l "$out/linux-$arch/$file"
  rm -rf "$work"
  trap - EXIT
done
