#!/usr/bin/env bash
# The ONNX export in onnxruntime: trains configs/every-layer.json for one epoch (every activation, and a
# dropout), exports it with `nabla export --format onnx`, and runs it in onnxruntime's CPU engine
# (onnx_check.mjs) on the 500 sample test images, which it must classify as `nabla eval`
# counts (accuracy and confusion matrix) and as `nabla predict --json` says, sample by sample, with
# probabilities within 1e-5.
#
# onnxruntime is not in Debian: npm's onnxruntime-node, which bundles the CPU runtime, is installed
# once into WORK_DIR/node (outside the source tree) and reused. ONNXRUNTIME_NODE_INSTALL=skip keeps
# its install step from downloading the CUDA libraries, from outside the npm registry. Skipped (77)
# without node and npm, or when the install fails (offline).
#   onnx_check.sh NABLA_BINARY SOURCE_DIR WORK_DIR
set -u
. "$(dirname "$0")/export_common.sh"
check_args "$@"

command -v node >/dev/null || skip "no node (on Debian: apt-get install nodejs npm)"
command -v npm >/dev/null || skip "no npm (on Debian: apt-get install npm)"
ort=$work/node
loads() { node -e 'require(process.argv[1])' "$ort/node_modules/onnxruntime-node" >/dev/null 2>&1; }
if ! loads; then
  rm -rf "$ort"
  mkdir -p "$ort" || fail "cannot make $ort"
  echo "installing onnxruntime-node@1 into $ort"
  # --prefer-offline: npm's cache first, so a second build folder installs without the network.
  if ! ONNXRUNTIME_NODE_INSTALL=skip npm install --prefer-offline --no-save --no-audit --no-fund \
      --fetch-retries=1 --fetch-timeout=60000 --prefix "$ort" onnxruntime-node@1 >"$work/npm-install.log" 2>&1; then
    tail -n 3 "$work/npm-install.log"
    skip "npm install onnxruntime-node failed (offline?); see $work/npm-install.log"
  fi
  loads || fail "onnxruntime-node installed, but its CPU binding does not load: $(
    node -e 'require(process.argv[1])' "$ort/node_modules/onnxruntime-node" 2>&1 | head -n 3)"
fi
export_and_predict onnx onnx
# ONNX's own checker, with strict shape inference, where a python3 has the onnx package (Debian:
# python3-onnx); onnxruntime's acceptance below is the test that always runs.
for py in python3 /usr/bin/python3; do
  if command -v "$py" >/dev/null && "$py" -c 'import onnx' 2>/dev/null; then
    "$py" -c 'import onnx, sys; onnx.checker.check_model(onnx.load(sys.argv[1]), full_check=True)
print(f"onnx {onnx.__version__} checker (full_check): valid")' "$work/model.onnx" || fail "onnx.checker rejects the model"
    break
  fi
done
node tests/scripts/onnx_check.mjs "$ort" "$work/model.onnx" "$images" "$labels" "$work/onnx-eval.json" \
  "$work/onnx-predict.jsonl" || fail "onnxruntime's outputs differ from nabla's"
echo "passed"
