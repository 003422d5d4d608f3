#!/usr/bin/env bash
# Fuzzes one reader with libFuzzer for SECONDS: scripts/fuzz.sh TARGET SECONDS [libFuzzer flags...]
# TARGET is config, idx, csv, inputs or checkpoint (tests/fuzz/fuzz_TARGET.cpp says what each reads).
# Builds build/sanitize (clang, AddressSanitizer + UndefinedBehaviorSanitizer + libFuzzer) if needed.
# The fuzzer starts from the committed seeds (tests/fuzz/corpus/TARGET) and keeps what it finds in
# build/sanitize/fuzz/TARGET; an input that crashes is written to build/sanitize/fuzz/crash-TARGET-*,
# and the script fails naming it: once fixed, commit it as tests/fuzz/corpus/TARGET/crash-NAME, where
# every replay of the corpus (a ctest test) keeps it as a regression test.
set -euo pipefail
cd "$(dirname "$0")/.."
targets="config idx csv inputs checkpoint"
if [ $# -lt 2 ] || ! [[ " $targets " == *" $1 "* ]] || ! [[ "$2" =~ ^[0-9]+$ ]]; then
  echo "usage: scripts/fuzz.sh TARGET SECONDS [libFuzzer flags...]; TARGET is one of: $targets" >&2
  exit 2
fi
target=$1 seconds=$2
shift 2
fuzzer=build/sanitize/tests/fuzz/fuzz_$target
[ -x "$fuzzer" ] || scripts/build-sanitize.sh address,undefined build/sanitize "fuzz_$target" >/dev/null
work=build/sanitize/fuzz
mkdir -p "$work/$target"
rm -f "$work"/crash-"$target"-*  # a finding of an earlier run is not this one's
flags=(-max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=65536 -print_final_stats=1
       -artifact_prefix="$work/crash-$target-")
[ -f tests/fuzz/"$target".dict ] && flags+=(-dict=tests/fuzz/"$target".dict)
log=$work/$target.log
# The first folder takes the new inputs; the committed corpus is read, never written.
export ASAN_OPTIONS=${ASAN_OPTIONS:-halt_on_error=1:detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}
if ! "$fuzzer" "${flags[@]}" "$@" "$work/$target" tests/fuzz/corpus/"$target" >"$log" 2>&1; then
  tail -n 40 "$log" >&2
  finding=$(ls -t "$work"/crash-"$target"-* 2>/dev/null | head -1)
  if [ -n "$finding" ]; then
    echo "fuzz.sh: $target: a finding, written to $finding (log: $log)" >&2
  else
    echo "fuzz.sh: $target: libFuzzer failed (log: $log)" >&2
  fi
  exit 1
fi
# libFuzzer's last status line ("#N DONE cov: C ft: F corp: ...") and its final stats.
done_line=$(grep -E '^#[0-9]+[[:space:]]+DONE' "$log" | tail -1)
execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log")
cov=$(sed -E -n 's/.* cov: ([0-9]+).*/\1/p' <<<"$done_line")
ft=$(sed -E -n 's/.* ft: ([0-9]+).*/\1/p' <<<"$done_line")
corp=$(sed -E -n 's/.* corp: ([0-9]+).*/\1/p' <<<"$done_line")
echo "fuzz $target: ${seconds} s, $execs executions ($rate/s), coverage $cov edges, $ft features, corpus $corp, no crash"
