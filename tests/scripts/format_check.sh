#!/usr/bin/env bash
# The sources are formatted as .clang-format says (clang-format 14, Debian 12's). Skips (exit 77)
# where clang-format is not installed: the set-up scripts do not install it.
set -u
cd "$1" || exit 1
command -v clang-format >/dev/null || { echo "skipped: clang-format is not installed"; exit 77; }
mapfile -t files < <(git ls-files 'src/*.cpp' 'src/*.hpp' 2>/dev/null || find src -name '*.[ch]pp')
[ ${#files[@]} -gt 0 ] || { echo "FAILED: no sources found"; exit 1; }
if ! clang-format --dry-run -Werror "${files[@]}"; then
  echo "FAILED: run clang-format -i on the files above"
  exit 1
fi
echo "passed: ${#files[@]} files formatted"
