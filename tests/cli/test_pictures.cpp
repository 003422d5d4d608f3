// What a run leaves to look at, made by the nabla binary as a user runs it: metrics.csv, steps.jsonl,
// curves.svg, report.html, `eval --confusion` and `nabla plot`. Each picture is read back the way a reader
// reads it (python3's XML and HTML parsers, then the values off the chart's own tick labels, the counts
// off the heat map's cells) and held against what the run's files and `nabla eval --json` say.
#include <doctest/doctest.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "cli/helpers.hpp"

namespace fs = std::filesystem;
using namespace cli_test;
using nlohmann::ordered_json;

namespace {

const std::string kSamples = std::string(NABLA_SOURCE_DIR) + "/data/samples/";
const std::string kImages = kSamples + "fashion-test-500-images-idx3-ubyte.gz";
const std::string kLabels = kSamples + "fashion-test-500-labels-idx1-ubyte.gz";
const std::string kTrainImages = kSamples + "fashion-train-2000-images-idx3-ubyte.gz";
const std::string kTrainLabels = kSamples + "fashion-train-2000-labels-idx1-ubyte.gz";
const std::string kTestSplit = " --set data.test.images=" + kImages + " --set data.test.labels=" + kLabels;
const std::vector<std::string> kClassNames{"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                                           "Sandal",      "Shirt",   "Sneaker",  "Bag",   "Ankle boot"};
// configs/gradcheck.json: 2000 training samples, 200 of them held out, in batches of 32.
constexpr int64_t kStepsPerEpoch = (2000 - 200 + 31) / 32;

void write(const fs::path& p, const std::string& bytes) { std::ofstream(p, std::ios::binary) << bytes; }

// The rows of a JSON-lines file, keys in their order in the file.
std::vector<ordered_json> json_lines(const fs::path& p) {
  std::vector<ordered_json> rows;
  std::istringstream in(bytes_of(p));
  for (std::string line; std::getline(in, line);) rows.push_back(ordered_json::parse(line));
  return rows;
}

// `nabla ARGS` run in the folder `cwd` (plot writes plot.svg into the current folder).
Run nabla_in(const fs::path& cwd, const std::string& args) {
  return run_shell("cd '" + cwd.string() + "' && " NABLA_BINARY " " + args);
}

// configs/gradcheck.json trained into `out` with `flags`.
void train(const fs::path& out, const std::string& flags) {
  const Run r = run_nabla("train configs/gradcheck.json --quiet --out " + out.string() + " " + flags);
  CAPTURE(r.output);
  REQUIRE(r.code == 0);
}

ordered_json eval_json(const fs::path& checkpoint, const std::string& flags = "") {
  const Run r = run_nabla("eval " + checkpoint.string() + " --json " + flags);
  CAPTURE(r.output);
  REQUIRE(r.code == 0);
  return ordered_json::parse(r.output);
}

std::string printf_string(const char* format, double v) {
  char b[64];
  std::snprintf(b, sizeof b, format, v);
  return b;
}

// ---- metrics.csv -------------------------------------------------------------------------------

// CSV as RFC 4180 writes it (a quoted field may hold commas and doubled quotes); every line ends in a
// newline.
std::vector<std::vector<std::string>> parse_csv(const std::string& text) {
  REQUIRE(!text.empty());
  REQUIRE(text.back() == '\n');
  std::vector<std::vector<std::string>> rows;
  std::vector<std::string> row;
  std::string field;
  bool quoted = false;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (quoted) {
      if (c != '"')
        field += c;
      else if (i + 1 < text.size() && text[i + 1] == '"')
        field += '"', ++i;
      else
        quoted = false;
    } else if (c == '"') {
      quoted = true;
    } else if (c == ',') {
      row.push_back(field);
      field.clear();
    } else if (c == '\n') {
      row.push_back(field);
      field.clear();
      rows.push_back(row);
      row.clear();
    } else if (c != '\r') {
      field += c;
    }
  }
  return rows;
}

// metrics.csv holds metrics.jsonl's rows: a header of every key in the order first seen, then a line per
// row whose cells are the row's values (the same numbers, to the last bit), a key the row lacks empty.
void check_csv_matches_jsonl(const fs::path& run) {
  const std::vector<ordered_json> rows = json_lines(run / "metrics.jsonl");
  REQUIRE(!rows.empty());
  std::vector<std::string> keys;
  for (const ordered_json& row : rows)
    for (const auto& [key, value] : row.items())
      if (std::find(keys.begin(), keys.end(), key) == keys.end()) keys.push_back(key);
  const std::vector<std::vector<std::string>> csv = parse_csv(bytes_of(run / "metrics.csv"));
  REQUIRE(csv.size() == rows.size() + 1);
  CHECK(csv[0] == keys);
  for (size_t i = 0; i < rows.size(); ++i) {
    CAPTURE(i);
    REQUIRE(csv[i + 1].size() == keys.size());
    for (size_t k = 0; k < keys.size(); ++k) {
      const std::string& cell = csv[i + 1][k];
      CAPTURE(keys[k]);
      CAPTURE(cell);
      if (!rows[i].contains(keys[k]) || rows[i][keys[k]].is_null()) {
        CHECK(cell.empty());
        continue;
      }
      const ordered_json& value = rows[i][keys[k]];
      const ordered_json read = ordered_json::parse(cell, nullptr, /*allow_exceptions=*/false);
      REQUIRE(!read.is_discarded());
      CHECK(read == value);
      if (value.is_number()) {
        char* end = nullptr;
        const double d = std::strtod(cell.c_str(), &end);
        CHECK(*end == '\0');
        CHECK(d == value.get<double>());
      }
    }
  }
}

// ---- SVG, read by python3's XML parser -----------------------------------------------------------

// Prints an SVG's elements that carry its content as JSON; fails (exit 1, the parser's message) on a
// document that is not well-formed XML.
constexpr const char* kSvgReader = R"(import json, sys, xml.dom.minidom
doc = xml.dom.minidom.parse(sys.argv[1])
root = doc.documentElement
def num(e, name): return float(e.getAttribute(name) or 0)
def text(e): return "".join(n.data for n in e.childNodes if n.nodeType in (n.TEXT_NODE, n.CDATA_SECTION_NODE))
print(json.dumps({
  "tag": root.tagName, "xmlns": root.getAttribute("xmlns"), "width": root.getAttribute("width"),
  "height": root.getAttribute("height"), "viewBox": root.getAttribute("viewBox"),
  "scripts": len(doc.getElementsByTagName("script")),
  "texts": [{"x": num(e, "x"), "y": num(e, "y"), "anchor": e.getAttribute("text-anchor") or "start",
             "transform": e.getAttribute("transform"), "bold": e.getAttribute("font-weight") == "bold",
             "text": text(e)} for e in doc.getElementsByTagName("text")],
  "lines": [{"x1": num(e, "x1"), "y1": num(e, "y1"), "x2": num(e, "x2"), "y2": num(e, "y2"),
             "stroke": e.getAttribute("stroke"), "dash": e.getAttribute("stroke-dasharray")}
            for e in doc.getElementsByTagName("line")],
  "polylines": [{"stroke": e.getAttribute("stroke"),
                 "points": [[float(v) for v in p.split(",")] for p in e.getAttribute("points").split()]}
                for e in doc.getElementsByTagName("polyline")]}))
)";

