// Exports: the ONNX model and the npz archive read back field by field (a small protobuf reader and
// the zip's central directory), against the checkpoint they came from. That onnxruntime and numpy
// compute nabla's outputs from them is tests/scripts/onnx_check.sh's and npz_check.sh's to show.
#include <doctest/doctest.h>
#include <zlib.h>

#include <bit>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <string_view>

#include "config/json.hpp"
#include "io/export.hpp"
#include "temp_dir.hpp"
#include "util/error.hpp"

using namespace nabla;

namespace {

// Every activation, a dropout on the input and one between layers: 5 inputs, 4 classes.
const char* kConfig = R"({
  "name": "every-activation",
  "data": {"train": {"images": "train-images.gz", "labels": "train-labels.gz"}, "scale": 2.5},
  "model": {"layers": [{"type": "dropout", "rate": 0.2},
                       {"type": "dense", "units": 4, "activation": "sigmoid"},
                       {"type": "dense", "units": 3, "activation": "tanh"},
                       {"type": "dropout", "rate": 0.1},
                       {"type": "dense", "units": 3, "activation": "relu"},
                       {"type": "dense", "units": 3, "activation": "leaky_relu", "negative_slope": 0.25},
                       {"type": "dense", "units": 2, "activation": "linear"},
                       {"type": "dense", "units": 3, "activation": "gelu"},
                       {"type": "dense", "units": 3, "activation": "gelu_tanh"},
                       {"type": "dense", "units": 3, "activation": "silu"},
                       {"type": "dense", "units": 3, "activation": "elu", "alpha": 0.5},
                       {"type": "dense", "units": 3, "activation": "softplus"},
                       {"type": "dense", "units": 4, "activation": "softmax"}]}
})";
const std::vector<std::string> kActivations = {"sigmoid",   "tanh", "relu", "leaky_relu", "linear", "gelu",
                                               "gelu_tanh", "silu", "elu",  "softplus",   "softmax"};

// A checkpoint of that network with distinct parameters.
io::Checkpoint checkpoint() {
  io::Checkpoint ck;
  ck.config = parse_config(nlohmann::json::parse(kConfig), "every.json", "/data");
  ck.config.path = "every.safetensors";
  ck.inputs = 5;
  ck.outputs = 4;
  const Network<float> net(ck.config.layers, 5, 4, ck.config.loss.type, 1);
  ck.params.resize(net.params().size());
  for (size_t k = 0; k < ck.params.size(); ++k) ck.params[k] = 0.01f * float(k) - 0.3f;
  ck.state.epoch = 3;
  ck.state.step = 60;
  return ck;
}

// --- A protobuf reader: a message as its fields, in order ---------------------------------------

struct Field {
  int number = 0, wire = 0;
  uint64_t varint = 0;    // wire types 0 and 5 (the 4 bytes)
  std::string_view data;  // wire type 2
};

uint64_t read_varint(std::string_view m, size_t& at) {
  uint64_t v = 0;
  for (int shift = 0;; shift += 7) {
    REQUIRE(at < m.size());
    REQUIRE(shift < 64);
    const uint8_t b = uint8_t(m[at++]);
    v |= uint64_t(b & 0x7F) << shift;
    if (!(b & 0x80)) return v;
  }
}

std::vector<Field> fields(std::string_view m) {
  std::vector<Field> out;
  for (size_t at = 0; at < m.size();) {
    Field f;
    const uint64_t tag = read_varint(m, at);
    f.number = int(tag >> 3);
    f.wire = int(tag & 7);
    if (f.wire == 0) {
      f.varint = read_varint(m, at);
    } else if (f.wire == 2) {
      const uint64_t n = read_varint(m, at);
      REQUIRE(n <= m.size() - at);
      f.data = m.substr(at, n);
      at += n;
    } else {
      REQUIRE(f.wire == 5);  // nabla writes no 64-bit fields
      REQUIRE(m.size() - at >= 4);
      uint32_t v;
      std::memcpy(&v, m.data() + at, 4);
      f.varint = v;
      at += 4;
    }
    out.push_back(f);
  }
  return out;
}

// Every field `number` of message m.
std::vector<Field> all(std::string_view m, int number) {
  std::vector<Field> out;
  for (const Field& f : fields(m))
    if (f.number == number) out.push_back(f);
  return out;
}
// The one field `number` (it must be there once).
Field one(std::string_view m, int number) {
  const std::vector<Field> f = all(m, number);
  REQUIRE(f.size() == 1);
  return f[0];
}
std::string text(std::string_view m, int number) { return std::string(one(m, number).data); }

