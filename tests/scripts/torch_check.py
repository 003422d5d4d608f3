#!/usr/bin/python3
"""PyTorch's numbers for each activation, loss option and clipping nabla added beyond the first six
activations: nabla and PyTorch (Debian's python3-torch) train the same small network from the same
initial weights on the same three batches, and every tensor must end within 1e-5 of PyTorch's
(normwise relative: ||nabla - torch|| / ||torch||, per tensor).

The network is 784-16-10 on the committed Fashion-MNIST sample (data/samples), softmax cross-entropy,
SGD with momentum 0.9, batches of 64 in file order (shuffle off), on 2 threads (the threaded step);
the training split is exactly 3 x 64 samples (the rest of the 2,000 is the validation split), so one
epoch is the 3 steps. nabla writes checkpoints/epoch-0000.safetensors (the initial weights) and
last.safetensors (after the 3 steps); PyTorch starts from the first and is compared with the second.
Each case changes one thing: the hidden activation, or the loss, or the clipping, or a norm between
the first Linear and its activation (BatchNorm1d, LayerNorm: their gamma, beta and running statistics
compared too); and each has a near
miss (GELU's other form, another alpha, a 10% different limit, the loss without the option) that
must end more than 1e-4 away, so that a case whose option did nothing fails.

Usage: torch_check.py NABLA_BINARY SOURCE_DIR WORK_DIR   (ctest: scripts/torch)
Exit status 0 when every case is within the tolerance, 77 (skipped) without python3-torch.
"""
import copy
import json
import os
import subprocess
import sys

TOLERANCE = 1e-5
STEPS, BATCH, SAMPLES = 3, 64, 2000

try:
    import numpy as np
    import torch
except ImportError as e:
    print(f"SKIPPED: no PyTorch here ({e}); on Debian: apt-get install python3-torch")
    sys.exit(77)


def cases():
    """(name, what the config changes, the PyTorch activation, loss options, clipping, and a control: the
    PyTorch activation, loss and clipping of a near miss, which must NOT match, or the case could not fail)."""
    ce = {"type": "cross_entropy"}
    gelu, gelu_tanh = torch.nn.GELU(), torch.nn.GELU(approximate="tanh")
    yield "gelu", {"activation": "gelu"}, gelu, ce, {}, (gelu_tanh, ce, {})
    yield "gelu_tanh", {"activation": "gelu_tanh"}, gelu_tanh, ce, {}, (gelu, ce, {})
    yield "silu", {"activation": "silu"}, torch.nn.SiLU(), ce, {}, (gelu, ce, {})
    yield "elu", {"activation": "elu", "alpha": 0.7}, torch.nn.ELU(alpha=0.7), ce, {}, (torch.nn.ELU(), ce, {})
    yield "softplus", {"activation": "softplus"}, torch.nn.Softplus(), ce, {}, (torch.nn.Softplus(beta=1.1), ce, {})
    relu = torch.nn.ReLU()
    hidden = {"activation": "relu"}
    yield "label_smoothing", hidden, relu, dict(ce, label_smoothing=0.1), {}, (relu, dict(ce, label_smoothing=0.09), {})
    weights = [0.5, 1, 1.5, 2, 0.25, 1, 3, 1, 0.75, 1]
    yield "class_weights", hidden, relu, dict(ce, class_weights=weights), {}, (relu, ce, {})
    balanced = dict(ce, class_weights="balanced", label_smoothing=0.2)
    yield "balanced", hidden, relu, balanced, {}, (relu, dict(ce, label_smoothing=0.2), {})
    # Limits below the gradients' size, so that they clip at every step (checked below).
    yield "clip_grad_norm", hidden, relu, ce, {"clip_grad_norm": 0.05}, (relu, ce, {"clip_grad_norm": 0.055})
    yield "clip_grad_value", hidden, relu, ce, {"clip_grad_value": 0.002}, (relu, ce, {"clip_grad_value": 0.0022})
    # The norms: the module between the first Linear and its activation (its state compared too: γ, β
    # and batch_norm's running mean and variance after the 3 steps).
    bn = {"activation": "relu", "norm": "batch_norm"}
    yield "batch_norm", bn, (torch.nn.BatchNorm1d(16), relu), ce, {}, ((torch.nn.BatchNorm1d(16, momentum=0.12), relu), ce, {})
    bn_gelu = {"activation": "gelu", "norm": "batch_norm", "norm_momentum": 0.3, "norm_epsilon": 1e-3}
    yield ("batch_norm_gelu", bn_gelu, (torch.nn.BatchNorm1d(16, eps=1e-3, momentum=0.3), gelu), dict(ce, label_smoothing=0.1),
           {}, ((torch.nn.BatchNorm1d(16, eps=1e-5, momentum=0.3), gelu), dict(ce, label_smoothing=0.1), {}))
    ln = {"activation": "tanh", "norm": "layer_norm"}
    tanh = torch.nn.Tanh()
    yield "layer_norm", ln, (torch.nn.LayerNorm(16), tanh), ce, {}, ((torch.nn.LayerNorm(16, eps=0.05), tanh), ce, {})


