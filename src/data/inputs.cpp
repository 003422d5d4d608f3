#include "data/inputs.hpp"

#include <png.h>

#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <memory>
#include <string_view>
#include <vector>

#include "data/file.hpp"
#include "data/idx.hpp"
#include "data/loader.hpp"
#include "util/error.hpp"

namespace nabla::data {

namespace {

std::string size_text(int64_t features) { return std::to_string(features) + " features"; }

std::string image_size_error(int64_t width, int64_t height, int64_t features) {
  const bool small = width < (int64_t(1) << 31) && height < (int64_t(1) << 31);
  return "is a " + std::to_string(width) + "x" + std::to_string(height) + " image" +
         (small ? " = " + size_text(width * height) : "") + ", the checkpoint's network takes " + size_text(features);
}

// IDX images: the records stream through a buffer of one batch's bytes.
class IdxInputs final : public Inputs {
 public:
  IdxInputs(const std::string& path, int64_t features, double scale)
      : Inputs(path, features, scale), file_(path), header_(read_idx_header(file_, IdxKind::images)) {
    const int64_t have = header_.record_elements();
    if (have != features) {
      const bool image = header_.dims.size() == 3;
      throw Error(path, "",
                  "holds samples of " +
                      (image ? std::to_string(header_.dims[1]) + "x" + std::to_string(header_.dims[2]) + " = " : "") +
                      size_text(have) + ", the checkpoint's network takes " + size_text(features));
    }
  }

  int64_t read(int64_t n, float* x) override {
    n = std::min(n, header_.count() - done_);
    if (n <= 0) {
      if (!finished_) expect_idx_end(file_, header_), finished_ = true;
      return 0;
    }
    const int64_t bytes = header_.record_bytes();
    buffer_.resize(size_t(n * bytes));
    read_idx_records(file_, header_, done_, n, buffer_.data());
    for (int64_t i = 0; i < n; ++i)
      scale_sample(header_.dtype, buffer_.data() + i * bytes, features_, scale_, x + i * features_);
    done_ += n;
    return n;
  }

 private:
  InputFile file_;
  IdxHeader header_;
  int64_t done_ = 0;
  bool finished_ = false;
  std::vector<uint8_t> buffer_;
};

// One image: a sample of 8-bit grey pixels, which the constructor of a format's class fills.
class ImageInputs : public Inputs {
 public:
  int64_t read(int64_t n, float* x) override {
    if (done_ || n <= 0) return 0;
    scale_sample(Dtype::u8, pixels_.data(), features_, scale_, x);
    done_ = true;
    return 1;
  }

 protected:
  using Inputs::Inputs;
  std::vector<uint8_t> pixels_;

 private:
  bool done_ = false;
};

// One PGM image (Netpbm's portable graymap): "P5" or "P2", width, height, maxval, then the pixels.
class PgmInputs final : public ImageInputs {
 public:
  PgmInputs(const std::string& path, int64_t features, double scale) : ImageInputs(path, features, scale) {
    std::ifstream in(path, std::ios::binary);
    text_.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    const bool binary = text_.compare(0, 2, "P5") == 0;
    pos_ = 2;
    const int64_t width = number("width"), height = number("height"), maxval = number("maxval");
    if (maxval < 1 || maxval > 255)
      throw Error(path, "", "maxval " + std::to_string(maxval) + ": expected an 8-bit image (maxval 1 to 255)");
    // Compared without overflow: a header may give any width and height.
    if (width == 0 || height == 0 || width > features / height || width * height != features)
      throw Error(path, "", image_size_error(width, height, features));
    pixels_.resize(size_t(features));
    if (binary) {
      // One whitespace byte after maxval, then exactly the pixels.
      if (pos_ >= text_.size() || !std::isspace(static_cast<unsigned char>(text_[pos_])))
        throw Error(path, "byte offset " + std::to_string(pos_), "expected one whitespace byte after the maxval");
      ++pos_;
      if (text_.size() != pos_ + size_t(features))
        throw Error(path, "byte offset " + std::to_string(pos_),
                    "expected " + std::to_string(features) + " pixels to the end of the file, found " +
                        std::to_string(text_.size() - pos_) + " bytes");
      std::memcpy(pixels_.data(), text_.data() + pos_, size_t(features));
    } else {
      for (int64_t k = 0; k < features; ++k) pixels_[size_t(k)] = uint8_t(std::min<int64_t>(number("a pixel"), 255));
    }
    // The network learnt intensities of 0..255: another maxval is mapped onto that range.
    if (maxval != 255)
      for (uint8_t& p : pixels_)
        p = uint8_t(std::lround(double(std::min<int64_t>(p, maxval)) * 255.0 / double(maxval)));
  }

