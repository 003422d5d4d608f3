// The CSV reader as training reads a split: open_source (the full scan: columns, numbers, labels,
// the dtype), then every row in order and finish. The first byte's bit 0 is --csv-header.
#include <string>

#include "config/types.hpp"
#include "data/source.hpp"
#include "fuzz_file.hpp"
#include "util/error.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  nabla::DataSource file;
  file.csv = fuzz::write_file("data.csv", data + 1, size - 1);
  try {
    auto source = nabla::data::open_source(file, nabla::DataFormat::csv, data[0] & 1);
    fuzz::read_all(*source);
  } catch (const nabla::Error&) {
  }
  return 0;
}
