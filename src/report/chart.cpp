// Line charts (chart.hpp): ticks and their labels, the axes' ranges, and a figure's panels laid out
// and drawn. Lengths are SVG pixels, y grows downwards.
#include "report/chart.hpp"

#include <algorithm>
#include <cstdio>
#include <limits>

#include "report/svg.hpp"

namespace nabla::report {

namespace {

// Okabe and Ito's colour-blind-safe palette, yellow last: it is faint on white.
constexpr std::string_view kPalette[] = {"#0072B2", "#E69F00", "#009E73", "#D55E00",
                                         "#CC79A7", "#56B4E9", "#000000", "#F0E442"};
constexpr double kTickFont = 12, kLabelFont = 13, kTitleFont = 14, kFigureTitleFont = 15, kNoteFont = 11;
constexpr double kPad = 10;  // around the whole figure

double pow10(int e) { return std::pow(10.0, e); }  // exact for |e| <= 22

// A tick step, 1, 2 or 5 times a power of ten, kept in parts so that a tick is i·m / 10^-e: 3 × 0.2
// then comes out as 0.6 (the double nearest to it) rather than 0.6000000000000001.
struct Step {
  double mantissa = 1;
  int exponent = 0;
  double at(double i) const { return exponent >= 0 ? i * mantissa * pow10(exponent) : i * mantissa / pow10(-exponent); }
  double value() const { return at(1); }
  Step coarser() const {
    return mantissa == 1 ? Step{2, exponent} : mantissa == 2 ? Step{5, exponent} : Step{1, exponent + 1};
  }
  Step finer() const {
    return mantissa == 5 ? Step{2, exponent} : mantissa == 2 ? Step{1, exponent} : Step{5, exponent - 1};
  }
};

// The nice step nearest to `raw` (> 0), on a log scale: Heckbert's rounding ("Nice numbers for graph
// labels", Graphics Gems, 1990), so that the tick count stays near the target either way.
Step nice_step(double raw) {
  Step s{1, int(std::floor(std::log10(raw)))};
  const double f = raw / s.value();  // in [1, 10), give or take a rounding
  s.mantissa = f < 1.5 ? 1 : f < 3 ? 2 : f < 7 ? 5 : 10;
  return s.mantissa == 10 ? Step{1, s.exponent + 1} : s;
}

// The multiples of `step` from the last at or below lo to the first at or above hi.
std::vector<double> multiples(double lo, double hi, Step step) {
  const double first = std::floor(lo / step.value() + 1e-9), last = std::ceil(hi / step.value() - 1e-9);
  std::vector<double> ticks;
  for (double i = first; i <= last && ticks.size() < 1000; ++i) ticks.push_back(step.at(i));
  return ticks;
}

// The range shown around one value (a single point, or all values equal): ±10%, or ±1 around 0.
double spread(double v) { return v == 0 ? 1 : std::abs(v) / 10; }

// The step of about `target` ticks over [lo, hi] (lo < hi); 1 at least if `integer`.
Step tick_step(double lo, double hi, int target, bool integer) {
  const Step step = nice_step((hi - lo) / std::max(target - 1, 1));
  return integer && step.value() < 1 ? Step{1, 0} : step;
}

bool is_power_of_ten(double v) { return std::abs(std::log10(v) - std::round(std::log10(v))) < 1e-9; }

// The decimals that write `step` exactly: 0.05 needs 2, 150 needs 0.
int decimals(double step) {
  for (int d = 0; d < 17; ++d) {
    const double s = step * pow10(d);
    if (s >= 0.5 && std::abs(s - std::round(s)) <= 1e-6 * s) return d;
  }
  return 17;
}

// tick_label, with the exponent form forced if `exponent`: a log axis with one label that needs it
// writes them all so, to read alike ("1e-06" to "1e-03", not "1e-06" to "0.001").
std::string format_tick(double v, double step, bool percent, bool exponent) {
  if (!std::isfinite(v)) return "";
  const char* suffix = percent ? "%" : "";
  if (percent) v *= 100, step *= 100;
  step = std::isfinite(step) && step > 0 ? step : std::max(std::abs(v), 1.0);
  if (std::abs(v) < 1e-9 * step) return std::string("0") + suffix;  // 0, and rounding noise around it
  const int d = decimals(step);
  char b[64];
  if (exponent || d > 4 || std::abs(v) >= 1e6) {
    // Exponent form with the significant digits that the step needs: 2e-05, 1.5e+06.
    const int digits =
        std::clamp(int(std::floor(std::log10(std::abs(v)) + 1e-9) - std::floor(std::log10(step) + 1e-9)), 0, 15);
    std::snprintf(b, sizeof b, "%.*e%s", digits, v, suffix);
  } else {
    std::snprintf(b, sizeof b, "%.*f%s", d, v, suffix);
  }
  return b;
}

// The finite points of a series that the panel's axes can show (no x or y <= 0 on a log axis), as
// the pieces of line between gaps.
std::vector<std::vector<Point>> pieces(const Series& s, const Axis& x, const Axis& y) {
  std::vector<std::vector<Point>> out(1);
  const size_t n = std::min(s.x.size(), s.y.size());
  for (size_t i = 0; i < n; ++i) {
    const bool shown =
        std::isfinite(s.x[i]) && std::isfinite(s.y[i]) && !(x.log && s.x[i] <= 0) && !(y.log && s.y[i] <= 0);
    if (shown)
      out.back().push_back({s.x[i], s.y[i]});
    else if (!out.back().empty())
      out.emplace_back();
  }
  if (out.back().empty()) out.pop_back();
  return out;
}

struct Extent {
  double lo = std::numeric_limits<double>::infinity(), hi = -lo;
  void add(double v) { lo = std::min(lo, v), hi = std::max(hi, v); }
};

// An axis as drawn: its range in data units, the labelled ticks, and the pixels its ends fall on
// (for y, lo is at the bottom).
struct Scale {
  bool log = false;
  double lo = 0, hi = 1;
  double p_lo = 0, p_hi = 1;
  std::vector<double> ticks;
  std::vector<std::string> labels;