 private:
  // The next decimal number of the header (whitespace and # comments before it).
  int64_t number(const char* what) {
    while (pos_ < text_.size()) {
      if (text_[pos_] == '#') {
        while (pos_ < text_.size() && text_[pos_] != '\n') ++pos_;
      } else if (std::isspace(static_cast<unsigned char>(text_[pos_]))) {
        ++pos_;
      } else {
        break;
      }
    }
    int64_t v = 0;
    const char* first = text_.data() + pos_;
    const auto [end, ec] = std::from_chars(first, text_.data() + text_.size(), v);
    if (ec != std::errc() || v < 0)
      throw Error(path_, "byte offset " + std::to_string(pos_),
                  std::string("expected the PGM ") + what + " (a number)");
    pos_ += size_t(end - first);
    return v;
  }

  std::string text_;
  size_t pos_ = 0;
};

// One PNG image, through libpng's simplified API: any bit depth and colour type becomes 8-bit grey
// (colour by its luminance, transparency over black, the background of the training images).
class PngInputs final : public ImageInputs {
 public:
  PngInputs(const std::string& path, int64_t features, double scale) : ImageInputs(path, features, scale) {
    std::unique_ptr<FILE, int (*)(FILE*)> file(std::fopen(path.c_str(), "rb"), &std::fclose);
    if (!file) throw Error(path, "", "cannot open: " + std::string(std::strerror(errno)));
    png_image image{};
    image.version = PNG_IMAGE_VERSION;
    // Only the header is read here: the size is checked before any pixel is.
    if (!png_image_begin_read_from_stdio(&image, file.get())) fail(image);
    const int64_t width = image.width, height = image.height;  // 32-bit each: no overflow
    if (width * height != features) {
      png_image_free(&image);
      throw Error(path, "", image_size_error(width, height, features));
    }
    image.format = PNG_FORMAT_GRAY;
    pixels_.assign(size_t(features), 0);  // black, for transparent pixels to be composed onto
    if (!png_image_finish_read(&image, nullptr, pixels_.data(), 0, nullptr)) fail(image);
  }

 private:
  [[noreturn]] void fail(png_image& image) {
    std::string message = image.message;
    if (message == "Read Error") message = "the file ends early (libpng: Read Error)";
    png_image_free(&image);
    throw Error(path_, "", "not a PNG image libpng can read: " + message);
  }
};

// CSV rows of numbers, with or without a label first: told apart by the column count.
class CsvInputs final : public Inputs {
 public:
  CsvInputs(const std::string& path, int64_t features, double scale, bool header)
      : Inputs(path, features, scale), in_(path), header_(header) {
    if (!in_) throw Error(path, "", "cannot open: " + std::string(std::strerror(errno)));
  }

  int64_t read(int64_t n, float* x) override {
    int64_t got = 0;
    std::string line;
    while (got < n && std::getline(in_, line)) {
      ++line_;
      if (!line.empty() && line.back() == '\r') line.pop_back();
      if (line_ == 1 && header_) continue;
      if (line.find_first_not_of(" \t") == std::string::npos) continue;
      if (row(line, x + got * features_)) ++got;
    }
    return got;
  }