struct Text {
  double x = 0, y = 0;
  std::string anchor, transform, text;
  bool bold = false;
};
struct Line {
  double x1 = 0, y1 = 0, x2 = 0, y2 = 0;
  std::string stroke, dash;
};
struct Polyline {
  std::string stroke;
  std::vector<std::pair<double, double>> points;
};
struct Svg {
  std::string tag, xmlns, width, height, view_box;
  int scripts = 0;
  std::vector<Text> texts;
  std::vector<Line> lines;
  std::vector<Polyline> polylines;
  bool has_text(const std::string& s) const {
    return std::any_of(texts.begin(), texts.end(), [&](const Text& t) { return t.text == s; });
  }
};

Svg read_svg(const fs::path& file) {
  const fs::path reader = file.parent_path() / "svg_reader.py";
  write(reader, kSvgReader);
  const Run r = run_shell("python3 '" + reader.string() + "' '" + file.string() + "'");
  CAPTURE(file);
  CAPTURE(r.output);
  REQUIRE(r.code == 0);  // well-formed XML
  const nlohmann::json j = nlohmann::json::parse(r.output);
  Svg s;
  s.tag = j["tag"], s.xmlns = j["xmlns"], s.width = j["width"], s.height = j["height"], s.view_box = j["viewBox"];
  s.scripts = j["scripts"];
  for (const auto& t : j["texts"])
    s.texts.push_back({t["x"], t["y"], t["anchor"], t["transform"], t["text"], t["bold"]});
  for (const auto& l : j["lines"]) s.lines.push_back({l["x1"], l["y1"], l["x2"], l["y2"], l["stroke"], l["dash"]});
  for (const auto& p : j["polylines"]) {
    Polyline line{p["stroke"], {}};
    for (const auto& xy : p["points"]) line.points.emplace_back(xy[0], xy[1]);
    s.polylines.push_back(line);
  }
  return s;
}

// An SVG document of its own: <svg> in the SVG namespace, whole pixels, a view box of the same size, no
// script.
void check_standalone(const Svg& s) {
  CHECK(s.tag == "svg");
  CHECK(s.xmlns == "http://www.w3.org/2000/svg");
  CHECK(std::atoi(s.width.c_str()) > 0);
  CHECK(std::to_string(std::atoi(s.width.c_str())) == s.width);
  CHECK(std::atoi(s.height.c_str()) > 0);
  CHECK(std::to_string(std::atoi(s.height.c_str())) == s.height);
  CHECK(s.view_box == "0 0 " + s.width + " " + s.height);
  CHECK(s.scripts == 0);
}

// ---- charts, read off their tick labels ----------------------------------------------------------

// A number as a tick label writes it ("0.5", "1e-03", "85%": a fraction).
bool tick_value(const std::string& label, double& v) {
  if (label.empty()) return false;
  const bool percent = label.back() == '%';
  const std::string digits = percent ? label.substr(0, label.size() - 1) : label;
  char* end = nullptr;
  v = std::strtod(digits.c_str(), &end);
  if (digits.empty() || *end != '\0') return false;
  if (percent) v /= 100;
  return true;
}

struct Tick {
  double value, pixel;
};

// Value to pixel on an axis, as its ticks place it: a + b·v, or a + b·log10(v) on a log axis.
struct Scale {
  double a = 0, b = 0;
  bool log = false;
  double operator()(double v) const { return a + b * (log ? std::log10(v) : v); }
};

// The scale through the ticks (least squares), which must all lie on it: a log axis is one whose
// ticks are evenly spaced in log10 of their labels.
Scale scale_of(const std::vector<Tick>& ticks, bool log) {
  REQUIRE(ticks.size() >= 2);
  double n = 0, st = 0, sp = 0, stt = 0, stp = 0;
  for (const Tick& k : ticks) {
    const double t = log ? std::log10(k.value) : k.value;
    n += 1, st += t, sp += k.pixel, stt += t * t, stp += t * k.pixel;
  }
  Scale s;
  s.log = log;
  s.b = (n * stp - st * sp) / (n * stt - st * st);
  s.a = (sp - s.b * st) / n;
  for (const Tick& k : ticks) {
    CAPTURE(k.value);
    CHECK(std::abs(s(k.value) - k.pixel) < 0.02);
  }
  return s;
}

// A chart: the part of the picture between two heights (a panel of a figure), its ticks, its legend.
struct Chart {
  std::vector<Tick> x, y;
  std::map<std::string, std::string> legend;  // name -> the stroke of its line
  std::vector<Text> texts;
  std::vector<Line> lines;
  std::vector<Polyline> polylines;
};

Chart chart_between(const Svg& s, double top, double bottom) {
  Chart c;
  auto inside = [&](double y) { return y >= top && y < bottom; };
  for (const Text& t : s.texts)
    if (inside(t.y)) c.texts.push_back(t);
  for (const Line& l : s.lines)
    if (inside(l.y1) && inside(l.y2)) c.lines.push_back(l);
  for (const Polyline& p : s.polylines)
    if (!p.points.empty() && inside(p.points[0].second)) c.polylines.push_back(p);
  for (const Text& t : c.texts) {
    double v = 0;
    if (!t.transform.empty() || !tick_value(t.text, v)) continue;
    // A y tick label sits left of its tick mark (a short horizontal line) and ends at it; an x tick
    // label is centred under its mark (a short vertical line).
    const Line* mark = nullptr;
    double nearest = 8;
    for (const Line& l : c.lines) {
      const double length = std::hypot(l.x2 - l.x1, l.y2 - l.y1);
      if (length == 0 || length > 10) continue;
      if (t.anchor == "end" && l.y1 == l.y2 && std::abs(l.y1 - t.y) < nearest && std::min(l.x1, l.x2) > t.x)
        nearest = std::abs(l.y1 - t.y), mark = &l;
      if (t.anchor == "middle" && l.x1 == l.x2 && std::abs(l.x1 - t.x) < 0.5 && t.y > std::max(l.y1, l.y2) &&
          t.y - std::max(l.y1, l.y2) < 20)
        mark = &l;
    }
    if (mark && t.anchor == "end") c.y.push_back({v, mark->y1});
    if (mark && t.anchor == "middle") c.x.push_back({v, mark->x1});
  }
  // A legend entry: its name, with a short line of the series' stroke just left of it.
  for (const Text& t : c.texts) {
    if (t.anchor != "start" || t.bold) continue;
    for (const Line& l : c.lines)
      if (l.y1 == l.y2 && std::abs(l.y1 - t.y) < 8 && t.x - std::max(l.x1, l.x2) >= 0 &&
          t.x - std::max(l.x1, l.x2) < 12)
        c.legend[t.text] = l.stroke;
  }
  return c;
}

