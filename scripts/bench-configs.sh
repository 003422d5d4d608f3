#!/usr/bin/env bash
# The README's configs table, measured: each config trained with seeds 1, 2 and 3 (one after the
# other, on the config's own thread count), its best checkpoint evaluated on the test set; prints a
# Markdown row per config with the medians of the wall time and the test accuracy.
# Usage: scripts/bench-configs.sh [CONFIG...]   (default: the configs of the README's table)
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/build.sh >/dev/null
scripts/get-data.sh >/dev/null
configs=("$@")
[ ${#configs[@]} -gt 0 ] || configs=(configs/fashion-mlp.json configs/default.json configs/mnist.json configs/nielsen.json
                                     configs/gradcheck.json)
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
median() { sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
echo "| config | epochs | time on $(nproc) cores (median) | test accuracy (median of seeds 1-3) | per seed |"
echo "| --- | --- | --- | --- | --- |"
for config in "${configs[@]}"; do
  times=() accuracies=()
  for seed in 1 2 3; do
    run="$out/$(basename "$config" .json)-$seed"
    start=$(date +%s%N)
    build/nabla train "$config" --seed "$seed" --quiet --out "$run"
    times+=("$((($(date +%s%N) - start) / 1000000))")  # ms
    # A config without a test split (gradcheck.json) is measured on the 500 sample test images.
    test=()
    python3 -c 'import json, sys; sys.exit("test" not in json.load(open(sys.argv[1]))["data"])' "$run/config.json" ||
      test=(--images data/samples/fashion-test-500-images-idx3-ubyte.gz
            --labels data/samples/fashion-test-500-labels-idx1-ubyte.gz)
    accuracies+=("$(build/nabla eval "$run/checkpoints/best.safetensors" "${test[@]}" --json |
                    python3 -c 'import json, sys; print(100 * json.load(sys.stdin)["accuracy"])')")
  done
  epochs=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["training"]["epochs"])' "$run/config.json")
  t=$(printf '%s\n' "${times[@]}" | median)
  a=$(printf '%s\n' "${accuracies[@]}" | median)
  each=$(printf '%.2f%%, ' "${accuracies[@]}")
  printf '| `%s` | %s | %.1f s | %.2f%% | %s |\n' "$(basename "$config")" "$epochs" "$(echo "$t" | awk '{ print $1 / 1000 }')" "$a" \
    "${each%, }"
done
