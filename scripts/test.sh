#!/usr/bin/env bash
# Runs the whole test suite (what .ci/run runs). Fixes Debian 12's libstdc++ first (no-op elsewhere).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
# The local-cluster test (TorchBert.Tests/Deploy/LocalClusterTests.cs) runs real HAProxy replicas: install it if missing.
bash deploy/local/install-haproxy.sh
dotnet test TorchBert.sln -c Release --logger "console;verbosity=normal" "$@"
