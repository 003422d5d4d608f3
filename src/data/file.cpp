#include "data/file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <new>
#include <vector>

#include "util/error.hpp"

namespace nabla::data {
namespace {

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

constexpr int64_t kGzInputBytes = int64_t(64) << 10;
// zlib's inflate state: a 32 KiB window and about 7 KiB of tables (zlib's zconf.h gives the formula).
constexpr int64_t kZlibStateBytes = (int64_t(1) << 15) + 7 * 1024 + int64_t(sizeof(z_stream));

std::string offset_text(int64_t offset) { return "byte offset " + std::to_string(offset); }

// pread until n bytes or the end of the file; returns the count read.
int64_t pread_all(int fd, void* dst, int64_t n, int64_t offset, const std::string& path) {
  auto* p = static_cast<char*>(dst);
  int64_t done = 0;
  while (done < n) {
    ssize_t r = ::pread(fd, p + done, size_t(n - done), off_t(offset + done));
    if (r < 0) {
      if (errno == EINTR) continue;
      throw Error(path, offset_text(offset + done), std::string("read failed: ") + std::strerror(errno));
    }
    if (r == 0) break;
    done += r;
  }
  return done;
}

std::string hex_bytes(const unsigned char* b, int64_t n) {
  static const char digits[] = "0123456789abcdef";
  std::string s;
  for (int64_t i = 0; i < n; ++i) {
    if (i) s += ' ';
    s += digits[b[i] >> 4];
    s += digits[b[i] & 15];
  }
  return s;
}

}  // namespace

struct InputFile::Gz {
  z_stream zs{};
  std::vector<unsigned char> in;
  int64_t file_pos = 0;    // compressed bytes read from the file so far
  bool input_eof = false;  // the last pread returned nothing
  bool data_end = false;   // the last gzip member ended and nothing follows it

  Gz() : in(size_t(kGzInputBytes)) {
    // 16 + MAX_WBITS: a gzip wrapper (header, CRC-32 and length checked), no raw or zlib streams.
    if (inflateInit2(&zs, 16 + MAX_WBITS) != Z_OK) throw std::bad_alloc();
  }
  ~Gz() { inflateEnd(&zs); }
  Gz(const Gz&) = delete;
  Gz& operator=(const Gz&) = delete;

  int64_t consumed() const { return file_pos - int64_t(zs.avail_in); }
  void reset() {
    inflateReset(&zs);
    zs.next_in = in.data();
    zs.avail_in = 0;
    file_pos = 0;
    input_eof = false;
    data_end = false;
  }
  void fill(int fd, const std::string& path) {
    int64_t got = pread_all(fd, in.data(), int64_t(in.size()), file_pos, path);
    file_pos += got;
    zs.next_in = in.data();
    zs.avail_in = uInt(got);
    if (got == 0) input_eof = true;
  }
};

InputFile::InputFile(const std::string& path) : path_(path) {
  if (path.empty()) throw Error("no data file given (the path is empty)");
  // O_NONBLOCK: opening a FIFO would otherwise wait for a writer, forever; the type is checked below,
  // and a regular file reads the same either way.
  fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd_ < 0) throw Error(path, "", std::string("cannot open: ") + std::strerror(errno));
  // The destructor does not run when the constructor throws: close the file first.
  auto fail = [&](const std::string& where, const std::string& what) {
    ::close(fd_);
    fd_ = -1;
    throw Error(path, where, what);
  };
  struct stat st {};
  if (::fstat(fd_, &st) != 0) fail("", std::string("cannot stat: ") + std::strerror(errno));
  if (S_ISDIR(st.st_mode)) fail("", "is a directory, expected a data file");
  if (!S_ISREG(st.st_mode)) fail("", "is not a regular file (a pipe or a device?), expected a data file");
  file_size_ = int64_t(st.st_size);

