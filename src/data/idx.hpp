#pragma once
// The IDX format (LeCun's MNIST files): a 4-byte magic number 00 00 TYPE NDIMS, NDIMS big-endian
// uint32 dimensions, then the elements in row-major order, big-endian. nabla reads
//   images: 0x00000803 (u8, count x rows x cols), 0x00000802 (u8, count x features),
//           0x00000D03 / 0x00000D02 (the same with float32 elements);
//   labels: 0x00000801 (u8, count).
// A file must hold exactly the bytes its header announces: a short file and trailing bytes are both
// errors, with the byte offset where the data ends or the surplus begins.
#include <cstdint>
#include <string>
#include <vector>

#include "data/file.hpp"
#include "data/info.hpp"

namespace nabla::data {

enum class IdxKind { images, labels };

struct IdxHeader {
  Dtype dtype = Dtype::u8;
  std::vector<int64_t> dims;  // dims[0]: the record count
  int64_t header_bytes = 0;   // 4 + 4 * dims.size()

  int64_t count() const { return dims[0]; }
  int64_t record_elements() const;  // the product of dims[1..]; 1 for labels
  int64_t record_bytes() const { return record_elements() * dtype_bytes(dtype); }
  int64_t total_bytes() const { return header_bytes + count() * record_bytes(); }
};

// Reads and checks the header at the start of `file`'s data, leaving the file just after it. For a
// raw file it also checks that the file size is exactly header + count x record bytes.
IdxHeader read_idx_header(InputFile& file, IdxKind kind);

// Reads records from `file` (positioned after the header, `done` records already read) into `dst`,
// exactly n of them, or throws the truncation error with the offset where the data ends. float32
// records come out in native byte order.
void read_idx_records(InputFile& file, const IdxHeader& h, int64_t done, int64_t n, void* dst);

// After the last record: throws if more data follows (the gzip CRC is checked on the way).
void expect_idx_end(InputFile& file, const IdxHeader& h);

// A whole IDX file in memory (tests, tools): the header and the records, float32 in native order.
struct IdxArray {
  IdxHeader header;
  std::vector<uint8_t> bytes;
};
IdxArray read_idx(const std::string& path, IdxKind kind);

// Big-endian float32 -> native, in place.
void float32_from_big_endian(void* data, int64_t count);

// float32 IDX values must be finite: a NaN or an infinity in the data is refused where it stands,
// `offset` being the data offset of values[0]. Throws nabla::Error naming the file and byte offset.
void expect_finite_f32(const InputFile& file, const void* values, int64_t count, int64_t offset);

}  // namespace nabla::data