// The chart's line of `stroke` goes through (xs[i], ys[i]) as the axes' ticks place them.
void check_series(const Chart& c, const std::string& stroke, const std::vector<double>& xs,
                  const std::vector<double>& ys, const Scale& x, const Scale& y) {
  CAPTURE(stroke);
  std::vector<const Polyline*> found;
  for (const Polyline& p : c.polylines)
    if (p.stroke == stroke) found.push_back(&p);
  REQUIRE(found.size() == 1);
  REQUIRE(found[0]->points.size() == xs.size());
  for (size_t i = 0; i < xs.size(); ++i) {
    CAPTURE(i);
    CAPTURE(ys[i]);
    // Coordinates are written to 0.01 px.
    CHECK(std::abs(found[0]->points[i].first - x(xs[i])) < 0.03);
    CHECK(std::abs(found[0]->points[i].second - y(ys[i])) < 0.03);
  }
}

std::vector<double> column(const std::vector<ordered_json>& rows, const std::string& key) {
  std::vector<double> v;
  for (const ordered_json& row : rows) v.push_back(row.at(key).get<double>());
  return v;
}

// The panels of curves.svg by their titles ("loss", "accuracy", "learning rate"), top to bottom.
std::map<std::string, Chart> panels_of(const Svg& s) {
  std::vector<std::pair<double, std::string>> titles;
  for (const Text& t : s.texts)
    if (t.bold && t.anchor == "start") titles.emplace_back(t.y, t.text);
  std::sort(titles.begin(), titles.end());
  std::map<std::string, Chart> panels;
  for (size_t i = 0; i < titles.size(); ++i)
    panels[titles[i].second] =
        chart_between(s, titles[i].first - 1, i + 1 < titles.size() ? titles[i + 1].first - 1 : 1e9);
  return panels;
}

// The learning curves of a run: loss (log scale) and accuracy of every split, the learning rate, and
// the best epoch marked when there is one (0: none), all where its metrics.jsonl puts them.
void check_curves(const Svg& s, const std::vector<ordered_json>& rows, int64_t best_epoch) {
  check_standalone(s);
  std::map<std::string, Chart> panels = panels_of(s);
  REQUIRE(panels.count("loss") == 1);
  REQUIRE(panels.count("accuracy") == 1);
  REQUIRE(panels.count("learning rate") == 1);
  const std::vector<double> epochs = column(rows, "epoch");
  const std::vector<std::pair<std::string, std::string>> splits{
      {"train", "train"}, {"val", "validation"}, {"test", "test"}};
  for (const std::string panel : {"loss", "accuracy"}) {
    CAPTURE(panel);
    const Chart& c = panels[panel];
    const Scale x = scale_of(c.x, false), y = scale_of(c.y, panel == "loss");
    CHECK(y.b < 0);  // up is more
    for (const auto& [key, name_] : splits) {
      const auto& name = name_;  // clang 14 lets no lambda capture a binding
      CAPTURE(name);
      const bool present = rows[0].contains(key + "_loss");
      REQUIRE(c.legend.count(name) == size_t(present));
      if (present) check_series(c, c.legend.at(name), epochs, column(rows, key + "_" + panel), x, y);
    }
    CHECK(c.legend.size() == size_t(std::count_if(splits.begin(), splits.end(), [&](const auto& sp) {
            return rows[0].contains(sp.first + "_loss");
          })));
    // The best epoch: a dashed line at its epoch, labelled.
    const std::string mark = "best: epoch " + std::to_string(best_epoch);
    const bool labelled = std::any_of(c.texts.begin(), c.texts.end(), [&](const Text& t) { return t.text == mark; });
    const bool dashed = std::any_of(c.lines.begin(), c.lines.end(), [&](const Line& l) {
      return !l.dash.empty() && l.x1 == l.x2 && std::abs(l.x1 - x(double(best_epoch))) < 0.03;
    });
    CHECK(labelled == (best_epoch > 0));
    CHECK(dashed == (best_epoch > 0));
    if (best_epoch == 0)
      for (const Text& t : c.texts) CHECK(t.text.find("best") == std::string::npos);
  }
  const std::vector<Text>& loss = panels["loss"].texts;
  CHECK(std::any_of(loss.begin(), loss.end(), [](const Text& t) { return t.text == "loss (log scale)"; }));
  // The learning rate: one line, on a linear axis, no legend.
  const Chart& lr = panels["learning rate"];
  REQUIRE(lr.polylines.size() == 1);
  CHECK(lr.legend.empty());
  check_series(lr, lr.polylines[0].stroke, epochs, column(rows, "lr"), scale_of(lr.x, false), scale_of(lr.y, false));
}

// ---- the confusion matrix, read off its cells ---------------------------------------------------

// The heat map shows eval's confusion matrix in its cells (rows: true class, top to bottom; columns:
// predicted class, left to right), each row and column labelled with its class's name, each class's
// accuracy at the end of its row (one decimal), and the overall accuracy in the title line
// ("accuracy 74.80% (374/500)").
void check_confusion(const Svg& s, const ordered_json& eval, const std::vector<std::string>& names) {
  const std::vector<std::vector<int64_t>> confusion = eval["confusion"];
  const size_t n = confusion.size();
  REQUIRE(n == names.size());
  int64_t correct = 0, total = 0;
  for (size_t t = 0; t < n; ++t)
    for (size_t p = 0; p < n; ++p) correct += t == p ? confusion[t][p] : 0, total += confusion[t][p];
  REQUIRE(correct == eval["correct"]);
  REQUIRE(total == eval["samples"]);

  // The counts: the centred texts that are whole numbers.
  std::vector<const Text*> cells;
  for (const Text& t : s.texts)
    if (t.anchor == "middle" && t.transform.empty() && !t.text.empty() &&
        t.text.find_first_not_of("0123456789") == std::string::npos)
      cells.push_back(&t);
  REQUIRE(cells.size() == n * n);
  std::vector<double> ys, xs;
  for (const Text* t : cells) ys.push_back(t->y), xs.push_back(t->x);
  auto distinct = [](std::vector<double> v) {
    std::sort(v.begin(), v.end());
    v.erase(std::unique(v.begin(), v.end()), v.end());
    return v;
  };
  ys = distinct(ys), xs = distinct(xs);
  REQUIRE(ys.size() == n);
  REQUIRE(xs.size() == n);
  std::vector<std::vector<int64_t>> shown(n, std::vector<int64_t>(n, -1));
  for (const Text* t : cells)
    shown[size_t(std::find(ys.begin(), ys.end(), t->y) - ys.begin())]
         [size_t(std::find(xs.begin(), xs.end(), t->x) - xs.begin())] = std::stoll(t->text);
  CHECK(ordered_json(shown).dump() == ordered_json(confusion).dump());
  auto nearest = [](const std::vector<double>& v, double at) {
    size_t best = 0;
    for (size_t i = 1; i < v.size(); ++i)
      if (std::abs(v[i] - at) < std::abs(v[best] - at)) best = i;
    return best;
  };

  // Each class's accuracy, at the end of its row.
  std::vector<const Text*> accuracies;
  for (const Text& t : s.texts)
    if (t.anchor == "middle" && t.text.size() > 1 && t.text.back() == '%') accuracies.push_back(&t);
  REQUIRE(accuracies.size() == n);
  for (const Text* t : accuracies) {
    const size_t row = nearest(ys, t->y);
    int64_t in_row = 0;
    for (int64_t v : confusion[row]) in_row += v;
    CAPTURE(row);
    CHECK(t->x > xs.back());
    CHECK(std::abs(t->y - ys[row]) < 8);
    CHECK(t->text == printf_string("%.1f%%", 100.0 * double(confusion[row][row]) / double(in_row)));
  }

  // The class names: a row label left of each row (right-aligned), a column label under each column.
  std::vector<const Text*> row_labels, column_labels;
  for (const Text& t : s.texts)
    if (std::find(names.begin(), names.end(), t.text) != names.end())
      (t.anchor == "end" && t.transform.empty() ? row_labels : column_labels).push_back(&t);
  REQUIRE(row_labels.size() == n);
  REQUIRE(column_labels.size() == n);
  for (const Text* t : row_labels) {
    CAPTURE(t->text);
    CHECK(t->x < xs.front());
    CHECK(t->text == names[nearest(ys, t->y)]);
    CHECK(std::abs(t->y - ys[nearest(ys, t->y)]) < 8);
  }
  for (const Text* t : column_labels) {
    CAPTURE(t->text);
    CHECK(t->y > ys.back());
    CHECK(t->text == names[nearest(xs, t->x)]);
    CHECK(std::abs(t->x - xs[nearest(xs, t->x)]) < 10);
  }

  // The title line, with the accuracy as eval computes it.
  const std::string accuracy = "accuracy " + printf_string("%.2f%%", 100 * eval["accuracy"].get<double>()) + " (" +
                               std::to_string(correct) + "/" + std::to_string(total) + ")";
  CHECK(std::count_if(s.texts.begin(), s.texts.end(), [&](const Text& t) {
          return t.bold && t.text.size() >= accuracy.size() &&
                 t.text.compare(t.text.size() - accuracy.size(), accuracy.size(), accuracy) == 0;
        }) == 1);
}

