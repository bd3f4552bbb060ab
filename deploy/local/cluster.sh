#!/usr/bin/env bash
# The local cluster and its fault run: N `torchbert serve` replicas on loopback behind HAProxy (haproxy.cfg here), a
# closed-loop /embed load checked against the library, then SIGKILL, a rolling SIGTERM restart, SIGSTOP for 10 s and
# overload. Prints requests / 200 / 429 / errors / p50 / p99 / max per phase; exit 0 when every fault had 0 errors.
#   bash deploy/local/cluster.sh            # full form: 3 replicas, 10 s phases (~3 min)
#   bash deploy/local/cluster.sh --short    # the CI form: 2 replicas, 4 s phases
# Options: --replicas N --clients C --seconds S --freeze S --overload-clients C --max-concurrent-requests M --model M
set -euo pipefail
cd "$(dirname "$0")/../.."
bash deploy/local/install-haproxy.sh
dotnet build tools/TorchBert.Cli -c Release -v q -nologo >/dev/null
dotnet build tools/TorchBert.LoadTest -c Release -v q -nologo >/dev/null
exec dotnet tools/TorchBert.LoadTest/bin/Release/net10.0/torchbert-loadtest.dll "$@"
