#!/usr/bin/python3
"""PyTorch parity: nabla and PyTorch train the same network from the same initial weights on the same
batches in the same order, and must end with the same weights; PyTorch with nabla's final weights must
classify the test set exactly as `nabla eval` counts.

The workload is configs/default.json (Fashion-MNIST, 784-256-128-10 relu, softmax cross-entropy, SGD
with momentum 0.9, batch 64) with shuffling off, a constant learning rate, one thread, and a training
split of exactly STEPS * 64 samples, so that one epoch is STEPS steps. nabla writes
checkpoints/epoch-0000.safetensors (the initial weights) and last.safetensors (after STEPS steps);
PyTorch 1.13 from Debian (python3-torch) starts from the first and is compared with the second.

Usage: scripts/compare-pytorch.py [--steps 100]   (builds nabla and gets the data first if needed)
Exit status 0 when both checks pass.
"""
import argparse
import json
import os
import struct
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
try:
    import numpy as np
    import torch

    from idx_numpy import read_idx, read_safetensors
except ImportError:  # Debian's PyTorch, installed on first use
    subprocess.run([os.path.join(ROOT, "scripts", "deps.sh"), "python3-torch"], check=True)
    os.execv("/usr/bin/python3", ["/usr/bin/python3"] + sys.argv)

NABLA = os.path.join(ROOT, "build", "nabla")
DATA = os.path.join(ROOT, "data", "fashion-mnist")


def model(state):
    layers = []
    names = sorted({k.rsplit(".", 1)[0] for k in state if k.startswith("layers.")}, key=lambda s: int(s.split(".")[1]))
    for i, name in enumerate(names):
        w = torch.from_numpy(state[name + ".weight"])
        linear = torch.nn.Linear(w.shape[1], w.shape[0])
        with torch.no_grad():
            linear.weight.copy_(w)
            linear.bias.copy_(torch.from_numpy(state[name + ".bias"]))
        layers.append(linear)
        if i + 1 < len(names):
            layers.append(torch.nn.ReLU())
    return torch.nn.Sequential(*layers)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=100)
    ap.add_argument("--tolerance", type=float, default=1e-4)
    args = ap.parse_args()
    if not os.path.exists(NABLA):
        subprocess.run([os.path.join(ROOT, "scripts", "build.sh")], check=True, stdout=subprocess.DEVNULL)
    subprocess.run([os.path.join(ROOT, "scripts", "get-data.sh")], check=True)

    batch, lr, momentum = 64, 0.05, 0.9
    train_n = args.steps * batch
    run = tempfile.mkdtemp(prefix="nabla-parity-")
    cmd = [NABLA, "train", os.path.join(ROOT, "configs", "default.json"), "--quiet", "--out", run, "--epochs", "1",
           "--threads", "1", "--set", "training.shuffle=false", "--set", f"data.validation={60000 - train_n}",
           "--set", "schedule.type=constant", "--set", f"optimizer.learning_rate={lr}",
           "--set", f"optimizer.momentum={momentum}", "--set", f"training.batch_size={batch}"]
    subprocess.run(cmd, check=True)
    initial = read_safetensors(os.path.join(run, "checkpoints", "epoch-0000.safetensors"))
    final = read_safetensors(os.path.join(run, "checkpoints", "last.safetensors"))

    # PyTorch, from nabla's initial weights, on the same batches in the same order.
    torch.set_num_threads(1)
    x_train = torch.from_numpy(read_idx(os.path.join(DATA, "train-images-idx3-ubyte.gz"))[:train_n].astype(np.float32) / 255)
    y_train = torch.from_numpy(read_idx(os.path.join(DATA, "train-labels-idx1-ubyte.gz"))[:train_n])
    net = model(initial)
    opt = torch.optim.SGD(net.parameters(), lr=lr, momentum=momentum)
    loss_fn = torch.nn.CrossEntropyLoss()
    for step in range(args.steps):
        xb, yb = x_train[step * batch : (step + 1) * batch], y_train[step * batch : (step + 1) * batch]
        opt.zero_grad()
        loss_fn(net(xb), yb).backward()
        opt.step()

    print(f"weights after {args.steps} steps, PyTorch {torch.__version__} against nabla "
          f"(relative error |W_torch - W_nabla| / |W_nabla|):")
    ours = {name: p.detach().numpy() for name, p in zip(
        [f"layers.{i // 2}.{'weight' if i % 2 == 0 else 'bias'}" for i in range(len(list(net.parameters())))],
        net.parameters())}
    worst = 0.0
    for name, w in ours.items():
        rel = float(np.linalg.norm(w.astype(np.float64) - final[name]) / np.linalg.norm(final[name]))
        moved = float(np.linalg.norm(final[name] - initial[name]) / np.linalg.norm(final[name]))
        worst = max(worst, rel)
        print(f"  {name:16s} {rel:.3e}   (training moved it by {moved:.3e})")
    weights_ok = worst <= args.tolerance
    print(f"  worst {worst:.3e}, tolerance {args.tolerance:.0e}: {'ok' if weights_ok else 'FAIL'}")

    # PyTorch with nabla's final weights on the test set, against `nabla eval`.
    x_test = torch.from_numpy(read_idx(os.path.join(DATA, "t10k-images-idx3-ubyte.gz")).astype(np.float32) / 255)
    y_test = read_idx(os.path.join(DATA, "t10k-labels-idx1-ubyte.gz"))
    with torch.no_grad():
        predicted = model(final)(x_test).argmax(dim=1).numpy()
    confusion = np.zeros((10, 10), dtype=np.int64)
    np.add.at(confusion, (y_test, predicted), 1)
    ev = json.loads(subprocess.run([NABLA, "eval", os.path.join(run, "checkpoints", "last.safetensors"), "--json"],
                                   check=True, capture_output=True, text=True).stdout)
    same = np.array_equal(confusion, np.array(ev["confusion"]))
    print(f"test set with nabla's final weights: PyTorch {int(np.trace(confusion))}/{len(y_test)} correct, "
          f"nabla eval {ev['correct']}/{ev['samples']}; confusion matrices {'identical' if same else 'DIFFER'}")
    print(f"run folder: {run}")
    return 0 if weights_ok and same else 1


if __name__ == "__main__":
    sys.exit(main())
