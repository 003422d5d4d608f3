#include "io/safetensors.hpp"

#include <algorithm>
#include <bit>
#include <cstring>
#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "util/error.hpp"

namespace nabla::io {

static_assert(std::endian::native == std::endian::little, "safetensors data is little-endian, as this host must be");

namespace {

size_t dtype_size(const std::string& dtype) {
  if (dtype == "F32") return 4;
  if (dtype == "F64") return 8;
  return 0;
}

std::string shape_text(const std::vector<int64_t>& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

}  // namespace

std::string encode_safetensors(const std::vector<TensorBytes>& tensors,
                               const std::map<std::string, std::string>& metadata) {
  nlohmann::ordered_json header;
  if (!metadata.empty()) header["__metadata__"] = metadata;
  uint64_t offset = 0;
  for (const TensorBytes& t : tensors) {
    header[t.name] = {{"dtype", t.dtype}, {"shape", t.shape}, {"data_offsets", {offset, offset + t.size}}};
    offset += t.size;
  }
  std::string text = header.dump();
  text.append((8 - text.size() % 8) % 8, ' ');
  std::string out;
  out.reserve(8 + text.size() + offset);
  const uint64_t n = text.size();
  out.append(reinterpret_cast<const char*>(&n), 8);
  out += text;
  for (const TensorBytes& t : tensors) out.append(static_cast<const char*>(t.data), t.size);
  return out;
}

SafetensorsFile read_safetensors(const std::string& path) {
  auto fail = [&](const std::string& what) { return Error(path, "", what); };
  std::error_code ec;
  const auto status = std::filesystem::status(path, ec);
  if (ec || !std::filesystem::exists(status)) throw fail("cannot open: no such file");
  if (std::filesystem::is_directory(status)) throw fail("is a directory, expected a safetensors checkpoint file");
  if (!std::filesystem::is_regular_file(status))
    throw fail("is not a regular file (a device or a pipe?), expected a safetensors checkpoint file");
  std::ifstream f(path, std::ios::binary);
  if (!f) throw fail("cannot open: " + std::string(std::strerror(errno)));
  const std::string all((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  const uint64_t size = all.size();

  if (size < 8)
    throw fail("truncated: the file has " + std::to_string(size) +
               " bytes, expected at least the 8-byte header length of a safetensors file");
  uint64_t n = 0;
  std::memcpy(&n, all.data(), 8);
  if (n > kMaxHeaderBytes)
    throw fail("header length " + std::to_string(n) + " is over the cap of " + std::to_string(kMaxHeaderBytes) +
               " bytes (not a safetensors file?)");
  if (n > size - 8)
    throw fail("header length " + std::to_string(n) + " runs past the end of the file: only " +
               std::to_string(size - 8) + " bytes follow the length");

  nlohmann::json header;
  try {
    header = nlohmann::json::parse(all.begin() + 8, all.begin() + 8 + int64_t(n));
  } catch (const nlohmann::json::parse_error& e) {
    throw fail("header is not JSON: at header byte " + std::to_string(e.byte) + ": " +
               std::string(e.what()).substr(std::string(e.what()).find(':') + 2));
  }
  if (!header.is_object()) throw fail("header: expected a JSON object, found " + std::string(header.type_name()));

  SafetensorsFile out;
  out.data = all.substr(8 + n);
  const uint64_t data_size = out.data.size();
  for (auto it = header.begin(); it != header.end(); ++it) {
    const std::string& name = it.key();
    const nlohmann::json& v = it.value();
    if (name == "__metadata__") {
      if (!v.is_object()) throw fail("__metadata__: expected an object of strings, found " + std::string(v.type_name()));
      for (auto m = v.begin(); m != v.end(); ++m) {
        if (!m.value().is_string())
          throw fail("__metadata__." + m.key() + ": expected a string, found " + std::string(m.value().type_name()));
        out.metadata[m.key()] = m.value().get<std::string>();
      }
      continue;
    }
    const std::string where = "tensor " + name + ": ";
    if (!v.is_object()) throw fail(where + "expected an object with dtype, shape and data_offsets");
    TensorEntry t;
    t.name = name;
    for (const char* key : {"dtype", "shape", "data_offsets"})
      if (!v.contains(key)) throw fail(where + key + ": missing");
    if (!v["dtype"].is_string()) throw fail(where + "dtype: expected a string");
    t.dtype = v["dtype"].get<std::string>();
    const size_t esize = dtype_size(t.dtype);
    if (esize == 0) throw fail(where + "dtype: expected F32 or F64, found " + t.dtype);
    if (!v["shape"].is_array()) throw fail(where + "shape: expected an array of sizes");
    for (const auto& d : v["shape"]) {
      if (!d.is_number_unsigned()) throw fail(where + "shape: expected non-negative integers, found " + d.dump());
      t.shape.push_back(d.get<int64_t>());
    }
    const auto& off = v["data_offsets"];
    if (!off.is_array() || off.size() != 2 || !off[0].is_number_unsigned() || !off[1].is_number_unsigned())
      throw fail(where + "data_offsets: expected [begin, end], found " + off.dump());
    t.begin = off[0].get<uint64_t>();
    t.end = off[1].get<uint64_t>();
    if (t.begin > t.end)
      throw fail(where + "data_offsets [" + std::to_string(t.begin) + ", " + std::to_string(t.end) +
                 "] are reversed: expected begin <= end");
    if (t.end > data_size)
      throw fail(where + "data_offsets end " + std::to_string(t.end) + " is past the end of the data (" +
                 std::to_string(data_size) + " bytes after the header: is the file truncated?)");
    // The byte count the shape needs, checked for overflow.
    uint64_t bytes = esize;
    for (int64_t d : t.shape) {
      if (d != 0 && bytes > UINT64_MAX / uint64_t(d))
        throw fail(where + "shape " + shape_text(t.shape) + " overflows: its byte count does not fit in 64 bits");
      bytes *= uint64_t(d);
    }
    if (bytes != t.end - t.begin)
      throw fail(where + "shape " + shape_text(t.shape) + " of " + t.dtype + " needs " + std::to_string(bytes) +
                 " bytes, data_offsets hold " + std::to_string(t.end - t.begin));
    out.tensors.push_back(std::move(t));
  }
  // The tensors must tile the data exactly: sorted by offset, each starting where the last ended.
  std::sort(out.tensors.begin(), out.tensors.end(),
            [](const TensorEntry& a, const TensorEntry& b) { return a.begin < b.begin; });
  uint64_t expected = 0;
  for (const TensorEntry& t : out.tensors) {
    if (t.begin != expected)
      throw fail("tensor " + t.name + ": data_offsets begin at " + std::to_string(t.begin) + ", expected " +
                 std::to_string(expected) + (t.begin < expected ? " (it overlaps the tensor before)" : " (a gap)"));
    expected = t.end;
  }
  if (expected != data_size)
    throw fail("the header's tensors end at data byte " + std::to_string(expected) + " but " +
               std::to_string(data_size) + " bytes of data follow it: " + std::to_string(data_size - expected) +
               " bytes belong to no tensor (one missing from the header?)");
  return out;
}

}  // namespace nabla::io