// ---- report.html, read by python3's HTML parser ------------------------------------------------

// Prints the page's title, headings, tables (caption and cells), <pre> texts (entities decoded) and
// top-level <svg> count, and every end tag that does not close the element open.
constexpr const char* kHtmlReader = R"(import json, sys
from html.parser import HTMLParser
VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}
class Page(HTMLParser):
  def __init__(self):
    super().__init__(convert_charrefs=True)
    self.open, self.errors, self.text = [], [], None
    self.out = {"title": "", "h1": [], "h2": [], "tables": [], "pre": [], "svgs": 0, "scripts": 0}
  def handle_starttag(self, tag, attrs):
    if tag == "svg" and "svg" not in self.open: self.out["svgs"] += 1
    if tag == "script": self.out["scripts"] += 1
    if tag == "table": self.out["tables"].append({"caption": "", "rows": []})
    if tag == "tr": self.out["tables"][-1]["rows"].append([])
    if tag in ("title", "h1", "h2", "pre", "caption", "td", "th"): self.text = ""
    if tag not in VOID: self.open.append(tag)
  def handle_startendtag(self, tag, attrs): pass
  def handle_endtag(self, tag):
    if not self.open or self.open[-1] != tag:
      where = self.open[-1] if self.open else "nothing"
      self.errors.append("</%s> on line %d, where <%s> is open" % (tag, self.getpos()[0], where))
      return
    self.open.pop()
    if self.text is None: return
    if tag == "title": self.out["title"] = self.text
    elif tag in ("h1", "h2", "pre"): self.out[tag].append(self.text)
    elif tag == "caption": self.out["tables"][-1]["caption"] = self.text
    elif tag in ("td", "th"): self.out["tables"][-1]["rows"][-1].append(self.text)
    else: return
    self.text = None
  def handle_data(self, data):
    if self.text is not None: self.text += data
page = Page()
page.feed(open(sys.argv[1], encoding="utf-8").read())
page.close()
page.out["errors"] = page.errors + ["<%s> is never closed" % t for t in page.open]
print(json.dumps(page.out))
)";

nlohmann::json read_html(const fs::path& file) {
  const fs::path reader = file.parent_path() / "html_reader.py";
  write(reader, kHtmlReader);
  const Run r = run_shell("python3 '" + reader.string() + "' '" + file.string() + "'");
  CAPTURE(r.output);
  REQUIRE(r.code == 0);
  return nlohmann::json::parse(r.output);
}

// The rows of the table with this caption.
std::vector<std::vector<std::string>> table(const nlohmann::json& page, const std::string& caption) {
  for (const auto& t : page["tables"])
    if (t["caption"] == caption) return t["rows"];
  FAIL("no table captioned \"" << caption << "\"");
  return {};
}

// The SVG element in the page's <figure> after `heading`, as a file of its own.
fs::path figure_after(const std::string& html, const std::string& heading, const fs::path& file) {
  const size_t h = html.find("<h2>" + heading + "</h2>");
  REQUIRE(h != std::string::npos);
  const size_t begin = html.find("<figure>", h), end = html.find("</figure>", h);
  REQUIRE(begin != std::string::npos);
  REQUIRE(end != std::string::npos);
  write(file, html.substr(begin + 8, end - begin - 8));
  return file;
}

// ---- steps.jsonl and checkpoints ------------------------------------------------------------------

// A checkpoint's model tensors (layers.*), read from the safetensors layout itself: an 8-byte
// little-endian header length, a JSON header, little-endian F32 data.
std::map<std::string, std::vector<float>> model_tensors(const fs::path& p) {
  const std::string bytes = bytes_of(p);
  REQUIRE(bytes.size() >= 8);
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = n << 8 | uint8_t(bytes[size_t(i)]);
  const nlohmann::json header = nlohmann::json::parse(bytes.substr(8, n));
  std::map<std::string, std::vector<float>> tensors;
  for (const auto& [name, t] : header.items()) {
    if (name.rfind("layers.", 0) != 0) continue;
    REQUIRE(t["dtype"] == "F32");
    const size_t begin = t["data_offsets"][0], end = t["data_offsets"][1];
    std::vector<float> v((end - begin) / 4);
    std::memcpy(v.data(), bytes.data() + 8 + n + begin, end - begin);
    tensors[name] = v;
  }
  REQUIRE(!tensors.empty());
  return tensors;
}

// A steps.jsonl row without its timing, which differs from run to run.
ordered_json without_timing(ordered_json row) {
  row.erase("samples_per_second");
  return row;
}

}  // namespace

