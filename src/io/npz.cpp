// The npz export (export.hpp): .npy version 1.0 files in a zip archive, as numpy.savez writes them
// (stored, no compression), every member's CRC-32 from zlib.
#include <zlib.h>

#include <algorithm>
#include <bit>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "io/export.hpp"
#include "nn/network.hpp"
#include "util/error.hpp"

namespace nabla::io {

static_assert(std::endian::native == std::endian::little, ".npy data here is little-endian, as this host must be");

namespace {

// The .npy format, version 1.0: the magic "\x93NUMPY", the version (1, 0), the header's length
// (u16, little-endian), then the header, a Python dict literal padded with spaces and ended by a
// newline so that the data starts at a multiple of 64 bytes, then the data in C order.
std::string npy(const char* descr, const std::vector<int64_t>& shape, std::string_view data) {
  std::string dims;  // a Python tuple's insides: (), (16,), (16, 784)
  for (size_t k = 0; k < shape.size(); ++k) dims += (k ? ", " : "") + std::to_string(shape[k]);
  if (shape.size() == 1) dims += ',';
  std::string header = "{'descr': '" + std::string(descr) + "', 'fortran_order': False, 'shape': (" + dims + "), }";
  header.append(63 - (10 + header.size()) % 64, ' ');
  header += '\n';
  std::string out("\x93NUMPY\x01\x00", 8);
  const uint16_t n = uint16_t(header.size());
  out.append(reinterpret_cast<const char*>(&n), 2);
  return out + header + std::string(data);
}

std::string_view float_bytes(const float* data, size_t count) {
  return std::string_view(reinterpret_cast<const char*>(data), count * sizeof(float));
}

// numpy's '<U{width}': each string as `width` UTF-32LE code units, padded with zeros. Names are ASCII.
std::string utf32_strings(const std::vector<std::string>& names, size_t width) {
  std::string out;
  for (const std::string& s : names)
    for (size_t k = 0; k < width; ++k) {
      const uint32_t c = k < s.size() ? uint32_t(static_cast<unsigned char>(s[k])) : 0;
      out.append(reinterpret_cast<const char*>(&c), 4);
    }
  return out;
}

void put16(std::string& out, uint32_t v) { out.append({char(v), char(v >> 8)}); }
void put32(std::string& out, uint32_t v) { out.append({char(v), char(v >> 8), char(v >> 16), char(v >> 24)}); }

// A zip archive of stored members (PKWARE's APPNOTE.TXT, sections 4.3.7, 4.3.12 and 4.3.16): per
// member a local header and its bytes, then the central directory, then its end record. No ZIP64:
// every member and the archive must stay under 4 GiB. Every date is 1980-01-01 00:00 (the format's
// first), so the same tensors make the same bytes.
class Zip {
 public:
  explicit Zip(const std::string& what) : what_(what) {}

  void add(const std::string& name, const std::string& bytes) {
    if (entries_ == 0xFFFF) throw Error(what_, "", "npz: over the 65535 members that a zip without ZIP64 can hold");
    if (bytes.size() >= 0xFFFFFFFFu || out_.size() + bytes.size() + 30 + name.size() >= 0xFFFFFFFFu)
      throw Error(what_, "",
                  "npz: " + name + " (" + std::to_string(bytes.size()) +
                      " bytes) takes the archive past the 4 GiB that a zip without ZIP64 can hold");
    uLong crc = crc32(0L, Z_NULL, 0);
    crc = crc32(crc, reinterpret_cast<const Bytef*>(bytes.data()), uInt(bytes.size()));
    const uint32_t offset = uint32_t(out_.size());
    put32(out_, 0x04034b50);  // local file header
    common(out_, name, uint32_t(crc), uint32_t(bytes.size()));
    out_ += name;
    out_ += bytes;
    put32(central_, 0x02014b50);  // central directory header
    put16(central_, 20);          // made by: MS-DOS attributes, zip 2.0
    common(central_, name, uint32_t(crc), uint32_t(bytes.size()));
    put16(central_, 0);  // comment length
    put16(central_, 0);  // disk number
    put16(central_, 0);  // internal attributes
    put32(central_, 0);  // external attributes
    put32(central_, offset);
    central_ += name;
    ++entries_;
  }

  std::string finish() {
    const uint32_t at = uint32_t(out_.size());
    out_ += central_;
    put32(out_, 0x06054b50);  // end of central directory
    put16(out_, 0);           // this disk
    put16(out_, 0);           // the disk the directory starts on
    put16(out_, entries_);    // entries on this disk
    put16(out_, entries_);    // entries in all
    put32(out_, uint32_t(central_.size()));
    put32(out_, at);
    put16(out_, 0);  // comment length
    return std::move(out_);
  }

 private:
  // The fields the local and the central headers share, from "version needed" to "extra length".
  static void common(std::string& out, const std::string& name, uint32_t crc, uint32_t size) {
    put16(out, 20);    // version needed: 2.0
    put16(out, 0);     // flags
    put16(out, 0);     // method: stored
    put16(out, 0);     // time 00:00:00
    put16(out, 0x21);  // date 1980-01-01: (year − 1980) << 9 | month << 5 | day
    put32(out, crc);   // CRC-32
    put32(out, size);  // compressed size
    put32(out, size);  // uncompressed size
    put16(out, uint32_t(name.size()));
    put16(out, 0);  // extra field length
  }

  std::string what_;
  std::string out_, central_;
  uint32_t entries_ = 0;
};

}  // namespace

std::string npz_archive(const Checkpoint& ck) {
  const Network<float> net(ck.config.layers, ck.inputs, ck.outputs, ck.config.loss.type, 1);
  require(ck.params.size() == net.params().size(), "npz_archive: the checkpoint's parameters fit its network");
  Zip zip(ck.config.path);
  for (const TensorInfo& t : net.tensors())
    zip.add(t.name + ".npy", npy("<f4", t.shape, float_bytes(ck.params.data() + t.offset, t.size())));

  const float scale = float(ck.config.data.scale);  // the loader divides in float
  zip.add("input_scale.npy", npy("<f4", {}, float_bytes(&scale, 1)));
  std::vector<std::string> acts;
  std::vector<std::string> norms;
  std::vector<float> slopes, alphas, epsilons;  // leaky_relu's and elu's, in float as the network uses them; ε
  size_t width = 1, norm_width = 1;
  for (const auto& d : net.layers()) {
    acts.push_back(to_string(d.act));
    slopes.push_back(d.act == Activation::leaky_relu ? float(d.slope) : 0.0f);
    alphas.push_back(d.act == Activation::elu ? float(d.slope) : 0.0f);
    norms.push_back(to_string(d.norm));
    epsilons.push_back(d.norm != Norm::none ? float(d.norm_epsilon) : 0.0f);
    width = std::max(width, acts.back().size());
    norm_width = std::max(norm_width, norms.back().size());
  }
  const std::vector<int64_t> count = {int64_t(acts.size())};
  zip.add("activations.npy", npy(("<U" + std::to_string(width)).c_str(), count, utf32_strings(acts, width)));
  zip.add("negative_slopes.npy", npy("<f4", count, float_bytes(slopes.data(), slopes.size())));
  zip.add("elu_alphas.npy", npy("<f4", count, float_bytes(alphas.data(), alphas.size())));
  zip.add("norms.npy", npy(("<U" + std::to_string(norm_width)).c_str(), count, utf32_strings(norms, norm_width)));
  zip.add("norm_epsilons.npy", npy("<f4", count, float_bytes(epsilons.data(), epsilons.size())));
  return zip.finish();
}

}  // namespace nabla::io
