#!/usr/bin/env bash
# Exact-cache hits per second: wrk sends the same non-streamed question (already answered, so every
# request is an exact hit, served before admission and the queue) to a release `sluice serve`.
# Three runs; prints each and the median. Loopback only; bounded runs.
# Usage: benchmarks/cache-hits.sh [seconds per run, default 10] [connections, default 64]
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-10}
connections=${2:-64}
command -v wrk >/dev/null || { echo "needs wrk (apt-get install wrk)"; exit 1; }
if [ -z "${SLUICE_BIN:-}" ]; then
  swift build -c release --product sluice >/dev/null
  SLUICE_BIN=$(swift build -c release --show-bin-path)/sluice
fi
data=$(mktemp -d)
port=$((20000 + RANDOM % 20000))
lua=$(mktemp --suffix=.lua)
cat > "$data/sluice.yaml" <<YAML
plans:
  names: [free]
  free: {requestsPerMinute: 0}
mock: {ttftMs: 0, tokensPerSecond: 0, tokens: 48}
YAML
"$SLUICE_BIN" serve --port "$port" --data-dir "$data" --config "$data/sluice.yaml" --log-level warning &
pid=$!
trap 'kill $pid 2>/dev/null; rm -rf "$data" "$lua"' EXIT
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.1; done
body='{"model":"default","messages":[{"role":"user","content":"Why does light bend when it enters water?"}]}'
curl -sf "http://127.0.0.1:$port/v1/chat/completions" -H 'Content-Type: application/json' -d "$body" >/dev/null
hit=$(curl -s -o /dev/null -D - "http://127.0.0.1:$port/v1/chat/completions" -H 'Content-Type: application/json' -d "$body" | tr -d '\r' | awk -F': ' 'tolower($1)=="x-sluice-cache" {print $2}')
[ "$hit" = "exact" ] || { echo "expected an exact hit, got '$hit'"; exit 1; }
cat > "$lua" <<LUA
wrk.method = "POST"
wrk.body = '$body'
wrk.headers["Content-Type"] = "application/json"
LUA
results=()
for run in 1 2 3; do
  out=$(wrk -t2 -c"$connections" -d"${seconds}s" --latency -s "$lua" "http://127.0.0.1:$port/v1/chat/completions")
  rps=$(echo "$out" | awk '/Requests\/sec/ {print $2}')
  p50=$(echo "$out" | awk '$1=="50%" {print $2}')
  p99=$(echo "$out" | awk '$1=="99%" {print $2}')
  errors=$(echo "$out" | awk '/Non-2xx/ {print $4}')
  echo "run $run: ${rps} req/s, p50 ${p50}, p99 ${p99}, non-2xx ${errors:-0}"
  results+=("$rps")
done
median=$(printf '%s\n' "${results[@]}" | sort -n | sed -n 2p)
echo "| exact-cache hits, ${connections} connections | ${median} req/s (median of 3 × ${seconds}s) |"
