#!/usr/bin/env bash
# Quick local throughput: non-streamed chat completions through a release `sluice serve` whose mock
# provider answers at once (16 tokens), so the number is the gateway's own cost: HTTP, validation, a
# durable job (synchronous=FULL, group commit), the queue, the stream hub and the final commit.
# Every question is distinct (no cache hits). Three runs of wrk; loopback only; bounded runs.
# Usage: benchmarks/quick-rps.sh [seconds per run, default 10] [connections, default 64]
set -euo pipefail
cd "$(dirname "$0")/.."
source benchmarks/lib.sh
WORK=$(mktemp -d)
cat > "$WORK/sluice.yaml" <<'YAML'
plans: {names: [free], free: {requestsPerMinute: 0}}
mock: {ttftMs: 0, tokensPerSecond: 0, tokens: 16}
queue: {maxRunningPerUser: 4}
cache: {enabled: false}
YAML
start_sluice "$WORK/data" --config "$WORK/sluice.yaml"
cat > "$WORK/load.lua" <<'LUA'
local n = 0
request = function()
  n = n + 1
  local body = '{"model":"default","messages":[{"role":"user","content":"question ' .. n .. '"}]}'
  return wrk.format("POST", "/v1/chat/completions",
    {["Content-Type"] = "application/json", ["X-Sluice-User"] = "user-" .. (n % 1000)}, body)
end
LUA
wrk_runs "non-streamed completions, 16-token mock" "${1:-10}" "${2:-64}" "$WORK/load.lua" "http://127.0.0.1:$PORT"
