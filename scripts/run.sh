#!/usr/bin/env bash
# The main job, from nothing: installs what is missing, builds, gets the default data, trains
# configs/default.json and evaluates the best checkpoint on the test set. Extra arguments go to
# `nabla train` (for example --epochs 3 or --threads 1).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
scripts/build.sh >/dev/null
scripts/get-data.sh
out="runs/default-$(date +%Y%m%d-%H%M%S)"
build/nabla train configs/default.json --out "$out" "$@"
echo
build/nabla eval "$out/checkpoints/best.safetensors"
echo
echo "run folder: $out (metrics.jsonl, summary.json, config.json, checkpoints/)"