// The nodes of a GraphProto (node = 1) as "OpType(in, ...) -> out".
std::vector<std::string> node_lines(std::string_view graph) {
  std::vector<std::string> lines;
  for (const Field& n : all(graph, 1)) {
    std::string s = text(n.data, 4) + "(";
    const std::vector<Field> inputs = all(n.data, 1);
    for (size_t k = 0; k < inputs.size(); ++k) s += (k ? ", " : "") + std::string(inputs[k].data);
    lines.push_back(s + ") -> " + text(n.data, 2));
  }
  return lines;
}

// The shape of a ValueInfoProto: dims as their dim_value, or as their dim_param.
std::vector<std::string> value_shape(std::string_view info) {
  const Field tensor = one(one(info, 2).data, 1);  // TypeProto.tensor_type
  CHECK(one(tensor.data, 1).varint == 1);          // elem_type FLOAT
  std::vector<std::string> dims;
  for (const Field& d : all(one(tensor.data, 2).data, 1)) {
    const Field v = fields(d.data).at(0);
    dims.push_back(v.number == 1 ? std::to_string(v.varint) : std::string(v.data));
  }
  return dims;
}

// --- The zip's members, read through its central directory ---------------------------------------

uint32_t u16(std::string_view b, size_t at) { return uint8_t(b[at]) | uint32_t(uint8_t(b[at + 1])) << 8; }
uint32_t u32(std::string_view b, size_t at) { return u16(b, at) | u16(b, at + 2) << 16; }

struct Member {
  std::string name;
  std::string_view bytes;
};

std::vector<Member> zip_members(std::string_view zip) {
  REQUIRE(zip.size() >= 22);
  const size_t end = zip.size() - 22;  // no archive comment
  REQUIRE(u32(zip, end) == 0x06054b50);
  const uint32_t count = u16(zip, end + 10), cd_size = u32(zip, end + 12), cd = u32(zip, end + 16);
  CHECK(u16(zip, end + 8) == count);
  CHECK(cd + cd_size == end);  // the directory ends where its end record starts
  std::vector<Member> out;
  for (size_t at = cd; out.size() < count;) {
    REQUIRE(u32(zip, at) == 0x02014b50);
    CHECK(u16(zip, at + 10) == 0);  // stored
    const uint32_t crc = u32(zip, at + 16), size = u32(zip, at + 20), name_len = u16(zip, at + 28);
    CHECK(u32(zip, at + 24) == size);  // the uncompressed size is the stored one
    const uint32_t local = u32(zip, at + 42);
    const std::string name(zip.substr(at + 46, name_len));
    // The local header repeats the name, size and CRC; the bytes follow it.
    REQUIRE(u32(zip, local) == 0x04034b50);
    CHECK(u32(zip, local + 14) == crc);
    CHECK(u32(zip, local + 22) == size);
    CHECK(zip.substr(local + 30, name_len) == name);
    const std::string_view bytes = zip.substr(local + 30 + name_len + u16(zip, local + 28), size);
    CHECK(crc32(crc32(0L, Z_NULL, 0), reinterpret_cast<const Bytef*>(bytes.data()), uInt(bytes.size())) == crc);
    out.push_back({name, bytes});
    at += 46 + name_len + u16(zip, at + 30) + u16(zip, at + 32);
  }
  return out;
}

// A .npy v1.0 file's header dict, checking its framing; `data` is set to what follows it.
std::string npy_header(std::string_view npy, std::string_view& data) {
  REQUIRE(npy.size() >= 10);
  CHECK(npy.substr(0, 8) == std::string_view("\x93NUMPY\x01\x00", 8));
  const uint32_t n = u16(npy, 8);
  CHECK((10 + n) % 64 == 0);  // the data aligned, as numpy writes it
  REQUIRE(npy.size() >= 10 + n);
  CHECK(npy[9 + n] == '\n');
  data = npy.substr(10 + n);
  const std::string_view h = npy.substr(10, n);
  return std::string(h.substr(0, h.find_last_not_of(" \n") + 1));
}

std::string float_bytes(const float* p, size_t n) { return std::string(reinterpret_cast<const char*>(p), n * 4); }

}  // namespace

