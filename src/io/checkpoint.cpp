#include "io/checkpoint.hpp"

#include <zlib.h>

#include <cctype>
#include <cerrno>
#include <cinttypes>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <map>

#include "config/json.hpp"
#include "io/atomic_file.hpp"
#include "io/safetensors.hpp"
#include "util/error.hpp"
#include "util/format.hpp"
#include "util/json_depth.hpp"

namespace nabla::io {

namespace {

constexpr const char* kFormat = "nabla-checkpoint";
// Version 2 adds crc32_metadata; version 1 files (tensor CRC only) are still read.
constexpr const char* kVersion = "2";
constexpr const char* kCrcKey = "crc32_metadata";

std::string exact(double x) {  // a double as text that parses back to the same bits
  char b[40];
  std::snprintf(b, sizeof b, "%.17g", x);
  return b;
}

uint32_t crc32_of(const std::string& bytes) {
  uLong crc = crc32(0L, Z_NULL, 0);
  size_t done = 0;
  while (done < bytes.size()) {  // zlib takes 32-bit lengths
    const uInt n = uInt(std::min<size_t>(bytes.size() - done, 1u << 30));
    crc = crc32(crc, reinterpret_cast<const Bytef*>(bytes.data() + done), n);
    done += n;
  }
  return uint32_t(crc);
}

// The CRC-32 of the metadata: every key and value but crc32_metadata's own, in key order, each
// followed by a NUL. It covers crc32, and with it the tensor bytes.
uint32_t metadata_crc(const std::map<std::string, std::string>& m) {
  std::string all;
  for (const auto& [key, value] : m)
    if (key != kCrcKey) all += key + '\0' + value + '\0';
  return crc32_of(all);
}

// The checkpoint holds the config's data files also relative to its own folder
// (__metadata__.data_paths), so that a run folder moved with its data, or a copied project, finds
// them again.
// "../../data/fashion-mnist/t10k-images-idx3-ubyte.gz" for runs/default/checkpoints/best.safetensors
std::string data_paths_json(const Config& c, const std::string& checkpoint) {
  namespace fs = std::filesystem;
  std::error_code ec;
  const fs::path folder = fs::absolute(fs::path(checkpoint).parent_path(), ec).lexically_normal();
  nlohmann::ordered_json j = nlohmann::ordered_json::object();
  for (const auto& [key, file] : data_files(c)) {
    if (file->empty() || ec) continue;
    const fs::path relative = fs::path(*file).lexically_normal().lexically_relative(folder);
    if (!relative.empty()) j[key] = relative.string();
  }
  return j.dump();
}

std::string hex32(uint32_t v) {
  char b[16];
  std::snprintf(b, sizeof b, "%08" PRIx32, v);
  return b;
}

}  // namespace

void save_checkpoint(const std::string& path, const Config& config, const Network<float>& net,
                     const std::vector<float>& optimizer_state, const RunState& s) {
  std::vector<TensorBytes> tensors;
  for (const TensorInfo& t : net.tensors())
    tensors.push_back({t.name, "F32", t.shape, net.params().data() + t.offset, t.size() * sizeof(float)});
  const int64_t n = int64_t(net.params().size());
  if (!optimizer_state.empty())
    tensors.push_back({"optimizer.state",
                       "F32",
                       {int64_t(optimizer_state.size()) / n, n},
                       optimizer_state.data(),
                       optimizer_state.size() * sizeof(float)});

  std::string data;  // the CRC covers every tensor byte, in file order
  for (const TensorBytes& t : tensors) data.append(static_cast<const char*>(t.data), t.size);

  std::map<std::string, std::string> m;
  m["format"] = kFormat;
  m["format_version"] = kVersion;
  m["config"] = to_json(config).dump();
  m["data_paths"] = data_paths_json(config, path);
  m["epoch"] = std::to_string(s.epoch);
  m["step"] = std::to_string(s.step);
  m["batch"] = std::to_string(s.batch);
  m["rng_dropout"] = std::to_string(s.rng_dropout);
  m["optimizer"] = to_string(config.optimizer.type);
  m["optimizer_steps"] = std::to_string(s.optimizer_steps);
  m["best_metric"] = exact(s.best_metric);
  m["best_epoch"] = std::to_string(s.best_epoch);
  m["since_best"] = std::to_string(s.since_best);
  m["epoch_loss_sum"] = exact(s.epoch_loss_sum);
  m["epoch_correct"] = std::to_string(s.epoch_correct);
  m["epoch_seen"] = std::to_string(s.epoch_seen);
  m["epoch_seconds"] = exact(s.epoch_seconds);
  m["lr"] = exact(s.lr);
  m["crc32"] = hex32(crc32_of(data));
  m[kCrcKey] = hex32(metadata_crc(m));
  write_atomically(path, encode_safetensors(tensors, m));
}

namespace {

// The metadata's strings, read as the fields they hold; every failure names the key.
class Metadata {
 public:
  Metadata(const std::string& path, const std::map<std::string, std::string>& m) : path_(path), m_(m) {}

