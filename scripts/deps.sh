#!/usr/bin/env bash
# Installs the Debian packages nabla needs, and only those that are missing; silent when all are there.
# Sourced or run by scripts/run.sh and scripts/test.sh. Extra package names may be passed as arguments.
set -euo pipefail

packages=(build-essential cmake pkg-config libcli11-dev nlohmann-json3-dev libopenblas-dev doctest-dev
          zlib1g-dev libdnnl-dev dataset-fashion-mnist "$@")

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

sudo=""
[ "$(id -u)" -ne 0 ] && sudo="sudo"
echo "installing: ${missing[*]}" >&2
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
