#!/usr/bin/env bash
# History and usage on the embedded store, in-process (`sluice bench-history`, no HTTP): one page of a
# user's history, the next page, and a tenant's page from the middle, with a million jobs stored; then
# the usage rollup's cost per request — a save that ends a job (it reads the row's state and adds the
# job's usage, in the same commit) against a save that does not.
# Usage: benchmarks/history.sh [jobs, default 1000000]
set -euo pipefail
cd "$(dirname "$0")/.."
source benchmarks/lib.sh
jobs=${1:-1000000}
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
bin=$(sluice_bin)
"$bin" bench-history --data-dir "$WORK/store" --jobs "$jobs" --users 10000 --pages 500 --rollups 5000
