#!/usr/bin/env bash
# How many concurrent SSE streams one node holds, and the memory each costs: for each level, a fresh
# release `sluice serve` (tiers raised so nothing is refused) and `sluice loadtest` users who each ask one
# question whose mock answer trickles for longer than the ramp (1 token/s), so every stream stays open;
# at the plateau the node's resident memory is read from /proc and its open streams are counted from its
# established sockets (`ss`). Memory per stream = (RSS at the plateau - RSS when idle) / open streams.
# Also prints the load generator's own memory and CPU per stream, which bounds how many users one
# generator process drives. The generator is stopped once measured (it would wait for every answer).
# WORKERS=N runs N workers (default: one per stream, so every stream's job runs): with few workers
# almost every stream is a queued job's, which holds no worker.
# The generator is one address: the per-address connection cap (meant for one abusive client) is lifted,
# and the node's whole cap (`server.maxConnections`, 10,000 by default: past it the node stops accepting)
# is raised to 19,000. Each process may hold at most `ulimit -n` descriptors (20,000 on the reference
# machine), which caps the levels: the node and the generator each hold one per stream.
# At the plateau it also reads the node's CPU over 10 s while nothing happens but the streams being held
# (its watchdog, heartbeats and the queue's notices to waiting streams).
# Usage: benchmarks/max-streams.sh [levels, default "1000 5000 10000 15000"]
set -euo pipefail
cd "$(dirname "$0")/.."
source benchmarks/lib.sh
levels=${1:-1000 5000 10000 15000}
WORK=$(mktemp -d)
bin=$(sluice_bin)
rss_kb() { awk '/VmRSS/ {print $2}' "/proc/$1/status"; }
workers_of() { echo "${WORKERS:-$(( $1 + 100 ))}"; }
echo "| streams asked | workers | streams open at once | jobs running / queued | node RSS idle | node RSS at plateau | node memory per stream | generator RSS | generator memory per stream | generator CPU | node CPU holding them |"
echo "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
for n in $levels; do
  ramp=$(( n / 1000 + 5 ))
  hold=$(( ramp + 120 ))
  cat > "$WORK/sluice.yaml" <<YAML
queue: {workers: $(workers_of "$n"), maxRunningPerUser: 2}
tiers: {highAt: 10000000, peakAt: 10000000, overloadAt: 10000000}
plans: {names: [free], free: {requestsPerMinute: 0}}
cache: {enabled: false}
server: {heartbeatSeconds: 15, maxConnections: 19000, maxConnectionsPerAddress: 1000000}
YAML
  rm -rf "$WORK/data"
  PORT=$((20000 + RANDOM % 12000))  # below the ephemeral ports (32768 on), which thousands of client sockets take
  "$bin" serve --port "$PORT" --data-dir "$WORK/data" --config "$WORK/sluice.yaml" --log-level error &
  node=$!
  for _ in $(seq 100); do curl -sf "http://127.0.0.1:$PORT/healthz" >/dev/null && break; sleep 0.1; done
  kill -0 $node 2>/dev/null || { echo "the node on port $PORT did not start" >&2; exit 1; }
  sleep 1
  idle=$(rss_kb $node)
  "$bin" loadtest --url "http://127.0.0.1:$PORT" --users "$n" --ramp "$ramp" --duration "$((hold + 5))" --think 0.01 \
    --questions 0 --drop 0 --teachers 0 --mock-tokens "$((hold + 10))" --mock-rate 1 >/dev/null 2>&1 &
  generator=$!
  start_ticks=$(cpu_ticks $generator)
  sleep "$((ramp + 8))"
  # Measured once every stream's job is in (running + queued = streams asked), or once their count has
  # stopped growing for 6 s: at 15,000 the one generator process takes longer than its ramp to open them.
  waited=$((ramp + 8)); last=-1; still=0
  while :; do
    jobs=$(curl -s --max-time 10 "http://127.0.0.1:$PORT/metrics" | awk '/^sluice_jobs_running / {r=$2} /^sluice_jobs_queued / {q=$2} END {printf "%d / %d", r, q}')
    total=$(echo "$jobs" | awk -F' / ' '{print $1 + $2}')
    if [ "$total" -ge "$n" ] || [ "$waited" -ge "$((hold - 10))" ]; then break; fi
    if [ "$total" -le "$last" ]; then still=$((still + 1)); [ "$still" -ge 3 ] && break; else still=0; fi
    last=$total; sleep 2; waited=$((waited + 2))
  done
  sleep 2; waited=$((waited + 2))
  plateau=$(rss_kb $node)
  open_streams=$(ss -Htn state established "( sport = :$PORT )" | wc -l)
  generator_rss=$(rss_kb $generator)
  generator_cpu=$(( $(cpu_ticks $generator) - start_ticks ))
  held_start=$(cpu_ticks $node); sleep 10; held_cpu=$(( $(cpu_ticks $node) - held_start ))
  kill $generator; wait $generator 2>/dev/null || true
  kill -9 $node; wait $node 2>/dev/null || true  # measured: no graceful checkpoint of thousands of streams
  python3 - "$n" "$(workers_of "$n")" "$open_streams" "$jobs" "$idle" "$plateau" "$generator_rss" "$generator_cpu" "$waited" "$held_cpu" <<'PY'
import sys
n, workers, open_streams = (int(v) for v in sys.argv[1:4])
jobs = sys.argv[4]
idle, plateau, generator, ticks, seconds, held = (int(v) for v in sys.argv[5:])
per = (plateau - idle) / max(open_streams, 1)
print(f"| {n:,} | {workers:,} | {open_streams:,} | {jobs} | {idle / 1024:.0f} MiB | {plateau / 1024:.0f} MiB | {per:.1f} KiB | "
      f"{generator / 1024:.0f} MiB | {generator / max(open_streams, 1):.1f} KiB | {ticks / 100 / seconds * 100:.0f} % of a core | "
      f"{held / 100 / 10 * 100:.1f} % of a core |")
PY
done
rm -rf "$WORK"
