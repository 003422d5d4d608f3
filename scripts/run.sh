#!/usr/bin/env bash
# The main job, from nothing: installs what is missing, builds, gets the default data, and trains
# configs/default.json. Extra arguments go to `nabla train` (for example --epochs 3 or --threads 1).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
scripts/build.sh >/dev/null
scripts/get-data.sh
out="runs/default-$(date +%Y%m%d-%H%M%S)"
build/nabla train configs/default.json --out "$out" "$@"
echo "run folder: $out (metrics.jsonl, summary.json, config.json)"
