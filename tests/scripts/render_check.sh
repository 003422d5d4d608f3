#!/usr/bin/env bash
# The pictures as a renderer shows them, in two parts, each a ctest test of its own:
#
#   svg     trains configs/gradcheck.json with a test split, draws `nabla eval --confusion` and a
#           two-run `nabla plot` and `nabla lr-find`, renders curves.svg, the confusion matrix, plot.svg
#           and lr-find.svg to PNG with
#           rsvg-convert (Debian: librsvg2-bin), and checks each PNG is the size its SVG says and not
#           blank: some ink, dark pixels (text, axes) and coloured ones (the lines, the cells), counted
#           by png_check.py. Skipped (77) without rsvg-convert.
#   report  renders the run's report.html in headless Chromium: the DOM holds the page's headings,
#           the run's name, the best epoch and the test accuracy eval computes, with both pictures
#           inline; and a 1000x2400 screenshot of it is not blank and shows the pictures' colours.
#           Skipped (77) without chromium.
#
#   render_check.sh NABLA_BINARY SOURCE_DIR WORK_DIR svg|report
set -euo pipefail
fail() { echo "FAILED: $1"; exit 1; }
skip() { echo "SKIPPED: $1"; exit 77; }

[ $# -eq 4 ] || fail "usage: $(basename "$0") NABLA_BINARY SOURCE_DIR WORK_DIR svg|report"
nabla=$(realpath "$1") || fail "no nabla binary at $1"
src=$(realpath "$2") || fail "no source folder at $2"
part=$4
case $part in svg | report) ;; *) fail "the part is svg or report, not '$part'" ;; esac
command -v python3 >/dev/null || skip "python3 is not installed"
browser=
if [ "$part" = svg ]; then
  command -v rsvg-convert >/dev/null || skip "rsvg-convert is not installed (on Debian: apt-get install librsvg2-bin)"
else
  for candidate in chromium chromium-browser; do
    if command -v "$candidate" >/dev/null; then
      browser=$candidate
      break
    fi
  done
  [ -n "$browser" ] || skip "the browser part: chromium is not installed (on Debian: apt-get install chromium)"
fi
work=$3/$part
rm -rf "$work"
mkdir -p "$work" || fail "cannot make $work"
work=$(realpath "$work")
check_png() { python3 "$src/tests/scripts/png_check.py" "$@" || fail "the picture $1"; }

# A run with a validation and a test split, named apart from its folder.
cd "$src" || fail "no source folder"
samples=$src/data/samples
"$nabla" train configs/gradcheck.json --quiet --epochs 4 --out "$work/run" --set 'name="render-check"' \
  --set data.test.images="$samples/fashion-test-500-images-idx3-ubyte.gz" \
  --set data.test.labels="$samples/fashion-test-500-labels-idx1-ubyte.gz" || fail "nabla train"
"$nabla" eval "$work/run/checkpoints/best.safetensors" --json --confusion "$work/confusion.svg" >"$work/eval.json" ||
  fail "nabla eval --confusion"

