#!/usr/bin/env bash
# The sanitized suites, run by scripts/test.sh after the Release suite:
#   build/sanitize (clang; AddressSanitizer + UndefinedBehaviorSanitizer; libFuzzer): every test, the
#     replay of every fuzz corpus, and each fuzz target for NABLA_FUZZ_SECONDS (12) seconds;
#   build/tsan (ThreadSanitizer): the train and data tests: the threaded step, the signals, the loader.
# Every report stops the program that made it, and is also written to build/sanitizer-reports: a
# report in a nabla process that a test expected to fail would otherwise pass as that failure, so
# any report file fails the run, whatever the exit codes said.
set -euo pipefail
cd "$(dirname "$0")/.."
fuzz_seconds=${NABLA_FUZZ_SECONDS:-12}
reports=$PWD/build/sanitizer-reports
rm -rf "$reports"
mkdir -p "$reports"
started=$SECONDS
# Reports with file and line: the runtimes look for llvm-symbolizer by that name, which Debian's
# llvm-14 installs under /usr/lib/llvm-14/bin.
symbolizer=/usr/lib/llvm-14/bin/llvm-symbolizer
export ASAN_SYMBOLIZER_PATH=$symbolizer TSAN_SYMBOLIZER_PATH=$symbolizer UBSAN_SYMBOLIZER_PATH=$symbolizer
took() { echo "sanitize.sh: $1 in $((SECONDS - started)) s"; started=$SECONDS; }

scripts/build-sanitize.sh address,undefined build/sanitize
took "built with ASan+UBSan"
# Not here: the build without bf16 (a second GCC build, nothing of it instrumented), the format
# check, the install script without root and report.html in Chromium (the report is written by
# instrumented runs in other tests; the browser is not nabla).
ASAN_OPTIONS=halt_on_error=1:detect_leaks=1:log_path=$reports/asan \
UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1:log_path=$reports/ubsan \
  ctest --test-dir build/sanitize --output-on-failure -j "$(nproc)" --timeout 300 \
        -E '^scripts/(build-without-bf16|format|deps-without-root|render-report)$'
took "the suite and the corpus replays under ASan+UBSan"
# The fuzz targets, two at a time (a core each).
targets=(config idx csv inputs checkpoint)
for ((i = 0; i < ${#targets[@]}; i += 2)); do
  pids=()
  for t in "${targets[@]:i:2}"; do
    scripts/fuzz.sh "$t" "$fuzz_seconds" & pids+=($!)
  done
  for p in "${pids[@]}"; do wait "$p"; done
done
took "the fuzz targets, $fuzz_seconds s each"

# The threaded step (tests/train/test_parallel.cpp), the signals (test_signals.cpp) and the loader
# (tests/data): two test executables, not the whole build, to keep scripts/test.sh in its time.
scripts/build-sanitize.sh thread build/tsan test_train test_data
took "built with TSan"
# tests/tsan.supp leaves out the reports of the uninstrumented libraries (OpenBLAS, oneDNN).
TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1:suppressions=$PWD/tests/tsan.supp:log_path=$reports/tsan \
  ctest --test-dir build/tsan --output-on-failure -j "$(nproc)" --timeout 300 \
        -R '^(train|data)/'
took "the threaded step, the loader and the signals under TSan"

# A report, not a runtime's warning about itself (a symbolizer it could not start, say).
found=$(grep -lE 'ERROR: (AddressSanitizer|LeakSanitizer)|WARNING: ThreadSanitizer|runtime error:' "$reports"/* 2>/dev/null || true)
if [ -n "$found" ]; then
  for f in $found; do echo "== $f"; head -n 60 "$f"; done >&2
  echo "sanitize.sh: sanitizer reports above (in $reports)" >&2
  exit 1
fi
echo "sanitize.sh: no sanitizer report"