def config(src, hidden, loss, clip):
    samples = os.path.join(src, "data", "samples")
    return {
        "data": {
            "train": {
                "images": os.path.join(samples, "fashion-train-2000-images-idx3-ubyte.gz"),
                "labels": os.path.join(samples, "fashion-train-2000-labels-idx1-ubyte.gz"),
            },
            "validation": SAMPLES - STEPS * BATCH,
        },
        "model": {"layers": [dict({"type": "dense", "units": 16}, **hidden), {"type": "dense", "activation": "softmax"}]},
        "loss": loss,
        "optimizer": {"type": "sgd", "learning_rate": 0.1, "momentum": 0.9},
        "training": dict({"epochs": 1, "batch_size": BATCH, "shuffle": False, "seed": 3, "threads": 2}, **clip),
    }


def torch_weights(initial, act, loss, clip, x, y):
    """PyTorch's weights after the 3 steps from `initial`; `act` is an activation, or (norm, activation)."""
    lin0, lin1 = torch.nn.Linear(784, 16), torch.nn.Linear(16, 10)
    norm, act = act if isinstance(act, tuple) else (None, act)
    norm = copy.deepcopy(norm)  # the same module in a case and its near miss: each its own state
    state = {"weight": "weight", "bias": "bias", "running_mean": "running_mean", "running_var": "running_var"}
    with torch.no_grad():
        for lin, i in ((lin0, 0), (lin1, 1)):
            lin.weight.copy_(torch.from_numpy(initial[f"layers.{i}.weight"]))
            lin.bias.copy_(torch.from_numpy(initial[f"layers.{i}.bias"]))
        for ours, theirs in state.items():
            if norm is not None and hasattr(norm, theirs):
                getattr(norm, theirs).copy_(torch.from_numpy(initial[f"layers.0.norm.{ours}"]))
    net = torch.nn.Sequential(*([lin0] + ([norm] if norm is not None else []) + [act, lin1]))
    net.train()
    weight = loss.get("class_weights")
    if weight == "balanced":  # scikit-learn's: N / (K n_c) over the training labels
        counts = np.bincount(y, minlength=10)
        assert counts.min() > 0, counts
        weight = len(y) / (10 * counts)
    criterion = torch.nn.CrossEntropyLoss(
        weight=None if weight is None else torch.tensor(weight, dtype=torch.float32),
        label_smoothing=loss.get("label_smoothing", 0.0),
    )
    opt = torch.optim.SGD(net.parameters(), lr=0.1, momentum=0.9)
    clipped = 0
    for s in range(STEPS):
        xb = torch.from_numpy(x[s * BATCH : (s + 1) * BATCH])
        yb = torch.from_numpy(y[s * BATCH : (s + 1) * BATCH])
        opt.zero_grad()
        criterion(net(xb), yb).backward()
        if "clip_grad_value" in clip:
            limit = clip["clip_grad_value"]
            clipped += sum(int((p.grad.abs() > limit).any()) for p in net.parameters()) > 0
            torch.nn.utils.clip_grad_value_(net.parameters(), limit)
        if "clip_grad_norm" in clip:
            limit = clip["clip_grad_norm"]
            clipped += float(torch.nn.utils.clip_grad_norm_(net.parameters(), limit)) > limit
        opt.step()
    if clip and clipped < STEPS:
        sys.exit(f"FAILED: the clipping limit {clip} clipped only {clipped} of {STEPS} steps: the case checks nothing")
    weights = {
        "layers.0.weight": lin0.weight, "layers.0.bias": lin0.bias,
        "layers.1.weight": lin1.weight, "layers.1.bias": lin1.bias,
    }
    for ours, theirs in state.items():
        if norm is not None and hasattr(norm, theirs):
            weights[f"layers.0.norm.{ours}"] = getattr(norm, theirs)
    return weights


