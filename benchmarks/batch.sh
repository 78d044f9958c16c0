#!/usr/bin/env bash
# A batch of 10,000 lines run beside an interactive load, in one run on one node (release build,
# embedded store): the interactive queue wait (p50, p99) before the batch and while it runs, and the
# batch's own pace. The node runs 8 workers; a batch keeps `batches.concurrency` lines in flight.
# Usage: benchmarks/batch.sh [lines, default 10000] [interactive requests/s, default 10] [concurrency, default 4]
set -euo pipefail
cd "$(dirname "$0")/.."
source benchmarks/lib.sh
WORK=$(mktemp -d)
cat > "$WORK/sluice.yaml" <<YAML
queue: {workers: 8}
batches: {concurrency: ${3:-4}}
plans: {names: [free], free: {requestsPerMinute: 0, maxStreams: 1000}}
YAML
start_sluice "$WORK/data" --config "$WORK/sluice.yaml"
python3 benchmarks/batch_beside.py "http://127.0.0.1:$PORT" "${1:-10000}" "${2:-10}" "${3:-4}"
