#!/usr/bin/env bash
# What a warm connection to the provider saves: `sluice mock-upstream` in a network namespace this script
# makes, behind a link with DELAY_MS each way (netem; 25 ms: a 50 ms round trip, a school far from its
# provider's region), and one `sluice serve` with two deployments of it: `cold` (warmConnections: 0) and
# `warm` (warmConnections: 2). Each round: a call to each (the pools connect), then a burst of 3 calls at once
# to each (the cold pool connects two more, the warm one has them), then a quiet spell longer than the pool's
# idle timeout (60 s) and one call to each (the cold pool connects again). Reports each kind of call's median
# time (whole answers, not streamed, 16 tokens at once), by deployment. Needs root (ip netns, tc).
# Usage: benchmarks/warm-connections.sh [rounds, default 3]   (DELAY_MS, default 25)
set -euo pipefail
cd "$(dirname "$0")/.."
source benchmarks/lib.sh
rounds=${1:-3}
delay=${DELAY_MS:-25}
bin=$(sluice_bin)
WORK=$(mktemp -d)
ns=sluice-warm-$$
host_if=sw$$h
ns_if=sw$$n
pids=()
cleanup() {
  kill "${pids[@]}" 2>/dev/null || true
  ip netns pids "$ns" 2>/dev/null | xargs -r kill 2>/dev/null || true
  ip link del "$host_if" 2>/dev/null || true
  ip netns del "$ns" 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT
ip netns add "$ns"
ip link add "$host_if" type veth peer name "$ns_if"
ip link set "$ns_if" netns "$ns"
ip addr add 10.77.0.1/24 dev "$host_if"
ip link set "$host_if" up
ip netns exec "$ns" ip addr add 10.77.0.2/24 dev "$ns_if"
ip netns exec "$ns" ip link set "$ns_if" up
ip netns exec "$ns" ip link set lo up
tc qdisc add dev "$host_if" root netem delay "${delay}ms"
ip netns exec "$ns" tc qdisc add dev "$ns_if" root netem delay "${delay}ms"
ip netns exec "$ns" "$bin" mock-upstream --host 10.77.0.2 --port 9000 --tokens 16 >/dev/null 2>&1 & pids+=($!)
port=$((20000 + RANDOM % 20000))
cat > "$WORK/sluice.yaml" <<YAML
deployments:
  names: [cold, warm]
  cold: {provider: openai, baseURL: "http://10.77.0.2:9000/v1", model: m, warmConnections: 0}
  warm: {provider: openai, baseURL: "http://10.77.0.2:9000/v1", model: m, warmConnections: 2}
models:
  aliases: [cold, warm]
  cold: {deployments: [cold]}
  warm: {deployments: [warm]}
plans: {names: [free], free: {requestsPerMinute: 0, maxStreams: 1000}}
queue: {maxRunningPerUser: 100}
cache: {enabled: false}
YAML
"$bin" serve --port $port --data-dir "$WORK/data" --config "$WORK/sluice.yaml" --log-level error & pids+=($!)
for _ in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$port/healthz" && break; sleep 0.2; done
ask() { # ALIAS KIND: one call, its time appended to WORK/ALIAS-KIND
  curl -s -o /dev/null -w '%{time_total}\n' -H 'content-type: application/json' \
    -d "{\"model\": \"$1\", \"messages\": [{\"role\": \"user\", \"content\": \"$1 $2 $RANDOM$RANDOM\"}]}" \
    "http://127.0.0.1:$port/v1/chat/completions" >> "$WORK/$1-$2"
}
for round in $(seq "$rounds"); do
  for alias in cold warm; do ask $alias first; done
  sleep 1
  for alias in cold warm; do
    for _ in 1 2 3; do ask $alias burst & done
    wait
  done
  sleep 65
  for alias in cold warm; do ask $alias quiet; done
  echo "round $round of $rounds done" >&2
done
echo "| deployment | first call | a burst of 3 at once | after 65 s quiet |"
echo "| --- | ---: | ---: | ---: |"
for alias in cold warm; do
  row="| $alias"
  for kind in first burst quiet; do
    row+=" | $(python3 -c "
import statistics, sys
values = [float(v) * 1000 for v in open('$WORK/$alias-$kind').read().split()]
print(f'{statistics.median(values):.1f} ms (n={len(values)}, max {max(values):.1f})')")"
  done
  echo "$row |"
done
echo "(link delay ${delay} ms each way: one round trip is $((2 * delay)) ms)"
