#!/usr/bin/env bash
# Builds nabla and its tests with clang's sanitizers: scripts/build-sanitize.sh SANITIZERS DIR [TARGET...]
#   address,undefined: AddressSanitizer + UndefinedBehaviorSanitizer, and the libFuzzer targets;
#   thread: ThreadSanitizer.
# -O1 with line tables only: reports with file and line, without the compile time of full debug
# information (scripts/sanitize.sh builds both on every test run). Without TARGETs, everything.
set -euo pipefail
cd "$(dirname "$0")/.."
[ $# -ge 2 ] || { echo "usage: scripts/build-sanitize.sh address,undefined|thread DIR [TARGET...]" >&2; exit 2; }
sanitizers=$1 dir=$2
shift 2
scripts/deps.sh clang-14 libclang-rt-14-dev libomp-14-dev llvm-14
fuzz=OFF
[ "$sanitizers" = address,undefined ] && fuzz=ON
CXX=clang++-14 cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -gline-tables-only" -DNABLA_SANITIZE="$sanitizers" -DNABLA_FUZZ=$fuzz >/dev/null
targets=()
for t in "$@"; do targets+=(--target "$t"); done
cmake --build "$dir" -j "$(nproc)" "${targets[@]}"
