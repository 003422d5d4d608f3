#pragma once
// Plain, self-contained SVG pictures: line charts with real axes, ticks and a legend, stacked in
// panels that share the width (a learning curve over a thin learning-rate strip), and a confusion
// matrix as a heat map. No script, no external font or style: any browser, rsvg-convert or an
// <img> tag shows them as they are. Everything here takes numbers and names, and knows nothing of
// runs, files or the network.
#include <cmath>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace nabla::report {

// One line of a chart. x and y have the same length; a non-finite y is a gap in the line.
struct Series {
  std::string name;  // in the legend (empty: not listed)
  std::vector<double> x, y;
  int color = 0;        // an index into the palette (it wraps around)
  bool dashed = false;  // a second line of the same colour (validation beside training)
  bool points = false;  // a dot at every point too (for lines of few points)
};

struct Axis {
  std::string label;
  bool log = false;           // log10 scale; values <= 0 are left out
  bool percent = false;       // values are fractions, tick labels percentages ("85%")
  bool integer = false;       // ticks only at whole numbers (epochs)
  double lo = NAN, hi = NAN;  // a fixed range; NaN: taken from the data and rounded out to ticks
};

// A vertical line across a panel at x, labelled at its top ("best: epoch 17").
struct Marker {
  double x = 0;
  std::string label;
};

struct Panel {
  std::string title;  // above the plot area, at its left
  Axis x, y;
  std::vector<Series> series;
  std::vector<Marker> markers;
  double height = 1;   // relative to the figure's other panels
  bool legend = true;  // the series' names in the plot area's top right, or the corner its lines leave freer
};

struct Figure {
  std::string title;              // above everything; may be empty
  std::vector<Panel> panels;      // top to bottom
  int width = 800, height = 560;  // of the whole SVG, in pixels
};

// The figure as one SVG document. A panel without any finite point says "no data yet" in its
// plot area rather than drawing empty axes with made-up ranges.
std::string svg(const Figure& figure);

// A confusion matrix (rows: true class, columns: predicted class) as a heat map: every cell shows
// its count, shaded by the fraction of its row; a last column gives each class's accuracy (the
// diagonal over the row's total), and the title line the overall accuracy. `names` label the rows
// and columns when there is one per class; otherwise the class numbers do.
std::string confusion_svg(const std::vector<std::vector<int64_t>>& counts, const std::vector<std::string>& names,
                          const std::string& title);

// Tick positions: about `target` "nice" values (1, 2 or 5 times a power of ten) covering [lo, hi],
// the first at or below lo and the last at or above hi.
std::vector<double> linear_ticks(double lo, double hi, int target = 6);
// Powers of ten from at or below lo to at or above hi (lo > 0); over less than two decades, 2 and 5
// times each power too.
std::vector<double> log_ticks(double lo, double hi);
// A tick's label: the shortest of %g-like forms that tells neighbouring ticks apart ("0.001", "2e-05",
// "150", "85%").
std::string tick_label(double v, double step, bool percent);

// Text for SVG or HTML: & < > " ' escaped, and bytes that are not valid UTF-8 replaced by U+FFFD (so
// are the control characters that XML does not allow: those below 0x20 but tab, newline and return).
std::string xml_escape(std::string_view text);

}  // namespace nabla::report
