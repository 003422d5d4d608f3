#!/usr/bin/env bash
# nabla predict's throughput beside nabla eval's and PyTorch's inference, on the model of a
# checkpoint (default: one trained here from configs/default.json) over the 10,000 Fashion-MNIST test
# images: whole-process times of nabla (checkpoint and data loading included), medians of 5, and
# PyTorch's timed passes over tensors already in memory, at 1 and 2 threads.
#   scripts/bench-predict.sh [CHECKPOINT]
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh python3-torch time
scripts/build.sh >/dev/null
scripts/get-data.sh
ckpt=${1:-}
if [ -z "$ckpt" ]; then
  out=$(mktemp -d)
  build/nabla train configs/default.json --quiet --out "$out/run"
  ckpt=$out/run/checkpoints/best.safetensors
fi
images=data/fashion-mnist/t10k-images-idx3-ubyte.gz
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
timed() {  # the median wall time of 5 runs of a command, in seconds
  for _ in 1 2 3 4 5; do
    /usr/bin/env time -f %e "$@" 2>&1 >/dev/null | tail -n 1
  done | median
}
csv=$(mktemp)
build/nabla predict "$ckpt" "$images" --output "$csv"
p=$(timed build/nabla predict "$ckpt" "$images" --output "$csv")
e=$(timed build/nabla eval "$ckpt")
echo "nabla predict: ${p} s for 10000 samples ($(awk "BEGIN {printf \"%.0f\", 10000 / $p}") samples/s, whole process)"
echo "nabla eval:    ${e} s ($(awk "BEGIN {printf \"%.0f\", 10000 / $e}") samples/s, whole process)"
for t in 1 2; do
  OPENBLAS_NUM_THREADS=$t /usr/bin/python3 scripts/bench_predict_torch.py "$ckpt" --threads "$t" --nabla-csv "$csv"
done