  double at(double v) const {
    double t = log ? (std::log10(v) - std::log10(lo)) / (std::log10(hi) - std::log10(lo)) : (v - lo) / (hi - lo);
    if (std::isnan(t)) t = 0;
    // Far off the plot but finite: the clip cuts it, and the pixel numbers stay printable.
    return p_lo + std::clamp(t, -1e3, 1e3) * (p_hi - p_lo);
  }
  double label_width(size_t i) const { return text_width(labels[i], kTickFont); }
};

void set_ticks(Scale& s, const Axis& axis, std::vector<double> ticks, double step) {
  s.labels.clear();
  for (double v : ticks) s.labels.push_back(format_tick(v, s.log ? v : step, axis.percent, false));
  const bool mixed = s.log && std::any_of(s.labels.begin(), s.labels.end(),
                                          [](const std::string& l) { return l.find('e') != std::string::npos; });
  if (mixed)
    for (size_t i = 0; i < ticks.size(); ++i) s.labels[i] = format_tick(ticks[i], ticks[i], axis.percent, true);
  s.ticks = std::move(ticks);
}

bool labels_fit(const Scale& s, bool vertical) {
  for (size_t i = 1; i < s.ticks.size(); ++i) {
    const double gap = std::abs(s.at(s.ticks[i]) - s.at(s.ticks[i - 1]));
    const double need = vertical ? 1.6 * kTickFont : (s.label_width(i) + s.label_width(i - 1)) / 2 + 12;
    if (gap < need) return false;
  }
  return true;
}

// The scale of one axis over the data's extent, its pixel ends set: the range rounded out to ticks
// where it is not fixed, as many ticks as the length holds.
Scale make_scale(const Axis& axis, Extent data, double p_lo, double p_hi, bool vertical) {
  Scale s;
  s.log = axis.log;
  s.p_lo = p_lo, s.p_hi = p_hi;
  bool fixed_lo = std::isfinite(axis.lo) && !(axis.log && axis.lo <= 0);
  bool fixed_hi = std::isfinite(axis.hi) && !(axis.log && axis.hi <= 0);
  if (fixed_lo && fixed_hi && !(axis.lo < axis.hi)) fixed_lo = fixed_hi = false;  // reversed: the data's
  double lo = fixed_lo ? axis.lo : data.lo, hi = fixed_hi ? axis.hi : data.hi;
  if (!(lo < hi)) {  // one value, all values equal, or all the data past a fixed end
    if (fixed_lo)
      hi = axis.log ? lo * 2 : lo + spread(lo);
    else if (fixed_hi)
      lo = axis.log ? hi / 2 : hi - spread(hi);
    else if (axis.log)
      lo /= 2, hi *= 2;
    else
      lo -= spread(lo), hi += spread(hi);
  }
  const double length = std::abs(p_hi - p_lo);
  const int target = std::clamp(int(length / (vertical ? 35 : 90)) + 1, 2, 10);
  const bool integer = axis.integer && !axis.log;
  Step step = tick_step(lo, hi, target, integer);
  std::vector<double> ticks = axis.log ? log_ticks(lo, hi) : multiples(lo, hi, step);
  if (!ticks.empty()) {
    if (!fixed_lo) lo = std::min(lo, ticks.front());
    if (!fixed_hi) hi = std::max(hi, ticks.back());
  }
  s.lo = lo, s.hi = hi;
  const double tolerance = 1e-9 * (hi - lo);
  const auto outside = [&](double v) { return v < lo - tolerance || v > hi + tolerance; };
  std::erase_if(ticks, outside);

  // As many ticks as there is room for their labels: a log axis drops the 2s and 5s (if two powers
  // of ten remain), then keeps every k-th tick; a linear axis takes coarser steps.
  if (axis.log) {
    set_ticks(s, axis, ticks, 0);
    std::vector<double> powers = ticks;
    std::erase_if(powers, [](double v) { return !is_power_of_ten(v); });
    const std::vector<double>& base = powers.size() >= 2 ? powers : ticks;
    for (size_t k = 1; !labels_fit(s, vertical) && s.ticks.size() > 2; ++k) {
      std::vector<double> every_kth;
      for (size_t i = 0; i < base.size(); i += k) every_kth.push_back(base[i]);
      set_ticks(s, axis, every_kth, 0);
    }
    return s;
  }
  const auto ticks_of = [&](Step st) {
    std::vector<double> t = multiples(lo, hi, st);
    std::erase_if(t, outside);
    return t;
  };
  // A fixed range may hold fewer than two ticks of the step: finer ones then.
  for (int k = 0; ticks.size() < 2 && !(integer && step.value() <= 1) && k < 60; ++k)
    ticks = ticks_of(step = step.finer());
  set_ticks(s, axis, ticks, step.value());
  while (!labels_fit(s, vertical) && s.ticks.size() > 2) {
    step = step.coarser();
    set_ticks(s, axis, ticks_of(step), step.value());
  }
  return s;
}

// Where a panel's plot area goes, top to bottom.
struct PanelBox {
  double top = 0, bottom = 0;
};

constexpr double kTickLabelsBand = 22, kAxisLabelBand = 18, kPanelGap = 10;

double title_band(const Panel& p) { return p.title.empty() && p.markers.empty() ? 6 : 24; }
double below_band(const Panel& p) { return kTickLabelsBand + (p.x.label.empty() ? 0 : kAxisLabelBand); }

struct Rect {
  double x0, y0, x1, y1;
  bool contains(Point p) const { return p.x >= x0 && p.x <= x1 && p.y >= y0 && p.y <= y1; }
};

// How much of the drawn lines (in pixels, sampled every 3 px) a rectangle would cover.
double covered(const Rect& r, const std::vector<std::vector<Point>>& lines) {
  double hits = 0;
  for (const auto& line : lines) {
    if (line.size() == 1 && r.contains(line[0])) hits += 3;
    for (size_t i = 1; i < line.size(); ++i) {
      const Point a = line[i - 1], b = line[i];
      const int n = std::max(1, int(std::hypot(b.x - a.x, b.y - a.y) / 3));
      for (int k = 0; k <= n; ++k)
        if (r.contains({a.x + (b.x - a.x) * k / n, a.y + (b.y - a.y) * k / n})) ++hits;
    }
  }
  return hits;
}

class PanelPainter {
 public:
  PanelPainter(SvgDocument& doc, const Panel& panel, double left, double right, double top, double bottom)
      : doc_(doc), panel_(panel), left_(left), right_(right), top_(top), bottom_(bottom) {}

