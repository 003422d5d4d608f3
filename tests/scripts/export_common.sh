# Sourced by npz_check.sh and onnx_check.sh: the arguments, and a model to check with nabla's own
# answers for it.
#   check_args "$@"          NABLA_BINARY SOURCE_DIR WORK_DIR -> $nabla, $src, $work
#   export_and_predict NAME FORMAT
#       trains configs/every-layer.json for one epoch (every activation, a dropout, label smoothing,
#       balanced class weights, clipping by norm) into
#       $work/NAME-run, exports it as FORMAT to $work/model.FORMAT, and writes nabla eval's answer
#       on the 500 sample test images ($images, $labels) to $work/NAME-eval.json and nabla
#       predict's to $work/NAME-predict.jsonl. Run from the source folder.
fail() { echo "FAILED: $1"; exit 1; }
skip() { echo "SKIPPED: $1"; exit 77; }

check_args() {
  [ $# -eq 3 ] || fail "usage: $(basename "$0") NABLA_BINARY SOURCE_DIR WORK_DIR"
  nabla=$(realpath "$1") || fail "no nabla binary at $1"
  src=$(realpath "$2") || fail "no source folder at $2"
  mkdir -p "$3" || fail "cannot make $3"
  work=$(realpath "$3")
  images=data/samples/fashion-test-500-images-idx3-ubyte.gz
  labels=data/samples/fashion-test-500-labels-idx1-ubyte.gz
}

export_and_predict() {
  local name=$1 format=$2
  cd "$src" || fail "no source folder"
  rm -rf "$work/$name-run"
  "$nabla" train configs/every-layer.json --epochs 1 --quiet --out "$work/$name-run" || fail "training"
  ckpt=$work/$name-run/checkpoints/best.safetensors
  "$nabla" export "$ckpt" --format "$format" --output "$work/model.$format" || fail "export"
  "$nabla" eval "$ckpt" --images "$images" --labels "$labels" --json >"$work/$name-eval.json" || fail "nabla eval"
  "$nabla" predict "$ckpt" "$images" --json >"$work/$name-predict.jsonl" || fail "nabla predict"
}
