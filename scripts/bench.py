#!/usr/bin/python3
"""The speed benchmark behind scripts/bench.sh: nabla against the GEMM-only bound and PyTorch.

Workloads: W = Fashion-MNIST's 60,000 training images, MLP 784-256-128-10 relu, softmax
cross-entropy, SGD with momentum 0.9, batch 64; W256 = the same at batch 256. For each workload and
1 and 2 threads, side by side in every round (so that the machine's noise falls on all alike):

  nabla   build/nabla train configs/default.json (validation 0, checkpoints off), the `seconds` of
          metrics.jsonl: training only; loading and evaluation come from summary.json
  bound   build/tests/bench_gemm: exactly the sgemm calls of one step, times the steps of an epoch:
          at 2 threads split in halves on two threads as nabla's step splits them
  blas    bench_gemm --blas-threads (2 threads): the same products as whole-batch calls on
          OpenBLAS's own threads, the bound of a trainer that leaves the threading to OpenBLAS

and the same in bf16 (training.precision "bf16", --bf16 to add it): nabla's bf16 run against the
bf16 products of one step (bench_gemm --bf16), PyTorch under torch.autocast in bf16, and float's
figures beside it. "x best" divides by PyTorch's best time for the workload at any thread count and
either precision.
  torch   scripts/bench_torch.py, PyTorch from Debian, in-memory tensors, a plain loop, with
          OPENBLAS_NUM_THREADS matched (and OMP_WAIT_POLICY=PASSIVE at 2 threads)

With --sweep, the width and depth sweep instead: the networks of SWEEP (784-H...-10, relu, batch and
threads as listed) side by side with PyTorch in every round, against the ceiling measured in the same
round (OpenBLAS's square 1024 sgemm at 1 and 2 threads, bench_gemm --square), each row's GFLOP/s
counted two ways: "computed" = the products nabla runs (z, ∂W for every layer, δ through W for every
layer but the first: 2·(2F + F_up) FLOP a sample, F the multiply-adds of the forward pass and F_up
those of the layers above the first) and "3F" = the usual 3·2F, which counts the first layer's ∂x
that nobody needs. The fraction of the ceiling uses "computed". Where the CPU has AVX-512 BF16, the
wide rows also in bf16, against float and against the bf16 products of one step. And evaluation:
`nabla eval --batch 1024` over the 60,000 training images (its in-process pass without the waits
for the loader, `computing_samples_per_second` of --json) against PyTorch's inference over tensors
in memory at batch 1024 (bench_predict_torch.py, torch.inference_mode), samples/s, at
2 threads, on the reference network and on 1024-1024 (each trained for one epoch first).

Within a run the first epoch is a warm-up; a run's figure is the median of the others, and the
table shows the median over the rounds. The ratios are paired: each round's nabla time divided by
the same round's bound (or PyTorch) time, run just before or after it, and the median of those, so
that a round in which the shared machine was slow for all of them counts as one round. Peak RSS is
each process's maximum resident set.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SAMPLES = 60000


def max_rss_mb(cmd, env=None):
    """Runs cmd under GNU time; returns (stdout, peak RSS in MB)."""
    with tempfile.NamedTemporaryFile("r") as t:
        out = subprocess.run(["/usr/bin/time", "-f", "%M", "-o", t.name] + cmd, check=True, capture_output=True,
                             text=True, env=env).stdout
        return out, int(t.read().split()[-1]) / 1024


def run_nabla(build, batch, threads, epochs, precision, sets=()):
    out = tempfile.mkdtemp(prefix="nabla-bench-")
    _, rss = max_rss_mb([os.path.join(build, "nabla"), "train", os.path.join(ROOT, "configs", "default.json"),
                         "--quiet", "--out", out, "--epochs", str(epochs), "--threads", str(threads),
                         "--set", "data.validation=0", "--set", f"training.batch_size={batch}",
                         "--set", "checkpoint.every=0", "--set", f'training.precision="{precision}"']
                        + [a for s in sets for a in ("--set", s)])
    with open(os.path.join(out, "metrics.jsonl")) as f:
        seconds = [json.loads(line)["seconds"] for line in f]
    with open(os.path.join(out, "summary.json")) as f:
        summary = json.load(f)
    subprocess.run(["rm", "-rf", out])
    return {"epoch": statistics.median(seconds[1:]), "rss": rss, "load": summary["load_seconds"],
            "eval": summary["eval_seconds"] / len(seconds)}


def run_bound(build, batch, threads, precision, blas_threads=False, widths="784,256,128,10"):
    out, rss = max_rss_mb([os.path.join(build, "tests", "bench_gemm"), "--layers", widths, "--batch", str(batch),
                           "--threads", str(threads), "--samples", str(SAMPLES), "--repeats", "3"]
                          + (["--bf16"] if precision == "bf16" else [])
                          + (["--blas-threads"] if blas_threads else []))
    return {"epoch": json.loads(out)["seconds_per_epoch"], "rss": rss}


def run_torch(batch, threads, epochs, precision, hidden="256,128"):
    env = dict(os.environ, OPENBLAS_NUM_THREADS=str(threads), OMP_NUM_THREADS=str(threads))
    if threads > 1:
        env["OMP_WAIT_POLICY"] = "PASSIVE"
    out, rss = max_rss_mb(["/usr/bin/python3", os.path.join(ROOT, "scripts", "bench_torch.py"), "--threads",
                           str(threads), "--batch", str(batch), "--epochs", str(epochs), "--hidden", hidden]
                          + (["--bf16"] if precision == "bf16" else []), env=env)
    d = json.loads(out)
    return {"epoch": statistics.median(d["epoch_seconds"][1:]), "rss": rss, "load": d["load_seconds"]}


# The sweep: hidden layers, batch, threads. The last is the network chosen for a larger data set
# (three hidden layers narrowing from 2048, at a batch of 512).
SWEEP = [("256-128", 256, 2), ("1024-1024", 256, 2), ("1024-1024", 256, 1), ("2048-2048", 256, 2),
         ("512-512-512-512", 128, 2), ("2048-1024-512", 512, 2)]
WIDE = ("1024-1024", "2048-2048", "2048-1024-512")  # the rows also run in bf16 where it exists


def fmt(x, f):
    """x in printf format f, or a dash as wide when there is no figure."""
    return (f % x) if x is not None else ("%" + f[1:].split(".")[0] + "s") % "-"


def layers_set(hidden):
    dense = [{"type": "dense", "units": int(w), "activation": "relu", "init": "he"} for w in hidden.split("-")]
    return "model.layers=" + json.dumps(dense + [{"type": "dense", "units": 10, "activation": "softmax"}])


def flop_per_sample(hidden):
    """(computed, 3F): the FLOP a training step does per sample, as the module docstring counts them."""
    w = [784] + [int(x) for x in hidden.split("-")] + [10]
    macs = [a * b for a, b in zip(w, w[1:])]
    return 2 * (2 * sum(macs) + sum(macs[1:])), 3 * 2 * sum(macs)


def square(build, threads, bf16=False):
    out = subprocess.run([os.path.join(build, "tests", "bench_gemm"), "--square", "1024", "--threads", str(threads),
                          "--repeats", "3"] + (["--bf16"] if bf16 else []), check=True, capture_output=True,
                         text=True).stdout
    return json.loads(out)["gflops"]


def has_bf16():
    with open("/proc/cpuinfo") as f:
        return "avx512_bf16" in f.read()


def sweep(args):
    bf16 = has_bf16()
    if not bf16:
        print("no AVX-512 BF16 on this CPU (avx512_bf16 is not in /proc/cpuinfo): the sweep runs in float only",
              file=sys.stderr)
    cases = [(h, b, t, "fp32") for h, b, t in SWEEP] + \
            ([(h, b, t, "bf16") for h, b, t in SWEEP if h in WIDE and t == 2] if bf16 else [])
    res = {c: {"nabla": [], "torch": [], "bound": []} for c in cases}
    ceiling = {1: [], 2: [], "bf16": []}
    evals = {h: {"nabla": [], "torch": []} for h in ("256-128", "1024-1024")}
    ckpts, tmp = {}, tempfile.mkdtemp(prefix="nabla-sweep-")
    for h in evals:  # one epoch's checkpoint of each network, to evaluate
        out = os.path.join(tmp, h)
        subprocess.run([os.path.join(args.build, "nabla"), "train", os.path.join(ROOT, "configs", "default.json"),
                        "--quiet", "--out", out, "--epochs", "1", "--set", "data.validation=0",
                        "--set", layers_set(h)], check=True)
        ckpts[h] = os.path.join(out, "checkpoints", "best.safetensors")
    for r in range(args.rounds):
        for t in (1, 2):
            ceiling[t].append(square(args.build, t))
        if bf16:
            ceiling["bf16"].append(square(args.build, 2, bf16=True))
        for c in cases:
            hidden, batch, threads, precision = c
            widths = ",".join(["784"] + hidden.split("-") + ["10"])
            res[c]["nabla"].append(run_nabla(args.build, batch, threads, args.epochs, precision, [layers_set(hidden)]))
            if precision == "bf16":
                res[c]["bound"].append(run_bound(args.build, batch, threads, precision, widths=widths))
            if not args.no_torch:
                res[c]["torch"].append(run_torch(batch, threads, args.epochs, precision, hidden.replace("-", ",")))
            print(f"round {r + 1}/{args.rounds} {hidden} b{batch} t{threads} {precision}: nabla "
                  f"{res[c]['nabla'][-1]['epoch']:.3f} s"
                  + (f", torch {res[c]['torch'][-1]['epoch']:.3f} s" if res[c]["torch"] else ""), file=sys.stderr)
        for h, ck in ckpts.items():
            # Over the 60,000 training images, so that the pass's cold start (the team's threads, their
            # first GEMMs) weighs as little as in PyTorch's warm repeats over the 10,000 test images.
            train = os.path.join(ROOT, "data", "fashion-mnist", "train-%s-idx%d-ubyte.gz")
            out = subprocess.run([os.path.join(args.build, "nabla"), "eval", ck, "--json", "--batch", "1024",
                                  "--threads", "2", "--images", train % ("images", 3), "--labels",
                                  train % ("labels", 1)], check=True, capture_output=True, text=True).stdout
            evals[h]["nabla"].append(json.loads(out)["computing_samples_per_second"])
            if not args.no_torch:
                env = dict(os.environ, OPENBLAS_NUM_THREADS="2", OMP_NUM_THREADS="2", OMP_WAIT_POLICY="PASSIVE")
                out = subprocess.run(["/usr/bin/python3", os.path.join(ROOT, "scripts", "bench_predict_torch.py"), ck,
                                      "--threads", "2", "--batch", "1024"], check=True, capture_output=True,
                                     text=True, env=env).stdout
                evals[h]["torch"].append(json.loads(out)["samples_per_second"])
    subprocess.run(["rm", "-rf", tmp])

    med = statistics.median
    rows = []
    for c in cases:
        hidden, batch, threads, precision = c
        n = [x["epoch"] for x in res[c]["nabla"]]
        computed, usual = flop_per_sample(hidden)
        row = {"hidden": hidden, "batch": batch, "threads": threads, "precision": precision, "nabla_s": med(n),
               "gflops_computed": computed * SAMPLES / med(n) / 1e9, "gflops_3f": usual * SAMPLES / med(n) / 1e9,
               "runs": {k: [x["epoch"] for x in v] for k, v in res[c].items()}}
        # Paired with the same round's ceiling (float: at the row's threads; bf16: the bf16 product at 2).
        ceil = ceiling["bf16"] if precision == "bf16" else ceiling[threads]
        row["of_ceiling"] = med(computed * SAMPLES / x / 1e9 / g for x, g in zip(n, ceil))
        row["ceiling_gflops"] = med(ceil)
        if res[c]["torch"]:
            row["torch_s"] = med(x["epoch"] for x in res[c]["torch"])
            row["vs_torch"] = med(a / b["epoch"] for a, b in zip(n, res[c]["torch"]))
        if precision == "bf16":
            f = [x["epoch"] for x in res[(hidden, batch, threads, "fp32")]["nabla"]]
            row["speedup_vs_fp32"] = med(b / a for a, b in zip(n, f))
            row["bound_s"] = med(x["epoch"] for x in res[c]["bound"])
            row["vs_bound"] = med(a / b["epoch"] for a, b in zip(n, res[c]["bound"]))
        rows.append(row)
    print(f"{'hidden':16} {'batch':>5} {'thr':>3} {'prec':>4} {'nabla s':>8} {'GFLOP/s':>8} {'3F GF/s':>8} "
          f"{'x ceil':>6} {'torch s':>8} {'x torch':>7} {'x fp32':>6} {'x bound':>7}")
    for r in rows:
        print(f"{r['hidden']:16} {r['batch']:>5} {r['threads']:>3} {r['precision']:>4} {r['nabla_s']:>8.3f} "
              f"{r['gflops_computed']:>8.1f} {r['gflops_3f']:>8.1f} {r['of_ceiling']:>6.2f} "
              f"{fmt(r.get('torch_s'), '%8.3f')} {fmt(r.get('vs_torch'), '%7.2f')} "
              f"{fmt(r.get('speedup_vs_fp32'), '%6.2f')} {fmt(r.get('vs_bound'), '%7.2f')}")
    print(f"ceiling: square 1024 sgemm {med(ceiling[1]):.1f} GFLOP/s on 1 thread, {med(ceiling[2]):.1f} on 2"
          + (f"; bf16 {med(ceiling['bf16']):.1f} on 2" if ceiling["bf16"] else ""))
    eval_rows = []
    for h, e in evals.items():
        row = {"hidden": h, "batch": 1024, "threads": 2, "nabla_samples_per_s": med(e["nabla"]),
               "torch_samples_per_s": med(e["torch"]) if e["torch"] else None,
               "x_torch": med(a / b for a, b in zip(e["nabla"], e["torch"])) if e["torch"] else None}
        eval_rows.append(row)
        print(f"eval {h:10} batch 1024, 2 threads: nabla {row['nabla_samples_per_s']:.0f} samples/s"
              + (f", torch {row['torch_samples_per_s']:.0f}, {row['x_torch']:.2f}x" if e["torch"] else ""))
    os.makedirs(os.path.dirname(args.json), exist_ok=True)
    with open(args.json, "w") as f:
        json.dump({"date": time.strftime("%Y-%m-%dT%H:%M:%S"), "rounds": args.rounds, "sweep": rows,
                   "ceiling_gflops": {"1": ceiling[1], "2": ceiling[2], "bf16_2": ceiling["bf16"]},
                   "bf16": bf16, "eval": eval_rows}, f, indent=1)
    print(f"written: {args.json}")


def main():
    ap = argparse.ArgumentParser(description="nabla against the GEMM bound and PyTorch")
    ap.add_argument("--build", default=os.path.join(ROOT, "build"), help="the build folder to benchmark")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--epochs", type=int, default=4, help="per run, the first being a warm-up")
    ap.add_argument("--no-torch", action="store_true")
    ap.add_argument("--bf16", action="store_true", help="also nabla in bf16 (training.precision)")
    ap.add_argument("--sweep", action="store_true", help="the width and depth sweep instead (docstring)")
    ap.add_argument("--json", help="default: build/bench.json, with --sweep build/bench-sweep.json")
    args = ap.parse_args()
    if not args.json:
        args.json = os.path.join(ROOT, "build", "bench-sweep.json" if args.sweep else "bench.json")
    if args.sweep:
        return sweep(args)

    precisions = ("fp32", "bf16") if args.bf16 else ("fp32",)
    cases = [(name, batch, threads, p) for p in precisions for name, batch in (("W", 64), ("W256", 256))
             for threads in (1, 2)]
    results = {c: {"nabla": [], "bound": [], "blas": [], "torch": []} for c in cases}
    for r in range(args.rounds):
        for c in cases:
            _, batch, threads, precision = c
            results[c]["nabla"].append(run_nabla(args.build, batch, threads, args.epochs, precision))
            results[c]["bound"].append(run_bound(args.build, batch, threads, precision))
            if threads > 1 and precision == "fp32":
                results[c]["blas"].append(run_bound(args.build, batch, threads, precision, blas_threads=True))
            if not args.no_torch:
                results[c]["torch"].append(run_torch(batch, threads, args.epochs, precision))
            print(f"round {r + 1}/{args.rounds} {c[0]} {precision} {threads} thread(s): nabla "
                  f"{results[c]['nabla'][-1]['epoch']:.3f} s, bound {results[c]['bound'][-1]['epoch']:.3f} s"
                  + (f", blas {results[c]['blas'][-1]['epoch']:.3f} s" if results[c]["blas"] else "")
                  + (f", torch {results[c]['torch'][-1]['epoch']:.3f} s" if results[c]["torch"] else ""),
                  file=sys.stderr)

    def med(c, who, key="epoch"):
        runs = results[c][who]
        return statistics.median(x[key] for x in runs) if runs else None

    def paired(c, who, d, other):
        """The median over rounds of c's `who` time over d's `other` time in the same round."""
        a, b = results[c][who], results[d][other]
        return statistics.median(x["epoch"] / y["epoch"] for x, y in zip(a, b)) if a and b else None

    rows = []
    for c in cases:
        name, batch, threads, precision = c
        row = {"workload": name, "batch": batch, "threads": threads, "precision": precision,
               "nabla_s": med(c, "nabla"), "bound_s": med(c, "bound"), "blas_bound_s": med(c, "blas"), "torch_s": med(c, "torch"),
               "nabla_rss_mb": med(c, "nabla", "rss"),
               "torch_rss_mb": med(c, "torch", "rss"), "nabla_load_s": med(c, "nabla", "load"),
               "nabla_eval_s_per_epoch": med(c, "nabla", "eval"), "torch_load_s": med(c, "torch", "load"),
               "runs": {k: [x["epoch"] for x in v] for k, v in results[c].items()}}
        row["samples_per_s"] = SAMPLES / row["nabla_s"]
        row["vs_bound"] = paired(c, "nabla", c, "bound")
        row["vs_blas_bound"] = paired(c, "nabla", c, "blas")
        row["vs_torch"] = paired(c, "nabla", c, "torch")
        if precision != "fp32":
            row["vs_fp32"] = paired(c, "nabla", c[:3] + ("fp32",), "nabla")
        rows.append(row)
    # PyTorch's best: the fastest of its thread settings and precisions for the workload, in each round.
    for row in rows:
        same = [c for c in cases if c[0] == row["workload"] and results[c]["torch"]]
        best = [min(results[c]["torch"][r]["epoch"] for c in same) for r in range(args.rounds)] if same else []
        c = (row["workload"], row["batch"], row["threads"], row["precision"])
        row["torch_best_s"] = statistics.median(best) if best else None
        row["vs_torch_best"] = (statistics.median(n["epoch"] / b for n, b in zip(results[c]["nabla"], best))
                                if best else None)

    print(f"{'workload':8} {'prec':>4} {'thr':>3} {'nabla s/ep':>10} {'samples/s':>10} {'bound s':>8} {'x bound':>7} "
          f"{'blas s':>7} {'x blas':>6} {'torch s':>8} {'x torch':>7} {'x best':>7} {'RSS MB':>7} {'torch MB':>8} {'x fp32':>6}")
    for r in rows:
        print(f"{r['workload']:8} {r['precision']:>4} {r['threads']:>3} {r['nabla_s']:>10.3f} {r['samples_per_s']:>10.0f} "
              f"{r['bound_s']:>8.3f} {r['vs_bound']:>7.2f} {fmt(r['blas_bound_s'], '%7.3f')} {fmt(r['vs_blas_bound'], '%6.2f')} "
              f"{fmt(r['torch_s'], '%8.3f')} {fmt(r['vs_torch'], '%7.2f')} "
              f"{fmt(r['vs_torch_best'], '%7.2f')} {r['nabla_rss_mb']:>7.1f} {fmt(r['torch_rss_mb'], '%8.1f')} "
              f"{fmt(r.get('vs_fp32'), '%6.2f')}")
    w1 = next(r for r in rows if r["workload"] == "W" and r["threads"] == 1 and r["precision"] == "fp32")
    w2 = next(r for r in rows if r["workload"] == "W" and r["threads"] == 2 and r["precision"] == "fp32")
    speedup = 1 / paired(("W", 64, 2, "fp32"), "nabla", ("W", 64, 1, "fp32"), "nabla")
    print(f"W: 2 threads are {speedup:.2f}x faster than 1; loading {w2['nabla_load_s']:.2f} s, "
          f"evaluation {w2['nabla_eval_s_per_epoch']:.3f} s per epoch (both outside the epoch time)")
    os.makedirs(os.path.dirname(args.json), exist_ok=True)
    with open(args.json, "w") as f:
        json.dump({"date": time.strftime("%Y-%m-%dT%H:%M:%S"), "rounds": args.rounds, "rows": rows,
                   "w_speedup_2_vs_1": speedup}, f, indent=1)
    print(f"written: {args.json}")


if __name__ == "__main__":
    main()