  void empty() {
    frame();
    labels();
    doc_.text((left_ + right_) / 2, (top_ + bottom_) / 2 + 5, "no data yet",
              {.size = kLabelFont, .anchor = "middle", .color = "#888888"});
  }

  void draw(const Scale& x, const Scale& y) {
    grid(x, y);
    frame();
    axes(x, y);
    labels();
    std::vector<std::vector<Point>> drawn;  // every line in pixels, for the legend to keep clear of
    doc_.begin_clip(left_ - 3, top_ - 3, right_ - left_ + 6, bottom_ - top_ + 6);
    for (const Series& s : panel_.series) series(s, x, y, drawn);
    doc_.end_clip();
    for (const Marker& m : panel_.markers) marker(m, x, drawn);
    legend(drawn);
  }

 private:
  void frame() { doc_.rect(left_, top_, right_ - left_, bottom_ - top_, {.stroke = "#c8c8c8"}); }

  void labels() {
    if (!panel_.title.empty())
      doc_.text(left_, top_ - 8, panel_.title, {.size = kTitleFont, .color = "#222222", .bold = true});
    if (!panel_.x.label.empty())
      doc_.text((left_ + right_) / 2, bottom_ + kTickLabelsBand + 14, panel_.x.label,
                {.size = kLabelFont, .anchor = "middle"});
    if (!panel_.y.label.empty())
      doc_.text(kPad + 12, (top_ + bottom_) / 2, panel_.y.label,
                {.size = kLabelFont, .anchor = "middle", .rotate = -90});
  }

