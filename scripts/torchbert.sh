#!/usr/bin/env bash
# Runs the torchbert CLI from source (builds on first use). Fixes Debian 12's libstdc++ first (no-op elsewhere).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
bash "$root/scripts/setup.sh" >/dev/null
# Converted models (the embedded default's import) go to the checkout's weights/ unless TORCHBERT_WEIGHTS says otherwise.
export TORCHBERT_WEIGHTS="${TORCHBERT_WEIGHTS:-$root/weights}"
if ! out=$(dotnet build "$root/tools/TorchBert.Cli" -c Release -v quiet -nologo 2>&1); then echo "$out" >&2; exit 1; fi
exec dotnet "$root/tools/TorchBert.Cli/bin/Release/net10.0/torchbert.dll" "$@"
