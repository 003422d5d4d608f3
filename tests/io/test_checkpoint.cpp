// Checkpoints: a bit-exact round trip, and a refusal with its own message for every kind of damage.
#include <doctest/doctest.h>
#include <zlib.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <limits>

#include "config/json.hpp"
#include "io/atomic_file.hpp"
#include "io/checkpoint.hpp"
#include "io/safetensors.hpp"
#include "util/error.hpp"

using namespace nabla;
namespace fs = std::filesystem;

namespace {

const char* kConfig = R"({
  "name": "tiny",
  "data": {"train": {"images": "train-images.gz", "labels": "train-labels.gz"}, "validation": 10},
  "model": {"layers": [{"type": "dense", "units": 3, "activation": "tanh"},
                       {"type": "dense", "units": 4, "activation": "softmax"}]},
  "optimizer": {"type": "adam", "learning_rate": 0.01}
})";

Config tiny_config() { return parse_config(nlohmann::json::parse(kConfig), "tiny.json", "/data"); }

fs::path temp_path(const std::string& name) {
  const fs::path d = fs::temp_directory_path() / ("nabla-io-" + std::to_string(::getpid()));
  fs::create_directories(d);
  return d / name;
}

std::string read_bytes(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
}

void write_bytes(const fs::path& p, const std::string& b) { std::ofstream(p, std::ios::binary) << b; }

// A real checkpoint of a 5-3-4 network with distinct parameters, and its bytes.
std::string good_checkpoint(const fs::path& path) {
  const Config c = tiny_config();
  Network<float> net(c.layers, 5, 4, c.loss.type, 1);
  for (size_t k = 0; k < net.params().size(); ++k) net.params()[k] = 0.01f * float(k) - 0.2f;
  std::vector<float> opt(2 * net.params().size());
  for (size_t k = 0; k < opt.size(); ++k) opt[k] = 1e-3f * float(k);
  io::RunState s;
  s.epoch = 2;
  s.step = 40;
  s.rng_dropout = 0xFEDCBA9876543210ULL;
  s.optimizer_steps = 40;
  s.best_metric = 0.1 + 0.2;  // not exactly representable: the text must round-trip the bits
  s.best_epoch = 2;
  io::save_checkpoint(path.string(), c, net, opt, s);
  return read_bytes(path);
}

// The header of a safetensors image, edited, with the tensor bytes kept.
std::string edit_header(const std::string& file, const std::function<void(nlohmann::json&)>& edit) {
  uint64_t n;
  std::memcpy(&n, file.data(), 8);
  nlohmann::json h = nlohmann::json::parse(file.substr(8, n));
  edit(h);
  const std::string text = h.dump();
  const uint64_t m = text.size();
  return std::string(reinterpret_cast<const char*>(&m), 8) + text + file.substr(8 + n);
}

// Recomputes __metadata__.crc32_metadata after an edit, as a writer that meant it would: the CRC-32
// of every other key and value in key order, each followed by a NUL (zlib's CRC, computed here).
void reseal(nlohmann::json& h) {
  std::string all;
  for (const auto& [key, value] : h["__metadata__"].items())
    if (key != "crc32_metadata") all += key + '\0' + value.get<std::string>() + '\0';
  char hex[16];
  std::snprintf(hex, sizeof hex, "%08lx", crc32(crc32(0L, Z_NULL, 0), reinterpret_cast<const Bytef*>(all.data()), uInt(all.size())));
  h["__metadata__"]["crc32_metadata"] = hex;
}

std::string load_error(const fs::path& p) {
  try {
    io::load_checkpoint(p.string());
  } catch (const Error& e) {
    return e.what();
  }
  return "(loaded)";
}

}  // namespace

