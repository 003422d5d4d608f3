#!/usr/bin/env bash
# Benchmarks the data loader on Fashion-MNIST's 60,000 training images (47 MB as u8): one shuffled
# epoch in batches of 64, from the .gz files and from raw IDX copies (decompressed once into
# build/bench-data/), with the default budget (held in memory) and with a 16 MB budget (streamed).
# Each setting runs 3 times in fresh processes; the medians of load time, epoch time, samples/s and
# peak RSS (getrusage ru_maxrss) are printed. A streamed run must peak under budget + 32 MB: PASS/FAIL.
#
#   scripts/bench-loader.sh            build everything (scripts/build.sh), then benchmark
#   scripts/bench-loader.sh --quick    build only the bench_loader target
# Reads come from the page cache after the first run: these are warm-cache figures.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/get-data.sh
if [ "${1:-}" = "--quick" ]; then
  cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
  cmake --build build --target bench_loader -j "$(nproc)" >/dev/null
else
  # The whole project; if another module does not build yet, the benchmark's own target still may.
  scripts/build.sh >/dev/null 2>&1 || cmake --build build --target bench_loader -j "$(nproc)" >/dev/null
fi
bench=build/tests/bench_loader

scratch=build/bench-data
mkdir -p "$scratch"
for f in train-images-idx3-ubyte train-labels-idx1-ubyte; do
  if [ ! -f "$scratch/$f" ]; then
    gzip -dc "data/fashion-mnist/$f.gz" > "$scratch/$f.tmp"
    mv "$scratch/$f.tmp" "$scratch/$f"
  fi
done

default_mb=512   # LoaderOptions' and the config's default memory budget
small_mb=16
slack_mb=32
status=0

median() { sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

printf '%-5s %7s %-9s %8s %8s %11s %11s %13s  %s\n' source budget mode "load s" "epoch s" "samples/s" \
  "incl. load" "peak RSS MB" check
for budget in $default_mb $small_mb; do
  for kind in gz raw; do
    if [ $kind = gz ]; then
      images=data/fashion-mnist/train-images-idx3-ubyte.gz labels=data/fashion-mnist/train-labels-idx1-ubyte.gz
    else
      images=$scratch/train-images-idx3-ubyte labels=$scratch/train-labels-idx1-ubyte
    fi
    runs=()
    for seed in 1 2 3; do runs+=("$("$bench" "$images" "$labels" $budget 64 $seed)"); done
    field() { printf '%s\n' "${runs[@]}" | awk -v k="$1" '{ for (i = 1; i < NF; i += 2) if ($i == k) print $(i + 1) }'; }
    samples=$(field samples | head -1)
    load=$(field load_s | median)
    epoch=$(field epoch_s | median)
    rate=$(printf '%s\n' "${runs[@]}" | awk '{ for (i = 1; i < NF; i += 2) { if ($i == "samples") s = $(i + 1); if ($i == "epoch_s") e = $(i + 1) } print s / e }' | median)
    total=$(printf '%s\n' "${runs[@]}" | awk '{ for (i = 1; i < NF; i += 2) { if ($i == "samples") s = $(i + 1); if ($i == "epoch_s") e = $(i + 1); if ($i == "load_s") l = $(i + 1) } print s / (e + l) }' | median)
    rss_kb=$(field peak_rss_kb | median)
    max_rss_kb=$(field peak_rss_kb | sort -g | tail -1)
    mode=memory
    [ "$(field streaming | head -1)" = 1 ] && mode=streamed
    check=""
    if [ $budget -lt $default_mb ]; then
      limit_kb=$(( (budget + slack_mb) * 1024 ))
      if [ "$mode" = streamed ] && [ "$max_rss_kb" -lt $limit_kb ]; then
        check="PASS (max $((max_rss_kb / 1024)) MB < $((budget + slack_mb)) MB)"
      else
        check="FAIL (max $((max_rss_kb / 1024)) MB, $mode, limit $((budget + slack_mb)) MB)"
        status=1
      fi
    fi
    [ "$samples" = 60000 ] || { check="$check FAIL: $samples samples, expected 60000"; status=1; }
    printf '%-5s %4s MB %-9s %8.3f %8.3f %11.0f %11.0f %13.1f  %s\n' $kind $budget $mode "$load" "$epoch" "$rate" \
      "$total" "$(awk -v k="$rss_kb" 'BEGIN { print k / 1024 }')" "$check"
  done
done
exit $status
