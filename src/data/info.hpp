#pragma once
// What a data source holds, as its headers (IDX) or a scan of every row (CSV) tell it.
#include <cstdint>

namespace nabla::data {

// How a sample's features are held: as stored (u8), or as native float32.
enum class Dtype : uint8_t { u8 = 0x08, f32 = 0x0D };
inline int64_t dtype_bytes(Dtype t) { return t == Dtype::u8 ? 1 : 4; }

struct Info {
  int64_t count = 0;        // samples
  int64_t rows = 0;         // image height (CSV: 1)
  int64_t cols = 0;         // image width (CSV: the feature count)
  int64_t features = 0;     // rows * cols
  Dtype dtype = Dtype::u8;  // CSV: u8 when every feature is an integer in 0..255
  int64_t classes = 0;      // max label + 1, once the labels have been read (0 before)
  int64_t labels_seen = 0;  // how many of those labels have a sample (then too)
  int64_t sample_bytes() const { return features * dtype_bytes(dtype); }
};

}  // namespace nabla::data
