#pragma once
// The safetensors format (the `safetensors` project's): an 8-byte little-endian header length N, N
// bytes of JSON header, then the raw little-endian tensors in C order, contiguous, with no gaps:
//
//   {"layers.0.weight": {"dtype": "F32", "shape": [256, 784], "data_offsets": [0, 802816]}, ...,
//    "__metadata__": {"key": "string value", ...}}
//
// data_offsets count from the first byte after the header. Reading checks everything before any
// byte is used; each failure says which check failed, with the expected and the actual values.
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace nabla::io {

struct TensorEntry {
  std::string name;
  std::string dtype;  // "F32" or "F64" (what nabla writes and reads)
  std::vector<int64_t> shape;
  uint64_t begin = 0, end = 0;  // data_offsets
};

struct SafetensorsFile {
  std::vector<TensorEntry> tensors;  // in data order
  std::map<std::string, std::string> metadata;
  std::string data;  // every tensor's bytes, data_offsets index into it
  const char* bytes(const TensorEntry& t) const { return data.data() + t.begin; }
};

// Serialises tensors (each with its bytes) and metadata into one safetensors file image. The header
// is padded with spaces to a multiple of 8 bytes, so the tensors start aligned.
struct TensorBytes {
  std::string name, dtype;
  std::vector<int64_t> shape;
  const void* data = nullptr;
  size_t size = 0;  // bytes
};
std::string encode_safetensors(const std::vector<TensorBytes>& tensors,
                               const std::map<std::string, std::string>& metadata);

// Reads and validates a whole file. Throws nabla::Error "PATH: what failed: expected ..., found ...".
SafetensorsFile read_safetensors(const std::string& path);

// The largest header nabla accepts (the safetensors project's own limit is 100 MB).
constexpr uint64_t kMaxHeaderBytes = 100'000'000;

}  // namespace nabla::io
