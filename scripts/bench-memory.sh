#!/usr/bin/env bash
# Peak memory of training on a data set far larger than its memory budget: Fashion-MNIST's 60,000
# training images repeated 20 times, 1.2 million samples (941 MB of raw IDX, and the same as gzip),
# one epoch of configs/default.json's network with data.memory_budget_mb = 128 (and its test set),
# from each file, in a fresh process each (GNU time's maximum resident set size; run s is the whole
# process: loading, the epoch, the evaluations, the checkpoints). The loader must stream it: each
# run's peak RSS must stay under the budget + the model (parameters, gradients and momentum, 4
# bytes each, and the threads' gradient blocks) + 64 MB, else FAIL and a non-zero exit.
#   scripts/bench-memory.sh [BUDGET_MB]     (the data is made once, in build/bench-memory/)
set -euo pipefail
cd "$(dirname "$0")/.."
budget_mb=${1:-128}
scripts/deps.sh time
scripts/get-data.sh
[ -x build/nabla ] || scripts/build.sh >/dev/null
dir=build/bench-memory
mkdir -p "$dir"
repeat=20
# The data, made once: the header's count times 20, then the records 20 times (labels the same).
/usr/bin/python3 - "$dir" "$repeat" <<'PY'
import gzip, os, struct, sys
out, repeat = sys.argv[1], int(sys.argv[2])
for name, header in (("train-images-idx3-ubyte", 16), ("train-labels-idx1-ubyte", 8)):
    target = os.path.join(out, "big-" + name)
    if os.path.exists(target):
        continue
    with gzip.open(os.path.join("data/fashion-mnist", name + ".gz")) as f:
        data = f.read()
    head = bytearray(data[:header])
    count = struct.unpack(">I", head[4:8])[0]
    head[4:8] = struct.pack(">I", count * repeat)
    with open(target + ".tmp", "wb") as f:
        f.write(head)
        for _ in range(repeat):
            f.write(data[header:])
    os.replace(target + ".tmp", target)
PY
for f in big-train-images-idx3-ubyte big-train-labels-idx1-ubyte; do
  [ -f "$dir/$f.gz" ] || { gzip -1 -c "$dir/$f" > "$dir/$f.gz.tmp" && mv "$dir/$f.gz.tmp" "$dir/$f.gz"; }
done
samples=$((60000 * repeat))
echo "data: $samples samples, $(du -m "$dir/big-train-images-idx3-ubyte" | cut -f1) MB raw," \
     "$(du -m "$dir/big-train-images-idx3-ubyte.gz" | cut -f1) MB gzip; budget $budget_mb MB"

# The network's parameters, from the dry run's summary ("total ... N"), for the bound.
params=$(build/nabla train configs/default.json --dry-run | awk '$1 == "total" { gsub(",", "", $2); print $2 }')
model_mb=$(( (params * 4 * 3 + 2 * 128 * 785 * 4) / 1048576 + 1 ))
bound_mb=$((budget_mb + model_mb + 64))
status=0
printf '%-5s %7s %10s %12s %9s  %s\n' file "run s" samples/s "peak RSS MB" "bound MB" result
for kind in raw gz; do
  suffix=""
  [ "$kind" = gz ] && suffix=.gz
  out=$dir/run-$kind
  rm -rf "$out"
  /usr/bin/time -f '%M %e' -o "$dir/time-$kind" build/nabla train configs/default.json --quiet --epochs 1 \
    --set data.train.images="$PWD/$dir/big-train-images-idx3-ubyte$suffix" \
    --set data.train.labels="$PWD/$dir/big-train-labels-idx1-ubyte$suffix" \
    --set data.validation=10000 --set data.memory_budget_mb="$budget_mb" --out "$out"
  read -r peak_kb seconds < "$dir/time-$kind"
  peak_mb=$((peak_kb / 1024))
  result=PASS
  [ "$peak_mb" -le "$bound_mb" ] || { result=FAIL; status=1; }
  printf '%-5s %7s %10.0f %12s %9s  %s\n' "$kind" "$seconds" "$(awk "BEGIN { print $samples / $seconds }")" \
    "$peak_mb" "$bound_mb" "$result"
done
exit $status
