#!/usr/bin/env bash
# The queue on the embedded store, in-process (`sluice bench-queue`, no HTTP): jobs per second from a
# durable enqueue to a committed completion, with a mock that answers at once with one token and 256
# concurrent submitters; then the enqueue-to-start latency at a fixed rate. Three runs, each on a fresh
# store; the median run is the table row.
# With `perf` and FLAMEGRAPH_DIR (see lib.sh), a fourth run's CPU is drawn as docs/flame-queue.svg.
# Usage: benchmarks/queue.sh [jobs per run, default 20000] [rate, default 500]
set -euo pipefail
cd "$(dirname "$0")/.."
source benchmarks/lib.sh
jobs=${1:-20000}
rate=${2:-500}
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
bin=$(sluice_bin)
for run in 1 2 3; do
  "$bin" bench-queue --data-dir "$WORK/run$run" --jobs "$jobs" --rate "$rate" --seconds 10 | tee "$WORK/run$run.txt" >&2
done
flame_graph queue "sluice bench-queue: $jobs jobs, embedded store" -- "$bin" bench-queue --data-dir "$WORK/flame" --jobs "$jobs" --rate "$rate" --seconds 1 >/dev/null
python3 - "$WORK" "$rate" <<'PY'
import re, sys
runs = []
for run in (1, 2, 3):
    text = open(f"{sys.argv[1]}/run{run}.txt").read()
    jobs = float(re.search(r"throughput: (\d+)", text).group(1))
    p50, p99 = (float(v) for v in re.search(r"p50 ([\d.]+) ms, p99 ([\d.]+) ms", text).groups())
    runs.append((jobs, p50, p99))
runs.sort()
print(f"| store | jobs/s (runs) | enqueue → start at {sys.argv[2]}/s, p50 | p99 |")
print("| --- | ---: | ---: | ---: |")
jobs, p50, p99 = runs[1]
print(f"| embedded (SQLite, synchronous=full) | {jobs:,.0f} ({', '.join(f'{r[0]:,.0f}' for r in runs)}) | {p50:.2f} ms | {p99:.2f} ms |")
PY
