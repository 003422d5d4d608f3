#!/usr/bin/env bash
# The speed benchmark: nabla's time per epoch on the reference workloads W (batch 64) and W256, at 1
# and 2 threads, beside the GEMM-only bound and PyTorch, medians of 3 rounds; one table, and JSON in
# build/bench.json. Options go to scripts/bench.py (--rounds N, --no-torch, --bf16, --build DIR).
# `scripts/bench.sh --sweep`: the width and depth sweep against the square-sgemm ceiling, bf16 on
# the wide rows where the CPU has it, and evaluation at batch 1024 (build/bench-sweep.json).
# `scripts/bench.sh --native` benchmarks a -march=native build (build-native/) instead.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh python3-torch time
scripts/get-data.sh
build=build
if [ "${1:-}" = "--native" ]; then
  shift
  build=build-native
  cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DNABLA_NATIVE=ON >/dev/null
  cmake --build "$build" -j "$(nproc)" --target nabla bench_gemm >/dev/null
else
  scripts/build.sh >/dev/null
fi
exec /usr/bin/python3 scripts/bench.py --build "$build" "$@"
