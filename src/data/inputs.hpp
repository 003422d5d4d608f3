#pragma once
// Samples without labels, as `nabla predict` reads them: one input file at a time, streamed in
// batches, scaled exactly as training scales its data (x = raw / scale). What a file holds is told
// by its content, not its name:
//   IDX images (raw or gzip; magic 0x00000803/0x00000802, or 0x00000D..: float32), every record a sample;
//   a PGM image (P5 binary or P2 text, 8-bit), one sample; any maxval other than 255 is mapped to 0..255;
//   a PNG image (libpng), one sample: any bit depth or colour type, read as 8-bit grey (colour by its
//   luminance, transparent pixels over black);
//   otherwise CSV text, a sample a row: `features` values, or a label and then `features` values (the
//   label is passed over); a first row that is not numbers is a header, and with `csv_header` the first
//   row is one whatever it holds.
#include <cstdint>
#include <memory>
#include <string>

namespace nabla::data {

class Inputs {
 public:
  // Opens `path` for a network of `features` inputs and checks that its samples have that size.
  // Throws nabla::Error naming the file (and the sample, line or byte offset) and both sizes.
  static std::unique_ptr<Inputs> open(const std::string& path, int64_t features, double scale, bool csv_header = false);
  virtual ~Inputs() = default;

  // Up to n samples, scaled, into x (n x features, row-major); returns how many (0 at the end).
  virtual int64_t read(int64_t n, float* x) = 0;
  const std::string& path() const { return path_; }

 protected:
  Inputs(std::string path, int64_t features, double scale)
      : path_(std::move(path)), features_(features), scale_(scale) {}
  std::string path_;
  int64_t features_;
  double scale_;
};

}  // namespace nabla::data
