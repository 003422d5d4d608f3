// What `nabla predict` reads, told by content: IDX (raw, gzip, float32), PGM (P5 and P2), PNG
// (libpng) and CSV, for a network of 784 inputs (or, by the first byte's bit 0, of 4: small images
// and short rows get through to the pixels); bit 1 is --csv-header. Every sample is read.
#include <memory>
#include <string>
#include <vector>

#include "data/inputs.hpp"
#include "fuzz_file.hpp"
#include "util/error.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const std::string path = fuzz::write_file("input", data + 1, size - 1);
  const int64_t features = data[0] & 1 ? 4 : 784;
  try {
    auto inputs = nabla::data::Inputs::open(path, features, 255.0, data[0] & 2);
    std::vector<float> x(size_t(16 * features));
    while (inputs->read(16, x.data()) > 0) {
    }
  } catch (const nabla::Error&) {
  }
  return 0;
}
