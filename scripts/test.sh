#!/usr/bin/env bash
# Runs the whole test suite (what .ci/run runs). Fixes Debian 12's libstdc++ first (no-op elsewhere).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
dotnet test TorchBert.sln -c Release --logger "console;verbosity=normal" "$@"
