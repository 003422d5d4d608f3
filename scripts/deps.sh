#!/usr/bin/env bash
# Installs the Debian packages nabla needs, and only those that are missing; silent when all are there.
# Sourced or run by scripts/run.sh and scripts/test.sh. Extra package names may be passed as arguments.
#
# As root it runs apt-get; as another user, sudo apt-get, where sudo can be used (without a password,
# or with one typed at a terminal). Where it cannot install (no root and no usable sudo, or apt-get
# failed), it names the missing packages in one command to copy and fails, before any build starts.
set -euo pipefail

packages=(build-essential cmake pkg-config libcli11-dev nlohmann-json3-dev libopenblas-dev doctest-dev
          zlib1g-dev libpng-dev libdnnl-dev libssl-dev dataset-fashion-mnist "$@")

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

say_what_to_install() {
  echo "deps.sh: $1; nabla needs these Debian packages, which are not installed: ${missing[*]}" >&2
  echo "deps.sh: install them with:" >&2
  echo "  sudo apt-get install --no-install-recommends ${missing[*]}" >&2
  exit 1
}

as_root=()
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null && { sudo -n true 2>/dev/null || [ -t 0 ]; }; then
    as_root=(sudo)
  else
    say_what_to_install "not root, and sudo cannot be used here"
  fi
fi
command -v apt-get >/dev/null || say_what_to_install "apt-get is not on this machine"

echo "installing: ${missing[*]}" >&2
"${as_root[@]}" apt-get update -qq || say_what_to_install "apt-get update failed"
"${as_root[@]}" env DEBIAN_FRONTEND=noninteractive \
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null ||
  say_what_to_install "apt-get install failed"
