#include "report/svg.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>

#include "report/chart.hpp"

namespace nabla::report {

std::string num(double v) {
  if (!std::isfinite(v)) v = 0;
  v = std::clamp(v, -1e7, 1e7);  // far outside any picture, and short enough for the buffer
  char b[32];
  std::snprintf(b, sizeof b, "%.2f", v);
  std::string s = b;
  while (s.back() == '0') s.pop_back();
  if (s.back() == '.') s.pop_back();
  return s == "-0" ? "0" : s;
}

double text_width(std::string_view text, double size, bool bold) {
  double em = 0;
  for (const char ch : text) {
    const auto c = static_cast<unsigned char>(ch);
    if ((c & 0xC0) == 0x80) continue;  // a UTF-8 continuation byte: its code point is counted once
    if (c >= 0x80)
      em += 0.75;  // accented letters are narrower, dashes and symbols wider: err wide
    else if (std::strchr("ijl.,:;'|! I", ch))
      em += 0.3;
    else if (std::strchr("frt()[]/-\"", ch))
      em += 0.39;
    else if (ch == 'm' || ch == 'w' || ch == 'M' || ch == 'W' || ch == '%')
      em += 0.92;
    else if (ch >= 'A' && ch <= 'Z')
      em += 0.7;
    else
      em += 0.61;  // digits, the other lowercase letters, the rest
  }
  return em * size * (bold ? 1.15 : 1);  // DejaVu Sans Bold is about 15% wider
}

SvgDocument::SvgDocument(int width, int height) {
  const std::string w = std::to_string(width), h = std::to_string(height);
  out_ = "<svg xmlns=\"http://www.w3.org/2000/svg\" version=\"1.1\" width=\"" + w + "\" height=\"" + h +
         "\" viewBox=\"0 0 " + w + " " + h + "\" font-family=\"DejaVu Sans, Arial, sans-serif\">\n";
  rect(0, 0, width, height, {.color = "#ffffff"});
}

void SvgDocument::stroke_attributes(const Stroke& stroke) {
  out_ += " stroke=\"" + std::string(stroke.color) + "\" stroke-width=\"" + num(stroke.width) + "\"";
  if (!stroke.dash.empty()) out_ += " stroke-dasharray=\"" + std::string(stroke.dash) + "\"";
}

void SvgDocument::line(double x1, double y1, double x2, double y2, const Stroke& stroke) {
  out_ += "<line x1=\"" + num(x1) + "\" y1=\"" + num(y1) + "\" x2=\"" + num(x2) + "\" y2=\"" + num(y2) + "\"";
  stroke_attributes(stroke);
  out_ += "/>\n";
}

void SvgDocument::rect(double x, double y, double w, double h, const Fill& fill) {
  out_ += "<rect x=\"" + num(x) + "\" y=\"" + num(y) + "\" width=\"" + num(w) + "\" height=\"" + num(h) + "\" fill=\"" +
          std::string(fill.color) + "\"";
  if (fill.opacity < 1) out_ += " fill-opacity=\"" + num(fill.opacity) + "\"";
  if (fill.stroke != "none")
    out_ += " stroke=\"" + std::string(fill.stroke) + "\" stroke-width=\"" + num(fill.stroke_width) + "\"";
  out_ += "/>\n";
}

void SvgDocument::polyline(const std::vector<Point>& points, const Stroke& stroke) {
  out_ += "<polyline fill=\"none\" stroke-linejoin=\"round\" stroke-linecap=\"round\"";
  stroke_attributes(stroke);
  out_ += " points=\"";
  for (size_t i = 0; i < points.size(); ++i) {
    if (i > 0) out_ += ' ';
    out_ += num(points[i].x) + ',' + num(points[i].y);
  }
  out_ += "\"/>\n";
}

void SvgDocument::circle(double x, double y, double r, std::string_view fill) {
  out_ +=
      "<circle cx=\"" + num(x) + "\" cy=\"" + num(y) + "\" r=\"" + num(r) + "\" fill=\"" + std::string(fill) + "\"/>\n";
}

void SvgDocument::text(double x, double y, std::string_view content, const TextStyle& style) {
  out_ += "<text x=\"" + num(x) + "\" y=\"" + num(y) + "\" font-size=\"" + num(style.size) + "\" fill=\"" +
          std::string(style.color) + "\"";
  if (style.anchor != "start") out_ += " text-anchor=\"" + std::string(style.anchor) + "\"";
  if (style.bold) out_ += " font-weight=\"bold\"";
  if (style.rotate != 0) out_ += " transform=\"rotate(" + num(style.rotate) + " " + num(x) + " " + num(y) + ")\"";
  out_ += '>';
  out_ += xml_escape(content);
  out_ += "</text>\n";
}

void SvgDocument::begin_clip(double x, double y, double w, double h) {
  out_ += "<svg x=\"" + num(x) + "\" y=\"" + num(y) + "\" width=\"" + num(w) + "\" height=\"" + num(h) +
          "\" viewBox=\"" + num(x) + " " + num(y) + " " + num(w) + " " + num(h) + "\" overflow=\"hidden\">\n";
}

void SvgDocument::end_clip() { out_ += "</svg>\n"; }

std::string SvgDocument::finish() { return std::move(out_) + "</svg>\n"; }

}  // namespace nabla::report
