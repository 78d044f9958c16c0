#!/usr/bin/env bash
# What a gateway adds to a streamed request: the same open-loop load (`sluice loadtest --rate`, Poisson
# arrivals, every question new, streamed) sent directly to `sluice mock-upstream`, through a release
# `sluice serve`, and through LiteLLM's proxy, both pointed at that same mock upstream — side by side in
# one run, at each fixed rate. LiteLLM runs one worker process per core (--num_workers), as Sluice uses every core. The mock answers at once (16 tokens), so time to first token is almost
# all overhead: the load generator's own share shows in the direct row and cancels in the difference.
# Neither gateway checks keys (anonymous on loopback). Loopback only. LiteLLM is installed with pip if missing (pip install 'litellm[proxy]').
# Usage: benchmarks/gateway-overhead.sh [seconds per run, default 15] [rates, default "50 100 200"]
# SLUICE_BUILDS="before=/path/to/sluice after=/path/to/sluice" compares builds side by side (default: one,
# the release build, named sluice); LITELLM=0 leaves LiteLLM out. Each gateway's CPU time per answer (its
# process and children, over its run) is the steadier figure on a shared machine, where latency drifts.
# With `perf` and FLAMEGRAPH_DIR (see lib.sh), one more run per Sluice build at the first rate draws its CPU
# as docs/flame-ttft-<build>.svg.
set -euo pipefail
cd "$(dirname "$0")/.."
source benchmarks/lib.sh
seconds=${1:-15}
rates=${2:-50 100 200}
WORK=$(mktemp -d)
base=$((20000 + RANDOM % 20000))
pids=()
trap 'kill ${pids[*]} 2>/dev/null; rm -rf "$WORK"' EXIT
bin=$(sluice_bin)
builds=(${SLUICE_BUILDS:-sluice=$bin})
litellm=${LITELLM:-1}
[ "$litellm" = 0 ] || command -v litellm >/dev/null || python3 -m pip install --quiet 'litellm[proxy]'
"$bin" mock-upstream --port $((base + 1)) --tokens 16 >/dev/null 2>&1 & pids+=($!)
cat > "$WORK/sluice.yaml" <<YAML
deployments:
  names: [upstream]
  upstream: {provider: openai, baseURL: "http://127.0.0.1:$((base + 1))/v1", model: m, maxInFlight: 1000}
models:
  aliases: [default]
  default: {deployments: [upstream]}
plans: {names: [free], free: {requestsPerMinute: 0, maxStreams: 1000}}
cache: {enabled: false}
YAML
targets=("direct $((base + 1))")
declare -A cpu_pids   # the gateway processes whose CPU time per answer is reported
port=$((base + 10))
for build in "${builds[@]}"; do
  "${build#*=}" serve --port $port --data-dir "$WORK/data-${build%%=*}" --config "$WORK/sluice.yaml" --log-level error & pids+=($!)
  targets+=("${build%%=*} $port")
  cpu_pids[${build%%=*}]=$!
  port=$((port + 1))
done
cat > "$WORK/litellm.yaml" <<YAML
model_list:
  - model_name: default
    litellm_params: {model: openai/m, api_base: "http://127.0.0.1:$((base + 1))/v1", api_key: none}
YAML
if [ "$litellm" != 0 ]; then
  LITELLM_DANGEROUSLY_PERMIT_WEAK_OR_UNSET_MASTER_KEY=true LITELLM_LOCAL_MODEL_COST_MAP=True litellm --config "$WORK/litellm.yaml" --host 127.0.0.1 --port $((base + 3)) --num_workers "$(nproc)" >"$WORK/litellm.log" 2>&1 & pids+=($!)
  targets+=("litellm $((base + 3))")
  cpu_pids[litellm]=$!
fi
for target in "${targets[@]}"; do
  for _ in $(seq 300); do
    curl -s -o /dev/null "http://127.0.0.1:${target#* }/v1/models" && break
    sleep 0.2
  done
done
run() { # NAME PORT RATE
  local pid=${cpu_pids[$1]:-} before=0
  [ -z "$pid" ] || before=$(cpu_ticks "$pid")
  "$bin" loadtest --url "http://127.0.0.1:$2" --rate "$3" --users 10000 --duration "$seconds" --questions 0 --drop 0 \
    --json "$WORK/$1-$3.json" >/dev/null 2>&1
  [ -z "$pid" ] || echo $(( $(cpu_ticks "$pid") - before )) > "$WORK/$1-$3.cpu"
}
for rate in $rates; do
  for target in "${targets[@]}"; do
    run $target "$rate"
  done
done
if command -v perf >/dev/null && [ -n "${FLAMEGRAPH_DIR:-}" ]; then
  first=${rates%% *}
  for build in "${builds[@]}"; do
    label=${build%%=*}
    flame_graph "ttft-$label" "sluice: streamed answers at $first/s, every question new ($label)" "$seconds" "${cpu_pids[$label]}"
    "$bin" loadtest --url "http://127.0.0.1:$(for t in "${targets[@]}"; do [ "${t% *}" = "$label" ] && echo "${t#* }"; done)" --rate "$first" \
      --users 10000 --duration "$seconds" --questions 0 --drop 0 >/dev/null 2>&1
    wait "$FLAME_PID"
  done
fi
names=$(for target in "${targets[@]}"; do echo -n "${target% *},"; done)
python3 - "$WORK" "$names" $rates <<'PY'
import json, sys
work, names, rates = sys.argv[1], sys.argv[2].strip(",").split(","), sys.argv[3:]
import os
ticks_per_second = os.sysconf("SC_CLK_TCK")
print("| rate (req/s) | target | answers/s | TTFT p50 | TTFT p99 | total p50 | total p99 | added TTFT p50 | added TTFT p99 | gateway CPU per answer | errors |")
print("| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
for rate in rates:
    reports = {name: json.load(open(f"{work}/{name}-{rate}.json")) for name in names}
    direct = reports["direct"]["time_to_first_token_ms"]
    for name, report in reports.items():
        ttft, total = report["time_to_first_token_ms"], report["total_latency_ms"]
        added = "—" if name == "direct" else f"{ttft['p50'] - direct['p50']:+.2f} ms"
        added99 = "—" if name == "direct" else f"{ttft['p99'] - direct['p99']:+.2f} ms"
        errors = sum(report["errors"].values())
        cpu = "—"
        if os.path.exists(f"{work}/{name}-{rate}.cpu"):
            ticks = int(open(f"{work}/{name}-{rate}.cpu").read())
            answers = report["completed"] or 1
            cpu = f"{ticks / ticks_per_second * 1000 / answers:.2f} ms"
        print(f"| {rate} | {name} | {report['answers_per_second']:.0f} | {ttft['p50']:.2f} ms | {ttft['p99']:.2f} ms | "
              f"{total['p50']:.2f} ms | {total['p99']:.2f} ms | {added} | {added99} | {cpu} | {errors} |")
PY