  void grid(const Scale& x, const Scale& y) {
    const Stroke light{.color = "#ebebeb", .width = 1};
    for (double v : x.ticks) doc_.line(x.at(v), top_, x.at(v), bottom_, light);
    for (double v : y.ticks) doc_.line(left_, y.at(v), right_, y.at(v), light);
  }

  void axes(const Scale& x, const Scale& y) {
    const Stroke axis{.color = "#666666", .width = 1};
    doc_.line(left_, bottom_, right_, bottom_, axis);
    doc_.line(left_, top_, left_, bottom_, axis);
    for (size_t i = 0; i < x.ticks.size(); ++i) {
      const double px = x.at(x.ticks[i]);
      doc_.line(px, bottom_, px, bottom_ + 5, axis);
      doc_.text(px, bottom_ + 18, x.labels[i], {.size = kTickFont, .anchor = "middle"});
    }
    for (size_t i = 0; i < y.ticks.size(); ++i) {
      const double py = y.at(y.ticks[i]);
      doc_.line(left_ - 5, py, left_, py, axis);
      doc_.text(left_ - 8, py + 4, y.labels[i], {.size = kTickFont, .anchor = "end"});
    }
  }

  void series(const Series& s, const Scale& x, const Scale& y, std::vector<std::vector<Point>>& drawn) {
    const std::string_view color = kPalette[(s.color % 8 + 8) % 8];
    const Stroke stroke{.color = color, .width = 1.8, .dash = s.dashed ? "6 4" : ""};
    for (auto piece : pieces(s, panel_.x, panel_.y)) {
      for (Point& p : piece) p = {x.at(p.x), y.at(p.y)};
      if (piece.size() == 1)
        doc_.circle(piece[0].x, piece[0].y, 2.5, color);  // a point between gaps: a line of one point shows nothing
      else
        doc_.polyline(piece, stroke);
      if (s.points && piece.size() > 1)
        for (const Point& p : piece) doc_.circle(p.x, p.y, 2.6, color);
      drawn.push_back(std::move(piece));
    }
  }

  // The dashed line, and its label above the frame at its x (inside the plot's top, if the label
  // would run into the title there).
  void marker(const Marker& m, const Scale& x, std::vector<std::vector<Point>>& drawn) {
    if (!std::isfinite(m.x) || m.x < x.lo || m.x > x.hi || (x.log && m.x <= 0)) return;
    const double px = x.at(m.x);
    doc_.line(px, top_, px, bottom_, {.color = "#888888", .width = 1.2, .dash = "4 3"});
    drawn.push_back({{px, top_}, {px, bottom_}});
    if (m.label.empty()) return;
    const double w = text_width(m.label, kNoteFont);
    const double title_end = panel_.title.empty() ? left_ : left_ + text_width(panel_.title, kTitleFont, true) + 12;
    const double x0 = std::clamp(px - w / 2, left_, right_ - w);
    const TextStyle note{.size = kNoteFont, .color = "#555555"};
    if (x0 >= title_end) {
      doc_.text(x0, top_ - 8, m.label, note);
      return;
    }
    const bool fits_right = px + 4 + w <= right_;
    const double lx = fits_right ? px + 4 : px - 4 - w;
    doc_.rect(lx - 2, top_ + 3, w + 4, 14, {.color = "#ffffff", .opacity = 0.8});
    doc_.text(lx, top_ + 14, m.label, note);
    drawn.push_back({{lx, top_ + 3}, {lx + w, top_ + 3}, {lx + w, top_ + 17}, {lx, top_ + 17}});
  }

