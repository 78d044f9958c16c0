#!/usr/bin/env bash
# An exam night, time compressed: 100,000 students (2 % teachers, 5 % background tabs) each sending 3
# messages an hour, replayed as Poisson arrivals (`sluice loadtest --rate`) with questions from a bank
# of 1,000 with Zipf popularity, 5 % of streams dropped and resumed. Behind a release `sluice serve`:
# one mock provider deployment capped at 24 in flight whose answers take 1–5 s of the night's time
# (20–100 tokens at 20 tokens/s, fixed per question) — compressed like the hour, so that the provider
# keeps its real share of the load. Reports p99 queue wait by role (answers that reached the provider;
# cache hits never queue), the cache hit rate, and lost requests — accepted but never answered nor
# refused with a clear error — which must be zero.
# WARM=N first runs `sluice warm` with the school's question bank — the bank's N most-asked questions,
# unanswered, so the provider answers them before the night — as a school would before an exam. Warmed
# answers must match what students ask, so then every answer takes the mock's configured pace (60
# tokens at 20 tokens/s of the night's time) rather than a length per question carried in the request.
# The generator is one address; the per-address connection cap (meant for one abusive client) is lifted.
# Usage: [WARM=N] benchmarks/exam-night.sh [seconds one hour takes, default 600] [students, default 100000]
set -euo pipefail
cd "$(dirname "$0")/.."
source benchmarks/lib.sh
hour=${1:-600}
students=${2:-100000}
rate=$(python3 -c "print($students * 3 / $hour)")
speedup=$(python3 -c "print(3600 / $hour)")   # the night runs this much faster than real time
mock_rate=$(python3 -c "print(20 * 3600 / $hour)")
WORK=$(mktemp -d)
warm=${WARM:-0}
exam_night_config "$WORK/sluice.yaml" "$mock_rate"
echo "plans: {names: [free, warmer], warmer: {requestsPerMinute: 0, maxStreams: 1000, maxRunning: 24}}" >> "$WORK/sluice.yaml"
start_sluice "$WORK/data" --config "$WORK/sluice.yaml"
per_request_mock=(--mock-tokens 20-100 --mock-rate "$mock_rate")
if [ "$warm" -gt 0 ]; then
  per_request_mock=()
  python3 - "$warm" > "$WORK/bank.jsonl" <<'PY'
import json, sys
for rank in range(int(sys.argv[1])):
    print(json.dumps({"question": f"Exam question number {rank}: please explain it step by step."}))
PY
  warm_start=$(date +%s.%N)
  "$(sluice_bin)" warm "$WORK/bank.jsonl" --url "http://127.0.0.1:$PORT" --concurrency 24 --plan warmer >&2
  echo "warmed the bank's $warm most-asked questions in $(python3 -c "print(round($(date +%s.%N) - $warm_start, 1))") s" >&2
fi
echo "exam night: $students students × 3 messages an hour, one hour in $hour s (×$speedup) → $rate requests/s (loopback, port $PORT)" >&2
"$(sluice_bin)" loadtest --url "http://127.0.0.1:$PORT" --rate "$rate" --users "$students" --duration "$hour" \
  --questions 1000 --teachers 0.02 --background 0.05 --drop 0.05 "${per_request_mock[@]}" \
  --json "$WORK/report.json" --svg "${SVG:-benchmarks/exam-night.svg}" > "$WORK/report.md"
cat "$WORK/report.md" >&2
python3 - "$WORK/report.json" "$hour" "$students" <<'PY'
import json, sys
report = json.load(open(sys.argv[1]))
errors = report["errors"]
lost = sum(count for key, count in errors.items() if key.startswith("network") or key == "stream ended early") + report["lost_after_resume"]
gave_up = sum(count for key, count in errors.items() if key.startswith("timeout"))
refused = sum(count for key, count in errors.items() if key[:3].isdigit() or key.startswith("stream "))
waits = report["queue_wait_ms"]
def p99(role): return f"{waits[role]['p99'] / 1000:.1f} s ({waits[role]['count']})" if role in waits else "—"
print("| students | one hour in | requests | answered | cache hit rate | p99 queue wait, students | teachers | background tabs | refused with an error | gave up waiting | lost |")
print("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
print(f"| {int(sys.argv[3]):,} | {sys.argv[2]} s | {report['sent']:,} | {report['completed']:,} | {report['cache_hit_rate'] * 100:.1f} % | "
      f"{p99('student')} | {p99('teacher')} | {p99('background')} | {refused} | {gave_up} | {lost} |")
PY
