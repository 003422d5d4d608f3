#!/usr/bin/env bash
# Makes data/fashion-mnist/ hold the full Fashion-MNIST set (60,000 training and 10,000 test images)
# as the four original IDX gzip files, symlinked from Debian's package dataset-fashion-mnist (which
# scripts/deps.sh installs when it is missing). Idempotent and silent when there is nothing to do.
# data/fashion-mnist/ is git-ignored; data/mnist/ and data/samples/ are committed and need nothing.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/deps.sh

src=/usr/share/datasets/fashion-mnist
dst=data/fashion-mnist
mkdir -p "$dst"
for f in train-images-idx3-ubyte.gz train-labels-idx1-ubyte.gz t10k-images-idx3-ubyte.gz t10k-labels-idx1-ubyte.gz; do
  if [ ! -f "$src/$f" ]; then
    echo "get-data.sh: $src/$f is missing although dataset-fashion-mnist is installed" >&2
    exit 1
  fi
  # Already the right link: nothing to do. Missing, stale, or a regular file: (re)made.
  if [ -L "$dst/$f" ] && [ "$(readlink "$dst/$f")" = "$src/$f" ]; then continue; fi
  ln -sfn "$src/$f" "$dst/$f"
done
