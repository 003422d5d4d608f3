#!/usr/bin/env bash
# scripts/deps.sh, run by a user who cannot install anything, names what is missing in one command
# to copy and fails before anything is built. As root, the script runs as the user nobody; as a
# user with sudo that needs no password, it would really install, so the test skips (exit 77).
set -u
deps=$1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# A copy in a folder every user can read: the clone may sit below a folder that nobody cannot enter.
cp "$deps" "$tmp/deps.sh"
chmod 755 "$tmp" "$tmp/deps.sh"
as_nobody=()
if [ "$(id -u)" -eq 0 ]; then
  as_nobody=(setpriv --reuid=65534 --regid=65534 --clear-groups)
elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
  echo "skipped: this user has sudo without a password, so deps.sh would install"
  exit 77
fi
out=$(cd "$tmp" && "${as_nobody[@]}" bash "$tmp/deps.sh" nabla-no-such-package </dev/null 2>&1)
rc=$?
printf '%s\n' "$out"
fail() { echo "FAILED: $1"; exit 1; }
[ $rc -eq 1 ] || fail "exit status $rc, expected 1"
# Every other package is installed by now, so the one line names exactly the missing one.
grep -qxF "  sudo apt-get install --no-install-recommends nabla-no-such-package" <<<"$out" ||
  fail "no command to copy that names the missing package"
grep -qF "not root, and sudo cannot be used here" <<<"$out" || fail "no reason given"
! grep -q "^installing:" <<<"$out" || fail "it tried to install"
[ "$(wc -l <<<"$out")" -eq 3 ] || fail "expected 3 lines"
echo "passed"
