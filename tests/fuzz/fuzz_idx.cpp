// The IDX reader, raw and gzip, as training reads a split: open_source (headers, sizes, equal counts),
// check_all (every byte, labels), then every sample in order and finish (nothing after the last
// sample, gzip's CRCs). The input's first byte chooses: bit 0 gzips the images here (so the
// fuzzer's IDX bytes reach the IDX parser behind zlib), bit 1 the labels; bytes 1-2 are the length
// of the images file (big-endian), the rest is the labels file. A seed of real .gz files arrives
// as is, with the bits clear, and fuzzes the gzip layer itself.
#include <zlib.h>

#include <string>

#include "config/types.hpp"
#include "data/source.hpp"
#include "fuzz_file.hpp"
#include "util/error.hpp"

namespace {

std::string gzipped(const std::string& raw) {
  z_stream z{};
  if (deflateInit2(&z, 1, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY) != Z_OK) abort();
  std::string out(deflateBound(&z, raw.size()), '\0');
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(raw.data()));
  z.avail_in = uInt(raw.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = uInt(out.size());
  if (deflate(&z, Z_FINISH) != Z_STREAM_END) abort();
  out.resize(z.total_out);
  deflateEnd(&z);
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 3) return 0;
  const int mode = data[0];
  const size_t split = std::min(size - 3, size_t(data[1]) << 8 | data[2]);
  std::string images(reinterpret_cast<const char*>(data + 3), split);
  std::string labels(reinterpret_cast<const char*>(data + 3 + split), size - 3 - split);
  if (mode & 1) images = gzipped(images);
  if (mode & 2) labels = gzipped(labels);
  nabla::DataSource split_files;
  split_files.images = fuzz::write_file("images", images);
  split_files.labels = fuzz::write_file("labels", labels);
  try {
    auto source = nabla::data::open_source(split_files, nabla::DataFormat::idx, false);
    fuzz::read_all(*source);
  } catch (const nabla::Error&) {
  }
  return 0;
}