def main():
    if len(sys.argv) != 4:
        sys.exit("usage: torch_check.py NABLA_BINARY SOURCE_DIR WORK_DIR")
    nabla, src, work = (os.path.abspath(a) for a in sys.argv[1:])
    sys.path.insert(0, os.path.join(src, "scripts"))
    from idx_numpy import read_idx, read_safetensors

    samples = os.path.join(src, "data", "samples")
    n = STEPS * BATCH
    x = (read_idx(os.path.join(samples, "fashion-train-2000-images-idx3-ubyte.gz"))[:n].astype(np.float32) /
         np.float32(255))
    y = read_idx(os.path.join(samples, "fashion-train-2000-labels-idx1-ubyte.gz"))[:n]
    torch.set_num_threads(1)
    os.makedirs(work, exist_ok=True)
    failed = []
    for name, hidden, act, loss, clip, control in cases():
        path = os.path.join(work, f"torch-{name}.json")
        with open(path, "w") as f:
            json.dump(config(src, hidden, loss, clip), f)
        run = os.path.join(work, f"torch-{name}-run")
        subprocess.run(["rm", "-rf", run], check=True)
        subprocess.run([nabla, "train", path, "--quiet", "--out", run], check=True)
        initial = read_safetensors(os.path.join(run, "checkpoints", "epoch-0000.safetensors"))
        ours = read_safetensors(os.path.join(run, "checkpoints", "last.safetensors"))
        theirs = torch_weights(initial, act, loss, clip, x, y)
        near_miss = torch_weights(initial, *control, x, y)
        worst = missed = 0.0
        for t, w in theirs.items():
            w = w.detach().numpy()
            # The steps must move each tensor by far more than the tolerance, or the case checks nothing
            # (but batch_norm's bias before the norm, whose gradient is 0).
            moved = np.linalg.norm(w - initial[t]) / np.linalg.norm(w)
            if not moved > 10 * TOLERANCE and not (t == "layers.0.bias" and hidden.get("norm") == "batch_norm"):
                failed.append(f"{name}: {t} moved by only {moved:.1e} of its norm in 3 steps")
            m = near_miss[t].detach().numpy()
            if t == "layers.0.bias" and hidden.get("norm") == "batch_norm":
                # Its gradient is 0 in exact arithmetic (batch_norm subtracts the mean): both moved by
                # rounding alone, which no relative difference measures. Absolutely, it stays put.
                if not np.abs(ours[t] - w).max() < 1e-6:
                    failed.append(f"{name}: {t} moved by {np.abs(ours[t] - w).max():.1e} from PyTorch's")
                continue
            worst = max(worst, float(np.linalg.norm(ours[t] - w) / np.linalg.norm(w)))
            missed = max(missed, float(np.linalg.norm(ours[t] - m) / np.linalg.norm(m)))
        print(f"{name:16s} max normwise relative difference {worst:.2e}  (from the near miss: {missed:.2e})")
        if not worst <= TOLERANCE:
            failed.append(f"{name}: {worst:.2e} > {TOLERANCE:.0e}")
        if not missed > 10 * TOLERANCE:
            failed.append(f"{name}: the near miss {control} matches too ({missed:.2e}): the check cannot tell them apart")
    if failed:
        print("FAILED: " + "; ".join(failed))
        sys.exit(1)
    print(f"passed: {len(list(cases()))} cases within {TOLERANCE:.0e} of PyTorch {torch.__version__}")


if __name__ == "__main__":
    main()
