#!/usr/bin/env bash
# Prepares a machine for TorchBert: TorchSharp 0.107 (libtorch 2.10) needs libstdc++ with GLIBCXX_3.4.32.
# Debian 12 ships 3.4.30; this installs libstdc++6 from Debian 13 (trixie) with a low pin priority so nothing
# else is upgraded. On Ubuntu 24.04+, Debian 13+, macOS and Windows it does nothing.
set -euo pipefail

needs_glibcxx() {
  local lib
  lib=$(ldconfig -p 2>/dev/null | awk '/libstdc\+\+\.so\.6 / && /x86-64|AArch64/ {print $NF; exit}')
  [ -z "$lib" ] && lib=/usr/lib/x86_64-linux-gnu/libstdc++.so.6
  [ -f "$lib" ] || return 1
  ! grep -aq 'GLIBCXX_3\.4\.32' "$lib"
}

if [ "$(uname -s)" != "Linux" ] || ! needs_glibcxx; then
  echo "setup: libstdc++ already provides GLIBCXX_3.4.32 (nothing to do)"
  exit 0
fi

. /etc/os-release
if [ "${ID:-}" != "debian" ]; then
  echo "setup: libstdc++ lacks GLIBCXX_3.4.32, needed by TorchSharp 0.107; install a libstdc++6 from GCC 13+ for ${PRETTY_NAME:-this OS}" >&2
  exit 1
fi

SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO=sudo
echo "setup: Debian ${VERSION_ID:-?}: installing libstdc++6 from trixie (pinned low, nothing else upgraded)"
if [ ! -f /etc/apt/sources.list.d/trixie.sources ]; then
  $SUDO tee /etc/apt/sources.list.d/trixie.sources >/dev/null <<'SRC'
Types: deb
URIs: http://deb.debian.org/debian
Suites: trixie
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
fi
$SUDO tee /etc/apt/preferences.d/trixie-low >/dev/null <<'PIN'
Package: *
Pin: release n=trixie
Pin-Priority: 100
PIN
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq -t trixie libstdc++6 >/dev/null
needs_glibcxx && { echo "setup: libstdc++6 from trixie did not provide GLIBCXX_3.4.32" >&2; exit 1; }
echo "setup: done (GLIBCXX_3.4.32 available)"