TEST_CASE("the ONNX model is an opset-13 ModelProto by nabla, with its source in the metadata") {
  const io::Checkpoint ck = checkpoint();
  const std::string m = io::onnx_model(ck);
  // ir_version = 1 comes first: tag 0x08, the varint 7; then producer_name = 2, "nabla".
  CHECK(m.substr(0, 9) == std::string("\x08\x07\x12\x05nabla", 9));
  CHECK(one(m, 1).varint == 7);
  CHECK(text(m, 2) == "nabla");
  const Field opset = one(m, 8);
  CHECK(text(opset.data, 1) == "");  // the default domain
  CHECK(one(opset.data, 2).varint == 13);
  std::map<std::string, std::string> meta;
  for (const Field& e : all(m, 14)) meta[text(e.data, 1)] = text(e.data, 2);
  CHECK(meta["name"] == "every-activation");
  CHECK(meta["input_scale"] == "2.5");
  CHECK(meta["inputs"] == "5");
  CHECK(meta["outputs"] == "4");
  CHECK(meta["output_activation"] == "softmax");
  CHECK(meta["epoch"] == "3");
  CHECK(nlohmann::json::parse(meta["config"])["name"] == "every-activation");
  CHECK(io::onnx_model(ck) == m);  // deterministic
}

TEST_CASE("the ONNX graph scales x, then a Gemm and an activation per dense layer, dropout left out") {
  const io::Checkpoint ck = checkpoint();
  const std::string m = io::onnx_model(ck);
  const std::string_view g = one(m, 7).data;
  CHECK(text(g, 2) == "every-activation");
  const std::vector<std::string> expected = {
      "Div(x, input_scale) -> x_scaled",
      "Gemm(x_scaled, layers.0.weight, layers.0.bias) -> layers.0.z",
      "Sigmoid(layers.0.z) -> layers.0.a",
      "Gemm(layers.0.a, layers.1.weight, layers.1.bias) -> layers.1.z",
      "Tanh(layers.1.z) -> layers.1.a",
      "Gemm(layers.1.a, layers.2.weight, layers.2.bias) -> layers.2.z",
      "Relu(layers.2.z) -> layers.2.a",
      "Gemm(layers.2.a, layers.3.weight, layers.3.bias) -> layers.3.z",
      "LeakyRelu(layers.3.z) -> layers.3.a",
      "Gemm(layers.3.a, layers.4.weight, layers.4.bias) -> layers.4.a",  // linear: no node
      // gelu: ½·z·(1 + erf(z/√2)), Gelu being an operator only from opset 20
      "Gemm(layers.4.a, layers.5.weight, layers.5.bias) -> layers.5.z",
      "Mul(layers.5.z, const.sqrt_half) -> layers.5.a.1",
      "Erf(layers.5.a.1) -> layers.5.a.2",
      "Add(layers.5.a.2, const.one) -> layers.5.a.3",
      "Mul(layers.5.z, layers.5.a.3) -> layers.5.a.4",
      "Mul(layers.5.a.4, const.half) -> layers.5.a",
      // gelu_tanh: ½·z·(1 + tanh(√(2/π)·(z + 0.044715·z³)))
      "Gemm(layers.5.a, layers.6.weight, layers.6.bias) -> layers.6.z",
      "Mul(layers.6.z, layers.6.z) -> layers.6.a.1",
      "Mul(layers.6.a.1, layers.6.z) -> layers.6.a.2",
      "Mul(layers.6.a.2, const.gelu_cubic) -> layers.6.a.3",
      "Add(layers.6.z, layers.6.a.3) -> layers.6.a.4",
      "Mul(layers.6.a.4, const.sqrt_2_over_pi) -> layers.6.a.5",
      "Tanh(layers.6.a.5) -> layers.6.a.6",
      "Add(layers.6.a.6, const.one) -> layers.6.a.7",
      "Mul(layers.6.z, layers.6.a.7) -> layers.6.a.8",
      "Mul(layers.6.a.8, const.half) -> layers.6.a",
      // silu: z·sigmoid(z)
      "Gemm(layers.6.a, layers.7.weight, layers.7.bias) -> layers.7.z",
      "Sigmoid(layers.7.z) -> layers.7.a.1",
      "Mul(layers.7.z, layers.7.a.1) -> layers.7.a",
      "Gemm(layers.7.a, layers.8.weight, layers.8.bias) -> layers.8.z",
      "Elu(layers.8.z) -> layers.8.a",
      "Gemm(layers.8.a, layers.9.weight, layers.9.bias) -> layers.9.z",
      "Softplus(layers.9.z) -> layers.9.a",
      "Gemm(layers.9.a, layers.10.weight, layers.10.bias) -> layers.10.z",
      "Softmax(layers.10.z) -> probabilities",
  };
  CHECK(node_lines(g) == expected);

  // The attributes: Gemm's transB = 1 (INT), LeakyRelu's alpha (FLOAT), Softmax's axis = 1 (INT).
  for (const Field& n : all(g, 1)) {
    const std::string op = text(n.data, 4);
    const std::vector<Field> attrs = all(n.data, 5);
    if (op == "Gemm" || op == "Softmax") {
      REQUIRE(attrs.size() == 1);
      CHECK(text(attrs[0].data, 1) == (op == "Gemm" ? "transB" : "axis"));
      CHECK(one(attrs[0].data, 3).varint == 1);
      CHECK(one(attrs[0].data, 20).varint == 2);
    } else if (op == "LeakyRelu" || op == "Elu") {
      REQUIRE(attrs.size() == 1);
      CHECK(text(attrs[0].data, 1) == "alpha");
      CHECK(one(attrs[0].data, 2).wire == 5);
      CHECK(one(attrs[0].data, 2).varint == std::bit_cast<uint32_t>(op == "Elu" ? 0.5f : 0.25f));
      CHECK(one(attrs[0].data, 20).varint == 1);
    } else {
      CHECK(attrs.empty());
    }
  }

  // Input x [batch, 5] and output probabilities [batch, 4], batch a named dynamic dimension.
  CHECK(text(one(g, 11).data, 1) == "x");
  CHECK(value_shape(one(g, 11).data) == std::vector<std::string>{"batch", "5"});
  CHECK(text(one(g, 12).data, 1) == "probabilities");
  CHECK(value_shape(one(g, 12).data) == std::vector<std::string>{"batch", "4"});
}

