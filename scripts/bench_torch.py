#!/usr/bin/python3
"""PyTorch's time per epoch on nabla's reference workload, for scripts/bench.sh.

Fashion-MNIST's 60,000 training images held in memory as tensors, MLP 784-256-128-10 with relu,
softmax cross-entropy, SGD with momentum 0.9, in a plain loop (forward, backward, step, and the loss
and accuracy bookkeeping nabla also does). Run it with OPENBLAS_NUM_THREADS set to the same thread
count: torch.set_num_threads does not limit OpenBLAS's own threads.

With --bf16, the forward pass runs under torch.autocast("cpu", dtype=torch.bfloat16): PyTorch's own
mixed precision, its linear layers in bf16 on oneDNN, the weights and the optimiser in float.

Usage: bench_torch.py --threads N --batch B --epochs E [--bf16]   (prints one JSON object)
"""
import argparse
import json
import os
import resource
import time

import numpy as np
import torch

from idx_numpy import read_idx

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--bf16", action="store_true")
    ap.add_argument("--hidden", default="256,128", help="the hidden layers' widths, relu each")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    data = os.path.join(ROOT, "data", "fashion-mnist")
    t0 = time.perf_counter()
    x = torch.from_numpy(read_idx(os.path.join(data, "train-images-idx3-ubyte.gz")).astype(np.float32) / 255)
    y = torch.from_numpy(read_idx(os.path.join(data, "train-labels-idx1-ubyte.gz")))
    load = time.perf_counter() - t0
    widths = [x.shape[1]] + [int(w) for w in args.hidden.split(",")]
    layers = []
    for i, o in zip(widths, widths[1:]):
        layers += [torch.nn.Linear(i, o), torch.nn.ReLU()]
    net = torch.nn.Sequential(*layers, torch.nn.Linear(widths[-1], 10))
    opt = torch.optim.SGD(net.parameters(), lr=0.05, momentum=0.9)
    loss_fn = torch.nn.CrossEntropyLoss()
    n = x.shape[0]
    epochs = []
    for _ in range(args.epochs):
        order = torch.randperm(n)
        t0 = time.perf_counter()
        loss_sum, correct = 0.0, 0
        for s in range(0, n, args.batch):
            idx = order[s : s + args.batch]
            xb, yb = x[idx], y[idx]
            opt.zero_grad(set_to_none=True)
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=args.bf16):
                out = net(xb)
                loss = loss_fn(out, yb)
            loss.backward()
            opt.step()
            loss_sum += loss.item() * len(idx)
            correct += (out.argmax(1) == yb).sum().item()
        epochs.append(time.perf_counter() - t0)
    print(json.dumps({"threads": args.threads, "bf16": args.bf16, "batch": args.batch, "epoch_seconds": epochs, "load_seconds": load,
                      "train_accuracy": correct / n,
                      "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))


if __name__ == "__main__":
    main()
