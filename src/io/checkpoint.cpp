#include "io/checkpoint.hpp"

#include <zlib.h>

#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <map>

#include "io/atomic_file.hpp"
#include "io/safetensors.hpp"
#include "util/error.hpp"

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

std::string hex32(uint32_t v) {
  char b[16];
  std::snprintf(b, sizeof b, "%08" PRIx32, v);
  return b;
}

std::string shape_text(const std::vector<int64_t>& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

}  // namespace

void save_checkpoint(const std::string& path, const Config& config, const Network<float>& net,
                     const std::vector<float>& optimizer_state, const RunState& s) {
  std::vector<TensorBytes> tensors;
  for (const TensorInfo& t : net.tensors())
    tensors.push_back({t.name, "F32", t.shape, net.params().data() + t.offset, t.size() * sizeof(float)});
  const int64_t n = int64_t(net.params().size());
  if (!optimizer_state.empty())
    tensors.push_back({"optimizer.state", "F32", {int64_t(optimizer_state.size()) / n, n}, optimizer_state.data(),
                       optimizer_state.size() * sizeof(float)});

  std::string data;  // the CRC covers every tensor byte, in file order
  for (const TensorBytes& t : tensors) data.append(static_cast<const char*>(t.data), t.size);

  std::map<std::string, std::string> m;
  m["format"] = kFormat;
  m["format_version"] = kVersion;
  m["config"] = to_json(config).dump();
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

Checkpoint load_checkpoint(const std::string& path) {
  const SafetensorsFile file = read_safetensors(path);
  auto fail = [&](const std::string& what) { return Error(path, "", what); };
  const auto& m = file.metadata;
  auto get = [&](const char* key) -> const std::string& {
    const auto it = m.find(key);
    if (it == m.end()) throw fail("__metadata__." + std::string(key) + ": missing (not a nabla checkpoint?)");
    return it->second;
  };
  auto integer = [&](const char* key) -> int64_t {
    const std::string& v = get(key);
    char* end = nullptr;
    errno = 0;
    const long long x = std::strtoll(v.c_str(), &end, 10);
    if (v.empty() || *end || errno || x < 0)
      throw fail("__metadata__." + std::string(key) + ": expected a non-negative integer, found \"" + v + "\"");
    return x;
  };
  auto real = [&](const char* key) -> double {
    const std::string& v = get(key);
    char* end = nullptr;
    const double x = std::strtod(v.c_str(), &end);
    if (v.empty() || *end) throw fail("__metadata__." + std::string(key) + ": expected a number, found \"" + v + "\"");
    return x;
  };

  if (m.empty()) throw fail("__metadata__: missing (not a nabla checkpoint: it holds only tensors)");
  if (get("format") != kFormat)
    throw fail("__metadata__.format: expected \"" + std::string(kFormat) + "\", found \"" + get("format") + "\"");
  const std::string& version = get("format_version");
  if (version != kVersion && version != "1")
    throw fail("__metadata__.format_version: expected \"1\" or \"" + std::string(kVersion) + "\", found \"" + version +
               "\" (written by another version of nabla)");

  auto hex_digits = [](const std::string& v) {
    return v.size() == 8 && v.find_first_not_of("0123456789abcdef") == std::string::npos;
  };
  for (const char* key : {"crc32", kCrcKey})
    if (m.count(key) && !hex_digits(m.at(key)))
      throw fail("__metadata__." + std::string(key) + ": expected 8 lowercase hex digits, found \"" + m.at(key) + "\"");

  // The CRCs before anything else is trusted: the metadata's (from version 2), then the tensors'.
  if (version != "1") {
    const std::string expected = get(kCrcKey), actual = hex32(metadata_crc(m));
    if (expected != actual)
      throw fail("CRC-32 of the metadata: expected " + expected + " (from __metadata__." + kCrcKey + "), found " +
                 actual + ": the file is damaged");
  }
  const std::string expected_crc = get("crc32");
  const std::string actual_crc = hex32(crc32_of(file.data));
  if (expected_crc != actual_crc)
    throw fail("CRC-32 of the tensor bytes: expected " + expected_crc + " (from __metadata__.crc32), found " +
               actual_crc + ": the file is damaged");

  Checkpoint c;
  try {
    c.config_json = nlohmann::ordered_json::parse(get("config"));
  } catch (const nlohmann::json::parse_error& e) {
    throw fail("__metadata__.config: not JSON: " + std::string(e.what()));
  }
  try {
    c.config = parse_config(c.config_json, path + " (__metadata__.config)", ".");
  } catch (const Errors& e) {
    throw fail("__metadata__.config is not a valid config: " + e.messages().front());
  }
  c.config.path = path;

  RunState& s = c.state;
  s.epoch = integer("epoch");
  s.step = integer("step");
  s.batch = integer("batch");
  s.rng_dropout = std::strtoull(get("rng_dropout").c_str(), nullptr, 10);
  s.optimizer_steps = integer("optimizer_steps");
  s.best_metric = real("best_metric");
  s.best_epoch = integer("best_epoch");
  s.since_best = integer("since_best");
  s.epoch_loss_sum = real("epoch_loss_sum");
  s.epoch_correct = integer("epoch_correct");
  s.epoch_seen = integer("epoch_seen");
  s.epoch_seconds = real("epoch_seconds");
  s.lr = real("lr");
  c.optimizer = get("optimizer");
  if (c.optimizer != to_string(c.config.optimizer.type))
    throw fail("__metadata__.optimizer: expected \"" + std::string(to_string(c.config.optimizer.type)) +
               "\" (the config's optimizer.type), found \"" + c.optimizer + "\"");

  // The tensors against the network the config describes. The input size and the class count come
  // from the data, so they are read off the first and last weights and then checked throughout.
  auto find = [&](const std::string& name) -> const TensorEntry* {
    for (const TensorEntry& t : file.tensors)
      if (t.name == name) return &t;
    return nullptr;
  };
  const TensorEntry* first = find("layers.0.weight");
  if (!first) throw fail("missing tensor layers.0.weight");
  int64_t dense = 0, first_units = 0;  // first_units: 0 when the first dense layer is the last (the classes)
  for (const LayerConfig& l : c.config.layers)
    if (l.type == LayerType::dense && dense++ == 0) first_units = l.units;
  if (first->shape.size() != 2 || first->shape[1] <= 0 || (first_units > 0 && first->shape[0] != first_units))
    throw fail("tensor layers.0.weight: expected shape [" + (first_units > 0 ? std::to_string(first_units) : "units") +
               ", inputs], found " + shape_text(first->shape));
  const std::string last_name = "layers." + std::to_string(dense - 1) + ".weight";
  const TensorEntry* last = find(last_name);
  if (!last) throw fail("missing tensor " + last_name + " (the config has " + std::to_string(dense) + " dense layers)");
  if (last->shape.empty() || last->shape[0] <= 0)
    throw fail("tensor " + last_name + ": expected shape [outputs, inputs], found " + shape_text(last->shape));
  c.inputs = first->shape[1];
  c.outputs = last->shape[0];
  const Network<float> net(c.config.layers, c.inputs, c.outputs, c.config.loss, 1);

  size_t model_tensors = 0;
  c.params.resize(net.params().size());
  for (const TensorInfo& ti : net.tensors()) {
    const TensorEntry* t = find(ti.name);
    if (!t) throw fail("missing tensor " + ti.name + " (the config's network has it)");
    if (t->dtype != "F32") throw fail("tensor " + ti.name + ": expected dtype F32, found " + t->dtype);
    if (t->shape != ti.shape)
      throw fail("tensor " + ti.name + ": expected shape " + shape_text(ti.shape) + " (from the config), found " +
                 shape_text(t->shape));
    std::memcpy(c.params.data() + ti.offset, file.bytes(*t), ti.size() * sizeof(float));
    ++model_tensors;
  }
  const size_t buffers = c.config.optimizer.type == OptimizerKind::sgd ? (c.config.optimizer.momentum > 0 ? 1 : 0) : 2;
  const int64_t n = int64_t(net.params().size());
  if (const TensorEntry* t = find("optimizer.state")) {
    const std::vector<int64_t> want = {int64_t(buffers), n};
    if (t->dtype != "F32") throw fail("tensor optimizer.state: expected dtype F32, found " + t->dtype);
    if (t->shape != want)
      throw fail("tensor optimizer.state: expected shape " + shape_text(want) + " (" + c.optimizer +
                 "'s moments of every parameter), found " + shape_text(t->shape));
    c.optimizer_state.resize(buffers * size_t(n));
    std::memcpy(c.optimizer_state.data(), file.bytes(*t), c.optimizer_state.size() * sizeof(float));
    ++model_tensors;
  } else if (buffers > 0) {
    throw fail("missing tensor optimizer.state (" + c.optimizer + " keeps " + std::to_string(buffers) +
               " moment buffers)");
  }
  if (model_tensors != file.tensors.size())
    for (const TensorEntry& t : file.tensors) {
      bool known = t.name == "optimizer.state";
      for (const TensorInfo& ti : net.tensors()) known = known || ti.name == t.name;
      if (!known) throw fail("unexpected tensor " + t.name + " (not in the config's network)");
    }
  return c;
}

}  // namespace nabla::io
