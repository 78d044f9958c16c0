#!/usr/bin/env bash
# The exam night's first minute, where its tails come from: the question bank is cold, so hundreds of
# distinct questions miss at once behind a provider capped at 24 in flight, most students follow a job in
# flight (single-flight), and on this machine the node and the load generator share two cores.
# `sluice loadtest` sends the exam night's arrivals (500 requests/s, 2 % teachers, 5 % background tabs, 5 %
# of streams dropped and resumed; answers of 20–100 tokens at 120 tokens/s) for SECONDS, while
# benchmarks/teacher_probe.py asks as a teacher every 0.25 s. Per build and round: the teachers' time to
# first token (p50, p99, max) for answers the provider made or the cache served, everyone's time to first
# token (the load generator's), and the node's CPU time per answer. Rounds alternate the builds.
# SLUICE_BUILDS="before=/path/to/sluice after=/path/to/sluice" compares builds (default: the release build).
# Usage: benchmarks/exam-burst.sh [seconds, default 45] [rounds, default 3]
set -euo pipefail
cd "$(dirname "$0")/.."
source benchmarks/lib.sh
seconds=${1:-45}
rounds=${2:-3}
if [ -n "${SLUICE_BUILDS:-}" ]; then builds=($SLUICE_BUILDS); else builds=("sluice=$(sluice_bin)"); fi
WORK=$(mktemp -d)
trap 'kill ${SLUICE_PID:-} 2>/dev/null; rm -rf "$WORK"' EXIT
exam_night_config "$WORK/sluice.yaml" 120
echo "| build | round | teachers' first token, provider: n, p50, p99, max | cache: n, p50, p99, max | everyone's first token p50 / p99 (loadtest) | answers | node CPU per answer |"
echo "| --- | ---: | --- | --- | --- | ---: | ---: |"
for round in $(seq "$rounds"); do
  for build in "${builds[@]}"; do
    name=${build%%=*}
    SLUICE_BIN=${build#*=}
    unset PORT
    rm -rf "$WORK/data"
    start_sluice "$WORK/data" --config "$WORK/sluice.yaml"
    ticks=$(cpu_ticks "$SLUICE_PID")
    "$SLUICE_BIN" loadtest --url "http://127.0.0.1:$PORT" --rate 500 --users 100000 --duration "$seconds" --questions 1000 \
      --teachers 0.02 --background 0.05 --drop 0.05 --mock-tokens 20-100 --mock-rate 120 \
      --json "$WORK/load.json" > /dev/null 2>&1 &
    load=$!
    python3 benchmarks/teacher_probe.py "$PORT" "$seconds" > "$WORK/teachers.json"
    wait $load
    used=$(( $(cpu_ticks "$SLUICE_PID") - ticks ))
    kill "$SLUICE_PID"
    wait "$SLUICE_PID" 2>/dev/null || true
    python3 - "$WORK/teachers.json" "$WORK/load.json" "$name" "$round" "$used" "$(getconf CLK_TCK)" <<'PY'
import json, sys
probe, load = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
name, round_, ticks, hz = sys.argv[3], sys.argv[4], int(sys.argv[5]), int(sys.argv[6])
def summary(cached):
    waits = sorted(a["ttft_ms"] for a in probe["answers"] if a["cached"] == cached)
    if not waits: return "0"
    at = lambda q: waits[min(len(waits) - 1, int(q * len(waits)))]
    return f"{len(waits)}, {at(0.5):.0f}, {at(0.99):.0f}, {waits[-1]:.0f} ms"
ttft = load["time_to_first_token_ms"]
answers = load["completed"] + len(probe["answers"])
failed = f" ({len(probe['failures'])} teacher failures: {probe['failures'][:3]})" if probe["failures"] else ""
print(f"| {name} | {round_} | {summary(False)} | {summary(True)} | {ttft['p50']:.0f} / {ttft['p99']:.0f} ms | {answers:,}{failed} | "
      f"{ticks / hz / answers * 1e6:.0f} µs |")
PY
  done
done
