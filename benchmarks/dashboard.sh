#!/usr/bin/env bash
# What an open dashboard costs the node, against an idle SSE client of the jobs API (a waiting
# student's stream), in one run: node CPU and memory per client, bytes sent per client.
# Usage: benchmarks/dashboard.sh [clients, default 500] [window seconds, default 20]
set -euo pipefail
cd "$(dirname "$0")/.."
source benchmarks/lib.sh
python3 benchmarks/dashboard_cost.py "$(sluice_bin)" "${1:-500}" "${2:-20}"
