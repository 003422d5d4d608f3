"""The npz export in numpy alone: a forward pass over the exported weights (forward(), as the README
shows it) must classify the test images as nabla does: the same accuracy and confusion matrix as
`nabla eval --json`, and, when given `nabla predict --json`'s lines, the same class for every sample
with probabilities within 1e-5.

Usage: npz_check.py MODEL.npz IMAGES.gz LABELS.gz EVAL.json [PREDICT.jsonl]   (npz_check.sh runs it)
Exit status 0 when every comparison holds, 1 otherwise.
"""
import gzip
import json
import math
import struct
import sys

import numpy as np

TOLERANCE = 1e-5


def forward(z, x):
    """The network's outputs for raw features x (N, inputs), e.g. pixels 0..255: (N, outputs)."""
    a = x.astype(np.float32) / z["input_scale"]
    for i, act in enumerate(z["activations"]):
        a = a @ z[f"layers.{i}.weight"].T + z[f"layers.{i}.bias"]
        norm, eps = z["norms"][i], z["norm_epsilons"][i]
        if norm == "batch_norm":  # the running statistics, as in evaluation
            a = (a - z[f"layers.{i}.norm.running_mean"]) / np.sqrt(z[f"layers.{i}.norm.running_var"] + eps)
        elif norm == "layer_norm":
            a = (a - a.mean(axis=1, keepdims=True)) / np.sqrt(a.var(axis=1, keepdims=True) + eps)
        if norm != "none":
            a = a * z[f"layers.{i}.norm.weight"] + z[f"layers.{i}.norm.bias"]
        if act == "sigmoid":
            a = 1 / (1 + np.exp(-a))
        elif act == "tanh":
            a = np.tanh(a)
        elif act == "relu":
            a = np.maximum(a, 0)
        elif act == "leaky_relu":
            a = np.where(a > 0, a, z["negative_slopes"][i] * a)
        elif act == "gelu":  # numpy has no erf: math's, element by element
            a = 0.5 * a * (1 + np.vectorize(math.erf, otypes=[np.float32])(a / np.float32(math.sqrt(2))))
        elif act == "gelu_tanh":
            a = 0.5 * a * (1 + np.tanh(np.float32(math.sqrt(2 / math.pi)) * (a + np.float32(0.044715) * a**3)))
        elif act == "silu":
            a = a / (1 + np.exp(-a))
        elif act == "elu":
            a = np.where(a > 0, a, z["elu_alphas"][i] * np.expm1(np.minimum(a, 0)))
        elif act == "softplus":
            a = np.logaddexp(a, np.float32(0))
        elif act == "softmax":
            e = np.exp(a - a.max(axis=1, keepdims=True))
            a = e / e.sum(axis=1, keepdims=True)
    return a


def predicted_class(p):
    """As nabla: the largest output (the first of equals), or output > 0.5 for a single unit."""
    return (p[:, 0] > 0.5).astype(np.int64) if p.shape[1] == 1 else p.argmax(axis=1)


def read_idx(path, magic, dims):
    """A gzip IDX file of u8: checks the magic, the dimensions and the byte count."""
    with gzip.open(path, "rb") as f:
        blob = f.read()
    header = 4 + 4 * dims
    found, *shape = struct.unpack(">" + "I" * (1 + dims), blob[:header])
    if found != magic:
        sys.exit(f"FAILED: {path}: magic {found:#010x}, expected {magic:#010x}")
    if len(blob) != header + int(np.prod(shape)):
        sys.exit(f"FAILED: {path}: {len(blob)} bytes, expected {header + int(np.prod(shape))} for shape {shape}")
    return np.frombuffer(blob, np.uint8, offset=header).reshape(shape[0], -1)


