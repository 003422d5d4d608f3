// The SVG charts: ticks and labels worked out by hand, the documents well-formed XML with the axes,
// legend, markers and gaps they should have, and rsvg-convert's rendering of them not blank.
#include <doctest/doctest.h>
#include <png.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <string>
#include <vector>

#include "report/chart.hpp"
#include "temp_dir.hpp"

using namespace nabla::report;

namespace {

size_t occurrences(const std::string& text, const std::string& part) {
  size_t n = 0;
  for (size_t at = text.find(part); at != std::string::npos; at = text.find(part, at + 1)) ++n;
  return n;
}

bool has(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

// Whether Python's XML parser takes the document (every tag closed, every entity known).
bool well_formed(const std::string& name, const std::string& svg) {
  const std::string path = test::write_file(name, svg);
  const std::string command =
      "python3 -c \"import sys, xml.dom.minidom; xml.dom.minidom.parse(sys.argv[1])\" '" + path + "'";
  return std::system(command.c_str()) == 0;
}

bool has_non_finite_text(std::string svg) {
  for (char& c : svg) c = char(std::tolower(static_cast<unsigned char>(c)));
  return has(svg, "nan") || has(svg, "inf");
}

Series series(const std::string& name, std::vector<double> y, int color, bool dashed = false) {
  Series s;
  s.name = name;
  for (size_t i = 0; i < y.size(); ++i) s.x.push_back(double(i + 1));
  s.y = std::move(y);
  s.color = color;
  s.dashed = dashed;
  return s;
}

Axis epochs() {
  Axis a;
  a.label = "epoch";
  a.integer = true;
  return a;
}

// A loss panel (log scale; training with a NaN in epoch 3, validation, the best epoch marked) over
// a thin learning-rate strip.
Figure learning_curves() {
  Panel loss;
  loss.title = "loss";
  loss.x = epochs();
  loss.y.label = "loss";
  loss.y.log = true;
  loss.series = {series("train", {2.3, 1.2, NAN, 0.5, 0.3}, 0), series("validation", {2.1, 1.3, 0.9, 0.6, 0.45}, 1)};
  loss.markers = {{4, "best: epoch 4"}};
  Panel lr;
  lr.title = "learning rate";
  lr.x.integer = true;
  lr.series = {series("learning rate", {0.1, 0.08, 0.05, 0.02, 0}, 3)};
  lr.height = 0.25;
  lr.legend = false;
  Figure f;
  f.panels = {loss, lr};
  return f;
}

struct GrayImage {
  int width = 0, height = 0;
  std::vector<unsigned char> pixels;
  double share(bool (*test)(unsigned char)) const {
    size_t n = 0;
    for (unsigned char p : pixels) n += test(p);
    return double(n) / double(pixels.size());
  }
};

// rsvg-convert's PNG of `svg`, read back as 8-bit gray.
GrayImage render(const std::string& name, const std::string& svg) {
  const std::string in = test::write_file(name + ".svg", svg), out = (test::temp_dir() / (name + ".png")).string();
  REQUIRE(std::system(("rsvg-convert -o '" + out + "' '" + in + "'").c_str()) == 0);
  png_image image{};
  image.version = PNG_IMAGE_VERSION;
  REQUIRE(png_image_begin_read_from_file(&image, out.c_str()));
  image.format = PNG_FORMAT_GRAY;
  GrayImage g;
  g.width = int(image.width), g.height = int(image.height);
  g.pixels.resize(PNG_IMAGE_SIZE(image));
  REQUIRE(png_image_finish_read(&image, nullptr, g.pixels.data(), 0, nullptr));
  return g;
}

}  // namespace

TEST_CASE("linear ticks are 1, 2 or 5 times a power of ten, covering the range") {
  CHECK(linear_ticks(0, 1) == std::vector<double>{0, 0.2, 0.4, 0.6, 0.8, 1});  // 1 / 5 = 0.2
  // 0.74 / 5 = 0.148, nearest to 0.1 (below 0.15 on the 1-2-5 scale): from 0.1 (at or below 0.13) to 0.9.
  CHECK(linear_ticks(0.13, 0.87) == std::vector<double>{0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9});
  // 0.74 / 3 = 0.247: 0.2, from 0 to 1.
  CHECK(linear_ticks(0.13, 0.87, 4) == std::vector<double>{0, 0.2, 0.4, 0.6, 0.8, 1});
  CHECK(linear_ticks(0, 150, 4) == std::vector<double>{0, 50, 100, 150});  // 150 / 3 = 50
  CHECK(linear_ticks(-1, 1) == std::vector<double>{-1, -0.5, 0, 0.5, 1});  // 2 / 5 = 0.4: 0.5
  CHECK(linear_ticks(1, -1) == std::vector<double>{-1, -0.5, 0, 0.5, 1});
  CHECK(linear_ticks(2e-5, 9e-5, 4) == std::vector<double>{2e-5, 4e-5, 6e-5, 8e-5, 1e-4});  // 7e-5 / 3: 2e-5
  // One value: ±10% around it (4.5 to 5.5 in steps of 0.2), or ±1 around 0.
  CHECK(linear_ticks(5, 5) == std::vector<double>{4.4, 4.6, 4.8, 5, 5.2, 5.4, 5.6});
  CHECK(linear_ticks(0, 0) == std::vector<double>{-1, -0.5, 0, 0.5, 1});
  CHECK(linear_ticks(NAN, 1).empty());
  CHECK(linear_ticks(0, INFINITY).empty());
}

TEST_CASE("log ticks are powers of ten, with 2 and 5 times them over less than two decades") {
  CHECK(log_ticks(0.003, 2.4) == std::vector<double>{0.001, 0.01, 0.1, 1, 10});
  CHECK(log_ticks(1, 1000) == std::vector<double>{1, 10, 100, 1000});
  CHECK(log_ticks(0.2, 2.3) == std::vector<double>{0.2, 0.5, 1, 2, 5});  // 1.06 decades
  CHECK(log_ticks(0.03, 0.9) == std::vector<double>{0.02, 0.05, 0.1, 0.2, 0.5, 1});
  CHECK(log_ticks(3, 3) == std::vector<double>{2, 5});
  CHECK(log_ticks(0, 1).empty());
  CHECK(log_ticks(-1, 1).empty());
}

TEST_CASE("a tick label has the decimals its step needs, exponents for the very small and large") {
  CHECK(tick_label(150, 50, false) == "150");
  CHECK(tick_label(-20, 10, false) == "-20");
  CHECK(tick_label(0.05, 0.05, false) == "0.05");
  CHECK(tick_label(0.1, 0.05, false) == "0.10");
  CHECK(tick_label(0.6, 0.2, false) == "0.6");
  CHECK(tick_label(0.001, 0.001, false) == "0.001");
  CHECK(tick_label(0.0001, 0.0001, false) == "0.0001");
  CHECK(tick_label(2e-5, 1e-5, false) == "2e-05");
  CHECK(tick_label(1.5e-5, 5e-6, false) == "1.5e-05");
  CHECK(tick_label(1e6, 1e6, false) == "1e+06");
  CHECK(tick_label(1.5e6, 5e5, false) == "1.5e+06");
  CHECK(tick_label(0, 0.2, false) == "0");
  CHECK(tick_label(0.1 + 0.2 - 0.3, 0.1, false) == "0");  // 5.55e-17: rounding noise, not a value
  CHECK(tick_label(0.85, 0.05, true) == "85%");
  CHECK(tick_label(0.855, 0.005, true) == "85.5%");
  CHECK(tick_label(1, 0.2, true) == "100%");
}

TEST_CASE("xml_escape escapes markup and replaces what is not UTF-8 (or not allowed in XML)") {
  CHECK(xml_escape("a<b&\"c'") == "a&lt;b&amp;&quot;c&apos;");
  CHECK(xml_escape("x > y") == "x &gt; y");
  CHECK(xml_escape("caf\xC3\xA9 \xE2\x80\x93 \xF0\x9F\x98\x80") == "caf\xC3\xA9 \xE2\x80\x93 \xF0\x9F\x98\x80");
  CHECK(xml_escape("a\xFF"
                   "b") ==
        "a\xEF\xBF\xBD"
        "b");
  CHECK(xml_escape("\xC3") == "\xEF\xBF\xBD");                                  // cut short
  CHECK(xml_escape("\xC0\xAF") == "\xEF\xBF\xBD\xEF\xBF\xBD");                  // overlong '/'
  CHECK(xml_escape("\xED\xA0\x80") == "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");  // a surrogate
  CHECK(xml_escape("tab\there\x01") == "tab\there\xEF\xBF\xBD");
}

TEST_CASE("a learning-curve figure: log axis ticks, legend, marker, and a NaN as a gap") {
  const std::string s = svg(learning_curves());
  CHECK(s.rfind("<svg xmlns=\"http://www.w3.org/2000/svg\"", 0) == 0);
  CHECK(has(s, "width=\"800\" height=\"560\" viewBox=\"0 0 800 560\""));
  CHECK(well_formed("curves.svg", s));
  CHECK_FALSE(has_non_finite_text(s));
  CHECK(has(s, ">train</text>"));
  CHECK(has(s, ">validation</text>"));
  CHECK(occurrences(s, ">learning rate</text>") == 1);  // the strip's title: its legend is off
  CHECK(has(s, ">best: epoch 4</text>"));
  // Loss from 0.3 to 2.3, 0.88 decades: log_ticks gives 0.2, 0.5, 1, 2, 5. Each panel's x axis has
  // the epochs 1 to 5, whole ones only: 1, 2 and 5 are written three times.
  CHECK(has(s, ">0.2<"));
  CHECK(has(s, ">0.5<"));
  for (const char* label : {">1<", ">2<", ">5<"}) CHECK(occurrences(s, label) == 3);
  for (const char* label : {">3<", ">4<"}) CHECK(occurrences(s, label) == 2);
  CHECK_FALSE(has(s, ">0.1<"));
  CHECK_FALSE(has(s, ">1.5<"));
  // Training (colour 0) is two lines, epochs 1-2 and 4-5; validation and the learning rate one each.
  CHECK(occurrences(
            s, "<polyline fill=\"none\" stroke-linejoin=\"round\" stroke-linecap=\"round\" stroke=\"#0072B2\"") == 2);
  CHECK(occurrences(s, "stroke=\"#E69F00\"") == 2);  // its line and its legend sample
  CHECK(occurrences(s, "<polyline") == 4);
  // The strip: the learning rate from 0 to 0.1.
  CHECK(has(s, ">0<"));
  CHECK((has(s, ">0.1<") || has(s, ">0.10<")));
}

TEST_CASE("epochs 1 to 3 have ticks 1, 2, 3 on an integer axis, and fractions on a plain one") {
  Figure f;
  f.panels.resize(1);
  f.panels[0].series = {series("loss", {0.9, 0.5, 0.4}, 0)};
  f.panels[0].x.integer = true;
  std::string s = svg(f);
  for (const char* label : {">1<", ">2<", ">3<"}) CHECK(has(s, label));
  CHECK_FALSE(has(s, ">1.5<"));
  f.panels[0].x.integer = false;
  s = svg(f);
  CHECK((has(s, ">1.5<") || has(s, ">1.2<")));
}

TEST_CASE("a panel without a finite point says so, with no ticks made up") {
  Figure f;
  f.panels.resize(1);
  f.panels[0].title = "loss";
  f.panels[0].y.log = true;  // 0 and -1 cannot be shown on it
  f.panels[0].series = {series("train", {NAN, 0, -1, INFINITY}, 0)};
  const std::string s = svg(f);
  CHECK(well_formed("empty.svg", s));
  CHECK(has(s, ">no data yet</text>"));
  CHECK(occurrences(s, "<text") == 2);  // the title and the note
  CHECK_FALSE(has(s, "<polyline"));
  CHECK_FALSE(has(s, "<circle"));
  CHECK_FALSE(has_non_finite_text(s));

  Figure none;  // no series at all
  none.panels.resize(1);
  CHECK(has(svg(none), ">no data yet</text>"));
}

TEST_CASE("one point or equal values get a range around them, and a fixed range is kept") {
  Figure f;
  f.panels.resize(1);
  f.panels[0].x.integer = true;
  f.panels[0].series = {series("accuracy", {0.5}, 0)};
  std::string s = svg(f);
  CHECK(well_formed("one-point.svg", s));
  CHECK_FALSE(has_non_finite_text(s));
  CHECK(occurrences(s, "<circle") == 1);  // a point alone is a dot, as a one-point line shows nothing
  for (const char* label : {">0<", ">1<", ">2<"}) CHECK(has(s, label));  // epoch 1 ± 1, whole epochs

  f.panels[0].series = {series("flat", {2, 2, 2, 2}, 0)};
  s = svg(f);
  CHECK_FALSE(has_non_finite_text(s));
  CHECK(has(s, ">1.8"));  // 2 ± 10%
  CHECK(has(s, ">2.2"));

  f.panels[0].y.lo = 0, f.panels[0].y.hi = 1;
  f.panels[0].y.percent = true;
  f.panels[0].series = {series("accuracy", {0.2, 0.5, 0.7}, 0)};
  s = svg(f);
  CHECK(has(s, ">0%<"));
  CHECK(has(s, ">100%<"));
  CHECK_FALSE(has(s, ">120%<"));

  // A narrow fixed range on the thin strip: 0.31 to 0.39 holds one tick of 0.05, so ticks of 0.02.
  Figure curves = learning_curves();
  curves.panels[1].y.lo = 0.31, curves.panels[1].y.hi = 0.39;
  curves.panels[1].series = {series("", {0.32, 0.35, 0.37}, 0)};
  s = svg(curves);
  for (const char* label : {">0.32<", ">0.34<", ">0.36<", ">0.38<"}) CHECK(has(s, label));
}

TEST_CASE("the legend takes the corner that the lines leave free") {
  // Rising lines leave the bottom right free, falling ones the top right.
  for (const bool rising : {true, false}) {
    CAPTURE(rising);
    Figure f;
    f.panels.resize(1);
    f.panels[0].series = {series("train", {0.1, 0.5, 0.8, 0.9, 0.95}, 0),
                          series("test", {0.1, 0.4, 0.7, 0.8, 0.85}, 1)};
    if (!rising)
      for (Series& line : f.panels[0].series) std::reverse(line.y.begin(), line.y.end());
    const std::string s = svg(f);
    const size_t box = s.find("fill-opacity=\"0.85\"");
    REQUIRE(box != std::string::npos);
    const size_t y = s.rfind(" y=\"", box) + 4;
    CHECK((std::stod(s.substr(y)) > f.height / 2.0) == rising);
    const size_t x = s.rfind("<rect x=\"", box) + 9;
    CHECK(std::stod(s.substr(x)) > f.width / 2.0);
  }
}

TEST_CASE("a confusion matrix: counts, each class's accuracy, the overall accuracy, escaped names") {
  const std::vector<std::vector<int64_t>> counts = {{8, 1, 1}, {1, 3, 0}, {0, 0, 0}};
  const std::string s = confusion_svg(counts, {"cat & dog", "<b>", "bird"}, "test");
  CHECK(s.rfind("<svg", 0) == 0);
  CHECK(well_formed("confusion.svg", s));
  // Correct 8 + 3 + 0 of 14: 78.57%; row 0 8/10, row 1 3/4, row 2 empty.
  CHECK(has(s, ">test — accuracy 78.57% (11/14)</text>"));
  CHECK(has(s, ">80.0%</text>"));
  CHECK(has(s, ">75.0%</text>"));
  CHECK(has(s, ">–</text>"));
  CHECK(has(s, ">cat &amp; dog</text>"));
  CHECK(has(s, ">&lt;b&gt;</text>"));
  CHECK_FALSE(has(s, "<b>"));
  CHECK(has(s, ">true class</text>"));
  CHECK(has(s, ">predicted class</text>"));
  CHECK(occurrences(s, ">8</text>") == 1);
  CHECK(occurrences(s, ">0</text>") == 4);
  // 8 of its row of 10 is a dark cell with white text; 1 of 10, a light one with dark text.
  CHECK(has(s, "fill=\"#ffffff\" text-anchor=\"middle\">8</text>"));
  CHECK(has(s, "fill=\"#222222\" text-anchor=\"middle\">1</text>"));

  // Without a name for every class, the classes are numbered.
  const std::string numbered = confusion_svg(counts, {"cat", "dog"}, "");
  CHECK_FALSE(has(numbered, ">cat<"));
  CHECK(has(numbered, ">accuracy 78.57% (11/14)</text>"));
  CHECK(occurrences(numbered, ">2</text>") == 2);  // the row label and the column label
}

TEST_CASE("a confusion matrix of 100 classes, and of none") {
  std::vector<std::vector<int64_t>> counts(100, std::vector<int64_t>(100, 1));
  for (int c = 0; c < 100; ++c) counts[size_t(c)][size_t(c)] = 1000;
  const std::string s = confusion_svg(counts, {}, "hundred");
  CHECK(occurrences(s, ">1000</text>") == 100);
  CHECK(occurrences(s, ">1</text>") == 100 * 99 + 2);  // and the labels of class 1
  CHECK(has(s, ">99</text>"));
  // Every row: 1000 of 1099, 90.99% and so 91.0%.
  CHECK(occurrences(s, ">91.0%</text>") == 100);

  const std::string empty = confusion_svg({}, {}, "nothing");
  CHECK(well_formed("confusion-empty.svg", empty));
  CHECK(has(empty, ">no data yet</text>"));
}

TEST_CASE("rsvg-convert renders the figure and the confusion matrix at their sizes, not blank") {
  if (std::system("command -v rsvg-convert >/dev/null 2>&1") != 0) {
    MESSAGE("skipped: rsvg-convert (Debian's librsvg2-bin) is not installed");
    return;
  }
  const auto non_white = [](unsigned char p) { return p < 245; };
  const auto dark = [](unsigned char p) { return p < 100; };
  const GrayImage curves = render("curves", svg(learning_curves()));
  CHECK(curves.width == 800);
  CHECK(curves.height == 560);
  CHECK(curves.share(non_white) > 0.03);  // grid, frame, lines, text: a few percent of a white page
  CHECK(curves.share(dark) > 0.002);

  const std::vector<std::vector<int64_t>> counts = {{850, 30, 120}, {20, 940, 40}, {90, 60, 850}};
  const std::string matrix = confusion_svg(counts, {"T-shirt/top", "Trouser", "Ankle boot"}, "test");
  const size_t w = matrix.find("width=\"") + 7, h = matrix.find("height=\"") + 8;
  const GrayImage image = render("confusion", matrix);
  CHECK(image.width == std::stoi(matrix.substr(w)));
  CHECK(image.height == std::stoi(matrix.substr(h)));
  CHECK(image.share(non_white) > 0.15);  // the shaded cells
  CHECK(image.share(dark) > 0.01);
}
