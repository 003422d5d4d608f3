#!/usr/bin/env bash
# A build with -DNABLA_BF16=OFF needs no oneDNN: it configures with oneDNN hidden from CMake, links
# no libdnnl (nor the OpenMP and OpenCL runtimes that come with it), trains in float, and refuses a
# bf16 config with the build's own reason.
#   build_without_bf16.sh SOURCE_DIR BUILD_DIR
set -u
src=$1
dir=$2
fail() { echo "FAILED: $1"; exit 1; }
# oneDNN's header and library made unfindable: the configure step must not look for them.
cmake -S "$src" -B "$dir" -DCMAKE_BUILD_TYPE=Release -DNABLA_BF16=OFF \
      -DDNNL_INCLUDE_DIR=/nonexistent -DDNNL_LIBRARY=/nonexistent/libdnnl.so >/dev/null ||
  fail "configure without oneDNN"
cmake --build "$dir" --target nabla -j "$(nproc)" >/dev/null || fail "build without oneDNN"
bin=$dir/nabla
needed=$(readelf -d "$bin" | grep NEEDED)
printf '%s\n' "$needed"
! grep -qE "dnnl|gomp|OpenCL" <<<"$needed" || fail "the binary links oneDNN or its runtimes"

cd "$src" || fail "no source folder"
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
"$bin" train configs/gradcheck.json --epochs 1 --quiet --out "$out/run" || fail "float training"
[ -s "$out/run/checkpoints/best.safetensors" ] || fail "no checkpoint written"
msg=$("$bin" train configs/gradcheck.json --dry-run --set 'training.precision="bf16"' 2>&1)
rc=$?
expected='configs/gradcheck.json: training.precision: bf16 is not available: this build has no bf16 engine (built with NABLA_BF16=OFF) (use "fp32")'
[ $rc -eq 2 ] || fail "bf16 config: exit $rc, expected 2"
[ "$msg" = "$expected" ] || fail "bf16 config: said '$msg'"
echo "passed"