if [ "$part" = svg ]; then
  "$nabla" train configs/gradcheck.json --quiet --epochs 3 --out "$work/other" --set optimizer.learning_rate=0.01 ||
    fail "nabla train (the second run)"
  (cd "$work" && "$nabla" plot run other >plot.out) || fail "nabla plot run other"
  [ "$(cat "$work/plot.out")" = "wrote plot.svg" ] || fail "nabla plot said '$(cat "$work/plot.out")'"
  "$nabla" lr-find configs/gradcheck.json --steps 60 --output "$work/lr-find.svg" >/dev/null || fail "nabla lr-find"
  for svg in "$work/run/curves.svg" "$work/confusion.svg" "$work/plot.svg" "$work/lr-find.svg"; do
    # The size the SVG asks for, from its root element (which the XML parser also proves well-formed).
    size=$(python3 -c 'import sys, xml.dom.minidom as m
r = m.parse(sys.argv[1]).documentElement
print(r.getAttribute("width"), r.getAttribute("height"))' "$svg") || fail "$svg is not well-formed XML"
    read -r width height <<<"$size"
    [[ $width =~ ^[0-9]+$ && $height =~ ^[0-9]+$ ]] || fail "$svg: width '$width' and height '$height' are not pixels"
    png=${svg%.svg}.png
    rsvg-convert --format=png --output "$png" "$svg" 2>"$work/rsvg.err" ||
      fail "rsvg-convert $svg: $(cat "$work/rsvg.err")"
    if [ -s "$work/rsvg.err" ]; then echo "rsvg-convert $svg said: $(cat "$work/rsvg.err")"; fi
    check_png "$png" --size "$width" "$height" --ink 0.02 --dark 0.002 --colour 0.002
  done
  echo "passed"
  exit 0
fi

url=$(python3 -c 'import pathlib, sys; print(pathlib.Path(sys.argv[1]).resolve().as_uri())' "$work/run/report.html")
# A profile of its own (nothing of the user's is read or written); its first start can take 20 s.
chrome=("$browser" --headless=new --no-sandbox --disable-gpu --user-data-dir="$work/profile" --no-first-run)
timeout 120 "${chrome[@]}" --dump-dom "$url" >"$work/dom.html" 2>"$work/chromium.err" ||
  fail "chromium --dump-dom: $(tail -n 3 "$work/chromium.err")"
python3 - "$work/dom.html" "$work/run/summary.json" "$work/eval.json" <<'EOF' || fail "the page in the browser"
import json, sys
from html.parser import HTMLParser
dom = open(sys.argv[1], encoding="utf-8").read()
summary = json.load(open(sys.argv[2]))
evaluation = json.load(open(sys.argv[3]))

class Page(HTMLParser):
    def __init__(self):
        super().__init__()
        self.headings, self.svgs, self.depth, self.texts, self.heading = [], 0, 0, [], None
    def handle_starttag(self, tag, attrs):
        if tag == "svg":
            self.svgs += self.depth == 0
            self.depth += 1
        if tag in ("h1", "h2"):
            self.heading = [tag, ""]
    def handle_endtag(self, tag):
        if tag == "svg":
            self.depth -= 1
        if tag in ("h1", "h2") and self.heading:
            self.headings.append(tuple(self.heading))
            self.heading = None
    def handle_data(self, data):
        self.texts.append(data)
        if self.heading:
            self.heading[1] += data

page = Page()
page.feed(dom)
expected = [("h1", "render-check"), ("h2", "Results"), ("h2", "Learning curves"),
            ("h2", "Confusion matrix: the best checkpoint on the test set"), ("h2", "Time"), ("h2", "Config"),
            ("h2", "Manifest (run.json)")]
text = " ".join(page.texts)
accuracy = "accuracy %.2f%% (%d/%d)" % (100 * evaluation["accuracy"], evaluation["correct"], evaluation["samples"])
problems = []
if page.headings != expected:
    problems.append(f"the headings are {page.headings}, expected {expected}")
if page.svgs != 2:
    problems.append(f"{page.svgs} pictures (<svg>) in the page, expected 2: the curves and the confusion matrix")
for wanted in ("best: epoch %d" % summary["best_epoch"], accuracy, "render-check — nabla run report"):
    if wanted not in text:
        problems.append(f"the page's text lacks '{wanted}'")
if "<script" in dom.lower():
    problems.append("the page holds a script")
for p in problems:
    print("FAILED: " + p)
if problems:
    sys.exit(1)
print(f"the browser's page: {len(page.headings)} headings, {page.svgs} pictures, '{accuracy}'")
EOF
rm -f "$work/report.png"
timeout 120 "${chrome[@]}" --screenshot="$work/report.png" --window-size=1000,2400 "$url" \
  >/dev/null 2>>"$work/chromium.err" ||
  fail "chromium --screenshot: $(tail -n 3 "$work/chromium.err")"
[ -s "$work/report.png" ] || fail "chromium wrote no screenshot"
check_png "$work/report.png" --size 1000 2400 --ink 0.02 --dark 0.002 --colour 0.002
echo "passed"