TEST_CASE("a checkpoint round-trips bit for bit") {
  const fs::path p = temp_path("round.safetensors");
  good_checkpoint(p);
  const io::Checkpoint c = io::load_checkpoint(p.string());
  CHECK(c.inputs == 5);
  CHECK(c.outputs == 4);
  REQUIRE(c.params.size() == 5 * 3 + 3 + 3 * 4 + 4);
  for (size_t k = 0; k < c.params.size(); ++k) CHECK(c.params[k] == 0.01f * float(k) - 0.2f);
  REQUIRE(c.optimizer_state.size() == 2 * c.params.size());
  for (size_t k = 0; k < c.optimizer_state.size(); ++k) CHECK(c.optimizer_state[k] == 1e-3f * float(k));
  CHECK(c.state.epoch == 2);
  CHECK(c.state.step == 40);
  CHECK(c.state.rng_dropout == 0xFEDCBA9876543210ULL);
  CHECK(c.state.best_metric == 0.1 + 0.2);
  CHECK(c.optimizer == "adam");
  CHECK(c.config.layers == tiny_config().layers);
  CHECK(c.config.optimizer == tiny_config().optimizer);
  // Saving what was loaded gives the same bytes.
  const fs::path q = temp_path("round2.safetensors");
  Network<float> net(c.config.layers, 5, 4, c.config.loss.type, 1);
  net.params() = c.params;
  io::save_checkpoint(q.string(), tiny_config(), net, c.optimizer_state, c.state);
  CHECK(read_bytes(q) == read_bytes(p));
}

TEST_CASE("a norm's tensors round-trip by name, and a negative running variance is refused") {
  Config c = tiny_config();
  c.layers[0].norm = Norm::batch_norm;
  c.layers[1].norm = Norm::layer_norm;
  Network<float> net(c.layers, 5, 4, c.loss.type, 1);
  for (size_t k = 0; k < net.params().size(); ++k) net.params()[k] = 0.01f * float(k) + 0.05f;  // all > 0
  const std::vector<float> opt(2 * net.params().size(), 0.5f);
  io::RunState s;
  s.epoch = 1;
  s.step = 3;
  s.optimizer_steps = 3;
  const fs::path p = temp_path("norms.safetensors");
  io::save_checkpoint(p.string(), c, net, opt, s);
  const io::Checkpoint back = io::load_checkpoint(p.string());
  CHECK(back.params == net.params());
  CHECK(back.config.layers == c.layers);
  std::vector<std::string> names;
  for (const TensorInfo& t : net.tensors()) names.push_back(t.name);
  CHECK(names == std::vector<std::string>{"layers.0.weight", "layers.0.bias", "layers.0.norm.weight",
                                          "layers.0.norm.bias", "layers.0.norm.running_mean",
                                          "layers.0.norm.running_var", "layers.1.weight", "layers.1.bias",
                                          "layers.1.norm.weight", "layers.1.norm.bias"});
  // A variance of −0.25 in a file whose CRCs say it was written so.
  const size_t var = net.layers()[0].var_offset + 1;
  net.params()[var] = -0.25f;
  io::save_checkpoint(p.string(), c, net, opt, s);
  try {
    io::load_checkpoint(p.string());
    FAIL("a negative running variance was loaded");
  } catch (const Error& e) {
    CHECK(std::string(e.what()) == p.string() +
                                       ": tensor layers.0.norm.running_var[1] is -0.25: a variance is never below 0 "
                                       "(nabla keeps it from squares), so the file was changed");
  }
}

TEST_CASE("the model tensors are plain safetensors, named as PyTorch's nn.Linear") {
  const fs::path p = temp_path("plain.safetensors");
  good_checkpoint(p);
  const io::SafetensorsFile f = io::read_safetensors(p.string());
  REQUIRE(f.tensors.size() == 5);
  CHECK(f.tensors[0].name == "layers.0.weight");
  CHECK(f.tensors[0].shape == std::vector<int64_t>{3, 5});
  CHECK(f.tensors[0].begin == 0);
  CHECK(f.tensors[1].name == "layers.0.bias");
  CHECK(f.tensors[4].name == "optimizer.state");
  float w01;
  std::memcpy(&w01, f.bytes(f.tensors[0]) + 4, 4);  // W[0, 1], the second float, little-endian
  CHECK(w01 == 0.01f * 1 - 0.2f);
}