def check_archive(z):
    """Every member numpy should find, with shapes that chain from inputs to outputs."""
    layers = len(z["activations"])
    expected = {"input_scale", "activations", "negative_slopes", "elu_alphas", "norms", "norm_epsilons"}
    expected |= {f"layers.{i}.{t}" for i in range(layers) for t in ("weight", "bias")}
    norms = {"batch_norm": ("weight", "bias", "running_mean", "running_var"), "layer_norm": ("weight", "bias")}
    expected |= {f"layers.{i}.norm.{t}" for i in range(layers) for t in norms.get(str(z["norms"][i]), ())}
    if set(z.files) != expected:
        sys.exit(f"FAILED: npz members {sorted(z.files)}, expected {sorted(expected)}")
    for i in range(layers):
        w, b = z[f"layers.{i}.weight"], z[f"layers.{i}.bias"]
        if w.dtype != np.float32 or b.dtype != np.float32 or b.shape != (w.shape[0],):
            sys.exit(f"FAILED: layers.{i}: weight {w.dtype}{w.shape}, bias {b.dtype}{b.shape}")
        if i and w.shape[1] != z[f"layers.{i - 1}.weight"].shape[0]:
            sys.exit(f"FAILED: layers.{i}.weight {w.shape} does not take layers.{i - 1}'s outputs")


def compare_eval(classes, labels, ev):
    """The accuracy and the confusion matrix (rows: true class, columns: predicted) of nabla eval."""
    if ev["samples"] != len(labels):
        sys.exit(f"FAILED: nabla eval saw {ev['samples']} samples, numpy {len(labels)}")
    n = len(ev["confusion"])
    confusion = np.zeros((n, n), np.int64)
    np.add.at(confusion, (labels, classes), 1)
    correct = int((classes == labels).sum())
    if correct != ev["correct"] or correct / len(labels) != ev["accuracy"]:
        sys.exit(f"FAILED: numpy's accuracy {correct}/{len(labels)}, nabla eval's {ev['correct']} ({ev['accuracy']})")
    if confusion.tolist() != ev["confusion"]:
        sys.exit(f"FAILED: confusion matrices differ:\nnumpy {confusion.tolist()}\nnabla {ev['confusion']}")
    return correct


def compare_predict(p, classes, path):
    """nabla predict's lines, one per sample in order: the same class, probabilities within TOLERANCE."""
    with open(path) as f:
        rows = [json.loads(line) for line in f if line.strip()]
    if len(rows) != len(p):
        sys.exit(f"FAILED: nabla predict printed {len(rows)} lines for {len(p)} samples")
    worst = 0.0
    for i, row in enumerate(rows):
        if row["index"] != i or row["class"] != classes[i]:
            sys.exit(f"FAILED: sample {i}: nabla predict says index {row['index']} class {row['class']}, "
                     f"numpy class {classes[i]}")
        delta = np.abs(np.array(row["probabilities"], np.float64) - p[i]).max()
        if not delta <= TOLERANCE:
            sys.exit(f"FAILED: sample {i}: |Δp| = {delta:.3g} over {TOLERANCE:g}")
        worst = max(worst, float(delta))
    return worst


def main():
    model, images, labels, eval_json, *predict = sys.argv[1:]
    z = np.load(model)
    check_archive(z)
    x = read_idx(images, 0x803, 3)
    y = read_idx(labels, 0x801, 1)[:, 0].astype(np.int64)
    with np.errstate(over="ignore"):  # exp(-z) of a very negative z: inf, and a sigmoid of 0, as in nabla
        p = forward(z, x).astype(np.float64)
    classes = predicted_class(p)
    line = f"numpy {np.__version__}: {len(x)} samples"
    if predict:  # first: it names the sample that differs
        worst = compare_predict(p, classes, predict[0])
        line += f", same class for all as nabla predict, max |Δp| = {worst:.1e}"
    with open(eval_json) as f:
        correct = compare_eval(classes, y, json.load(f))
    line += f"; accuracy {correct}/{len(x)} and confusion matrix as nabla eval"
    if not predict:
        line += "; probabilities not compared (this nabla has no predict)"
    print(line)


if __name__ == "__main__":
    main()