TEST_CASE("pictures: metrics.csv holds metrics.jsonl's rows value by value, its keys in the order first seen") {
  const fs::path dir = fresh_dir("pictures-csv");
  train(dir / "tested", "--epochs 3" + kTestSplit);
  check_csv_matches_jsonl(dir / "tested");
  // Every column README.md lists, in its order.
  const std::vector<std::string> columns{
      "epoch",     "step",          "lr",      "train_loss",        "train_accuracy", "val_loss", "val_accuracy",
      "test_loss", "test_accuracy", "seconds", "samples_per_second"};
  CHECK(parse_csv(bytes_of(dir / "tested/metrics.csv"))[0] == columns);
  CHECK(parse_csv(bytes_of(dir / "tested/metrics.csv")).size() == 4);

  // Without a test split, no test columns.
  train(dir / "plain", "--epochs 2");
  check_csv_matches_jsonl(dir / "plain");
  const auto header = parse_csv(bytes_of(dir / "plain/metrics.csv"))[0];
  CHECK(std::find(header.begin(), header.end(), "test_loss") == header.end());
  CHECK(header.size() == columns.size() - 2);

  // A row that lacks a key (a row written by an older nabla without the lr column, say) has an empty
  // cell there, and the column comes where the key is first seen: after the others.
  train(dir / "old", "--epochs 1");
  ordered_json first = json_lines(dir / "old/metrics.jsonl").at(0);
  first.erase("lr");
  write(dir / "old/metrics.jsonl", first.dump() + "\n");
  const Run resumed =
      run_nabla("train --resume " + (dir / "old/checkpoints/last.safetensors").string() + " --epochs 2 --quiet");
  CAPTURE(resumed.output);
  REQUIRE(resumed.code == 0);
  check_csv_matches_jsonl(dir / "old");
  const auto csv = parse_csv(bytes_of(dir / "old/metrics.csv"));
  REQUIRE(csv.size() == 3);
  CHECK(csv[0].back() == "lr");
  CHECK(csv[1].back().empty());
  CHECK(!csv[2].back().empty());
  fs::remove_all(dir);
}

TEST_CASE("pictures: steps.jsonl has a row every log_every_steps steps: step, epoch, loss, lr, gradient norm, speed") {
  const fs::path dir = fresh_dir("pictures-steps");
  // A learning rate halved every epoch, so that each row's lr tells its epoch.
  train(dir / "run",
        "--epochs 3 --set training.log_every_steps=10 --set optimizer.learning_rate=0.01 "
        "--set 'schedule={\"type\":\"step\",\"step_size\":1,\"gamma\":0.5}'");
  const std::vector<ordered_json> steps = json_lines(dir / "run/steps.jsonl");
  const std::vector<ordered_json> metrics = json_lines(dir / "run/metrics.jsonl");
  const ordered_json summary = ordered_json::parse(bytes_of(dir / "run/summary.json"));
  REQUIRE(metrics.size() == 3);
  CHECK(summary["steps"] == 3 * kStepsPerEpoch);
  REQUIRE(steps.size() == size_t(3 * kStepsPerEpoch / 10));
  for (size_t i = 0; i < steps.size(); ++i) {
    const ordered_json& row = steps[i];
    CAPTURE(row.dump());
    std::vector<std::string> keys;
    for (const auto& [key, value] : row.items()) keys.push_back(key);
    CHECK(keys == std::vector<std::string>{"step", "epoch", "loss", "lr", "gradient_norm", "samples_per_second"});
    const int64_t step = row["step"];
    CHECK(step == int64_t(10 * (i + 1)));
    const int64_t epoch = (step - 1) / kStepsPerEpoch + 1;
    CHECK(row["epoch"] == epoch);
    CHECK(row["lr"].get<double>() == doctest::Approx(0.01 * std::pow(0.5, double(epoch - 1))).epsilon(1e-12));
    CHECK(row["lr"] == metrics[size_t(epoch - 1)]["lr"]);
    for (const char* key : {"loss", "gradient_norm", "samples_per_second"}) {
      CAPTURE(key);
      const double v = row[key];
      CHECK(std::isfinite(v));
      CHECK(v > 0);
    }
  }

  // The gradient's norm, independently: plain SGD steps w by −lr·g, and with the whole training set as
  // one batch an epoch is one step, so that |g| = |w after − w before| / lr between the epochs'
  // checkpoints; the step's loss is then the epoch's training loss.
  const double lr = 0.5;
  train(dir / "sgd",
        "--epochs 3 --set training.batch_size=1800 --set training.log_every_steps=1 --set "
        "'optimizer={\"type\":\"sgd\",\"learning_rate\":0.5}' --set checkpoint.every=1 --set "
        "checkpoint.keep=0");
  const std::vector<ordered_json> sgd = json_lines(dir / "sgd/steps.jsonl");
  const std::vector<ordered_json> sgd_metrics = json_lines(dir / "sgd/metrics.jsonl");
  REQUIRE(sgd.size() == 3);
  REQUIRE(sgd_metrics.size() == 3);
  for (int epoch = 1; epoch <= 3; ++epoch) {
    CAPTURE(epoch);
    char before[64], after[64];
    std::snprintf(before, sizeof before, "sgd/checkpoints/epoch-%04d.safetensors", epoch - 1);
    std::snprintf(after, sizeof after, "sgd/checkpoints/epoch-%04d.safetensors", epoch);
    const auto w0 = model_tensors(dir / before), w1 = model_tensors(dir / after);
    double squares = 0;
    for (const auto& [name, v0] : w0) {
      const std::vector<float>& v1 = w1.at(name);
      REQUIRE(v1.size() == v0.size());
      for (size_t i = 0; i < v0.size(); ++i)
        squares += (double(v1[i]) - double(v0[i])) * (double(v1[i]) - double(v0[i]));
    }
    const ordered_json& row = sgd[size_t(epoch - 1)];
    CHECK(row["step"] == epoch);
    CHECK(row["epoch"] == epoch);
    CHECK(row["lr"] == lr);
    CHECK(row["gradient_norm"].get<double>() == doctest::Approx(std::sqrt(squares) / lr).epsilon(1e-5));
    CHECK(row["loss"].get<double>() == doctest::Approx(sgd_metrics[size_t(epoch - 1)]["train_loss"].get<double>()));
  }

  // Without log_every_steps, no steps.jsonl.
  train(dir / "quiet", "--epochs 1");
  CHECK(!fs::exists(dir / "quiet/steps.jsonl"));
  fs::remove_all(dir);
}

