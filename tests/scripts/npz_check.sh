#!/usr/bin/env bash
# The npz export in numpy: trains configs/every-layer.json for one epoch (every activation, and a
# dropout), exports it with `nabla export --format npz`, and runs npz_check.py's numpy forward pass
# on the 500 sample test images, which must classify them as `nabla eval` counts (accuracy and
# confusion matrix) and as `nabla predict --json` says, sample by sample, with probabilities within
# 1e-5. Skipped (77) without a python3 that has numpy.
#   npz_check.sh NABLA_BINARY SOURCE_DIR WORK_DIR
set -u
. "$(dirname "$0")/export_common.sh"
check_args "$@"

# The first python3 with numpy: the one on PATH (a virtualenv's, pyenv's) or Debian's.
py=
for candidate in python3 /usr/bin/python3; do
  if command -v "$candidate" >/dev/null && "$candidate" -c 'import numpy' 2>/dev/null; then
    py=$candidate
    break
  fi
done
[ -n "$py" ] || skip "no python3 with numpy (on Debian: apt-get install python3-numpy)"
export_and_predict npz npz
"$py" tests/scripts/npz_check.py "$work/model.npz" "$images" "$labels" "$work/npz-eval.json" "$work/npz-predict.jsonl" ||
  fail "numpy's forward pass differs from nabla's"
echo "passed"