TEST_CASE("the ONNX initializers are the checkpoint's tensors, by name, shape and bytes") {
  const io::Checkpoint ck = checkpoint();
  const std::string m = io::onnx_model(ck);
  const std::vector<Field> inits = all(one(m, 7).data, 5);
  const Network<float> net(ck.config.layers, 5, 4, ck.config.loss.type, 1);
  REQUIRE(inits.size() == 1 + net.tensors().size() + 5);  // and the composed activations' 5 constants
  const float scale = 2.5f;
  CHECK(text(inits[0].data, 8) == "input_scale");
  CHECK(all(inits[0].data, 1).empty());  // a scalar: no dims
  CHECK(text(inits[0].data, 9) == float_bytes(&scale, 1));
  for (size_t k = 0; k < net.tensors().size(); ++k) {
    const TensorInfo& t = net.tensors()[k];
    const std::string_view init = inits[k + 1].data;
    CAPTURE(t.name);
    CHECK(text(init, 8) == t.name);
    CHECK(one(init, 2).varint == 1);  // FLOAT
    std::vector<int64_t> dims;
    for (const Field& d : all(init, 1)) dims.push_back(int64_t(d.varint));
    CHECK(dims == t.shape);
    CHECK(text(init, 9) == float_bytes(ck.params.data() + t.offset, t.size()));
  }
  const std::pair<const char*, float> constants[] = {{"const.half", 0.5f},
                                                     {"const.one", 1.0f},
                                                     {"const.sqrt_half", 0.70710678f},  // 1/√2
                                                     {"const.sqrt_2_over_pi", 0.79788456f},
                                                     {"const.gelu_cubic", 0.044715f}};
  for (size_t k = 0; k < 5; ++k) {
    const std::string_view init = inits[1 + net.tensors().size() + k].data;
    CHECK(text(init, 8) == constants[k].first);
    CHECK(all(init, 1).empty());
    CHECK(text(init, 9) == float_bytes(&constants[k].second, 1));
  }
}