TEST_CASE("pictures: a resume keeps metrics.csv in step with metrics.jsonl, and steps.jsonl its rows up to its step") {
  const fs::path dir = fresh_dir("pictures-resume");
  const std::string log = " --set training.log_every_steps=10";
  train(dir / "whole", "--epochs 4" + log);  // the run in one go, to hold the others against
  const std::vector<ordered_json> whole = json_lines(dir / "whole/steps.jsonl");
  REQUIRE(whole.size() == size_t(4 * kStepsPerEpoch / 10));

  // In place: 2 epochs, then a crash in the third (SIGKILL, a power cut) leaves steps.jsonl rows past
  // the last checkpoint, which the resume must drop before it logs those steps again.
  train(dir / "run", "--epochs 2" + log);
  const std::vector<ordered_json> before = json_lines(dir / "run/steps.jsonl");
  REQUIRE(before.size() == size_t(2 * kStepsPerEpoch / 10));
  std::string crashed = bytes_of(dir / "run/steps.jsonl");
  for (int64_t step = (2 * kStepsPerEpoch / 10 + 1) * 10; step < 3 * kStepsPerEpoch; step += 10)
    crashed += "{\"step\":" + std::to_string(step) +
               ",\"epoch\":3,\"loss\":999,\"lr\":0.001,\"gradient_norm\":999,\"samples_per_second\":1}\n";
  write(dir / "run/steps.jsonl", crashed);
  const Run r =
      run_nabla("train --resume " + (dir / "run/checkpoints/last.safetensors").string() + " --epochs 4 --quiet");
  CAPTURE(r.output);
  REQUIRE(r.code == 0);
  const std::vector<ordered_json> steps = json_lines(dir / "run/steps.jsonl");
  REQUIRE(steps.size() == whole.size());
  for (size_t i = 0; i < steps.size(); ++i) {
    CAPTURE(steps[i].dump());
    CHECK(steps[i]["step"] == int64_t(10 * (i + 1)));  // increasing, none twice
    if (i < before.size())
      CHECK(steps[i] == before[i]);  // kept as they were
    else
      CHECK(without_timing(steps[i]) == without_timing(whole[i]));  // an exact resume: the same steps
  }
  check_csv_matches_jsonl(dir / "run");
  CHECK(metrics_without_timing(dir / "run") == metrics_without_timing(dir / "whole"));
  CHECK(parse_csv(bytes_of(dir / "run/metrics.csv")).size() == 5);
  // The curves were drawn again after the resumed epochs: the same as the run in one go's.
  CHECK(bytes_of(dir / "run/curves.svg") == bytes_of(dir / "whole/curves.svg"));
  CHECK(bytes_of(dir / "run/report.html").find("<caption>last epoch (4)</caption>") != std::string::npos);

  // Into a new folder from an older checkpoint: the rows up to its step come along, then it goes on.
  const Run branch = run_nabla("train --resume " + (dir / "whole/checkpoints/epoch-0002.safetensors").string() +
                               " --epochs 4 --quiet --out " + (dir / "branch").string());
  CAPTURE(branch.output);
  REQUIRE(branch.code == 0);
  const std::vector<ordered_json> branched = json_lines(dir / "branch/steps.jsonl");
  REQUIRE(branched.size() == whole.size());
  for (size_t i = 0; i < branched.size(); ++i) {
    CAPTURE(branched[i].dump());
    if (branched[i]["step"].get<int64_t>() <= 2 * kStepsPerEpoch)
      CHECK(branched[i] == whole[i]);
    else
      CHECK(without_timing(branched[i]) == without_timing(whole[i]));
  }
  check_csv_matches_jsonl(dir / "branch");
  CHECK(metrics_without_timing(dir / "branch") == metrics_without_timing(dir / "whole"));
  fs::remove_all(dir);
}

TEST_CASE("pictures: a resume that drops metrics rows past its checkpoint drops them from metrics.csv at once") {
  const fs::path dir = fresh_dir("pictures-dropped");
  // A run that stopped between writing epoch 2's rows and its checkpoint (killed, or the machine down):
  // its folder holds the rows of 2 epochs and the checkpoint of 1, as the same run's 2 epochs wrote them.
  train(dir / "run", "--epochs 1");
  train(dir / "two", "--epochs 2");
  for (const char* file : {"metrics.jsonl", "metrics.csv", "curves.svg"})
    fs::copy_file(dir / "two" / file, dir / "run" / file, fs::copy_options::overwrite_existing);
  // The resume drops epoch 2's row, and stops before it has written it again (here: it diverges at
  // once, at a learning rate of 1e30, which a resume may change).
  const Run r = run_nabla("train --resume " + (dir / "run/checkpoints/last.safetensors").string() +
                          " --epochs 3 --quiet --set optimizer.learning_rate=1e30");
  CAPTURE(r.output);
  REQUIRE(r.code == 3);
  REQUIRE(json_lines(dir / "run/metrics.jsonl").size() == 1);
  check_csv_matches_jsonl(dir / "run");
  fs::remove_all(dir);
}

TEST_CASE("pictures: curves.svg draws each split's loss (log scale) and accuracy where metrics.jsonl puts them") {
  const fs::path dir = fresh_dir("pictures-curves");
  // A learning rate halved every epoch; this run's best validation accuracy comes before its last epoch.
  train(dir / "run",
        "--epochs 5 --set optimizer.learning_rate=0.01 --set 'name=\"curves-run\"' "
        "--set 'schedule={\"type\":\"step\",\"step_size\":1,\"gamma\":0.5}'" +
            kTestSplit);
  const std::vector<ordered_json> rows = json_lines(dir / "run/metrics.jsonl");
  REQUIRE(rows.size() == 5);
  int64_t best = 0;  // the first epoch of the highest validation accuracy
  for (const ordered_json& row : rows)
    if (best == 0 || row["val_accuracy"].get<double>() > rows[size_t(best - 1)]["val_accuracy"].get<double>())
      best = row["epoch"];
  REQUIRE_MESSAGE(best != 5, "the run's best epoch should not be its last, for the test to tell them apart");
  const ordered_json summary = ordered_json::parse(bytes_of(dir / "run/summary.json"));
  CHECK(summary["best_epoch"] == best);
  const Svg svg = read_svg(dir / "run/curves.svg");
  check_curves(svg, rows, best);
  CHECK(std::any_of(svg.texts.begin(), svg.texts.end(),
                    [](const Text& t) { return t.bold && t.anchor == "middle" && t.text == "curves-run"; }));

  // Without a validation split there is no best epoch to mark; without a test split no test line.
  train(dir / "plain", "--epochs 3 --set data.validation=0");
  check_curves(read_svg(dir / "plain/curves.svg"), json_lines(dir / "plain/metrics.jsonl"), 0);
  fs::remove_all(dir);
}