  Error fail(const std::string& what) const { return Error(path_, "", what); }
  const std::map<std::string, std::string>& all() const { return m_; }

  const std::string& get(const char* key) const {
    const auto it = m_.find(key);
    if (it == m_.end()) throw fail("__metadata__." + std::string(key) + ": missing (not a nabla checkpoint?)");
    return it->second;
  }
  int64_t integer(const char* key) const {
    const std::string& v = get(key);
    char* end = nullptr;
    errno = 0;
    const long long x = std::strtoll(v.c_str(), &end, 10);
    if (v.empty() || *end || errno || x < 0)
      throw fail("__metadata__." + std::string(key) + ": expected a non-negative integer, found \"" + v + "\"");
    return x;
  }
  uint64_t unsigned_integer(const char* key) const {
    const std::string& v = get(key);
    char* end = nullptr;
    errno = 0;
    const unsigned long long x = std::strtoull(v.c_str(), &end, 10);
    if (v.empty() || !std::isdigit(static_cast<unsigned char>(v[0])) || *end || errno)
      throw fail("__metadata__." + std::string(key) + ": expected a whole number from 0 to 2^64 - 1, found \"" + v +
                 "\"");
    return x;
  }
  // A finite number; or an infinite one with `infinite_ok` (a best metric before any epoch).
  double real(const char* key, bool infinite_ok = false) const {
    const std::string& v = get(key);
    char* end = nullptr;
    const double x = std::strtod(v.c_str(), &end);
    if (v.empty() || *end || std::isnan(x) || (std::isinf(x) && !infinite_ok))
      throw fail("__metadata__." + std::string(key) + ": expected a " + (infinite_ok ? "" : "finite ") +
                 "number, found \"" + v + "\"");
    return x;
  }

