#!/usr/bin/env bash
# The cache-hit path against /healthz on the same node, for one or more binaries one after another in
# one run (a build before a change and one after): wrk (2 threads, 64 connections) sends the same
# answered question (every request an exact hit) and then GET /healthz, three runs each, interleaved;
# the table gives each median and their ratio. With `perf` and FLAMEGRAPH_DIR (a folder holding
# stackcollapse-perf.pl and flamegraph.pl from github.com/brendangregg/FlameGraph), it also records the
# node's CPU during one more run of hits and writes docs/flame-hits-<label>.svg. Loopback only.
# Usage: benchmarks/hot-path.sh [seconds per run, default 10] [label=binary ...] (default: the release build)
set -euo pipefail
cd "$(dirname "$0")/.."
source benchmarks/lib.sh
seconds=${1:-10}
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=("current=$(sluice_bin)")
command -v wrk >/dev/null || { echo "needs wrk (apt-get install wrk)"; exit 1; }
WORK=$(mktemp -d)
pid=""
trap 'kill $pid 2>/dev/null; rm -rf "$WORK"' EXIT
cat > "$WORK/sluice.yaml" <<'YAML'
plans: {names: [free], free: {requestsPerMinute: 0}}
mock: {ttftMs: 0, tokensPerSecond: 0, tokens: 48}
YAML
body='{"model":"default","messages":[{"role":"user","content":"Why does light bend when it enters water?"}]}'
cat > "$WORK/hit.lua" <<LUA
wrk.method = "POST"
wrk.body = '$body'
wrk.headers["Content-Type"] = "application/json"
LUA
rps() { wrk -t2 -c64 -d"${seconds}s" "$@" | awk '/Requests\/sec/ {print $2}'; }
median() { printf '%s\n' "$@" | sort -n | sed -n 2p; }
rows=()
for target in "${targets[@]}"; do
  label=${target%%=*}
  bin=${target#*=}
  port=$((20000 + RANDOM % 20000))
  rm -rf "$WORK/data"
  "$bin" serve --port "$port" --data-dir "$WORK/data" --log-level warning --config "$WORK/sluice.yaml" &
  pid=$!
  for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.1; done
  url="http://127.0.0.1:$port"
  curl -sf "$url/v1/chat/completions" -H 'Content-Type: application/json' -d "$body" >/dev/null
  hit=$(curl -s -o /dev/null -D - "$url/v1/chat/completions" -H 'Content-Type: application/json' -d "$body" | tr -d '\r' | awk -F': ' 'tolower($1)=="x-sluice-cache" {print $2}')
  [ "$hit" = "exact" ] || { echo "$label: expected an exact hit, got '$hit'"; exit 1; }
  hits=() health=()
  for run in 1 2 3; do
    hits+=("$(rps -s "$WORK/hit.lua" "$url/v1/chat/completions")")
    health+=("$(rps "$url/healthz")")
    echo "$label run $run: hits ${hits[-1]}/s, healthz ${health[-1]}/s"
  done
  h=$(median "${hits[@]}")
  z=$(median "${health[@]}")
  rows+=("| $label | $z | $h | $(python3 -c "print(f'{$h / $z:.2f}×')") | ${hits[*]} | ${health[*]} |")
  if command -v perf >/dev/null && [ -n "${FLAMEGRAPH_DIR:-}" ]; then
    flame_graph "hits-$label" "sluice: exact-cache hits ($label)" "$seconds" "$pid"
    rps -s "$WORK/hit.lua" "$url/v1/chat/completions" >/dev/null
    wait "$FLAME_PID"
  fi
  kill $pid; wait $pid 2>/dev/null || true
done
echo "| build | /healthz req/s (median) | exact hits req/s (median) | hits ÷ healthz | hit runs | healthz runs |"
echo "| --- | ---: | ---: | ---: | --- | --- |"
printf '%s\n' "${rows[@]}"