TEST_CASE("the npz archive holds one .npy per tensor, the input scale and the activations") {
  const io::Checkpoint ck = checkpoint();
  const std::string zip = io::npz_archive(ck);
  const std::vector<Member> members = zip_members(zip);
  const Network<float> net(ck.config.layers, 5, 4, ck.config.loss.type, 1);
  REQUIRE(members.size() == net.tensors().size() + 6);
  for (size_t k = 0; k < net.tensors().size(); ++k) {
    const TensorInfo& t = net.tensors()[k];
    CAPTURE(t.name);
    CHECK(members[k].name == t.name + ".npy");
    std::string_view data;
    std::string shape = "(";  // Python's tuple: (3, 5) or (3,)
    shape += std::to_string(t.shape[0]);
    shape += t.shape.size() == 2 ? ", " + std::to_string(t.shape[1]) + ")" : std::string(",)");
    CHECK(npy_header(members[k].bytes, data) == "{'descr': '<f4', 'fortran_order': False, 'shape': " + shape + ", }");
    CHECK(data == float_bytes(ck.params.data() + t.offset, t.size()));
  }
  const size_t n = net.tensors().size();
  std::string_view data;
  CHECK(members[n].name == "input_scale.npy");
  CHECK(npy_header(members[n].bytes, data) == "{'descr': '<f4', 'fortran_order': False, 'shape': (), }");
  const float scale = 2.5f;
  CHECK(data == float_bytes(&scale, 1));

  // activations: '<U10' ("leaky_relu" is the longest), each name in UTF-32LE, zero-padded.
  CHECK(members[n + 1].name == "activations.npy");
  CHECK(npy_header(members[n + 1].bytes, data) == "{'descr': '<U10', 'fortran_order': False, 'shape': (11,), }");
  REQUIRE(data.size() == kActivations.size() * 10 * 4);
  for (size_t l = 0; l < kActivations.size(); ++l)
    for (size_t c = 0; c < 10; ++c)
      CHECK(u32(data, (l * 10 + c) * 4) == (c < kActivations[l].size() ? uint32_t(kActivations[l][c]) : 0));
  CHECK(members[n + 2].name == "negative_slopes.npy");
  CHECK(npy_header(members[n + 2].bytes, data) == "{'descr': '<f4', 'fortran_order': False, 'shape': (11,), }");
  const float slopes[] = {0, 0, 0, 0.25f, 0, 0, 0, 0, 0, 0, 0};
  CHECK(data == float_bytes(slopes, 11));
  CHECK(members[n + 3].name == "elu_alphas.npy");
  CHECK(npy_header(members[n + 3].bytes, data) == "{'descr': '<f4', 'fortran_order': False, 'shape': (11,), }");
  const float alphas[] = {0, 0, 0, 0, 0, 0, 0, 0, 0.5f, 0, 0};
  CHECK(data == float_bytes(alphas, 11));
  // norms: '<U4' ("none" throughout), and their ε (0 without a norm)
  CHECK(members[n + 4].name == "norms.npy");
  CHECK(npy_header(members[n + 4].bytes, data) == "{'descr': '<U4', 'fortran_order': False, 'shape': (11,), }");
  CHECK(members[n + 5].name == "norm_epsilons.npy");
  const float epsilons[11] = {};
  CHECK(npy_header(members[n + 5].bytes, data) == "{'descr': '<f4', 'fortran_order': False, 'shape': (11,), }");
  CHECK(data == float_bytes(epsilons, 11));
  CHECK(io::npz_archive(ck) == zip);  // deterministic: fixed dates
}

TEST_CASE("export_checkpoint writes the format asked for, and names an output it cannot write") {
  const io::Checkpoint ck = checkpoint();
  const std::string onnx = (test::temp_dir() / "model.onnx").string();
  const std::string npz = (test::temp_dir() / "model.npz").string();
  io::export_checkpoint(ck, io::ExportFormat::onnx, onnx);
  io::export_checkpoint(ck, io::ExportFormat::npz, npz);
  auto read = [](const std::string& p) {
    std::ifstream f(p, std::ios::binary);
    return std::string((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  };
  CHECK(read(onnx) == io::onnx_model(ck));
  CHECK(read(npz) == io::npz_archive(ck));
  const std::string folder = (test::temp_dir() / "no-such-folder").string(), bad = folder + "/model.onnx";
  try {
    io::export_checkpoint(ck, io::ExportFormat::onnx, bad);
    FAIL("wrote into a folder that does not exist");
  } catch (const Error& e) {
    // The output named first, then the temporary file write_atomically makes beside it.
    CHECK(std::string(e.what()).find(bad + ": cannot create a file in its folder (" + folder + "/.model.onnx.tmp-") ==
          0);
    CHECK(std::string(e.what()).find("No such file or directory") != std::string::npos);
  }
}
