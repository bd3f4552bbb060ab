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
# --blame names the test that was running if a test host crashes; the hang timeout ends a hung host (and names the
# test) long before CI's limit. No dumps: a libtorch process's dump is gigabytes.
dotnet test TorchBert.sln -c Release --logger "console;verbosity=normal" \
  --blame --blame-hang-timeout 20m --blame-hang-dump-type none "$@" 2>&1 | tee "$log" || rc=${PIPESTATUS[0]}
cpu=$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo 2>/dev/null || true)
isa=$(grep -m1 '^flags' /proc/cpuinfo 2>/dev/null | tr ' ' '\n' | grep -E '^(avx2|avx512f|avx512_bf16|amx_bf16|avx_vnni)$' | tr '\n' ' ' || true)
mem=$(awk '/^MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo 2>/dev/null || true)
echo "test.sh: cpu: ${cpu:-unknown} (${isa% }), $(nproc 2>/dev/null || echo '?') cores, ${mem:-? GiB}, load: $(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo '?'), free disk: $(df -h . 2>/dev/null | awk 'NR==2 {print $4}')"
if [ "$rc" -ne 0 ]; then
  echo "test.sh: dotnet test exited $rc; the failures (full output in $log):"
  grep -n -A10 -E '^\s+Failed [A-Za-z_]|Test Run Aborted|aborted|crash|\bhang|running when|error [A-Z]+[0-9]+:' "$log" | cut -c1-300 | head -80 || true
  echo "test.sh: in short:"
  grep -E '^\s+Failed [A-Za-z_]|running when|Test host process crashed|error [A-Z]+[0-9]+:' "$log" | cut -c1-200 | sort -u | head -20 || true
  grep -E '^\s+(Total tests|Passed|Failed):' "$log" || true
fi
exit "$rc"
