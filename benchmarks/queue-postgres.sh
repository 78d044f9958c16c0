#!/usr/bin/env bash
# The PostgreSQL queue, side by side with pgqueuer (PyPI) on the same throwaway PostgreSQL, in one run:
# jobs per second from enqueue to completion with closed-loop submitters and a worker that does nothing
# (Sluice: `sluice bench-queue --database-url`, its mock answering at once with one token; pgqueuer: a
# handler that returns at once), then the enqueue-to-start latency at a fixed rate. PostgreSQL runs with
# its durable defaults (fsync and synchronous_commit on). Each system gets a fresh database; three
# rounds, alternating, medians reported. pgqueuer and asyncpg are installed with pip if missing.
# Usage: benchmarks/queue-postgres.sh [jobs, default 5000] [submitters, default 64] [rate, default 200]
set -euo pipefail
cd "$(dirname "$0")/.."
source benchmarks/lib.sh
jobs=${1:-5000}
submitters=${2:-64}
rate=${3:-200}
bin=$(sluice_bin)
python3 -c "import pgqueuer, asyncpg" 2>/dev/null || python3 -m pip install --quiet pgqueuer asyncpg
WORK=$(mktemp -d)
start_postgres $((20000 + RANDOM % 20000))
trap 'stop_postgres; rm -rf "$WORK"' EXIT
server=$PG_SERVER
for round in 1 2 3; do
  "$PGBIN/psql" "$server/postgres" -qc "CREATE DATABASE sluice_$round" -c "CREATE DATABASE pgq_$round"
  "$bin" bench-queue --database-url "$server/sluice_$round" --data-dir "$WORK/unused" --jobs "$jobs" --submitters "$submitters" \
    --rate "$rate" --seconds 10 | tee "$WORK/sluice-$round.txt" >&2
  python3 benchmarks/pgqueuer_bench.py "$server/pgq_$round" "$jobs" "$submitters" "$rate" 10 | tee "$WORK/pgq-$round.txt" >&2
done
python3 - "$WORK" "$rate" "$jobs" "$submitters" <<'PY'
import re, statistics, sys
work, rate, jobs, submitters = sys.argv[1:]
print(f"| queue on PostgreSQL | jobs/s ({jobs} jobs, {submitters} submitters; runs) | enqueue → start at {rate}/s, p50 | p99 |")
print("| --- | ---: | ---: | ---: |")
for name, label in (("sluice", "Sluice (bench-queue)"), ("pgq", "pgqueuer (handler returns at once)")):
    runs = []
    for round in (1, 2, 3):
        text = open(f"{work}/{name}-{round}.txt").read()
        throughput = float(re.search(r"throughput: (\d+)", text).group(1))
        p50, p99 = (float(v) for v in re.search(r"p50 ([\d.]+) ms, p99 ([\d.]+) ms", text).groups())
        runs.append((throughput, p50, p99))
    median = statistics.median
    print(f"| {label} | {median(r[0] for r in runs):,.0f} ({', '.join(f'{r[0]:,.0f}' for r in runs)}) | "
          f"{median(r[1] for r in runs):.2f} ms | {median(r[2] for r in runs):.2f} ms |")
PY