 private:
  const std::string& path_;
  const std::map<std::string, std::string>& m_;
};

// The format and its version, then the CRCs, before anything else is trusted: the metadata's (from
// version 2), then the tensors'.
void check_format(const Metadata& m, const SafetensorsFile& file) {
  if (m.all().empty()) throw m.fail("__metadata__: missing (not a nabla checkpoint: it holds only tensors)");
  if (m.get("format") != kFormat)
    throw m.fail("__metadata__.format: expected \"" + std::string(kFormat) + "\", found \"" + m.get("format") + "\"");
  const std::string& version = m.get("format_version");
  if (version != kVersion && version != "1")
    throw m.fail("__metadata__.format_version: expected \"1\" or \"" + std::string(kVersion) + "\", found \"" +
                 version + "\" (written by another version of nabla)");

  auto hex_digits = [](const std::string& v) {
    return v.size() == 8 && v.find_first_not_of("0123456789abcdef") == std::string::npos;
  };
  for (const char* key : {"crc32", kCrcKey})
    if (m.all().count(key) && !hex_digits(m.all().at(key)))
      throw m.fail("__metadata__." + std::string(key) + ": expected 8 lowercase hex digits, found \"" +
                   m.all().at(key) + "\"");
  if (version != "1") {
    const std::string expected = m.get(kCrcKey), actual = hex32(metadata_crc(m.all()));
    if (expected != actual)
      throw m.fail("CRC-32 of the metadata: expected " + expected + " (from __metadata__." + kCrcKey + "), found " +
                   actual + ": the file is damaged");
  }
  const std::string expected_crc = m.get("crc32");
  const std::string actual_crc = hex32(crc32_of(file.data));
  if (expected_crc != actual_crc)
    throw m.fail("CRC-32 of the tensor bytes: expected " + expected_crc + " (from __metadata__.crc32), found " +
                 actual_crc + ": the file is damaged");
}

// A metadata value that holds JSON, refused where it nests deeper than kMaxJsonDepth.
void check_depth(const Metadata& m, const char* key) {
  if (const size_t deep = too_deep_at(m.get(key)); deep != std::string::npos)
    throw m.fail(std::string("__metadata__.") + key + ": JSON nested more than " + std::to_string(kMaxJsonDepth) +
                 " levels deep at byte " + std::to_string(deep) + " of its value");
}

// The config the checkpoint was trained with, validated like a config file.
void read_config(const Metadata& m, const std::string& path, Checkpoint& c) {
  nlohmann::ordered_json json;
  try {
    check_depth(m, "config");
    json = nlohmann::ordered_json::parse(m.get("config"));
  } catch (const nlohmann::json::parse_error& e) {
    // "[json.exception.parse_error.101] parse error at line 1, column 5: ..." without the library's tag
    const std::string what = e.what();
    throw m.fail("__metadata__.config: not JSON: " + what.substr(what.find(']') + 2));
  }
  try {
    c.config = parse_config(json, path + " (__metadata__.config)", ".");
  } catch (const Errors& e) {
    throw m.fail("__metadata__.config is not a valid config: " + e.messages().front());
  }
  c.config.path = path;
}

// A data file of the config that is gone but is found at the same place relative to the checkpoint
// (the run folder moved with its data) is taken from there, and said in c.moved. A file found
// nowhere is left for the command that reads it to report.
void find_moved_data(const Metadata& m, const std::string& path, Checkpoint& c) {
  namespace fs = std::filesystem;
  if (!m.all().count("data_paths")) return;  // written before nabla kept them
  check_depth(m, "data_paths");
  const nlohmann::json j = nlohmann::json::parse(m.get("data_paths"), nullptr, /*allow_exceptions=*/false);
  if (!j.is_object()) throw m.fail("__metadata__.data_paths: expected a JSON object of strings");
  const fs::path folder = fs::path(path).parent_path();
  for (const auto& [key, file] : data_files(c.config)) {
    std::error_code ec;
    if (file->empty() || fs::exists(*file, ec) || !j.contains(key)) continue;
    if (!j[key].is_string()) throw m.fail("__metadata__.data_paths." + std::string(key) + ": expected a string");
    const fs::path there = fs::absolute(folder / j[key].get<std::string>(), ec).lexically_normal();
    if (ec || !fs::is_regular_file(there, ec)) continue;
    c.moved.push_back(std::string(key) + ": " + *file + " does not exist; using " + there.string() +
                      ", at the same place relative to the checkpoint");
    *file = there.string();
  }
}

RunState read_run_state(const Metadata& m) {
  RunState s;
  s.epoch = m.integer("epoch");
  s.step = m.integer("step");
  s.batch = m.integer("batch");
  s.rng_dropout = m.unsigned_integer("rng_dropout");
  s.optimizer_steps = m.integer("optimizer_steps");
  s.best_metric = m.real("best_metric", /*infinite_ok=*/true);
  s.best_epoch = m.integer("best_epoch");
  s.since_best = m.integer("since_best");
  s.epoch_loss_sum = m.real("epoch_loss_sum");
  s.epoch_correct = m.integer("epoch_correct");
  s.epoch_seen = m.integer("epoch_seen");
  s.epoch_seconds = m.real("epoch_seconds");
  s.lr = m.real("lr");
  return s;
}

const TensorEntry* find_tensor(const SafetensorsFile& file, const std::string& name) {
  for (const TensorEntry& t : file.tensors)
    if (t.name == name) return &t;
  return nullptr;
}

// The network's size, which only the data knew: the input count off the first weights, the output
// count off the last, each checked against what the config says of them.
void read_network_size(const Metadata& m, const SafetensorsFile& file, Checkpoint& c) {
  const TensorEntry* first = find_tensor(file, "layers.0.weight");
  if (!first) throw m.fail("missing tensor layers.0.weight");
  int64_t dense = 0, first_units = 0;  // first_units: 0 when the first dense layer is the last (the classes)
  for (const LayerConfig& l : c.config.layers)
    if (l.type == LayerType::dense && dense++ == 0) first_units = l.units;
  if (first->shape.size() != 2 || first->shape[1] <= 0 || (first_units > 0 && first->shape[0] != first_units))
    throw m.fail("tensor layers.0.weight: expected shape [" +
                 (first_units > 0 ? std::to_string(first_units) : "units") + ", inputs], found " +
                 shape_text(first->shape));
  const std::string last_name = "layers." + std::to_string(dense - 1) + ".weight";
  const TensorEntry* last = find_tensor(file, last_name);
  if (!last)
    throw m.fail("missing tensor " + last_name + " (the config has " + std::to_string(dense) + " dense layers)");
  if (last->shape.empty() || last->shape[0] <= 0)
    throw m.fail("tensor " + last_name + ": expected shape [outputs, inputs], found " + shape_text(last->shape));
  c.inputs = first->shape[1];
  c.outputs = last->shape[0];
  // Every dense layer's weights, before a network is sized by the config: the file's tensors fit in
  // the file (read_safetensors), so a forged units of 2^31 in a hidden layer is refused here
  // rather than allocated.
  int64_t in = c.inputs, i = 0;
  for (const LayerConfig& l : c.config.layers) {
    if (l.type != LayerType::dense) continue;
    const std::string name = "layers." + std::to_string(i) + ".weight";
    const int64_t out = l.units > 0 ? l.units : c.outputs;  // as Network sizes it
    const TensorEntry* t = find_tensor(file, name);
    if (!t) throw m.fail("missing tensor " + name + " (the config's network has it)");
    if (t->shape != std::vector<int64_t>{out, in})
      throw m.fail("tensor " + name + ": expected shape " + shape_text({out, in}) + " (from the config), found " +
                   shape_text(t->shape));
    in = out;
    ++i;
  }
}

// Every tensor against the network the config describes, and the optimiser's moments; no other.
// nabla never saves a non-finite weight or moment (a diverging run stops before the update), so one
// in a file with good CRCs was put there: refused, naming the entry, rather than evaluated.
void check_finite(const Metadata& m, const std::string& name, const std::vector<int64_t>& shape, const float* x,
                  size_t n) {
  for (size_t i = 0; i < n; ++i) {
    if (std::isfinite(x[i])) continue;
    const int64_t columns = shape.size() == 2 ? shape[1] : 0;
    const std::string entry =
        columns ? std::to_string(int64_t(i) / columns) + "," + std::to_string(int64_t(i) % columns) : std::to_string(i);
    throw m.fail("tensor " + name + "[" + entry + "] is " + (std::isnan(x[i]) ? "NaN" : "infinite") +
                 ": nabla never saves a non-finite value (a diverging run stops before its update), so the file "
                 "was changed");
  }
}

void read_tensors(const Metadata& m, const SafetensorsFile& file, Checkpoint& c) {
  const Network<float> net(c.config.layers, c.inputs, c.outputs, c.config.loss.type, 1);
  size_t known = 0;
  c.params.resize(net.params().size());
  for (const TensorInfo& ti : net.tensors()) {
    const TensorEntry* t = find_tensor(file, ti.name);
    if (!t) throw m.fail("missing tensor " + ti.name + " (the config's network has it)");
    if (t->dtype != "F32") throw m.fail("tensor " + ti.name + ": expected dtype F32, found " + t->dtype);
    if (t->shape != ti.shape)
      throw m.fail("tensor " + ti.name + ": expected shape " + shape_text(ti.shape) + " (from the config), found " +
                   shape_text(t->shape));
    std::memcpy(c.params.data() + ti.offset, file.bytes(*t), ti.size() * sizeof(float));
    check_finite(m, ti.name, ti.shape, c.params.data() + ti.offset, ti.size());
    if (ti.name.ends_with(".running_var"))  // a variance below 0 would make evaluation's √ NaN
      for (size_t i = 0; i < ti.size(); ++i)
        if (c.params[ti.offset + i] < 0)
          throw m.fail("tensor " + ti.name + "[" + std::to_string(i) + "] is " +
                       printf_string("%g", c.params[ti.offset + i]) +
                       ": a variance is never below 0 (nabla keeps it from squares), so the file was changed");
    ++known;
  }
  const size_t buffers = size_t(moment_buffers(c.config.optimizer));
  const int64_t n = int64_t(net.params().size());
  if (const TensorEntry* t = find_tensor(file, "optimizer.state")) {
    const std::vector<int64_t> want = {int64_t(buffers), n};
    if (t->dtype != "F32") throw m.fail("tensor optimizer.state: expected dtype F32, found " + t->dtype);
    if (t->shape != want)
      throw m.fail("tensor optimizer.state: expected shape " + shape_text(want) + " (" + c.optimizer +
                   "'s moments of every parameter), found " + shape_text(t->shape));
    c.optimizer_state.resize(buffers * size_t(n));
    std::memcpy(c.optimizer_state.data(), file.bytes(*t), c.optimizer_state.size() * sizeof(float));
    check_finite(m, "optimizer.state", want, c.optimizer_state.data(), c.optimizer_state.size());
    ++known;
  } else if (buffers > 0) {
    throw m.fail("missing tensor optimizer.state (" + c.optimizer + " keeps " + std::to_string(buffers) +
                 " moment buffers)");
  }
  if (known != file.tensors.size())
    for (const TensorEntry& t : file.tensors) {
      bool ours = t.name == "optimizer.state";
      for (const TensorInfo& ti : net.tensors()) ours = ours || ti.name == t.name;
      if (!ours) throw m.fail("unexpected tensor " + t.name + " (not in the config's network)");
    }
}

}  // namespace

Checkpoint load_checkpoint(const std::string& path) {
  const SafetensorsFile file = read_safetensors(path);
  const Metadata m(path, file.metadata);
  check_format(m, file);
  Checkpoint c;
  c.format_version = m.get("format_version");
  read_config(m, path, c);
  find_moved_data(m, path, c);
  c.state = read_run_state(m);
  c.optimizer = m.get("optimizer");
  if (c.optimizer != to_string(c.config.optimizer.type))
    throw m.fail("__metadata__.optimizer: expected \"" + std::string(to_string(c.config.optimizer.type)) +
                 "\" (the config's optimizer.type), found \"" + c.optimizer + "\"");
  read_network_size(m, file, c);
  read_tensors(m, file, c);
  return c;
}

}  // namespace nabla::io
