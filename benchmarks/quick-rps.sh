#!/usr/bin/env bash
# Quick local throughput: non-streamed chat completions through a release `sluice serve` whose mock
# provider answers at once (16 tokens), so the number is the gateway's own cost: HTTP, validation, a
# durable job (synchronous=FULL, group commit), the queue, the stream hub and the final commit.
# Three runs of wrk; prints each and the median. Traffic goes to loopback only; every run is bounded.
# Usage: benchmarks/quick-rps.sh [seconds per run, default 10] [connections, default 64]
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-10}
connections=${2:-64}
command -v wrk >/dev/null || { echo "needs wrk (apt-get install wrk)"; exit 1; }
if [ -z "${SLUICE_BIN:-}" ]; then
  swift build -c release --product sluice >/dev/null
  SLUICE_BIN=$(swift build -c release --show-bin-path)/sluice
fi
bin=$SLUICE_BIN
data=$(mktemp -d)
port=$((20000 + RANDOM % 20000))
SLUICE_MOCK_TTFT_MS=0 SLUICE_MOCK_TOKENS_PER_SECOND=0 SLUICE_MOCK_TOKENS=16 \
SLUICE_QUEUE_WORKERS=64 SLUICE_QUEUE_MAX_RUNNING_PER_USER=4 \
  "$bin" serve --port "$port" --data-dir "$data" --log-level warning &
pid=$!
trap 'kill $pid 2>/dev/null; rm -rf "$data" "$lua"' EXIT
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.1; done
lua=$(mktemp --suffix=.lua)
cat > "$lua" <<'LUA'
local n = 0
request = function()
  n = n + 1
  local body = '{"model":"default","messages":[{"role":"user","content":"question ' .. (n % 500) .. '"}]}'
  return wrk.format("POST", "/v1/chat/completions",
    {["Content-Type"] = "application/json", ["X-Sluice-User"] = "user-" .. (n % 1000)}, body)
end
LUA
results=()
for run in 1 2 3; do
  out=$(wrk -t2 -c"$connections" -d"${seconds}s" --latency -s "$lua" "http://127.0.0.1:$port")
  rps=$(echo "$out" | awk '/Requests\/sec/ {print $2}')
  p50=$(echo "$out" | awk '$1=="50%" {print $2}')
  p99=$(echo "$out" | awk '$1=="99%" {print $2}')
  errors=$(echo "$out" | awk '/Non-2xx/ {print $4}')
  echo "run $run: ${rps} req/s, p50 ${p50}, p99 ${p99}, non-2xx ${errors:-0}"
  results+=("$rps")
done
median=$(printf '%s\n' "${results[@]}" | sort -n | sed -n 2p)
echo "| non-streamed completions, 16-token mock, ${connections} connections | ${median} req/s (median of 3 × ${seconds}s) |"
