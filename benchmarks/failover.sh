#!/usr/bin/env bash
# Latency that failover adds: the same sequential requests through a release `sluice serve`, to an alias
# whose first deployment answers 500 to every call and whose second answers, versus an alias with
# the healthy deployment only. The breaker is set never to open, so every request pays the failover.
# Both upstreams are `sluice mock-upstream` on loopback (16 tokens, no delay).
# Usage: benchmarks/failover.sh [requests per alias, default 300]
set -euo pipefail
cd "$(dirname "$0")/.."
count=${1:-300}
if [ -z "${SLUICE_BIN:-}" ]; then
  swift build -c release --product sluice >/dev/null
  SLUICE_BIN=$(swift build -c release --show-bin-path)/sluice
fi
work=$(mktemp -d)
base=$((20000 + RANDOM % 20000))
pids=()
trap 'kill ${pids[*]} 2>/dev/null; rm -rf "$work"' EXIT
"$SLUICE_BIN" mock-upstream --port $((base + 1)) --tokens 16 --fail status:500 >/dev/null 2>&1 & pids+=($!)
"$SLUICE_BIN" mock-upstream --port $((base + 2)) --tokens 16 >/dev/null 2>&1 & pids+=($!)
cat > "$work/sluice.yaml" <<YAML
deployments:
  names: [broken, healthy]
  broken:
    provider: openai
    baseURL: http://127.0.0.1:$((base + 1))/v1
    model: m
    breaker: {consecutiveFailures: 1000000, minimumCalls: 1000000}
  healthy:
    provider: openai
    baseURL: http://127.0.0.1:$((base + 2))/v1
    model: m
models:
  aliases: [failover, direct]
  failover:
    deployments: [broken, healthy]
  direct:
    deployments: [healthy]
queue:
  maxRunningPerUser: 8
plans: {names: [free], free: {requestsPerMinute: 0}}
cache: {enabled: false}
YAML
"$SLUICE_BIN" serve --port "$base" --data-dir "$work/data" --config "$work/sluice.yaml" --log-level error & pids+=($!)
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$base/healthz" >/dev/null && break; sleep 0.1; done
python3 - "$base" "$count" <<'PY'
import json, statistics, sys, time, urllib.request
port, count = sys.argv[1], int(sys.argv[2])
def timed(model, n):
    body = json.dumps({"model": model, "messages": [{"role": "user", "content": f"question {n}"}]}).encode()
    request = urllib.request.Request(f"http://127.0.0.1:{port}/v1/chat/completions", body, {"Content-Type": "application/json"})
    start = time.perf_counter()
    with urllib.request.urlopen(request) as response:
        assert response.status == 200
        response.read()
    return (time.perf_counter() - start) * 1000
results = {}
for model in ("direct", "failover", "direct", "failover"):
    samples = sorted(timed(model, n) for n in range(count))
    results.setdefault(model, []).extend(samples)
for model in ("direct", "failover"):
    s = sorted(results[model])
    print(f"| {model} | {len(s)} | {statistics.median(s):.2f} ms | {s[int(len(s) * 0.99) - 1]:.2f} ms |")
added = statistics.median(results["failover"]) - statistics.median(results["direct"])
print(f"failover added {added:.2f} ms at the median")
PY
