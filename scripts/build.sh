#!/usr/bin/env bash
# Configures and builds nabla (Release) in build/. Extra arguments go to cmake's configure step,
# for example -DNABLA_NATIVE=ON.
set -euo pipefail
cd "$(dirname "$0")/.."
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release "$@" >/dev/null
cmake --build build -j "$(nproc)"
