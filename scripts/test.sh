#!/usr/bin/env bash
# Installs what is missing, builds, and runs every test: the Release suite through ctest, then the
# sanitized suites and the fuzzers (scripts/sanitize.sh). Each part says what it took.
set -euo pipefail
cd "$(dirname "$0")/.."
started=$SECONDS
# For the tests alone: python3-numpy (the npz export is checked against a numpy forward pass),
# librsvg2-bin (every SVG nabla draws is rendered to PNG by rsvg-convert), chromium (report.html
# is rendered in a real browser, headless); clang-14, libclang-rt-14-dev (the sanitizers and
# libFuzzer, scripts/sanitize.sh), libomp-14-dev (clang's OpenMP, for oneDNN's module) and llvm-14
# (llvm-symbolizer: file and line in a sanitizer's report); see tests/scripts.
scripts/deps.sh python3-numpy librsvg2-bin chromium clang-14 libclang-rt-14-dev libomp-14-dev llvm-14
# python3-torch (PyTorch's numbers for the activations, losses, clipping and norms:
# tests/scripts/torch_check.py) is the largest of them, and installs while the build compiles.
torch_log=$(mktemp)
scripts/deps.sh python3-torch >"$torch_log" 2>&1 &
torch_install=$!
scripts/build.sh
scripts/get-data.sh
wait "$torch_install" || { cat "$torch_log" >&2; exit 1; }
rm -f "$torch_log"
echo "test.sh: installed and built in $((SECONDS - started)) s"
part=$SECONDS
# No test takes more than a few seconds, but for the build without bf16 (its own timeout, in
# tests/CMakeLists.txt): one that runs 5 minutes hangs, and fails instead of holding CI.
ctest --test-dir build --output-on-failure -j "$(nproc)" --timeout 300
echo "test.sh: the Release suite in $((SECONDS - part)) s"
scripts/sanitize.sh
echo "test.sh: everything in $((SECONDS - started)) s"
