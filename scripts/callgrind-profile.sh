#!/usr/bin/env bash
# Instruction counts (valgrind --tool=callgrind) of each stage of a small forward, one thread: repeatable on a busy
# machine where wall-clock timings are not. Builds a 10-line helper (CALLGRIND_ZERO_STATS / DUMP_STATS_AT around each
# stage), runs `torchbert-bench --callgrind N` under callgrind, prints Ir per call of each stage.
# Needs valgrind (apt-get install valgrind) and gcc. Usage: bash scripts/callgrind-profile.sh [calls per stage, default 20]
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
calls="${1:-20}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cat > "$work/cgctl.c" <<'C'
#include <valgrind/callgrind.h>
void cg_zero(void) { CALLGRIND_ZERO_STATS; }
void cg_dump(const char *name) { CALLGRIND_DUMP_STATS_AT(name); }
C
gcc -O1 -shared -fPIC -o "$work/libcgctl.so" "$work/cgctl.c"
bash "$root/scripts/setup.sh" >/dev/null
dotnet build "$root/tools/TorchBert.Bench" -c Release -v quiet -nologo >/dev/null
cd "$work"
TORCHBERT_CGCTL="$work/libcgctl.so" OMP_NUM_THREADS=1 DOTNET_TieredCompilation=0 DOTNET_gcServer=0 \
  valgrind --tool=callgrind --collect-atstart=yes --callgrind-out-file="$work/cg.out" \
  dotnet "$root/tools/TorchBert.Bench/bin/Release/net10.0/torchbert-bench.dll" --callgrind "$calls" --threads 1 >"$work/stdout" 2>"$work/valgrind.log" || { tail -30 "$work/valgrind.log" >&2; exit 1; }
echo "# instructions per call (callgrind Ir / $calls calls), 1 thread, $(date -u '+%Y-%m-%d %H:%M') UTC; load $(cut -d' ' -f1-3 /proc/loadavg)"
for f in $(ls -v "$work"/cg.out.*); do
  name=$(grep -m1 '^desc: Trigger: Client Request: ' "$f" | sed 's/^desc: Trigger: Client Request: //')
  ir=$(grep -m1 -E '^(summary|totals): ' "$f" | awk '{print $2}')
  [ -n "$name" ] && [ "$name" != "warm-up" ] && printf '  %-44s %14.0f Ir\n' "$name" "$(echo "$ir / $calls" | bc -l)"
done
