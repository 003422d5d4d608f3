#!/usr/bin/env bash
# bf16 against fp32 on the default config (Fashion-MNIST, 784-256-128-10, 30 epochs, 2 threads):
# the same runs with training.precision "fp32" and "bf16", for seeds 1 to N (3 unless given), each
# pair side by side. Prints each run's final test accuracy and median epoch time, the medians over
# the seeds, and bf16's differences; writes build/bench-precision.json.
#   scripts/bench-precision.sh [SEEDS] [extra nabla flags, e.g. --epochs 10]
set -euo pipefail
cd "$(dirname "$0")/.."
seeds=${1:-3}
shift || true
scripts/deps.sh
scripts/get-data.sh
scripts/build.sh >/dev/null
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
for seed in $(seq 1 "$seeds"); do
  for precision in fp32 bf16; do
    build/nabla train configs/default.json --quiet --out "$out/$precision-$seed" --seed "$seed" \
      --set checkpoint.every=0 --set "training.precision=\"$precision\"" "$@"
  done
done
/usr/bin/python3 - "$out" "$seeds" <<'EOF'
import json, os, statistics, sys
out, seeds = sys.argv[1], int(sys.argv[2])
runs = {}
for p in ("fp32", "bf16"):
    for s in range(1, seeds + 1):
        rows = [json.loads(line) for line in open(os.path.join(out, f"{p}-{s}", "metrics.jsonl"))]
        runs[(p, s)] = {"test_accuracy": rows[-1]["test_accuracy"],
                        "epoch_s": statistics.median(r["seconds"] for r in rows[1:])}
print(f"{'seed':>4} {'fp32 test':>9} {'bf16 test':>9} {'diff pts':>8} {'fp32 s/ep':>9} {'bf16 s/ep':>9} {'ratio':>6}")
for s in range(1, seeds + 1):
    a, b = runs[("fp32", s)], runs[("bf16", s)]
    print(f"{s:>4} {a['test_accuracy']:>9.4f} {b['test_accuracy']:>9.4f} "
          f"{100 * (b['test_accuracy'] - a['test_accuracy']):>+8.2f} {a['epoch_s']:>9.3f} {b['epoch_s']:>9.3f} "
          f"{b['epoch_s'] / a['epoch_s']:>6.2f}")
med = lambda p, k: statistics.median(runs[(p, s)][k] for s in range(1, seeds + 1))
summary = {p: {k: med(p, k) for k in ("test_accuracy", "epoch_s")} for p in ("fp32", "bf16")}
diff = 100 * (summary["bf16"]["test_accuracy"] - summary["fp32"]["test_accuracy"])
ratio = summary["bf16"]["epoch_s"] / summary["fp32"]["epoch_s"]
print(f" med {summary['fp32']['test_accuracy']:>9.4f} {summary['bf16']['test_accuracy']:>9.4f} {diff:>+8.2f} "
      f"{summary['fp32']['epoch_s']:>9.3f} {summary['bf16']['epoch_s']:>9.3f} {ratio:>6.2f}")
path = os.path.join(os.getcwd(), "build", "bench-precision.json")
with open(path, "w") as f:
    json.dump({"runs": {f"{p}-{s}": v for (p, s), v in runs.items()}, "median": summary,
               "bf16_minus_fp32_points": diff, "bf16_over_fp32_time": ratio}, f, indent=1)
print(f"written: {path}")
EOF