  // A box of line samples and names in the plot area's corner that covers the fewest drawn lines,
  // top right when it is free.
  void legend(const std::vector<std::vector<Point>>& drawn) {
    std::vector<const Series*> named;
    for (const Series& s : panel_.series)
      if (!s.name.empty()) named.push_back(&s);
    if (!panel_.legend || named.empty()) return;
    constexpr double kRow = 17, kSample = 24, kInset = 8;
    double text_w = 0;
    for (const Series* s : named) text_w = std::max(text_w, text_width(s->name, kTickFont));
    const double w = 8 + kSample + 6 + text_w + 8, h = 4 + kRow * double(named.size()) + 2;
    const Point corners[] = {{right_ - kInset - w, top_ + kInset},
                             {right_ - kInset - w, bottom_ - kInset - h},
                             {left_ + kInset, top_ + kInset},
                             {left_ + kInset, bottom_ - kInset - h}};
    Point at = corners[0];
    double best = std::numeric_limits<double>::infinity();
    for (const Point& c : corners) {
      const double hits = covered({c.x - 2, c.y - 2, c.x + w + 2, c.y + h + 2}, drawn);
      if (hits < best) best = hits, at = c;
    }
    doc_.rect(at.x, at.y, w, h, {.color = "#ffffff", .opacity = 0.85, .stroke = "#cccccc"});
    for (size_t i = 0; i < named.size(); ++i) {
      const Series& s = *named[i];
      const std::string_view color = kPalette[(s.color % 8 + 8) % 8];
      const double cy = at.y + 4 + kRow * (double(i) + 0.5);
      doc_.line(at.x + 8, cy, at.x + 8 + kSample, cy, {.color = color, .width = 1.8, .dash = s.dashed ? "6 4" : ""});
      if (s.points) doc_.circle(at.x + 8 + kSample / 2, cy, 2.6, color);
      doc_.text(at.x + 8 + kSample + 6, cy + 4, s.name, {.size = kTickFont});
    }
  }

  SvgDocument& doc_;
  const Panel& panel_;
  double left_, right_, top_, bottom_;
};

}  // namespace

std::vector<double> linear_ticks(double lo, double hi, int target) {
  if (!std::isfinite(lo) || !std::isfinite(hi)) return {};
  if (hi < lo) std::swap(lo, hi);
  if (hi == lo) lo -= spread(hi), hi += spread(hi);
  if (!std::isfinite(hi - lo)) return {};
  return multiples(lo, hi, tick_step(lo, hi, target, false));
}

std::vector<double> log_ticks(double lo, double hi) {
  if (!std::isfinite(lo) || !std::isfinite(hi) || lo <= 0 || hi <= 0) return {};
  if (hi < lo) std::swap(lo, hi);
  const int first = int(std::floor(std::log10(lo) + 1e-9)), last = int(std::ceil(std::log10(hi) - 1e-9));
  std::vector<double> ticks;
  if (std::log10(hi / lo) >= 2) {
    for (int e = first; e <= last; ++e) ticks.push_back(Step{1, e}.value());
    return ticks;
  }
  // 1, 2 and 5 times each power, from the last at or below lo to the first at or above hi.
  for (int e = first; e <= last; ++e)
    for (double m : {1.0, 2.0, 5.0}) {
      const double v = Step{m, e}.value();
      if (v <= lo * (1 + 1e-9)) ticks.clear();
      ticks.push_back(v);
      if (v >= hi * (1 - 1e-9)) return ticks;
    }
  return ticks;
}

std::string tick_label(double v, double step, bool percent) { return format_tick(v, step, percent, false); }

std::string xml_escape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  const auto byte = [&](size_t i) { return i < text.size() ? static_cast<unsigned char>(text[i]) : 0u; };
  for (size_t i = 0; i < text.size();) {
    const unsigned c = byte(i);
    // The length of a well-formed UTF-8 sequence starting here (RFC 3629: no overlong forms, no
    // surrogates, nothing past U+10FFFF), or 0.
    size_t n = 0;
    if (c < 0x80)
      n = 1;
    else if (c >= 0xC2 && c <= 0xDF)
      n = 2;
    else if (c >= 0xE0 && c <= 0xEF)
      n = 3;
    else if (c >= 0xF0 && c <= 0xF4)
      n = 4;
    for (size_t k = 1; k < n; ++k) {
      const unsigned lo = k > 1 ? 0x80 : c == 0xE0 ? 0xA0 : c == 0xF0 ? 0x90 : 0x80;
      const unsigned hi = k > 1 ? 0xBF : c == 0xED ? 0x9F : c == 0xF4 ? 0x8F : 0xBF;
      if (byte(i + k) < lo || byte(i + k) > hi) n = 0;
    }
    // Control characters other than tab and newlines are valid UTF-8 but not allowed in XML.
    if (n == 1 && c < 0x20 && c != '\t' && c != '\n' && c != '\r') n = 0;
    if (n == 0) {
      out += "\xEF\xBF\xBD";  // U+FFFD, for this one byte
      ++i;
      continue;
    }
    const char* entity = c == '&'    ? "&amp;"
                         : c == '<'  ? "&lt;"
                         : c == '>'  ? "&gt;"
                         : c == '"'  ? "&quot;"
                         : c == '\'' ? "&apos;"
                                     : nullptr;
    if (entity)
      out += entity;
    else
      out.append(text.substr(i, n));
    i += n;
  }
  return out;
}

