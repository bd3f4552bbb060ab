#!/usr/bin/env bash
# Runs the benchmark (TorchBert vs ONNX Runtime on the embedded all-MiniLM-L6-v2); arguments go to it, e.g. --quick.
# Fixes Debian 12's libstdc++ first (no-op elsewhere). Results and how to read them: docs/benchmarks.md.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
bash "$root/scripts/setup.sh" >/dev/null
# Converted models (the embedded default's import) go to the checkout's weights/ unless TORCHBERT_WEIGHTS says otherwise.
export TORCHBERT_WEIGHTS="${TORCHBERT_WEIGHTS:-$root/weights}"
if ! out=$(dotnet build "$root/tools/TorchBert.Bench" -c Release -v quiet -nologo 2>&1); then echo "$out" >&2; exit 1; fi
exec dotnet "$root/tools/TorchBert.Bench/bin/Release/net10.0/torchbert-bench.dll" "$@"
