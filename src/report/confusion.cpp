// The confusion matrix as a heat map (chart.hpp's confusion_svg). Lengths are SVG pixels.
#include <algorithm>
#include <cmath>
#include <cstdio>

#include "report/chart.hpp"
#include "report/svg.hpp"

namespace nabla::report {

namespace {

constexpr double kPad = 12, kTitleFont = 14, kCaptionFont = 13;

// White to dark blue through a middle blue (ColorBrewer's Blues), for t in [0, 1].
std::string shade(double t) {
  struct Rgb {
    double r, g, b;
  };
  constexpr Rgb white{255, 255, 255}, mid{107, 174, 214}, dark{8, 48, 107};
  const Rgb a = t < 0.5 ? white : mid, b = t < 0.5 ? mid : dark;
  const double u = t < 0.5 ? 2 * t : 2 * t - 1;
  char s[8];
  std::snprintf(s, sizeof s, "#%02x%02x%02x", int(std::lround(a.r + (b.r - a.r) * u)),
                int(std::lround(a.g + (b.g - a.g) * u)), int(std::lround(a.b + (b.b - a.b) * u)));
  return s;
}

std::string percent_of(int64_t part, int64_t whole, int decimals) {
  if (whole <= 0) return "–";
  char s[32];
  std::snprintf(s, sizeof s, "%.*f%%", decimals, 100.0 * double(part) / double(whole));
  return s;
}

}  // namespace

std::string confusion_svg(const std::vector<std::vector<int64_t>>& counts, const std::vector<std::string>& names,
                          const std::string& title) {
  const size_t n = counts.size();
  const auto count = [&](size_t t, size_t p) { return p < counts[t].size() ? counts[t][p] : int64_t(0); };
  std::vector<std::string> labels;
  std::vector<int64_t> row_total(n, 0);
  int64_t correct = 0, total = 0;
  size_t digits = 1;
  for (size_t t = 0; t < n; ++t) {
    labels.push_back(names.size() == n ? names[t] : std::to_string(t));
    for (size_t p = 0; p < n; ++p) {
      row_total[t] += count(t, p);
      digits = std::max(digits, std::to_string(count(t, p)).size());
    }
    correct += count(t, t);
    total += row_total[t];
  }
  const std::string heading = (title.empty() ? "" : title + " — ") + "accuracy " + percent_of(correct, total, 2) +
                              " (" + std::to_string(correct) + "/" + std::to_string(total) + ")";
  const double heading_width = text_width(heading, kTitleFont, true);
  if (n == 0) {
    SvgDocument doc(int(std::ceil(std::max(320.0, heading_width + 2 * kPad))), 100);
    doc.text(kPad, kPad + 16, heading, {.size = kTitleFont, .color = "#111111", .bold = true});
    doc.text(kPad, 70, "no data yet", {.size = kCaptionFont, .color = "#888888"});
    return doc.finish();
  }

  // The cells shrink with more classes, down to 16 px (100 classes: 1600 px across); the counts'
  // font shrinks to fit the widest count into a cell.
  const double cell = std::clamp(std::floor(640.0 / double(n)), 16.0, 52.0);
  const double label_font = std::min(12.0, 0.6 * cell);
  const double count_font = std::clamp(0.85 * cell / (0.61 * double(digits)), 5.0, std::min(13.0, 0.5 * cell));
  double label_width = 0;
  for (const std::string& l : labels) label_width = std::max(label_width, text_width(l, label_font));
  const bool rotated = label_width > cell - 6;  // column labels at 45°, reading up to their column
  const double column_labels = rotated ? 0.71 * (label_width + label_font) + 8 : label_font + 8;

  // Left of the grid: the caption "true class" and the row labels; above it, the title line and the
  // accuracy column's heading; below it, the column labels and the caption "predicted class".
  const double left = kPad + 22 + label_width + 8, top = kPad + 30 + 20, grid = double(n) * cell;
  const double acc_x = left + grid + 10, acc_w = text_width("accuracy", 12) + 8;
  const double width = std::max(acc_x + acc_w + kPad, heading_width + 2 * kPad);
  const double height = top + grid + column_labels + 22 + kPad;
  SvgDocument doc(int(std::ceil(width)), int(std::ceil(height)));
  doc.text(kPad, kPad + 16, heading, {.size = kTitleFont, .color = "#111111", .bold = true});

  // Shaded by the square root of the row's fraction, so that a 2% confusion still shows.
  for (size_t t = 0; t < n; ++t)
    for (size_t p = 0; p < n; ++p) {
      const int64_t v = count(t, p);
      const double u = row_total[t] > 0 && v > 0 ? std::sqrt(double(v) / double(row_total[t])) : 0;
      const double x = left + double(p) * cell, y = top + double(t) * cell;
      if (u > 0) doc.rect(x, y, cell, cell, {.color = shade(u)});
      const char* ink = u > 0.6 ? "#ffffff" : v > 0 ? "#222222" : "#b4b4b4";  // zeros recede
      doc.text(x + cell / 2, y + cell / 2 + 0.35 * count_font, std::to_string(v),
               {.size = count_font, .anchor = "middle", .color = ink});
    }
  const Stroke grid_line{.color = "#e4e4e4", .width = 1};
  for (size_t k = 1; k < n; ++k) {
    doc.line(left + double(k) * cell, top, left + double(k) * cell, top + grid, grid_line);
    doc.line(left, top + double(k) * cell, left + grid, top + double(k) * cell, grid_line);
  }
  doc.rect(left, top, grid, grid, {.stroke = "#999999"});

  const TextStyle label{.size = label_font, .anchor = "end"};
  for (size_t c = 0; c < n; ++c) {
    const double centre = double(c) * cell + cell / 2;
    doc.text(left - 6, top + centre + 0.35 * label_font, labels[c], label);
    if (rotated)
      doc.text(left + centre + 0.35 * label_font, top + grid + 6, labels[c],
               {.size = label_font, .anchor = "end", .rotate = -45});
    else
      doc.text(left + centre, top + grid + label_font + 4, labels[c], {.size = label_font, .anchor = "middle"});
    doc.text(acc_x + acc_w / 2, top + centre + 0.35 * label_font, percent_of(count(c, c), row_total[c], 1),
             {.size = std::min(12.0, label_font), .anchor = "middle"});
  }
  doc.text(acc_x + acc_w / 2, top - 8, "accuracy", {.size = 12, .anchor = "middle", .color = "#555555"});
  doc.text(left + grid / 2, top + grid + column_labels + 14, "predicted class",
           {.size = kCaptionFont, .anchor = "middle"});
  doc.text(kPad + 12, top + grid / 2, "true class", {.size = kCaptionFont, .anchor = "middle", .rotate = -90});
  return doc.finish();
}

}  // namespace nabla::report
