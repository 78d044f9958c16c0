#!/usr/bin/env bash
# Hit rate (paraphrases) and false-hit rate (near-misses) of the built-in embedder on the repository's
# evaluation set, by threshold and language.
set -euo pipefail
cd "$(dirname "$0")/.."
swift build -c release --product sluice >/dev/null
"$(swift build -c release --show-bin-path)/sluice" eval-cache eval/semantic-cache.json
