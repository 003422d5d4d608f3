#include "data/csv.hpp"

#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>
#include <set>

#include "util/error.hpp"

namespace nabla::data {
namespace {

constexpr size_t kInitialBuffer = size_t(64) << 10;

bool blank(std::string_view s) {
  for (char c : s)
    if (c != ' ' && c != '\t') return false;
  return true;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// Splits off the next comma-separated field of `rest`.
std::string_view next_field(std::string_view& rest) {
  size_t comma = rest.find(',');
  std::string_view field = rest.substr(0, comma);
  rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
  return trim(field);
}

int64_t count_columns(std::string_view line) {
  int64_t n = 1;
  for (char c : line) n += c == ',';
  return n;
}

bool parse_int(std::string_view f, int64_t& v) {
  const char* end = f.data() + f.size();
  auto [p, ec] = std::from_chars(f.data(), end, v);
  return ec == std::errc() && p == end && !f.empty();
}

bool parse_float(std::string_view f, float& v) {
  const char* end = f.data() + f.size();
  auto [p, ec] = std::from_chars(f.data(), end, v);
  return ec == std::errc() && p == end && !f.empty() && std::isfinite(v);
}

// A field for a message: its first 24 bytes, quoted, with control bytes (a NUL would end the
// message where it is printed) written as \xNN.
std::string quoted(std::string_view f) {
  if (f.empty()) return "an empty field";
  std::string s = "\"";
  for (const char ch : f.substr(0, 24)) {
    if ((unsigned char)ch < 0x20 || ch == 0x7f) {
      char hex[8];
      std::snprintf(hex, sizeof hex, "\\x%02x", unsigned((unsigned char)ch));
      s += hex;
    } else {
      s += ch;
    }
  }
  if (f.size() > 24) s += "...";
  s += '"';
  return s;
}

// A number, finite or not, that parse_float refused: beyond float32's range (or inf, nan).
bool is_number(std::string_view f) {
  double d = 0;
  const auto [p, ec] = std::from_chars(f.data(), f.data() + f.size(), d);
  return !f.empty() && p == f.data() + f.size() && (ec == std::errc() || ec == std::errc::result_out_of_range);
}

// What a feature that parse_float refused is.
std::string not_a_feature(std::string_view f) {
  return is_number(f) ? "expected a finite number within float32's range (about ±3.4e38), found " + quoted(f)
                      : "expected a number, found " + quoted(f);
}

}  // namespace

CsvReader::CsvReader(const std::string& path, bool header) : file_(path), header_(header), buf_(kInitialBuffer) {
  rewind();
}

void CsvReader::fail(int64_t column, const std::string& what) const {
  std::string where = "line " + std::to_string(line_);
  if (column > 0) where += ", column " + std::to_string(column);
  throw Error(file_.path(), where, what);
}

bool CsvReader::next_line(std::string_view& line) {
  for (;;) {
    const char* begin = buf_.data() + pos_;
    if (const void* nl = std::memchr(begin, '\n', end_ - pos_)) {
      size_t len = size_t(static_cast<const char*>(nl) - begin);
      line = std::string_view(begin, len);
      pos_ += len + 1;
      break;
    }
    if (eof_) {
      if (pos_ == end_) return false;
      line = std::string_view(begin, end_ - pos_);  // a last line without "\n"
      pos_ = end_;
      break;
    }
    if (pos_ > 0) {
      std::memmove(buf_.data(), begin, end_ - pos_);
      end_ -= pos_;
      pos_ = 0;
    }
    if (end_ == buf_.size()) buf_.resize(buf_.size() * 2);  // a line longer than the buffer
    int64_t got = file_.read(buf_.data() + end_, int64_t(buf_.size() - end_));
    if (got == 0) eof_ = true;
    end_ += size_t(got);
  }
  ++line_;
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  return true;
}

bool CsvReader::next_data_line(std::string_view& line) {
  while (next_line(line))
    if (!blank(line)) return true;
  return false;
}

int64_t CsvReader::restart() {
  file_.rewind();
  pos_ = end_ = 0;
  eof_ = false;
  line_ = 0;
  if (!header_) return 0;
  std::string_view line;
  if (!next_data_line(line))
    throw Error(file_.path(), "line 1", "expected a header row (data.csv_header is true), found the end of the file");
  return count_columns(line);
}

void CsvReader::rewind() { restart(); }

bool CsvReader::skip_rows(int64_t n) {
  std::string_view line;
  for (int64_t i = 0; i < n; ++i)
    if (!next_data_line(line)) return false;
  return true;
}

// A field that does not parse on line 1 of a file read without a header may be the header.
std::string CsvReader::header_hint() const {
  return !header_ && line_ == 1
             ? " (is line 1 a header? set data.csv_header to true, or pass --csv-header to nabla eval)"
             : "";
}

Info CsvReader::scan() {
  int64_t header_columns = restart();
  int64_t header_line = line_;

  Info layout;
  int64_t columns = 0, first_line = 0;
  int64_t max_label = -1;
  std::set<int64_t> labels;
  std::string_view line;
  while (next_data_line(line)) {
    int64_t n = count_columns(line);
    if (columns == 0) {
      columns = n;
      first_line = line_;
      if (n < 2) fail(0, "expected a label and at least one feature, found 1 column");
      if (header_ && header_columns != n)
        // Either may be the wrong one (a cut or garbled row, a header of another file): both are named.
        throw Error(file_.path(), "line " + std::to_string(header_line),
                    "the header has " + std::to_string(header_columns) + " columns but the first row (line " +
                        std::to_string(line_) + ") has " + std::to_string(n) + ": they must agree");
    } else if (n != columns) {
      fail(0, "expected " + std::to_string(columns) + " columns (a label and " + std::to_string(columns - 1) +
                  " features, as on line " + std::to_string(first_line) + "), found " + std::to_string(n));
    }
    std::string_view rest = line;
    std::string_view f = next_field(rest);
    int64_t label;
    if (!parse_int(f, label) || label < 0 || label > std::numeric_limits<int32_t>::max()) {
      float v;
      bool number = parse_float(f, v);
      fail(1, "expected a non-negative integer label, found " + quoted(f) + (number ? "" : header_hint()));
    }
    if (label > max_label) max_label = label;
    labels.insert(label);
    for (int64_t c = 2; c <= columns; ++c) {
      f = next_field(rest);
      int64_t i;
      if (layout.dtype == Dtype::u8 && parse_int(f, i) && i >= 0 && i <= 255) continue;
      float v;
      if (!parse_float(f, v)) fail(c, not_a_feature(f) + (is_number(f) ? "" : header_hint()));
      layout.dtype = Dtype::f32;
    }
    ++layout.count;
  }
  if (layout.count == 0)
    throw Error(
        file_.path(), "",
        std::string("expected at least one row of data") + (header_ ? " after the header" : "") + ", found none");
  layout.rows = 1;
  layout.features = layout.cols = columns - 1;
  layout.classes = max_label + 1;
  layout.labels_seen = int64_t(labels.size());
  return layout;
}

bool CsvReader::next_row(Dtype dtype, int64_t features, void* x, int32_t& label) {
  std::string_view line;
  if (!next_data_line(line)) return false;
  int64_t n = count_columns(line);
  if (n != features + 1)
    fail(0, "expected " + std::to_string(features + 1) + " columns (a label and " + std::to_string(features) +
                " features), found " + std::to_string(n) + " (did the file change while it was read?)");
  std::string_view rest = line;
  std::string_view f = next_field(rest);
  int64_t l;
  if (!parse_int(f, l) || l < 0 || l > std::numeric_limits<int32_t>::max())
    fail(1, "expected a non-negative integer label, found " + quoted(f));
  label = int32_t(l);
  for (int64_t c = 0; c < features; ++c) {
    f = next_field(rest);
    if (dtype == Dtype::u8) {
      int64_t i;
      if (!parse_int(f, i) || i < 0 || i > 255)
        fail(c + 2, "expected an integer in 0..255, found " + quoted(f) + " (did the file change while it was read?)");
      static_cast<uint8_t*>(x)[c] = uint8_t(i);
    } else {
      float v;
      if (!parse_float(f, v)) fail(c + 2, not_a_feature(f));
      static_cast<float*>(x)[c] = v;
    }
  }
  return true;
}

}  // namespace nabla::data
