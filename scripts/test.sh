#!/usr/bin/env bash
# Installs what is missing, builds, and runs every test through ctest.
set -euo pipefail
cd "$(dirname "$0")/.."
# For the tests alone: python3-numpy (the npz export is checked against a numpy forward pass),
# librsvg2-bin (every SVG nabla draws is rendered to PNG by rsvg-convert) and chromium (report.html
# is rendered in a real browser, headless); see tests/scripts.
scripts/deps.sh python3-numpy librsvg2-bin chromium
scripts/build.sh
scripts/get-data.sh
# No test takes more than a few seconds, but for the build without bf16 (its own timeout, in
# tests/CMakeLists.txt): one that runs 5 minutes hangs, and fails instead of holding CI.
ctest --test-dir build --output-on-failure -j "$(nproc)" --timeout 300