std::string svg(const Figure& figure) {
  SvgDocument doc(figure.width, figure.height);
  double top = kPad;
  if (!figure.title.empty()) {
    doc.text(figure.width / 2.0, top + 15, figure.title,
             {.size = kFigureTitleFont, .anchor = "middle", .color = "#111111", .bold = true});
    top += 28;
  }
  // The plot areas share what the bands of text leave, in proportion to the panels' heights.
  double fixed = top + kPad, weights = 0;
  for (const Panel& p : figure.panels) {
    fixed += title_band(p) + below_band(p);
    weights += std::isfinite(p.height) && p.height > 0 ? p.height : 1;
  }
  fixed += kPanelGap * double(std::max<size_t>(figure.panels.size(), 1) - 1);
  const double shared = std::max(0.0, double(figure.height) - fixed);
  std::vector<PanelBox> boxes;
  for (const Panel& p : figure.panels) {
    const double weight = std::isfinite(p.height) && p.height > 0 ? p.height : 1;
    top += title_band(p);
    boxes.push_back({top, top + std::max(12.0, shared * weight / weights)});
    top = boxes.back().bottom + below_band(p) + kPanelGap;
  }

  // The y scales first: their labels' widths set the left margin that all the panels share.
  std::vector<Extent> xs(figure.panels.size()), ys(figure.panels.size());
  std::vector<Scale> y_scales(figure.panels.size());
  double left = kPad + 10;
  bool any_y_label = false;
  for (size_t i = 0; i < figure.panels.size(); ++i) {
    const Panel& p = figure.panels[i];
    any_y_label = any_y_label || !p.y.label.empty();
    for (const Series& s : p.series)
      for (const auto& piece : pieces(s, p.x, p.y))
        for (const Point& q : piece) xs[i].add(q.x), ys[i].add(q.y);
    if (!(xs[i].lo <= xs[i].hi)) continue;  // no data
    y_scales[i] = make_scale(p.y, ys[i], boxes[i].bottom, boxes[i].top, true);
    for (size_t k = 0; k < y_scales[i].labels.size(); ++k)
      left = std::max(left, kPad + y_scales[i].label_width(k) + 10);
  }
  if (any_y_label) left += 20;
  const double right = figure.width - 24.0;

  for (size_t i = 0; i < figure.panels.size(); ++i) {
    PanelPainter painter(doc, figure.panels[i], left, right, boxes[i].top, boxes[i].bottom);
    if (!(xs[i].lo <= xs[i].hi)) {
      painter.empty();
      continue;
    }
    painter.draw(make_scale(figure.panels[i].x, xs[i], left, right, false), y_scales[i]);
  }
  return doc.finish();
}

}  // namespace nabla::report