TEST_CASE("damaged checkpoints are refused, each with what failed") {
  const fs::path good = temp_path("good.safetensors");
  const std::string bytes = good_checkpoint(good);
  uint64_t n;
  std::memcpy(&n, bytes.data(), 8);
  const size_t data_start = 8 + n;

  struct Case {
    const char* name;
    std::string bytes;
    const char* message;  // a part of the one-line error that names the failed check
  };
  std::string flipped = bytes;
  flipped[data_start + 17] ^= 0x10;  // one bit of layers.0.weight
  // A NaN written over layers.0.weight[1,0] (the sixth float of the 3 x 5), both CRCs made to match.
  std::string nan_weight = bytes;
  const float nan = std::numeric_limits<float>::quiet_NaN();
  std::memcpy(nan_weight.data() + data_start + 5 * 4, &nan, 4);
  nan_weight = edit_header(nan_weight, [&](nlohmann::json& h) {
    const std::string data = nan_weight.substr(data_start);
    char hex[16];
    std::snprintf(hex, sizeof hex, "%08lx",
                  crc32(crc32(0L, Z_NULL, 0), reinterpret_cast<const Bytef*>(data.data()), uInt(data.size())));
    h["__metadata__"]["crc32"] = hex;
    reseal(h);
  });
  // The header's text with a key given twice (a JSON object cannot hold it: the text is edited).
  std::string twice = bytes;
  const std::string again = "\"__metadata__\":{},";
  twice.insert(9, again);
  const uint64_t twice_n = n + again.size();
  std::memcpy(twice.data(), &twice_n, 8);
  std::string long_header = bytes;
  const uint64_t huge = bytes.size();
  std::memcpy(long_header.data(), &huge, 8);
  std::string not_json = bytes;
  not_json[8] = '[';
  not_json[9] = '!';
  std::string capped = bytes;
  const uint64_t over = io::kMaxHeaderBytes + 1;
  std::memcpy(capped.data(), &over, 8);

  const Case cases[] = {
      {"empty", "", "truncated: the file has 0 bytes"},
      {"truncated", bytes.substr(0, bytes.size() - 7), "is past the end of the data"},
      {"bit flipped in a tensor", flipped, "CRC-32 of the tensor bytes: expected"},
      {"header length beyond the file", long_header, "runs past the end of the file"},
      {"header length over the cap", capped, "is over the cap of 100000000 bytes"},
      {"header not JSON", not_json, "header is not JSON"},
      {"offsets out of range",
       edit_header(bytes, [](nlohmann::json& h) { h["layers.1.bias"]["data_offsets"] = {1000000, 1000016}; }),
       "tensor layers.1.bias: data_offsets end 1000016 is past the end of the data"},
      {"offsets reversed",
       edit_header(bytes,
                   [](nlohmann::json& h) {
                     auto o = h["layers.1.bias"]["data_offsets"];
                     h["layers.1.bias"]["data_offsets"] = {o[1], o[0]};
                   }),
       "tensor layers.1.bias: data_offsets [" /* ...] are reversed */},
      {"offsets overlapping",
       edit_header(bytes, [](nlohmann::json& h) { h["layers.0.bias"]["data_offsets"] = {4, 16}; }),
       "data_offsets begin at"},
      {"a shape that does not match the config",
       edit_header(bytes, [](nlohmann::json& h) { h["layers.0.weight"]["shape"] = {1, 15}; }),
       "tensor layers.0.weight: expected shape [3, inputs], found [1, 15]"},
      {"the first weights transposed (their inputs are read off them, so they must be checked first)",
       edit_header(bytes, [](nlohmann::json& h) { h["layers.0.weight"]["shape"] = {5, 3}; }),
       "tensor layers.0.weight: expected shape [3, inputs], found [5, 3]"},
      {"a later shape that does not match the config",
       edit_header(bytes, [](nlohmann::json& h) { h["layers.1.weight"]["shape"] = {3, 4}; }),
       "tensor layers.1.weight: expected shape [4, 3] (from the config), found [3, 4]"},
      {"a shape whose product overflows",
       edit_header(bytes,
                   [](nlohmann::json& h) { h["layers.0.weight"]["shape"] = {uint64_t(1) << 40, uint64_t(1) << 40}; }),
       "tensor layers.0.weight: shape [1099511627776, 1099511627776] overflows"},
      {"a wrong dtype",
       edit_header(bytes,
                   [](nlohmann::json& h) {
                     h["layers.0.weight"]["dtype"] = "F64";
                     h["layers.0.weight"]["shape"] = {3, 2};  // 48 bytes of F64 where 60 bytes stand
                   }),
       "tensor layers.0.weight: shape [3, 2] of F64 needs 48 bytes, data_offsets hold 60"},
      {"an unsupported dtype", edit_header(bytes, [](nlohmann::json& h) { h["layers.0.bias"]["dtype"] = "BF16"; }),
       "tensor layers.0.bias: dtype: expected F32 or F64, found BF16"},
      {"a missing tensor",
       edit_header(bytes,
                   [](nlohmann::json& h) {
                     h["layers.1.biax"] = h["layers.1.bias"];
                     h.erase("layers.1.bias");
                   }),
       "missing tensor layers.1.bias"},
      {"missing metadata", edit_header(bytes, [](nlohmann::json& h) { h.erase("__metadata__"); }),
       "__metadata__: missing"},
      {"garbage metadata", edit_header(bytes, [](nlohmann::json& h) { h["__metadata__"]["format"] = "pickle"; }),
       "__metadata__.format: expected \"nabla-checkpoint\", found \"pickle\""},
      {"a metadata value changed (one bit: '1' to '9')",
       edit_header(bytes, [](nlohmann::json& h) { h["__metadata__"]["epoch_correct"] = "9"; }),
       "CRC-32 of the metadata: expected "},
      {"a tensor missing from the header, its bytes still there",
       edit_header(bytes, [](nlohmann::json& h) { h.erase("optimizer.state"); }),
       "bytes belong to no tensor (one missing from the header?)"},
      {"a tensor without its data_offsets",
       edit_header(bytes, [](nlohmann::json& h) { h["layers.0.bias"].erase("data_offsets"); }),
       "tensor layers.0.bias: data_offsets: missing"},
      {"a NaN weight under good CRCs", nan_weight,
       "tensor layers.0.weight[1,0] is NaN: nabla never saves a non-finite value (a diverging run stops before its "
       "update), so the file was changed"},
      {"a key given twice in the header", twice, "header: the key \"__metadata__\" is given twice"},
      {"a best metric that is not a number",
       edit_header(bytes, [](nlohmann::json& h) { h["__metadata__"]["best_metric"] = "nan", reseal(h); }),
       "__metadata__.best_metric: expected a number, found \"nan\""},
      {"an infinite learning rate",
       edit_header(bytes, [](nlohmann::json& h) { h["__metadata__"]["lr"] = "inf", reseal(h); }),
       "__metadata__.lr: expected a finite number, found \"inf\""},
      {"a CRC that is not hex digits",
       edit_header(bytes, [](nlohmann::json& h) { h["__metadata__"]["crc32"] = "zzzz", reseal(h); }),
       "__metadata__.crc32: expected 8 lowercase hex digits, found \"zzzz\""},
      {"another format version", edit_header(bytes, [](nlohmann::json& h) { h["__metadata__"]["format_version"] = "3"; }),
       "__metadata__.format_version: expected \"1\" or \"2\", found \"3\""},
      {"metadata config not JSON",
       edit_header(bytes, [](nlohmann::json& h) { h["__metadata__"]["config"] = "{oops", reseal(h); }),
       "__metadata__.config: not JSON"},
      {"metadata step not a number",
       edit_header(bytes, [](nlohmann::json& h) { h["__metadata__"]["step"] = "ten", reseal(h); }),
       "__metadata__.step: expected a non-negative integer, found \"ten\""},
      {"metadata not strings", edit_header(bytes, [](nlohmann::json& h) { h["__metadata__"]["epoch"] = 2; }),
       "__metadata__.epoch: expected a string, found number"},
      // The dropout stream's state is a whole 64-bit number: not 0 for garbage, nor 2^64 - 1 for -1.
      {"the dropout state not a number",
       edit_header(bytes, [](nlohmann::json& h) { h["__metadata__"]["rng_dropout"] = "x12", reseal(h); }),
       "__metadata__.rng_dropout: expected a whole number from 0 to 2^64 - 1, found \"x12\""},
      {"the dropout state negative, behind a space",
       edit_header(bytes, [](nlohmann::json& h) { h["__metadata__"]["rng_dropout"] = " -1", reseal(h); }),
       "__metadata__.rng_dropout: expected a whole number from 0 to 2^64 - 1, found \" -1\""},
      {"the dropout state over 64 bits",
       edit_header(bytes, [](nlohmann::json& h) { h["__metadata__"]["rng_dropout"] = "18446744073709551616", reseal(h); }),
       "__metadata__.rng_dropout: expected a whole number from 0 to 2^64 - 1"},
      {"a shape size over 2^63 - 1 (it would wrap negative)",
       edit_header(bytes, [](nlohmann::json& h) { h["layers.0.weight"]["shape"] = {uint64_t(1) << 63, 0}; }),
       "tensor layers.0.weight: shape: a size of 9223372036854775808 is over 2^63 - 1"},
  };
  for (const Case& c : cases) {
    CAPTURE(std::string(c.name));
    const fs::path p = temp_path("bad.safetensors");
    write_bytes(p, c.bytes);
    const std::string message = load_error(p);
    CAPTURE(message);
    CHECK(message.find(p.string() + ": ") == 0);  // names the file first
    CHECK(message.find(c.message) != std::string::npos);
    CHECK(message.find('\n') == std::string::npos);
  }
  // A version 1 file (written before the metadata had a CRC of its own) still loads.
  {
    const fs::path p = temp_path("v1.safetensors");
    write_bytes(p, edit_header(bytes, [](nlohmann::json& h) {
                  h["__metadata__"]["format_version"] = "1";
                  h["__metadata__"].erase("crc32_metadata");
                }));
    CHECK(load_error(p) == "(loaded)");
  }
  // An F64 tensor where F32 belongs, with a consistent byte count.
  {
    const fs::path p = temp_path("f64.safetensors");
    write_bytes(p, edit_header(bytes, [](nlohmann::json& h) {
                  h["layers.1.bias"]["dtype"] = "F64";
                  h["layers.1.bias"]["shape"] = {2};
                }));
    CHECK(load_error(p).find("tensor layers.1.bias: expected dtype F32, found F64") != std::string::npos);
  }
  const fs::path dir = temp_path("a-folder.safetensors");
  fs::create_directories(dir);
  CHECK(load_error(dir).find("is a directory") != std::string::npos);
  CHECK(load_error(temp_path("absent.safetensors")) ==
        temp_path("absent.safetensors").string() + ": cannot open: No such file or directory");
  // A symbolic link loop, in the system's words, as a config's is.
  fs::create_symlink(temp_path("loop-b.safetensors"), temp_path("loop-a.safetensors"));
  fs::create_symlink(temp_path("loop-a.safetensors"), temp_path("loop-b.safetensors"));
  CHECK(load_error(temp_path("loop-a.safetensors")) ==
        temp_path("loop-a.safetensors").string() + ": cannot open: Too many levels of symbolic links");
}

