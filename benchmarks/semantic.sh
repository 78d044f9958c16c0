#!/usr/bin/env bash
# Semantic lookup latency (p50, p99) and recall@1 against exact search, at 10,000 and 100,000 entries
# of synthetic tutoring questions (English and Mongolian words) embedded by the built-in embedder;
# queries are the stored questions with a word dropped. Release build, one core.
set -euo pipefail
cd "$(dirname "$0")/.."
swift build -c release --product sluice >/dev/null
"$(swift build -c release --show-bin-path)/sluice" bench-semantic --entries 10000,100000 --queries 1000
