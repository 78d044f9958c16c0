#!/usr/bin/env bash
# The semantic cache on held-out tutoring questions: paraphrases served and near-misses wrongly served,
# per split, language and kind of paraphrase, a threshold sweep, the worst misses and every false hit.
# The defaults were tuned on the development split; the figures to report are the test split's.
# Usage: benchmarks/eval-cache.sh [development|test]
set -euo pipefail
cd "$(dirname "$0")/.."
swift build -c release --product sluice >/dev/null
"$(swift build -c release --show-bin-path)/sluice" eval-cache eval/tutoring --split "${1:-test}"
