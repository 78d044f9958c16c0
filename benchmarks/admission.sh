#!/usr/bin/env bash
# Admission control's own cost per request: admit (tier, mode, plan, per-minute window, daily budget
# reservation, simple-mode check) and settle, in-process, release build, 10,000 users, 5 runs.
set -euo pipefail
cd "$(dirname "$0")/.."
swift build -c release --product sluice >/dev/null
"$(swift build -c release --show-bin-path)/sluice" bench-admission --users 10000 --requests 200000 --runs 5
