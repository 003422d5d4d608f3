#!/usr/bin/env bash
# Reproduces data/samples/ (committed), small real data for the tests:
#   fashion-train-2000-{images-idx3,labels-idx1}-ubyte.gz   the first 2,000 Fashion-MNIST training images
#   fashion-test-500-{images-idx3,labels-idx1}-ubyte.gz     the first 500 Fashion-MNIST test images
#   mnist-test-100.csv                                       the first 100 digits of data/mnist's test split
# Needs data/fashion-mnist/ (scripts/get-data.sh) and data/mnist/ (committed). Output is byte-for-byte
# reproducible (scripts/idx_tool.py writes gzip with no name and mtime 0).
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/get-data.sh
fm=data/fashion-mnist
out=data/samples
mkdir -p "$out"
tool=scripts/idx_tool.py

python3 "$tool" head "$fm/train-images-idx3-ubyte.gz" "$out/fashion-train-2000-images-idx3-ubyte.gz" 2000
python3 "$tool" head "$fm/train-labels-idx1-ubyte.gz" "$out/fashion-train-2000-labels-idx1-ubyte.gz" 2000
python3 "$tool" head "$fm/t10k-images-idx3-ubyte.gz" "$out/fashion-test-500-images-idx3-ubyte.gz" 500
python3 "$tool" head "$fm/t10k-labels-idx1-ubyte.gz" "$out/fashion-test-500-labels-idx1-ubyte.gz" 500
python3 "$tool" csv data/mnist/test-images-idx3-ubyte.gz data/mnist/test-labels-idx1-ubyte.gz 100 \
  "$out/mnist-test-100.csv"
