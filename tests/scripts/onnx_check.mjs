// The ONNX export in onnxruntime: the model, run on the raw pixels of the test images (u8 values as
// float32, as `nabla predict` reads them), must classify them as `nabla eval` counts (accuracy and
// confusion matrix) and, when given `nabla predict --json`'s lines, give the same class for every
// sample with probabilities within 1e-5.
//
// Usage: node onnx_check.mjs ORT_PREFIX MODEL.onnx IMAGES.gz LABELS.gz EVAL.json [PREDICT.jsonl]
// ORT_PREFIX is the folder npm installed onnxruntime-node into (onnx_check.sh runs this).
// Exit status 0 when every comparison holds, 1 otherwise.
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";

const TOLERANCE = 1e-5;

function fail(message) {
  console.log(`FAILED: ${message}`);
  process.exit(1);
}

// A gzip IDX file of u8, checked: the magic, big-endian dimensions, the exact byte count.
function readIdx(path, magic, dims) {
  const blob = gunzipSync(readFileSync(path));
  const view = new DataView(blob.buffer, blob.byteOffset, blob.byteLength);
  const header = 4 + 4 * dims;
  if (blob.length < header || view.getUint32(0) !== magic) fail(`${path}: not an IDX file of magic ${magic}`);
  const shape = Array.from({ length: dims }, (_, k) => view.getUint32(4 + 4 * k));
  const size = shape.reduce((a, b) => a * b, 1);
  if (blob.length !== header + size) fail(`${path}: ${blob.length} bytes, expected ${header + size}`);
  return { shape, data: blob.subarray(header) };
}

// As nabla: the largest output (the first of equals), or output > 0.5 for a single unit.
function predictedClass(p, row, outputs) {
  if (outputs === 1) return p[row] > 0.5 ? 1 : 0;
  let best = 0;
  for (let j = 1; j < outputs; ++j) if (p[row * outputs + j] > p[row * outputs + best]) best = j;
  return best;
}

function compareEval(classes, labels, ev) {
  if (ev.samples !== labels.length) fail(`nabla eval saw ${ev.samples} samples, onnxruntime ${labels.length}`);
  const n = ev.confusion.length;
  const confusion = Array.from({ length: n }, () => new Array(n).fill(0));
  let correct = 0;
  classes.forEach((c, i) => {
    confusion[labels[i]][c] += 1;
    correct += c === labels[i] ? 1 : 0;
  });
  if (correct !== ev.correct || correct / labels.length !== ev.accuracy)
    fail(`onnxruntime's accuracy ${correct}/${labels.length}, nabla eval's ${ev.correct} (${ev.accuracy})`);
  if (JSON.stringify(confusion) !== JSON.stringify(ev.confusion))
    fail(`confusion matrices differ:\nonnxruntime ${JSON.stringify(confusion)}\nnabla ${JSON.stringify(ev.confusion)}`);
  return correct;
}

// nabla predict's lines, one per sample in order: the same class, probabilities within TOLERANCE.
function comparePredict(p, classes, outputs, path) {
  const rows = readFileSync(path, "utf8").split("\n").filter((l) => l.trim()).map((l) => JSON.parse(l));
  if (rows.length !== classes.length) fail(`nabla predict printed ${rows.length} lines for ${classes.length} samples`);
  let worst = 0;
  rows.forEach((row, i) => {
    if (row.index !== i || row.class !== classes[i])
      fail(`sample ${i}: nabla predict says index ${row.index} class ${row.class}, onnxruntime class ${classes[i]}`);
    if (row.probabilities.length !== outputs) fail(`sample ${i}: ${row.probabilities.length} probabilities`);
    for (let j = 0; j < outputs; ++j) {
      const delta = Math.abs(row.probabilities[j] - p[i * outputs + j]);
      if (!(delta <= TOLERANCE)) fail(`sample ${i}, class ${j}: |Δp| = ${delta.toExponential(2)} over ${TOLERANCE}`);
      worst = Math.max(worst, delta);
    }
  });
  return worst;
}

const [prefix, model, imagesPath, labelsPath, evalPath, predictPath] = process.argv.slice(2);
const ort = createRequire(join(prefix, "package.json"))("onnxruntime-node");
const images = readIdx(imagesPath, 0x803, 3);
const labels = Array.from(readIdx(labelsPath, 0x801, 1).data);
const [count, rows, cols] = images.shape;
const session = await ort.InferenceSession.create(model);
if (session.inputNames.join() !== "x" || session.outputNames.join() !== "probabilities")
  fail(`the model's inputs ${session.inputNames} and outputs ${session.outputNames}, expected x and probabilities`);
const x = new ort.Tensor("float32", Float32Array.from(images.data), [count, rows * cols]);
const out = (await session.run({ x })).probabilities;
if (out.dims.length !== 2 || out.dims[0] !== count) fail(`output of shape [${out.dims}] for ${count} samples`);
const outputs = out.dims[1];
const classes = Array.from({ length: count }, (_, i) => predictedClass(out.data, i, outputs));
let line = `onnxruntime ${ort.env.versions.node}: ${count} samples`;
if (predictPath) {  // first: it names the sample that differs
  const worst = comparePredict(out.data, classes, outputs, predictPath);
  line += `, same class for all, max |Δp| = ${worst.toExponential(1)}`;
}
const correct = compareEval(classes, labels, JSON.parse(readFileSync(evalPath, "utf8")));
line += `; accuracy ${correct}/${count} and confusion matrix as nabla eval`;
if (!predictPath) line += "; probabilities not compared (this nabla has no predict)";
console.log(line);
