#!/usr/bin/env bash
# Streams across nodes: two release `sluice serve` nodes on one throwaway PostgreSQL (durable defaults).
# Each job is submitted to node A, which runs it, and read at once from A and from B (relayed from A);
# benchmarks/cluster_stream.py reports the relay's added delay per chunk and both nodes' time to first
# token and to the end. Three rounds; each prints its lines. Loopback only.
# Usage: benchmarks/cluster-stream.sh [jobs, default 300] [concurrency, default 16] [tokens, default 40] [tokens/s, default 100]
set -euo pipefail
cd "$(dirname "$0")/.."
source benchmarks/lib.sh
jobs=${1:-300}
concurrency=${2:-16}
tokens=${3:-40}
rate=${4:-100}
bin=$(sluice_bin)
WORK=$(mktemp -d)
pids=()
base=$((20000 + RANDOM % 20000))
start_postgres "$base"
trap 'kill ${pids[*]} 2>/dev/null; stop_postgres; rm -rf "$WORK"' EXIT
"$PGBIN/psql" "$PG_SERVER/postgres" -qc "CREATE DATABASE sluice"
cat > "$WORK/sluice.yaml" <<YAML
plans: {names: [free], free: {requestsPerMinute: 0, maxStreams: 10000}}
cache: {enabled: false}
queue: {workers: 256, maxRunningPerUser: 256}
YAML
for n in 1 2; do
  SLUICE_DATABASE_URL="$PG_SERVER/sluice" "$bin" serve --port $((base + n)) --data-dir "$WORK/node$n" \
    --config "$WORK/sluice.yaml" --log-level error & pids+=($!)
done
for n in 1 2; do
  for _ in $(seq 100); do curl -sf "http://127.0.0.1:$((base + n))/healthz" >/dev/null && break; sleep 0.1; done
done
for round in 1 2 3; do
  echo "round $round"
  python3 benchmarks/cluster_stream.py $((base + 1)) $((base + 2)) "$jobs" "$concurrency" "$tokens" "$rate"
done
