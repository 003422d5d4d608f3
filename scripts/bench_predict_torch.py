#!/usr/bin/python3
"""PyTorch's inference on the model of a nabla checkpoint, for scripts/bench-predict.sh.

Reads the checkpoint's weights with numpy (safetensors: an 8-byte header length, a JSON header, raw
little-endian floats), builds the same torch.nn.Sequential (Linear + activation per dense layer),
and classifies the 10,000 Fashion-MNIST test images held in memory as one tensor, in batches, with
torch.inference_mode(). Prints one JSON object: the median of --repeat timed passes, in seconds and
samples/s, with the time to read the images and the checkpoint apart, and the predicted classes'
agreement with `nabla predict` when its CSV is given.

Usage: bench_predict_torch.py CHECKPOINT [--threads N] [--batch B] [--repeat R] [--nabla-csv FILE]
"""
import argparse
import json
import os
import struct
import time

import numpy as np
import torch

from idx_numpy import read_idx

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def load_model(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    config = json.loads(header["__metadata__"]["config"])
    dense = [l for l in config["model"]["layers"] if l.get("type", "dense") == "dense"]
    layers = []
    for i, l in enumerate(dense):
        tensors = {}
        for part in ("weight", "bias"):
            t = header[f"layers.{i}.{part}"]
            b, e = t["data_offsets"]
            tensors[part] = torch.from_numpy(np.frombuffer(data[b:e], "<f4").reshape(t["shape"]).copy())
        linear = torch.nn.Linear(tensors["weight"].shape[1], tensors["weight"].shape[0])
        linear.weight.data, linear.bias.data = tensors["weight"], tensors["bias"]
        layers.append(linear)
        act = l.get("activation", "linear")
        slope = l.get("negative_slope", 0.01)
        layers += {"sigmoid": [torch.nn.Sigmoid()], "tanh": [torch.nn.Tanh()], "relu": [torch.nn.ReLU()],
                   "leaky_relu": [torch.nn.LeakyReLU(slope)], "softmax": [torch.nn.Softmax(dim=1)],
                   "linear": []}[act]
    return torch.nn.Sequential(*layers).eval(), float(config["data"].get("scale", 255))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("checkpoint")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--nabla-csv")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    t0 = time.perf_counter()
    model, scale = load_model(args.checkpoint)
    raw = read_idx(os.path.join(ROOT, "data", "fashion-mnist", "t10k-images-idx3-ubyte.gz"))
    x = torch.from_numpy(raw.reshape(len(raw), -1).astype(np.float32) / np.float32(scale))
    load = time.perf_counter() - t0
    times, classes = [], None
    with torch.inference_mode():
        for _ in range(args.repeat):
            t = time.perf_counter()
            out = [model(x[i:i + args.batch]) for i in range(0, len(x), args.batch)]
            classes = torch.cat(out).argmax(1).numpy()
            times.append(time.perf_counter() - t)
    seconds = float(np.median(times))
    result = {"threads": args.threads, "batch": args.batch, "samples": len(x), "seconds": seconds,
              "samples_per_second": len(x) / seconds, "load_seconds": load}
    if args.nabla_csv:
        with open(args.nabla_csv) as f:
            next(f)
            nabla = np.array([int(line.split(",")[2]) for line in f])
        result["same_class_as_nabla"] = int((nabla == classes).sum())
    print(json.dumps(result))


if __name__ == "__main__":
    main()
