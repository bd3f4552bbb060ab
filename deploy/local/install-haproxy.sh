#!/usr/bin/env bash
# Installs HAProxy (Debian/Ubuntu package `haproxy`) when it is missing: the local cluster (deploy/local) and its test
# need it. As root (CI) it runs apt-get; otherwise through sudo when available; else it says what to run.
set -euo pipefail
if command -v haproxy >/dev/null 2>&1 || [ -x /usr/sbin/haproxy ]; then exit 0; fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then SUDO=sudo
  else echo "install-haproxy: haproxy is missing; install it (apt-get install -y haproxy)" >&2; exit 1; fi
fi
if ! command -v apt-get >/dev/null 2>&1; then echo "install-haproxy: no apt-get; install haproxy (2.6+) with your package manager" >&2; exit 1; fi
echo "install-haproxy: apt-get install -y haproxy"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq haproxy >/dev/null
/usr/sbin/haproxy -v | head -n 1