 private:
  // Parses one row into x; false for a header (a first row that does not start with a number).
  bool row(std::string line, float* x) {
    if (line_ == 1 && line.rfind("\xEF\xBB\xBF", 0) == 0) line.erase(0, 3);  // a UTF-8 byte-order mark
    std::vector<std::string_view> fields;
    for (size_t at = 0;;) {
      const size_t comma = line.find(',', at);
      fields.emplace_back(
          std::string_view(line).substr(at, comma == std::string::npos ? std::string::npos : comma - at));
      if (comma == std::string::npos) break;
      at = comma + 1;
    }
    const int64_t columns = int64_t(fields.size());
    const bool labelled = columns == features_ + 1;
    if (columns != features_ && !labelled) {
      if (line_ == 1 && !numeric(fields[0])) return false;
      throw Error(path_, "line " + std::to_string(line_),
                  std::to_string(columns) + " columns: the checkpoint's network takes " + size_text(features_) +
                      " (a row holds them, after a label or not)");
    }
    for (int64_t k = 0; k < features_; ++k) {
      const std::string_view f = trimmed(fields[size_t(k + (labelled ? 1 : 0))]);
      float v = 0;  // read as a float, as the training loader reads CSV (a value beyond float is refused)
      const auto [end, ec] = std::from_chars(f.data(), f.data() + f.size(), v);
      if (ec != std::errc() || end != f.data() + f.size() || !std::isfinite(v)) {
        if (line_ == 1 && k == 0) return false;  // a header
        throw Error(path_, "line " + std::to_string(line_) + ", column " + std::to_string(k + (labelled ? 2 : 1)),
                    "expected a number, found " + shown(f));
      }
      // As the training loader holds CSV data: bytes where a value is one, floats otherwise.
      const bool byte = v >= 0 && v <= 255 && v == std::floor(v);
      const uint8_t b = byte ? uint8_t(v) : 0;
      if (byte)
        scale_sample(Dtype::u8, &b, 1, scale_, x + k);
      else
        scale_sample(Dtype::f32, reinterpret_cast<const uint8_t*>(&v), 1, scale_, x + k);
    }
    return true;
  }

  // A field for a message: quoted, its control bytes as \xNN, at most 40 bytes of it.
  static std::string shown(std::string_view f) {
    std::string s = "\"";
    for (size_t i = 0; i < f.size() && i < 40; ++i) {
      const unsigned char ch = static_cast<unsigned char>(f[i]);
      char hex[8];
      std::snprintf(hex, sizeof hex, "\\x%02X", ch);
      s += ch < 0x20 || ch == 0x7f ? std::string(hex) : std::string(1, char(ch));
    }
    return s + (f.size() > 40 ? "...\"" : "\"");
  }

  static std::string_view trimmed(std::string_view f) {
    while (!f.empty() && (f.front() == ' ' || f.front() == '\t')) f.remove_prefix(1);
    while (!f.empty() && (f.back() == ' ' || f.back() == '\t')) f.remove_suffix(1);
    return f;
  }
  static bool numeric(std::string_view f) {
    f = trimmed(f);
    double v = 0;
    const auto [end, ec] = std::from_chars(f.data(), f.data() + f.size(), v);
    return ec == std::errc() && end == f.data() + f.size();
  }

  std::ifstream in_;
  bool header_;
  int64_t line_ = 0;
};

}  // namespace

std::unique_ptr<Inputs> Inputs::open(const std::string& path, int64_t features, double scale, bool csv_header) {
  // What the file holds, from its first bytes (gzip is inflated for the look).
  InputFile probe(path);
  unsigned char head[4] = {};
  const int64_t got = probe.read(head, 4);
  if (got >= 2 && head[0] == 'P' && (head[1] == '5' || head[1] == '2')) {
    if (probe.gzip()) throw Error(path, "", "a gzip-compressed PGM image: decompress it first");
    return std::make_unique<PgmInputs>(path, features, scale);
  }
  if (got == 4 && head[0] == 0x89 && head[1] == 'P' && head[2] == 'N' && head[3] == 'G') {
    if (probe.gzip()) throw Error(path, "", "a gzip-compressed PNG image: decompress it first");
    return std::make_unique<PngInputs>(path, features, scale);
  }
  if (got == 4 && head[0] == 0 && head[1] == 0 && (head[2] == 0x08 || head[2] == 0x0D))
    return std::make_unique<IdxInputs>(path, features, scale);
  if (probe.gzip()) throw Error(path, "", "gzip data that is not IDX images: predict reads CSV uncompressed");
  return std::make_unique<CsvInputs>(path, features, scale, csv_header);
}

}  // namespace nabla::data
