#!/usr/bin/env bash
# Installs what is missing, builds, and runs every test through ctest.
set -euo pipefail
cd "$(dirname "$0")/.."
# python3-numpy: the npz export is checked against a numpy forward pass (tests/scripts).
scripts/deps.sh python3-numpy
scripts/build.sh
scripts/get-data.sh
# No test takes more than a few seconds, but for the build without bf16 (its own timeout, in
# tests/CMakeLists.txt): one that runs 5 minutes hangs, and fails instead of holding CI.
ctest --test-dir build --output-on-failure -j "$(nproc)" --timeout 300
