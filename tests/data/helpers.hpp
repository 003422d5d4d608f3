#pragma once
// Shared by the data tests: the committed samples, a temporary folder for broken copies of them,
// gzip through zlib directly (not through the code under test), and error-message capture.
#include <doctest/doctest.h>
#include <zlib.h>

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <stdexcept>
#include <string>
#include <unistd.h>
#include <vector>

#include "util/error.hpp"

namespace test {

namespace fs = std::filesystem;
using Bytes = std::vector<uint8_t>;

inline std::string sample(const std::string& name) { return std::string(NABLA_SOURCE_DIR) + "/data/samples/" + name; }
inline std::string repo_file(const std::string& name) { return std::string(NABLA_SOURCE_DIR) + "/" + name; }

inline const std::string kTrainImages = "fashion-train-2000-images-idx3-ubyte.gz";
inline const std::string kTrainLabels = "fashion-train-2000-labels-idx1-ubyte.gz";
inline const std::string kTestImages = "fashion-test-500-images-idx3-ubyte.gz";
inline const std::string kTestLabels = "fashion-test-500-labels-idx1-ubyte.gz";
inline const std::string kMnistCsv = "mnist-test-100.csv";

inline Bytes read_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw std::runtime_error("test: cannot read " + path);
  return Bytes(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
}

inline void write_file(const std::string& path, const Bytes& b) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f.write(reinterpret_cast<const char*>(b.data()), std::streamsize(b.size()));
  if (!f) throw std::runtime_error("test: cannot write " + path);
}

inline void write_text(const std::string& path, const std::string& s) { write_file(path, Bytes(s.begin(), s.end())); }

inline Bytes gunzip(const Bytes& in) {
  z_stream zs{};
  REQUIRE(inflateInit2(&zs, 16 + MAX_WBITS) == Z_OK);
  Bytes out(in.size() * 4 + 1024);
  zs.next_in = const_cast<Bytes::value_type*>(in.data());
  zs.avail_in = uInt(in.size());
  int ret;
  do {
    if (zs.total_out == out.size()) out.resize(out.size() * 2);
    zs.next_out = out.data() + zs.total_out;
    zs.avail_out = uInt(out.size() - zs.total_out);
    ret = inflate(&zs, Z_NO_FLUSH);
  } while (ret == Z_OK || (ret == Z_BUF_ERROR && zs.avail_out == 0));
  REQUIRE(ret == Z_STREAM_END);
  out.resize(zs.total_out);
  inflateEnd(&zs);
  return out;
}

inline Bytes gzip(const Bytes& in) {
  z_stream zs{};
  REQUIRE(deflateInit2(&zs, 6, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY) == Z_OK);
  Bytes out(deflateBound(&zs, uLong(in.size())) + 64);
  zs.next_in = const_cast<Bytes::value_type*>(in.data());
  zs.avail_in = uInt(in.size());
  zs.next_out = out.data();
  zs.avail_out = uInt(out.size());
  REQUIRE(deflate(&zs, Z_FINISH) == Z_STREAM_END);
  out.resize(zs.total_out);
  deflateEnd(&zs);
  return out;
}

// The decompressed bytes of a committed sample.
inline Bytes sample_bytes(const std::string& name) { return gunzip(read_file(sample(name))); }

// A fresh folder, removed with everything in it at the end of the test.
struct TempDir {
  fs::path path;
  TempDir() {
    static std::atomic<int> counter{0};
    path = fs::temp_directory_path() /
           ("nabla-test-data-" + std::to_string(::getpid()) + "-" + std::to_string(counter++));
    fs::remove_all(path);
    fs::create_directories(path);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  std::string file(const std::string& name) const { return (path / name).string(); }
  std::string write(const std::string& name, const Bytes& b) const {
    write_file(file(name), b);
    return file(name);
  }
};

// The message of the nabla::Error that f throws, or "(no error)".
template <class F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const nabla::Error& e) {
    return e.what();
  }
  return "(no error)";
}

inline bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

}  // namespace test