TEST_CASE("pictures: report.html: last and best epoch, curves, the best checkpoint's confusion matrix, time, config") {
  const fs::path dir = fresh_dir("pictures-report");
  const fs::path run = dir / "run";
  train(run, "--epochs 5 --set optimizer.learning_rate=0.01 --set 'name=\"report & <run>\"'" + kTestSplit);
  const std::string name = "report & <run>";
  const std::string html = bytes_of(run / "report.html");
  const nlohmann::json page = read_html(run / "report.html");
  CAPTURE(page.dump());
  CHECK(page["errors"] == nlohmann::json::array());
  CHECK(page["title"].get<std::string>().find(name) != std::string::npos);
  CHECK(page["h1"] == std::vector<std::string>{name});
  CHECK(page["h2"] == std::vector<std::string>{"Results", "Learning curves",
                                               "Confusion matrix: the best checkpoint on the test set", "Time",
                                               "Config", "Manifest (run.json)"});
  CHECK(page["svgs"] == 2);

  // Self-contained: no script, nothing fetched; the one address is the SVG namespace's.
  std::string lower = html;
  std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return char(std::tolower(c)); });
  CHECK(page["scripts"] == 0);
  CHECK(lower.find("<script") == std::string::npos);
  for (size_t at; (at = lower.find("http://www.w3.org/2000/svg")) != std::string::npos;) lower.erase(at, 26);
  for (const char* fetch : {"http://", "https://", "<link", " src=", "url(", "@import"}) {
    CAPTURE(fetch);
    CHECK(lower.find(fetch) == std::string::npos);
  }

  // Results: the epochs' rows of metrics.jsonl, and their test figures those of the checkpoints, as
  // eval computes them.
  const std::vector<ordered_json> rows = json_lines(run / "metrics.jsonl");
  const ordered_json summary = ordered_json::parse(bytes_of(run / "summary.json"));
  const int64_t best = summary["best_epoch"];
  REQUIRE(best != 5);  // the two tables differ
  auto results = [&](const ordered_json& row, const ordered_json& test) {
    auto split = [&](const std::string& label, const std::string& key) {
      return std::vector<std::string>{label, printf_string("%.4f", row[key + "_loss"].get<double>()),
                                      printf_string("%.2f%%", 100 * row[key + "_accuracy"].get<double>())};
    };
    return std::vector<std::vector<std::string>>{{"split", "loss", "accuracy"},
                                                 split("train", "train"),
                                                 split("validation", "val"),
                                                 {"test", printf_string("%.4f", test["loss"].get<double>()),
                                                  printf_string("%.2f%%", 100 * test["accuracy"].get<double>())}};
  };
  const ordered_json best_eval = eval_json(run / "checkpoints/best.safetensors");
  const ordered_json last_eval = eval_json(run / "checkpoints/last.safetensors");
  CHECK(best_eval["epoch"] == best);
  CHECK(table(page, "last epoch (5)") == results(rows[4], last_eval));
  CHECK(table(page, "best epoch (" + std::to_string(best) + ", by validation)") ==
        results(rows[size_t(best - 1)], best_eval));

  // The curves are the run's curves.svg; the confusion matrix is eval's of the best checkpoint.
  CHECK(bytes_of(figure_after(html, "Learning curves", dir / "curves.svg")) == bytes_of(run / "curves.svg"));
  const Svg confusion =
      read_svg(figure_after(html, "Confusion matrix: the best checkpoint on the test set", dir / "confusion.svg"));
  check_standalone(confusion);
  check_confusion(confusion, best_eval, kClassNames);

  // Time: the epochs trained and the parameters of the layers (784 inputs, 10 classes).
  const ordered_json config = ordered_json::parse(bytes_of(run / "config.json"));
  int64_t parameters = 0, inputs = 784;
  for (const auto& layer : config["model"]["layers"])
    if (layer["type"] == "dense") {
      const int64_t units = layer["units"].get<int64_t>() > 0 ? layer["units"].get<int64_t>() : 10;
      parameters += inputs * units + units, inputs = units;
    }
  bool trained = false, counted = false;
  for (const auto& row : table(page, "")) {
    if (row.size() == 2 && row[0] == "parameters") counted = row[1] == std::to_string(parameters);
    if (row.size() == 2 && row[0].rfind("training (5 epochs, ", 0) == 0) trained = true;
  }
  CHECK(trained);
  CHECK(counted);

  // Config and manifest: config.json and run.json, whole.
  REQUIRE(page["pre"].size() == 2);
  CHECK(ordered_json::parse(page["pre"][0].get<std::string>()) == config);
  CHECK(ordered_json::parse(page["pre"][1].get<std::string>()) == ordered_json::parse(bytes_of(run / "run.json")));

  // Without a test split, no confusion matrix; without a validation split, no best epoch.
  train(dir / "plain", "--epochs 2 --set data.validation=0");
  const nlohmann::json plain = read_html(dir / "plain/report.html");
  CHECK(plain["errors"] == nlohmann::json::array());
  CHECK(plain["h2"] == std::vector<std::string>{"Results", "Learning curves", "Time", "Config", "Manifest (run.json)"});
  CHECK(plain["svgs"] == 1);
  for (const auto& t : plain["tables"]) CHECK(t["caption"].get<std::string>().find("best") == std::string::npos);
  fs::remove_all(dir);
}

TEST_CASE("pictures: eval --confusion draws eval's counts, each class's accuracy and the overall accuracy") {
  const fs::path dir = fresh_dir("pictures-confusion");
  // Class names that XML must escape.
  const std::vector<std::string> names{"T-shirt & top", "<Trouser>", "Pull\"over", "Dress", "Coat",
                                       "Sandal",        "Shirt",     "Sneaker",    "Bag",   "Ankle boot"};
  const std::string list = nlohmann::json(names).dump();
  train(dir / "run", "--epochs 2 --set 'data.class_names=" + list + "'" + kTestSplit);
  const fs::path best = dir / "run/checkpoints/best.safetensors";

  const ordered_json eval = eval_json(best, "--confusion " + (dir / "test.svg").string());
  const Svg test = read_svg(dir / "test.svg");
  check_standalone(test);
  check_confusion(test, eval, names);
  CHECK(eval["samples"] == 500);

  // On other data: the 2000 training samples.
  const ordered_json on_train = eval_json(
      best, "--images " + kTrainImages + " --labels " + kTrainLabels + " --confusion " + (dir / "train.svg").string());
  CHECK(on_train["samples"] == 2000);
  const Svg train_svg = read_svg(dir / "train.svg");
  check_standalone(train_svg);
  check_confusion(train_svg, on_train, names);

  // Without --json too; a file that cannot be written is a one-line error, exit 2.
  CHECK(run_nabla("eval " + best.string() + " --confusion " + (dir / "plain.svg").string()).code == 0);
  CHECK(bytes_of(dir / "plain.svg") == bytes_of(dir / "test.svg"));
  const std::string nowhere = (dir / "no-such-folder/c.svg").string();
  const Run bad = run_nabla("eval " + best.string() + " --confusion " + nowhere);
  CHECK(bad.code == 2);
  CHECK(bad.output.rfind(nowhere + ": ", 0) == 0);
  CHECK(std::count(bad.output.begin(), bad.output.end(), '\n') == 1);
  fs::remove_all(dir);
}

TEST_CASE("pictures: nabla plot RUN draws the run's curves again, into RUN/curves.svg") {
  const fs::path dir = fresh_dir("pictures-plot-one");
  train(dir / "run", "--epochs 4 --set optimizer.learning_rate=0.01" + kTestSplit);
  const Svg trained = read_svg(dir / "run/curves.svg");
  write(dir / "run/curves.svg", "not a picture");
  const Run r = nabla_in(dir, "plot run");
  CHECK(r.code == 0);
  CHECK(r.output == "wrote run/curves.svg\n");
  const Svg drawn = read_svg(dir / "run/curves.svg");
  const ordered_json summary = ordered_json::parse(bytes_of(dir / "run/summary.json"));
  check_curves(drawn, json_lines(dir / "run/metrics.jsonl"), summary["best_epoch"]);
  // The same lines as training drew.
  REQUIRE(drawn.polylines.size() == trained.polylines.size());
  for (size_t i = 0; i < drawn.polylines.size(); ++i) {
    CHECK(drawn.polylines[i].stroke == trained.polylines[i].stroke);
    CHECK(drawn.polylines[i].points == trained.polylines[i].points);
  }
  // Given by an absolute path, with a trailing slash: the file it names is the run's curves.svg.
  fs::remove(dir / "run/curves.svg");
  const Run absolute = run_nabla("plot " + (dir / "run").string() + "/");
  CHECK(absolute.code == 0);
  REQUIRE(absolute.output.rfind("wrote ", 0) == 0);
  REQUIRE(absolute.output.back() == '\n');
  const std::string wrote = absolute.output.substr(6, absolute.output.size() - 7);
  REQUIRE(fs::exists(wrote));
  CHECK(fs::equivalent(wrote, dir / "run/curves.svg"));
  check_curves(read_svg(dir / "run/curves.svg"), json_lines(dir / "run/metrics.jsonl"), summary["best_epoch"]);
  CHECK(!fs::exists(dir / "plot.svg"));
  fs::remove_all(dir);
}

