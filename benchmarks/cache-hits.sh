#!/usr/bin/env bash
# Exact-cache hits per second: wrk sends the same non-streamed question (already answered, so every
# request is an exact hit, served before admission and the queue) to a release `sluice serve`.
# Three runs; prints each and the median. Loopback only; bounded runs.
# Usage: benchmarks/cache-hits.sh [seconds per run, default 10] [connections, default 64]
set -euo pipefail
cd "$(dirname "$0")/.."
source benchmarks/lib.sh
WORK=$(mktemp -d)
cat > "$WORK/sluice.yaml" <<'YAML'
plans: {names: [free], free: {requestsPerMinute: 0}}
mock: {ttftMs: 0, tokensPerSecond: 0, tokens: 48}
YAML
start_sluice "$WORK/data" --config "$WORK/sluice.yaml"
body='{"model":"default","messages":[{"role":"user","content":"Why does light bend when it enters water?"}]}'
curl -sf "http://127.0.0.1:$PORT/v1/chat/completions" -H 'Content-Type: application/json' -d "$body" >/dev/null
hit=$(curl -s -o /dev/null -D - "http://127.0.0.1:$PORT/v1/chat/completions" -H 'Content-Type: application/json' -d "$body" | tr -d '\r' | awk -F': ' 'tolower($1)=="x-sluice-cache" {print $2}')
[ "$hit" = "exact" ] || { echo "expected an exact hit, got '$hit'"; exit 1; }
cat > "$WORK/hit.lua" <<LUA
wrk.method = "POST"
wrk.body = '$body'
wrk.headers["Content-Type"] = "application/json"
LUA
wrk_runs "exact-cache hits" "${1:-10}" "${2:-64}" "$WORK/hit.lua" "http://127.0.0.1:$PORT/v1/chat/completions"
