#include "data/idx.hpp"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdio>
#include <cstring>

#include "math/finite.hpp"
#include "util/error.hpp"

namespace nabla::data {
namespace {

std::string hex32(uint32_t v) {
  char s[16];
  std::snprintf(s, sizeof s, "0x%08X", v);
  return s;
}

uint32_t big_endian_u32(const unsigned char* b) {
  return (uint32_t(b[0]) << 24) | (uint32_t(b[1]) << 16) | (uint32_t(b[2]) << 8) | uint32_t(b[3]);
}

std::string expected_magic(IdxKind kind) {
  return kind == IdxKind::images
             ? "an IDX images magic number 0x00000803 (u8, count x rows x cols), 0x00000802 (u8, count x "
               "features) or 0x00000D03 / 0x00000D02 (float32)"
             : "an IDX labels magic number 0x00000801 (u8, count)";
}

std::string record_text(const IdxHeader& h, IdxKind kind) {
  if (kind == IdxKind::labels) return std::to_string(h.count()) + " u8 labels";
  std::string s = std::to_string(h.count()) + " images of ";
  for (size_t i = 1; i < h.dims.size(); ++i) s += (i > 1 ? "x" : "") + std::to_string(h.dims[i]);
  return s + (h.dtype == Dtype::u8 ? " u8" : " float32");
}

}  // namespace

int64_t IdxHeader::record_elements() const {
  int64_t n = 1;
  for (size_t i = 1; i < dims.size(); ++i) n *= dims[i];
  return n;
}

IdxHeader read_idx_header(InputFile& file, IdxKind kind) {
  const std::string& path = file.path();
  unsigned char b[4];
  int64_t got = file.read(b, 4);
  if (got < 4)
    throw Error(
        path, file.where(got),
        "expected " + expected_magic(kind) + ", found the end of the file after " + std::to_string(got) + " bytes");
  uint32_t magic = big_endian_u32(b);
  int ndims = b[3];
  bool ok = b[0] == 0 && b[1] == 0 &&
            (kind == IdxKind::images ? (b[2] == 0x08 || b[2] == 0x0D) && (ndims == 2 || ndims == 3)
                                     : b[2] == 0x08 && ndims == 1);
  if (!ok) {
    std::string hint;
    if (kind == IdxKind::images && magic == 0x00000801) hint = " (a labels file: are images and labels swapped?)";
    if (kind == IdxKind::labels && (magic == 0x00000803 || magic == 0x00000D03))
      hint = " (an images file: are images and labels swapped?)";
    throw Error(path, file.where(0), "expected " + expected_magic(kind) + ", found " + hex32(magic) + hint);
  }

  IdxHeader h;
  h.dtype = b[2] == 0x08 ? Dtype::u8 : Dtype::f32;
  h.header_bytes = 4 + 4 * int64_t(ndims);
  for (int i = 0; i < ndims; ++i) {
    int64_t at = 4 + 4 * int64_t(i);
    got = file.read(b, 4);
    if (got < 4)
      throw Error(path, file.where(at + got),
                  "expected " + std::to_string(ndims) +
                      " big-endian uint32 dimensions after the magic number, found "
                      "the end of the file");
    int64_t d = big_endian_u32(b);
    if (d == 0 && i > 0)
      throw Error(path, file.where(at), "expected a positive dimension " + std::to_string(i) + ", found 0");
    h.dims.push_back(d);
  }
  // Up to 2^32 records of 2^32 x 2^32 elements would overflow int64: no real file comes near 2^52 bytes.
  constexpr int64_t kMaxBytes = int64_t(1) << 52;
  int64_t size = dtype_bytes(h.dtype);
  // A count of 0 is bounded as 1: a record's size alone must fit too (the fuzzer's first finding:
  // 0 records of 4294967295 x 4294967070 overflowed record_elements()).
  for (int64_t d : h.dims) {
    const int64_t factor = std::max<int64_t>(d, 1);
    if (size > kMaxBytes / factor)
      throw Error(path, file.where(4), "the dimensions in the header make a file of more than 2^52 bytes");
    size *= factor;
  }

  if (!file.gzip()) {
    // A raw file's size is known now, so a short or long file is reported before anything is read.
    if (file.file_size() < h.total_bytes())
      throw Error(path, file.where(file.file_size()),
                  "expected " + std::to_string(h.total_bytes()) + " bytes (a " + std::to_string(h.header_bytes) +
                      "-byte header and " + record_text(h, kind) + "), found the end of the file (truncated?)");
    if (file.file_size() > h.total_bytes())
      throw Error(path, file.where(h.total_bytes()),
                  "expected the end of the file after the header and " + record_text(h, kind) + ", found " +
                      std::to_string(file.file_size() - h.total_bytes()) + " more bytes");
  }
  return h;
}

void read_idx_records(InputFile& file, const IdxHeader& h, int64_t done, int64_t n, void* dst) {
  int64_t want = n * h.record_bytes();
  int64_t got = file.read(dst, want);
  if (got < want) {
    IdxKind kind = h.dims.size() == 1 ? IdxKind::labels : IdxKind::images;
    throw Error(file.path(), file.where(file.offset()),
                "expected " + std::to_string(h.total_bytes()) + " bytes (a " + std::to_string(h.header_bytes) +
                    "-byte header and " + record_text(h, kind) + "), found the end of the data after record " +
                    std::to_string(done + got / h.record_bytes()) + " (truncated?)");
  }
  if (h.dtype == Dtype::f32) {
    float32_from_big_endian(dst, n * h.record_elements());
    expect_finite_f32(file, dst, n * h.record_elements(), file.offset() - want);
  }
}

void expect_finite_f32(const InputFile& file, const void* values, int64_t count, int64_t offset) {
  const float* v = static_cast<const float*>(values);
  if (all_finite(v, size_t(count))) return;
  for (int64_t i = 0; i < count; ++i)
    if (!std::isfinite(v[i]))
      throw Error(file.path(), file.where(offset + 4 * i),
                  std::string("expected a finite float32 value, found ") + (std::isnan(v[i]) ? "NaN" : "infinity"));
}

void expect_idx_end(InputFile& file, const IdxHeader& h) {
  unsigned char extra[4096];
  int64_t at = file.offset();
  int64_t got = file.read(extra, sizeof extra);
  if (got == 0) return;
  // Counted up to a limit: a gzip stream that goes on (a decompression bomb: 10 GiB of zeros in a
  // 10 MB file) is refused after 1 MiB, not inflated to its end.
  constexpr int64_t kCounted = 1 << 20;
  int64_t more = got;
  while (more <= kCounted && (got = file.read(extra, sizeof extra)) > 0) more += got;
  IdxKind kind = h.dims.size() == 1 ? IdxKind::labels : IdxKind::images;
  throw Error(file.path(), file.where(at),
              "expected the end of the data after the header and " + record_text(h, kind) + ", found " +
                  (more > kCounted ? "more than " + std::to_string(kCounted) : std::to_string(more)) + " more bytes");
}

IdxArray read_idx(const std::string& path, IdxKind kind) {
  InputFile file(path);
  IdxArray a;
  a.header = read_idx_header(file, kind);
  a.bytes.resize(size_t(a.header.count() * a.header.record_bytes()));
  read_idx_records(file, a.header, 0, a.header.count(), a.bytes.data());
  expect_idx_end(file, a.header);
  return a;
}

void float32_from_big_endian(void* data, int64_t count) {
  if constexpr (std::endian::native == std::endian::big) return;
  auto* p = static_cast<unsigned char*>(data);
  for (int64_t i = 0; i < count; ++i, p += 4) {
    uint32_t v;
    std::memcpy(&v, p, 4);
    v = __builtin_bswap32(v);
    std::memcpy(p, &v, 4);
  }
}

}  // namespace nabla::data
