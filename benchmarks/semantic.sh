#!/usr/bin/env bash
# The semantic cache at 10,000 and 100,000 entries of synthetic tutoring questions (English and
# Mongolian words) with the built-in embedder: the cost of reading and embedding one question, resident
# memory per entry, whole lookups (vector search, then the term check) of paraphrases; then the HNSW
# index alone (latency, recall@1 against exact search). One process per size, so that memory is its own.
# Release build, one core.
set -euo pipefail
cd "$(dirname "$0")/.."
swift build -c release --product sluice >/dev/null
for size in 10000 100000; do
  "$(swift build -c release --show-bin-path)/sluice" bench-semantic --entries "$size" --queries 1000
done