TEST_CASE("pictures: nabla plot of several runs, or with --metric, draws a line per run into plot.svg or --output") {
  const fs::path dir = fresh_dir("pictures-plot-runs");
  train(dir / "slow", "--epochs 3 --set optimizer.learning_rate=0.001");
  train(dir / "fast", "--epochs 5 --set optimizer.learning_rate=0.01");
  const std::string slow_curves = bytes_of(dir / "slow/curves.svg"), fast_curves = bytes_of(dir / "fast/curves.svg");
  const std::vector<ordered_json> slow = json_lines(dir / "slow/metrics.jsonl"),
                                  fast = json_lines(dir / "fast/metrics.jsonl");

  // The whole figure is one chart; its legend names the runs by their folders.
  auto check_compared = [&](const fs::path& file, const std::string& metric, bool log,
                            const std::vector<std::pair<std::string, const std::vector<ordered_json>*>>& runs) {
    CAPTURE(file);
    const Svg s = read_svg(file);
    check_standalone(s);
    const Chart c = chart_between(s, -1e9, 1e9);
    const Scale x = scale_of(c.x, false), y = scale_of(c.y, log);
    CHECK(s.has_text(metric));  // the title
    CHECK(s.has_text(metric + (log ? " (log scale)" : "")));
    std::string legend;  // its names, for the messages
    for (const auto& [name, stroke] : c.legend) legend += (legend.empty() ? "" : ", ") + name;
    CAPTURE(legend);
    REQUIRE(c.legend.size() == runs.size());
    REQUIRE(c.polylines.size() == runs.size());
    for (const auto& [name_, rows] : runs) {
      const auto& name = name_;  // clang 14 lets no lambda capture a binding
      CAPTURE(name);
      REQUIRE(c.legend.count(name) == 1);
      check_series(c, c.legend.at(name), column(*rows, "epoch"), column(*rows, metric), x, y);
    }
  };

  // Two runs: validation accuracy, into plot.svg in the current folder.
  const Run two = nabla_in(dir, "plot slow fast");
  CHECK(two.code == 0);
  CHECK(two.output == "wrote plot.svg\n");
  check_compared(dir / "plot.svg", "val_accuracy", false, {{"slow", &slow}, {"fast", &fast}});

  // Another metric, on a log scale for a loss, into --output.
  fs::create_directories(dir / "out");
  const Run loss = nabla_in(dir, "plot fast slow --metric train_loss --output out/loss.svg");
  CHECK(loss.code == 0);
  CHECK(loss.output == "wrote out/loss.svg\n");
  check_compared(dir / "out/loss.svg", "train_loss", true, {{"fast", &fast}, {"slow", &slow}});

  // One run with --metric: a chart of its own, not its curves.svg.
  fs::remove(dir / "plot.svg");
  const Run one = nabla_in(dir, "plot fast --metric lr");
  CHECK(one.code == 0);
  CHECK(one.output == "wrote plot.svg\n");
  check_compared(dir / "plot.svg", "lr", false, {{"fast", &fast}});
  CHECK(bytes_of(dir / "slow/curves.svg") == slow_curves);
  CHECK(bytes_of(dir / "fast/curves.svg") == fast_curves);

  // Two folders of the same name are told apart by their paths as given.
  fs::create_directories(dir / "a");
  fs::create_directories(dir / "b");
  fs::copy(dir / "slow", dir / "a/run", fs::copy_options::recursive);
  fs::copy(dir / "fast", dir / "b/run", fs::copy_options::recursive);
  const Run same = nabla_in(dir, "plot a/run b/run --output same.svg");
  CHECK(same.code == 0);
  check_compared(dir / "same.svg", "val_accuracy", false, {{"a/run", &slow}, {"b/run", &fast}});
  fs::remove_all(dir);
}

TEST_CASE("pictures: nabla plot's errors: a metric no run has, a folder that is no run, an output it cannot write") {
  const fs::path dir = fresh_dir("pictures-plot-errors");
  train(dir / "plain", "--epochs 1");
  train(dir / "tested", "--epochs 1" + kTestSplit);
  // The metrics the runs have: the numbers in their rows but epoch and step, in the order first seen.
  std::string known;
  std::vector<std::string> seen;
  for (const char* run : {"plain", "tested"})
    for (const ordered_json& row : json_lines(dir / run / "metrics.jsonl"))
      for (const auto& [key, value] : row.items())
        if (value.is_number() && key != "epoch" && key != "step" &&
            std::find(seen.begin(), seen.end(), key) == seen.end()) {
          seen.push_back(key);
          known += (known.empty() ? "" : ", ") + key;
        }
  CHECK(known.find("test_accuracy") != std::string::npos);

  const Run typo = nabla_in(dir, "plot plain tested --metric val_acuracy");
  CHECK(typo.code == 2);
  CHECK(typo.output ==
        "nabla plot: --metric val_acuracy: no run has it (they have " + known + "); did you mean val_accuracy?\n");
  const Run far = nabla_in(dir, "plot plain tested --metric bogus");
  CHECK(far.code == 2);
  CHECK(far.output == "nabla plot: --metric bogus: no run has it (they have " + known + ")\n");

  fs::create_directories(dir / "empty");
  const Run empty = nabla_in(dir, "plot plain empty");
  CHECK(empty.code == 2);
  CHECK(empty.output == "empty: has no metrics.jsonl (not a run folder of nabla train?)\n");
  const Run absent = nabla_in(dir, "plot absent");
  CHECK(absent.code == 2);
  CHECK(absent.output == "absent: has no metrics.jsonl (not a run folder of nabla train?)\n");
  write(dir / "empty/metrics.jsonl", "");
  const Run no_rows = nabla_in(dir, "plot empty");
  CHECK(no_rows.code == 2);
  CHECK(no_rows.output == "empty: metrics.jsonl holds no rows yet\n");
  CHECK(!fs::exists(dir / "plot.svg"));
  CHECK(!fs::exists(dir / "empty/curves.svg"));

  const Run nowhere = nabla_in(dir, "plot plain tested --output no-such-folder/plot.svg");
  CHECK(nowhere.code == 2);
  CHECK(nowhere.output.rfind("no-such-folder/plot.svg: ", 0) == 0);
  CHECK(std::count(nowhere.output.begin(), nowhere.output.end(), '\n') == 1);
  const Run none = nabla_in(dir, "plot");
  CHECK(none.code == 2);
  CHECK(std::count(none.output.begin(), none.output.end(), '\n') == 1);
  fs::remove_all(dir);
}
