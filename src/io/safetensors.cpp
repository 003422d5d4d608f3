#include "io/safetensors.hpp"

#include <algorithm>
#include <bit>
#include <cerrno>
#include <climits>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>

#include "util/error.hpp"
#include "util/format.hpp"
#include "util/json_depth.hpp"

namespace nabla::io {

static_assert(std::endian::native == std::endian::little, "safetensors data is little-endian, as this host must be");

namespace {

size_t dtype_size(const std::string& dtype) {
  if (dtype == "F32") return 4;
  if (dtype == "F64") return 8;
  return 0;
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

namespace {

Error fail_at(const std::string& path, const std::string& what) { return Error(path, "", what); }

// The whole file, which must be a regular one.
std::string read_whole_file(const std::string& path) {
  std::error_code ec;
  const auto status = std::filesystem::status(path, ec);
  // The system's own words, as for a config ("No such file or directory", "Too many levels of symbolic links").
  if (ec) throw fail_at(path, "cannot open: " + std::string(std::strerror(ec.value())));
  if (!std::filesystem::exists(status)) throw fail_at(path, "cannot open: " + std::string(std::strerror(ENOENT)));
  if (std::filesystem::is_directory(status))
    throw fail_at(path, "is a directory, expected a safetensors checkpoint file");
  if (!std::filesystem::is_regular_file(status))
    throw fail_at(path, "is not a regular file (a device or a pipe?), expected a safetensors checkpoint file");
  std::ifstream f(path, std::ios::binary);
  if (!f) throw fail_at(path, "cannot open: " + std::string(std::strerror(errno)));
  return std::string((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
}

// The 8-byte length and the JSON header it measures. Sets header_bytes to that length.
nlohmann::json read_header(const std::string& path, const std::string& all, uint64_t& header_bytes) {
  const uint64_t size = all.size();
  if (size < 8)
    throw fail_at(path, "truncated: the file has " + std::to_string(size) +
                            " bytes, expected at least the 8-byte header length of a safetensors file");
  uint64_t n = 0;
  std::memcpy(&n, all.data(), 8);
  if (n > kMaxHeaderBytes)
    throw fail_at(path, "header length " + std::to_string(n) + " is over the cap of " +
                            std::to_string(kMaxHeaderBytes) + " bytes (not a safetensors file?)");
  if (n > size - 8)
    throw fail_at(path, "header length " + std::to_string(n) + " runs past the end of the file: only " +
                            std::to_string(size - 8) + " bytes follow the length");
  nlohmann::json header;
  // A key given twice (a tensor, or a metadata key) would silently take its last value.
  std::vector<std::set<std::string>> keys;  // of each object being parsed
  std::string twice;
  auto track = [&](int, nlohmann::json::parse_event_t event, nlohmann::json& parsed) {
    using Event = nlohmann::json::parse_event_t;
    if (event == Event::object_start) keys.emplace_back();
    if (event == Event::object_end) keys.pop_back();
    if (event == Event::key && !keys.back().insert(parsed.get<std::string>()).second && twice.empty())
      twice = parsed.get<std::string>();
    return true;
  };
  if (const size_t deep = too_deep_at(std::string_view(all.data() + 8, size_t(n))); deep != std::string_view::npos)
    throw fail_at(path, "header: JSON nested more than " + std::to_string(kMaxJsonDepth) +
                            " levels deep at header byte " + std::to_string(deep));
  try {
    header = nlohmann::json::parse(all.begin() + 8, all.begin() + 8 + int64_t(n), track);
  } catch (const nlohmann::json::parse_error& e) {
    throw fail_at(path, "header is not JSON: at header byte " + std::to_string(e.byte) + ": " +
                            std::string(e.what()).substr(std::string(e.what()).find(':') + 2));
  }
  if (!header.is_object())
    throw fail_at(path, "header: expected a JSON object, found " + std::string(header.type_name()));
  if (!twice.empty()) throw fail_at(path, "header: the key \"" + twice + "\" is given twice");
  header_bytes = n;
  return header;
}

void read_metadata(const std::string& path, const nlohmann::json& v, std::map<std::string, std::string>& out) {
  if (!v.is_object())
    throw fail_at(path, "__metadata__: expected an object of strings, found " + std::string(v.type_name()));
  for (auto m = v.begin(); m != v.end(); ++m) {
    if (!m.value().is_string())
      throw fail_at(path,
                    "__metadata__." + m.key() + ": expected a string, found " + std::string(m.value().type_name()));
    out[m.key()] = m.value().get<std::string>();
  }
}

// One tensor's entry: its dtype, its shape, and data offsets that hold exactly the shape's bytes.
TensorEntry read_entry(const std::string& path, const std::string& name, const nlohmann::json& v, uint64_t data_size) {
  auto fail = [&](const std::string& what) { return fail_at(path, "tensor " + name + ": " + what); };
  if (!v.is_object()) throw fail("expected an object with dtype, shape and data_offsets");
  TensorEntry t;
  t.name = name;
  for (const char* key : {"dtype", "shape", "data_offsets"})
    if (!v.contains(key)) throw fail(std::string(key) + ": missing");
  if (!v["dtype"].is_string()) throw fail("dtype: expected a string");
  t.dtype = v["dtype"].get<std::string>();
  const size_t esize = dtype_size(t.dtype);
  if (esize == 0) throw fail("dtype: expected F32 or F64, found " + t.dtype);
  if (!v["shape"].is_array()) throw fail("shape: expected an array of sizes");
  for (const auto& d : v["shape"]) {
    if (!d.is_number_unsigned()) throw fail("shape: expected non-negative integers, found " + d.dump());
    if (d.get<uint64_t>() > uint64_t(INT64_MAX)) throw fail("shape: a size of " + d.dump() + " is over 2^63 - 1");
    t.shape.push_back(d.get<int64_t>());
  }
  const auto& off = v["data_offsets"];
  if (!off.is_array() || off.size() != 2 || !off[0].is_number_unsigned() || !off[1].is_number_unsigned())
    throw fail("data_offsets: expected [begin, end], found " + off.dump());
  t.begin = off[0].get<uint64_t>();
  t.end = off[1].get<uint64_t>();
  if (t.begin > t.end)
    throw fail("data_offsets [" + std::to_string(t.begin) + ", " + std::to_string(t.end) +
               "] are reversed: expected begin <= end");
  if (t.end > data_size)
    throw fail("data_offsets end " + std::to_string(t.end) + " is past the end of the data (" +
               std::to_string(data_size) + " bytes after the header: is the file truncated?)");
  // The byte count the shape needs, checked for overflow.
  uint64_t bytes = esize;
  for (int64_t d : t.shape) {
    if (d != 0 && bytes > UINT64_MAX / uint64_t(d))
      throw fail("shape " + shape_text(t.shape) + " overflows: its byte count does not fit in 64 bits");
    bytes *= uint64_t(d);
  }
  if (bytes != t.end - t.begin)
    throw fail("shape " + shape_text(t.shape) + " of " + t.dtype + " needs " + std::to_string(bytes) +
               " bytes, data_offsets hold " + std::to_string(t.end - t.begin));
  return t;
}

// The tensors must tile the data exactly: sorted by offset, each starting where the last ended.
void check_tiling(const std::string& path, std::vector<TensorEntry>& tensors, uint64_t data_size) {
  std::sort(tensors.begin(), tensors.end(),
            [](const TensorEntry& a, const TensorEntry& b) { return a.begin < b.begin; });
  uint64_t expected = 0;
  for (const TensorEntry& t : tensors) {
    if (t.begin != expected)
      throw fail_at(path, "tensor " + t.name + ": data_offsets begin at " + std::to_string(t.begin) + ", expected " +
                              std::to_string(expected) +
                              (t.begin < expected ? " (it overlaps the tensor before)" : " (a gap)"));
    expected = t.end;
  }
  if (expected != data_size)
    throw fail_at(path, "the header's tensors end at data byte " + std::to_string(expected) + " but " +
                            std::to_string(data_size) +
                            " bytes of data follow it: " + std::to_string(data_size - expected) +
                            " bytes belong to no tensor (one missing from the header?)");
}

}  // namespace

SafetensorsFile read_safetensors(const std::string& path) {
  std::string all = read_whole_file(path);
  uint64_t header_bytes = 0;
  const nlohmann::json header = read_header(path, all, header_bytes);
  SafetensorsFile out;
  out.data = all.substr(8 + header_bytes);
  all = std::string();  // one copy of the tensors at a time
  const uint64_t data_size = out.data.size();
  for (auto it = header.begin(); it != header.end(); ++it) {
    if (it.key() == "__metadata__")
      read_metadata(path, it.value(), out.metadata);
    else
      out.tensors.push_back(read_entry(path, it.key(), it.value(), data_size));
  }
  check_tiling(path, out.tensors, data_size);
  return out;
}

}  // namespace nabla::io