  unsigned char magic[2] = {0, 0};
  int64_t got = pread_all(fd_, magic, 2, 0, path);
  bool gzip_data = got == 2 && magic[0] == 0x1f && magic[1] == 0x8b;
  bool gzip_name = ends_with(path, ".gz");
  if (gzip_data && !gzip_name)
    fail(offset_text(0), "looks like gzip data (it starts with 1f 8b): name the file .gz, or decompress it");
  if (!gzip_data && gzip_name)
    fail(offset_text(0), "not gzip data: expected the gzip magic 1f 8b, found " +
                             (got ? hex_bytes(magic, got) : std::string("an empty file")) +
                             "; if this is a raw IDX or CSV file, drop the .gz from its name");
  if (gzip_data) gz_ = std::make_unique<Gz>();
}

InputFile::~InputFile() {
  if (fd_ >= 0) ::close(fd_);
}

int64_t InputFile::read(void* dst, int64_t n) {
  if (!gz_) {
    int64_t got = pread_all(fd_, dst, n, offset_, path_);
    offset_ += got;
    return got;
  }
  Gz& g = *gz_;
  auto* out = static_cast<unsigned char*>(dst);
  int64_t done = 0;
  while (done < n && !g.data_end) {
    if (g.zs.avail_in == 0 && !g.input_eof) g.fill(fd_, path_);
    uInt room = uInt(std::min<int64_t>(n - done, int64_t(1) << 30));
    g.zs.next_out = out + done;
    g.zs.avail_out = room;
    int ret = inflate(&g.zs, Z_NO_FLUSH);
    done += int64_t(room - g.zs.avail_out);
    if (ret == Z_STREAM_END) {
      // The member's CRC-32 and length matched. Another member may follow (`cat a.gz b.gz` is valid
      // gzip); anything else after the data is an error.
      if (g.zs.avail_in == 0 && !g.input_eof) g.fill(fd_, path_);
      if (g.zs.avail_in == 0) {
        g.data_end = true;
        break;
      }
      if (g.zs.next_in[0] != 0x1f)
        throw Error(path_, offset_text(g.consumed()),
                    "expected the end of the file after the gzip data, found " +
                        std::to_string(file_size_ - g.consumed()) + " more bytes");
      inflateReset(&g.zs);
      continue;
    }
    if (ret == Z_OK) continue;
    if (ret == Z_BUF_ERROR) {
      if (g.zs.avail_in == 0 && g.input_eof)
        throw Error(path_, offset_text(g.consumed()),
                    "the gzip data ends early: expected more compressed data, found the end of the file "
                    "(truncated?)");
      continue;  // no progress this call; the next round brings input
    }
    throw Error(path_, offset_text(g.consumed()),
                std::string("corrupt gzip data (zlib: ") + (g.zs.msg ? g.zs.msg : "error") + ")");
  }
  offset_ += done;
  return done;
}

int64_t InputFile::skip(int64_t n) {
  if (!gz_) {
    int64_t step = std::max<int64_t>(0, std::min(n, file_size_ - offset_));
    offset_ += step;
    return step;
  }
  std::array<unsigned char, 16384> scratch;
  int64_t done = 0;
  while (done < n) {
    int64_t got = read(scratch.data(), std::min<int64_t>(n - done, int64_t(scratch.size())));
    if (got == 0) break;
    done += got;
  }
  return done;
}

void InputFile::rewind() {
  offset_ = 0;
  if (gz_) gz_->reset();
}

void InputFile::pread_exact(void* dst, int64_t n, int64_t offset) const {
  require(!gz_, "InputFile::pread_exact: random access to gzip data");
  int64_t got = pread_all(fd_, dst, n, offset, path_);
  if (got != n)
    throw Error(path_, offset_text(offset + got),
                "expected " + std::to_string(n - got) +
                    " more bytes, found the end of the file "
                    "(did the file change while it was read?)");
}

std::string InputFile::where(int64_t offset) const {
  return offset_text(offset) + (gz_ ? " of the decompressed data" : "");
}

int64_t InputFile::buffer_bytes() const { return gz_ ? int64_t(gz_->in.size()) + kZlibStateBytes : 0; }

}  // namespace nabla::data
