#pragma once
// A data file as a stream of bytes, raw or gzip, and the errors that name a place in it.
//
// Raw or gzip is decided by the content (gzip data starts with 1f 8b), and the name must agree: a
// file named *.gz that holds raw data, or gzip data under another name, is an error with a hint
// rather than a guess, because it usually means a half-finished download or a rename gone wrong,
// and because a raw file can be read at random while a gzip one can only be streamed.
#include <cstdint>
#include <memory>
#include <string>

namespace nabla::data {

class InputFile {
 public:
  // Opens `path` and checks that it is a readable regular file whose name agrees with its content.
  explicit InputFile(const std::string& path);
  ~InputFile();
  InputFile(const InputFile&) = delete;
  InputFile& operator=(const InputFile&) = delete;

  const std::string& path() const { return path_; }
  bool gzip() const { return gz_ != nullptr; }
  int64_t file_size() const { return file_size_; }  // on disk: compressed for gzip

  // Reads up to n bytes of data (decompressed for gzip) at the current offset; fewer only at the end
  // of the data. Corrupt or truncated gzip data is an Error naming the compressed byte offset.
  int64_t read(void* dst, int64_t n);
  // Skips up to n bytes of data; returns how many were skipped (fewer only at the end of the data).
  int64_t skip(int64_t n);
  // Back to the start of the data.
  void rewind();
  int64_t offset() const { return offset_; }  // of the data (decompressed for gzip)

  // Raw files only: exactly n bytes at `offset`, or an Error.
  void pread_exact(void* dst, int64_t n, int64_t offset) const;

  // "byte offset N" for an offset into the data, "byte offset N of the decompressed data" for gzip:
  // the `where` of an Error(path(), where(N), what).
  std::string where(int64_t offset) const;

  // The memory the reader holds (input buffer and zlib state), for the loader's budget.
  int64_t buffer_bytes() const;

 private:
  struct Gz;
  std::string path_;
  int fd_ = -1;
  int64_t file_size_ = 0;
  int64_t offset_ = 0;  // into the data
  std::unique_ptr<Gz> gz_;
};

}  // namespace nabla::data
