# Shared by the benchmark scripts: a release build, a throwaway `sluice serve` on a free loopback port,
# and repeated wrk runs with their median. Source it; it cleans up on exit.

# sluice_bin: builds the release binary unless SLUICE_BIN names one.
sluice_bin() {
  if [ -z "${SLUICE_BIN:-}" ]; then
    swift build -c release --product sluice >/dev/null
    SLUICE_BIN=$(swift build -c release --show-bin-path)/sluice
  fi
  echo "$SLUICE_BIN"
}

# cpu_ticks PID: the CPU time of a process and its children, in clock ticks (LiteLLM's workers are children).
cpu_ticks() {
  local total=0 p
  for p in $1 $(pgrep -P "$1" || true); do total=$((total + $(awk '{print $14 + $15}' "/proc/$p/stat" 2>/dev/null || echo 0))); done
  echo $total
}

# flame_graph NAME TITLE SECONDS PID | flame_graph NAME TITLE -- COMMAND...: with `perf` and FLAMEGRAPH_DIR (a
# folder holding stackcollapse-perf.pl and flamegraph.pl from github.com/brendangregg/FlameGraph), records the
# CPU of a running process for SECONDS (in the background: `wait $FLAME_PID`), or of a command to its end, and
# writes docs/flame-NAME.svg; without them, runs the command (if any) and draws nothing.
flame_graph() {
  local name=$1 title=$2 data
  shift 2
  if ! command -v perf >/dev/null || [ -z "${FLAMEGRAPH_DIR:-}" ]; then
    [ "$1" != "--" ] || { shift; "$@"; }
    return 0
  fi
  data=$(mktemp)
  if [ "$1" = "--" ]; then
    shift
    perf record -F 499 -g -o "$data" -- "$@" 2>/dev/null
    flame_draw "$data" "$name" "$title"
  else
    (perf record -F 499 -g -p "$2" -o "$data" -- sleep "$1" >/dev/null 2>&1; flame_draw "$data" "$name" "$title") &
    FLAME_PID=$!
  fi
}
flame_draw() { # PERF_DATA NAME TITLE
  perf script -i "$1" 2>/dev/null | perl "$FLAMEGRAPH_DIR/stackcollapse-perf.pl" \
    | perl "$FLAMEGRAPH_DIR/flamegraph.pl" --minwidth 2 --title "$3" --width 1400 > "docs/flame-$2.svg"
  rm -f "$1"
  echo "docs/flame-$2.svg" >&2
}

# start_sluice DATA_DIR [ARGS...]: starts `sluice serve` on $PORT and waits until it is healthy.
start_sluice() {
  local data=$1
  shift
  PORT=${PORT:-$((20000 + RANDOM % 20000))}
  "$(sluice_bin)" serve --port "$PORT" --data-dir "$data" --log-level warning "$@" &
  SLUICE_PID=$!
  trap 'kill $SLUICE_PID 2>/dev/null; rm -rf "$WORK"' EXIT
  for _ in $(seq 100); do curl -sf "http://127.0.0.1:$PORT/healthz" >/dev/null && return 0; sleep 0.1; done
  echo "sluice did not start"; return 1
}

# wrk_runs LABEL SECONDS CONNECTIONS LUA URL: three wrk runs, each printed, then a table row with the median.
wrk_runs() {
  local label=$1 seconds=$2 connections=$3 lua=$4 url=$5 results=() out rps p50 p99 errors
  command -v wrk >/dev/null || { echo "needs wrk (apt-get install wrk)"; return 1; }
  for run in 1 2 3; do
    out=$(wrk -t2 -c"$connections" -d"${seconds}s" --latency -s "$lua" "$url")
    rps=$(echo "$out" | awk '/Requests\/sec/ {print $2}')
    p50=$(echo "$out" | awk '$1=="50%" {print $2}')
    p99=$(echo "$out" | awk '$1=="99%" {print $2}')
    errors=$(echo "$out" | awk '/Non-2xx/ {print $4}')
    echo "run $run: ${rps} req/s, p50 ${p50}, p99 ${p99}, non-2xx ${errors:-0}"
    results+=("$rps")
  done
  echo "| $label, $connections connections | $(printf '%s\n' "${results[@]}" | sort -n | sed -n 2p) req/s (median of 3 × ${seconds}s) |"
}

# start_postgres PORT: a throwaway PostgreSQL 15 (durable defaults) in $WORK/pg on 127.0.0.1:PORT, as the
# postgres user when run as root; sets PGBIN and PG_SERVER (postgres://sluice@127.0.0.1:PORT). Stop it with
# stop_postgres (in the caller's EXIT trap).
start_postgres() {
  PGBIN=$(dirname "$(readlink -f "$(command -v pg_ctl || ls /usr/lib/postgresql/*/bin/pg_ctl | tail -1)")")
  [ "$(id -u)" = 0 ] && chown postgres "$WORK"
  as_pg "$PGBIN/initdb" -D "$WORK/pg" -U sluice -A trust -E UTF8 >/dev/null
  as_pg "$PGBIN/pg_ctl" -D "$WORK/pg" -o "-p $1 -k $WORK -c listen_addresses=127.0.0.1 -c max_connections=200" -l "$WORK/pg.log" -w start >/dev/null
  PG_SERVER="postgres://sluice@127.0.0.1:$1"
}
stop_postgres() { as_pg "$PGBIN/pg_ctl" -D "$WORK/pg" -m immediate stop >/dev/null 2>&1; }
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }

# exam_night_config FILE MOCK_RATE: the exam night's node (one mock provider deployment capped at 24 in
# flight, answering 60 tokens at MOCK_RATE tokens/s by default; 256 workers; the per-address connection cap
# lifted, the load generator being one address), written to FILE, for exam-night.sh and exam-burst.sh.
exam_night_config() {
  cat > "$1" <<YAML
server: {maxConnectionsPerAddress: 1000000}
deployments:
  names: [provider]
  provider: {provider: mock, maxInFlight: 24}
models:
  aliases: [default]
  default: {deployments: [provider]}
mock: {ttftMs: 0, tokensPerSecond: $2, tokens: 60}
queue: {workers: 256, deadlineSeconds: 600}
YAML
}
