#!/usr/bin/env bash
# What a warm connection to the provider saves: `sluice mock-upstream` behind a proxy that takes
# HANDSHAKE_MS to open each new connection (default 100: TCP and TLS 1.3, two round trips of 50 ms, a school
# far from its provider's region; data then flows at loopback speed), and one `sluice serve` with two
# deployments of it: `cold` (warmConnections: 0) and `warm` (warmConnections: 2). Each round: a call to each
# (the pools connect), then a burst of 3 calls at once to each (the cold pool connects two more, the warm one
# has them), then a quiet spell longer than the pool's idle timeout (60 s) and one call to each (the cold
# pool connects again). Reports each kind of call's median time (whole answers, not streamed, 16 tokens at
# once) by deployment, and the connections the proxy opened. Loopback only (this machine's kernel has no
# netem to delay a link; the proxy delays what a warm pool saves, the opening of a connection).
# Usage: benchmarks/warm-connections.sh [rounds, default 3]   (HANDSHAKE_MS, default 100)
set -euo pipefail
cd "$(dirname "$0")/.."
source benchmarks/lib.sh
rounds=${1:-3}
handshake=${HANDSHAKE_MS:-100}
bin=$(sluice_bin)
WORK=$(mktemp -d)
pids=()
trap 'kill ${pids[*]} 2>/dev/null; rm -rf "$WORK"' EXIT
base=$((20000 + RANDOM % 20000))
"$bin" mock-upstream --port $((base + 1)) --tokens 16 >/dev/null 2>&1 & pids+=($!)
python3 - $((base + 2)) $((base + 1)) "$handshake" "$WORK/opened" <<'PY' & pids+=($!)
import asyncio, sys
listen, upstream, delay, opened = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3]) / 1000, sys.argv[4]
count = 0
async def pipe(reader, writer):
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    finally:
        writer.close()
async def serve(reader, writer):
    global count
    count += 1
    open(opened, "w").write(str(count))
    await asyncio.sleep(delay)  # the handshake of a far provider
    up_reader, up_writer = await asyncio.open_connection("127.0.0.1", upstream)
    await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer), return_exceptions=True)
async def main():
    server = await asyncio.start_server(serve, "127.0.0.1", listen)
    async with server:
        await server.serve_forever()
asyncio.run(main())
PY
port=$((base + 10))
cat > "$WORK/sluice.yaml" <<YAML
deployments:
  names: [cold, warm]
  cold: {provider: openai, baseURL: "http://127.0.0.1:$((base + 2))/v1", model: m, warmConnections: 0}
  warm: {provider: openai, baseURL: "http://127.0.0.1:$((base + 2))/v1", model: m, warmConnections: 2}
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
    burst=()
    for _ in 1 2 3; do ask $alias burst & burst+=($!); done
    wait "${burst[@]}"
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
echo "(each new connection to the provider took ${handshake} ms to open; the proxy opened $(cat "$WORK/opened") in all)"
