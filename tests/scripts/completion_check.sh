#!/usr/bin/env bash
# scripts/nabla-completion.bash in a real bash: what a Tab completes after a few partial words.
# Usage: completion_check.sh NABLA_BINARY SOURCE_DIR
set -euo pipefail
binary=$1 source=$2
PATH="$(dirname "$binary"):$PATH"
# shellcheck source=/dev/null
source "$source/scripts/nabla-completion.bash"

failed=0
expect() {  # expect "WANTED" WORD...: the completions of the last word
  local wanted=$1
  shift
  COMP_WORDS=("$@")
  COMP_CWORD=$(($# - 1))
  _nabla
  local got="${COMPREPLY[*]}"
  if [ "$got" != "$wanted" ]; then
    echo "completion of '$*': expected '$wanted', got '$got'" >&2
    failed=1
  fi
}
expect "train" nabla tr
expect "lr-find" nabla lr
expect "predict plot" nabla p
expect "--epochs" nabla train --ep
expect "--confusion --csv --csv-header" nabla eval x.safetensors --c
expect "onnx" nabla export x.safetensors --format o
expect "--min-lr" nabla lr-find configs/default.json --mi
cd "$source"
expect "configs" nabla train config  # (readline adds the / of a folder)
[ "$failed" -eq 0 ] && echo "completion: 8 cases as expected"
exit "$failed"
