// The checkpoint reader: the safetensors container (header length, JSON header, dtypes, shapes,
// data offsets), then the checkpoint behind it (metadata, the config in it, every tensor against
// the network the config describes). Mutated bytes rarely keep their CRC-32s, and a checkpoint
// whose CRC fails is refused before anything else is read: so a file that is valid safetensors is
// sealed again here (both CRCs recomputed, as save_checkpoint computes them) and read as a
// checkpoint too, and the fuzzer reaches the checks behind the CRCs.
#include <zlib.h>

#include <map>
#include <string>

#include "fuzz_file.hpp"
#include "io/checkpoint.hpp"
#include "io/safetensors.hpp"
#include "util/error.hpp"

namespace {

std::string hex32(uint32_t v) {
  char s[9];
  snprintf(s, sizeof s, "%08x", v);
  return s;
}

uint32_t crc_of(const std::string& bytes) {
  return uint32_t(crc32(crc32(0L, Z_NULL, 0), reinterpret_cast<const Bytef*>(bytes.data()), uInt(bytes.size())));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = fuzz::write_file("model.safetensors", data, size);
  nabla::io::SafetensorsFile file;
  try {
    file = nabla::io::read_safetensors(path);
  } catch (const nabla::Error&) {
    return 0;
  }
  // Sealed again: crc32 over the tensor bytes, then crc32_metadata over every other key and value,
  // in key order, each followed by a NUL (checkpoint.cpp's definition).
  std::map<std::string, std::string> m = file.metadata;
  if (m.count("crc32")) m["crc32"] = hex32(crc_of(file.data));
  if (m.count("crc32_metadata")) {
    std::string all;
    for (const auto& [key, value] : m)
      if (key != "crc32_metadata") all += key + '\0' + value + '\0';
    m["crc32_metadata"] = hex32(crc_of(all));
  }
  std::vector<nabla::io::TensorBytes> tensors;
  for (const auto& t : file.tensors)
    tensors.push_back({t.name, t.dtype, t.shape, file.bytes(t), size_t(t.end - t.begin)});
  const std::string sealed = fuzz::write_file("sealed.safetensors", nabla::io::encode_safetensors(tensors, m));
  try {
    (void)nabla::io::load_checkpoint(sealed);
  } catch (const nabla::Error&) {
  }
  return 0;
}
