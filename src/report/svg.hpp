#pragma once
// What the line charts and the confusion matrix share: an SVG document written element by element,
// numbers printed compactly, and text measured (roughly) for the layout. Internal to src/report.
#include <string>
#include <string_view>
#include <vector>

namespace nabla::report {

struct Point {
  double x, y;
};

// A coordinate or length as the SVG gets it: at most two decimals, trailing zeros dropped ("12.5",
// "3"), never "-0", "nan" or "inf" (a non-finite value would be a bug upstream; it is written as 0).
std::string num(double v);

// About how wide `text` is in DejaVu Sans at `size` px, from the font's advance widths by classes of
// characters: close enough to keep labels apart without measuring glyphs. Counts code points.
double text_width(std::string_view text, double size, bool bold = false);

struct Stroke {
  std::string_view color = "#000000";
  double width = 1;
  std::string_view dash = {};  // stroke-dasharray; empty: solid
};

struct Fill {
  std::string_view color = "none";
  double opacity = 1;
  std::string_view stroke = "none";
  double stroke_width = 1;
};

struct TextStyle {
  double size = 12;
  std::string_view anchor = "start";  // start, middle or end
  std::string_view color = "#333333";
  bool bold = false;
  double rotate = 0;  // degrees about (x, y); -90 reads bottom to top
};

class SvgDocument {
 public:
  SvgDocument(int width, int height);  // the root element and a white background
  void line(double x1, double y1, double x2, double y2, const Stroke& stroke);
  void rect(double x, double y, double w, double h, const Fill& fill);
  void polyline(const std::vector<Point>& points, const Stroke& stroke);
  void circle(double x, double y, double r, std::string_view fill);
  void text(double x, double y, std::string_view content, const TextStyle& style);  // escapes `content`
  // What is drawn until end_clip() shows only inside the rectangle. A nested <svg> viewport rather
  // than a clipPath: it needs no id, so two charts inlined in one HTML page cannot take each other's.
  void begin_clip(double x, double y, double w, double h);
  void end_clip();
  std::string finish();

 private:
  void stroke_attributes(const Stroke& stroke);
  std::string out_;
};

}  // namespace nabla::report
