#!/usr/bin/env bash
# The npz export in numpy: trains configs/gradcheck.json for one epoch (every activation, and a
# dropout), exports it with `nabla export --format npz`, and runs npz_check.py's numpy forward pass
# on the 500 sample test images, which must classify them as `nabla eval` counts (accuracy and
# confusion matrix) and, where this nabla has `predict`, as `nabla predict --json` says, sample by
# sample, with probabilities within 1e-5. Skipped (77) without a python3 that has numpy.
#   npz_check.sh NABLA_BINARY SOURCE_DIR WORK_DIR
set -u
fail() { echo "FAILED: $1"; exit 1; }
skip() { echo "SKIPPED: $1"; exit 77; }
[ $# -eq 3 ] || fail "usage: npz_check.sh NABLA_BINARY SOURCE_DIR WORK_DIR"
nabla=$(realpath "$1") || fail "no nabla binary at $1"
src=$(realpath "$2") || fail "no source folder at $2"
mkdir -p "$3" || fail "cannot make $3"
work=$(realpath "$3")

# The first python3 with numpy: the one on PATH (a virtualenv's, pyenv's) or Debian's.
py=
for candidate in python3 /usr/bin/python3; do
  if command -v "$candidate" >/dev/null && "$candidate" -c 'import numpy' 2>/dev/null; then
    py=$candidate
    break
  fi
done
[ -n "$py" ] || skip "no python3 with numpy (on Debian: apt-get install python3-numpy)"
"$nabla" export --help >/dev/null 2>&1 || fail "$nabla has no export subcommand"

cd "$src" || fail "no source folder"
images=data/samples/fashion-test-500-images-idx3-ubyte.gz
labels=data/samples/fashion-test-500-labels-idx1-ubyte.gz
rm -rf "$work/npz-run"
"$nabla" train configs/gradcheck.json --epochs 1 --quiet --out "$work/npz-run" || fail "training"
ckpt=$work/npz-run/checkpoints/best.safetensors
"$nabla" export "$ckpt" --format npz --output "$work/model.npz" || fail "export"
"$nabla" eval "$ckpt" --images "$images" --labels "$labels" --json >"$work/npz-eval.json" || fail "nabla eval"
predict=()
if "$nabla" predict --help >/dev/null 2>&1; then
  "$nabla" predict "$ckpt" "$images" --json >"$work/npz-predict.jsonl" || fail "nabla predict"
  predict=("$work/npz-predict.jsonl")
else
  echo "this nabla has no predict: comparing with nabla eval's accuracy and confusion matrix only"
fi
"$py" tests/scripts/npz_check.py "$work/model.npz" "$images" "$labels" "$work/npz-eval.json" "${predict[@]}" ||
  fail "numpy's forward pass differs from nabla's"
echo "passed"
