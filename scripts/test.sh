#!/usr/bin/env bash
# Runs the whole test suite (what .ci/run runs). Fixes Debian 12's libstdc++ first (no-op elsewhere).
# The run's output is kept in TestResults/test.log; when a test fails, its name and message are printed again
# at the very end, with the CPU, so a CI log that shows only its last lines still names the failure.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
# The local-cluster test (TorchBert.Tests/Deploy/LocalClusterTests.cs) runs real HAProxy replicas: install it if missing.
bash deploy/local/install-haproxy.sh
mkdir -p TestResults
log=TestResults/test.log
rc=0
dotnet test TorchBert.sln -c Release --logger "console;verbosity=normal" "$@" 2>&1 | tee "$log" || rc=${PIPESTATUS[0]}
cpu=$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo 2>/dev/null || true)
echo "test.sh: cpu: ${cpu:-unknown}, $(nproc 2>/dev/null || echo '?') cores, load: $(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo '?')"
if [ "$rc" -ne 0 ]; then
  echo "test.sh: dotnet test exited $rc; the failures (full output in $log):"
  grep -n -A14 -E '^\s+Failed [A-Za-z_]|Test Run Aborted|aborted|Test host process crashed|error [A-Z]+[0-9]+:' "$log" | cut -c1-400 | head -120 || true
  grep -E '^\s+(Total tests|Passed|Failed):' "$log" || true
fi
exit "$rc"