TEST_CASE("writing a checkpoint leaves no temporary file and replaces the old one whole") {
  const std::string expected = good_checkpoint(temp_path("fresh.safetensors"));
  const fs::path p = temp_path("atomic.safetensors");
  {  // an older, longer file under the name: none of it may survive the new one
    std::ofstream old(p, std::ios::binary);
    old << std::string(expected.size() * 3, 'x');
  }
  CHECK(good_checkpoint(p) == expected);
  int files = 0;
  for (const auto& e : fs::directory_iterator(p.parent_path()))
    files += e.path().filename().string().find(".tmp-") != std::string::npos;
  CHECK(files == 0);
  CHECK_NOTHROW(io::load_checkpoint(p.string()));

  // A replaced file keeps its permissions; a link at the name is refused, and its target left alone.
  fs::permissions(p, fs::perms::owner_read | fs::perms::owner_write);
  (void)good_checkpoint(p);
  CHECK((fs::status(p).permissions() & fs::perms::all) == (fs::perms::owner_read | fs::perms::owner_write));
  const fs::path link = temp_path("link.safetensors");
  fs::create_symlink(p, link);
  CHECK_THROWS_WITH_AS(io::write_atomically(link.string(), "x"),
                       (link.string() + ": is not a regular file (a device, a pipe, a folder or a link): it is not "
                                        "replaced").c_str(),
                       nabla::Error);
  CHECK(fs::is_symlink(link));
  CHECK_NOTHROW(io::load_checkpoint(p.string()));
}
