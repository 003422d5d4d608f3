// The ONNX export (export.hpp): a ModelProto written field by field. Field numbers are onnx.proto's
// (github.com/onnx/onnx, onnx/onnx.proto), which keeps them stable across versions.
#include <bit>
#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

#include "config/json.hpp"
#include "io/export.hpp"
#include "nn/network.hpp"
#include "util/error.hpp"

namespace nabla::io {

static_assert(std::endian::native == std::endian::little, "ONNX raw_data is little-endian, as this host must be");

namespace {

// IR version 7 is the first to carry opset 13 (ONNX 1.8); every onnxruntime since 1.6 reads it.
constexpr int64_t kIrVersion = 7;
constexpr int64_t kOpset = 13;
constexpr int64_t kFloat = 1;  // TensorProto.DataType.FLOAT

// One protobuf message being written: each call appends one field (tag, then value), so fields come
// out in call order. Nested messages are written whole and appended as length-delimited bytes.
class Proto {
 public:
  Proto& varint(int field, uint64_t v) {
    tag(field, 0);
    put_varint(v);
    return *this;
  }
  Proto& fixed32(int field, float v) {  // a float field (wire type 5: 4 bytes, little-endian)
    tag(field, 5);
    out_.append(reinterpret_cast<const char*>(&v), 4);
    return *this;
  }
  Proto& bytes(int field, std::string_view b) {  // string, bytes and nested messages (wire type 2)
    tag(field, 2);
    put_varint(b.size());
    out_.append(b);
    return *this;
  }
  Proto& message(int field, const Proto& m) { return bytes(field, m.str()); }
  const std::string& str() const { return out_; }

 private:
  void tag(int field, int wire_type) { put_varint(uint64_t(field) << 3 | uint64_t(wire_type)); }
  void put_varint(uint64_t v) {  // 7 bits a byte, least significant first, high bit = more follow
    for (; v >= 0x80; v >>= 7) out_ += char(0x80 | (v & 0x7F));
    out_ += char(v);
  }
  std::string out_;
};

// TensorProto {dims = 1, data_type = 2, name = 8, raw_data = 9}: float32, C order. A scalar has no dims.
Proto tensor(const std::string& name, const std::vector<int64_t>& shape, const float* data, size_t count) {
  Proto t;
  for (int64_t d : shape) t.varint(1, uint64_t(d));
  t.varint(2, kFloat).bytes(8, name);
  t.bytes(9, std::string_view(reinterpret_cast<const char*>(data), count * sizeof(float)));
  return t;
}

// ValueInfoProto {name = 1, type = 2} of a float32 [batch, features] matrix, batch a named dynamic
// dimension: TypeProto {tensor_type = 1: {elem_type = 1, shape = 2: TensorShapeProto {dim = 1:
// {dim_value = 1 | dim_param = 2}}}}.
Proto matrix_info(const std::string& name, int64_t features) {
  Proto shape;
  shape.message(1, Proto().bytes(2, "batch")).message(1, Proto().varint(1, uint64_t(features)));
  const Proto tensor_type = Proto().varint(1, kFloat).message(2, shape);
  return Proto().bytes(1, name).message(2, Proto().message(1, tensor_type));
}

// AttributeProto {name = 1, f = 2, i = 3, type = 20} (type FLOAT = 1, INT = 2).
Proto int_attribute(const char* name, int64_t v) { return Proto().bytes(1, name).varint(3, uint64_t(v)).varint(20, 2); }
Proto float_attribute(const char* name, float v) { return Proto().bytes(1, name).fixed32(2, v).varint(20, 1); }
// AttributeProto {ints = 8, type INTS = 7}.
Proto ints_attribute(const char* name, const std::vector<int64_t>& v) {
  Proto a;
  a.bytes(1, name);
  for (int64_t x : v) a.varint(8, uint64_t(x));
  return a.varint(20, 7);
}

// NodeProto {input = 1, output = 2, name = 3, op_type = 4, attribute = 5}.
Proto node(const std::string& name, const char* op, const std::vector<std::string>& inputs, const std::string& output) {
  Proto n;
  for (const std::string& in : inputs) n.bytes(1, in);
  n.bytes(2, output).bytes(3, name).bytes(4, op);
  return n;
}

// Scalar constants that the composed activations read, each a graph initializer of its own.
struct Constant {
  const char* name;
  float value;
};
constexpr Constant kHalf{"const.half", 0.5f}, kOne{"const.one", 1.0f}, kSqrtHalf{"const.sqrt_half", 0.70710678f},
    kSqrt2OverPi{"const.sqrt_2_over_pi", 0.79788456f}, kGeluCubic{"const.gelu_cubic", 0.044715f};
constexpr Constant kConstants[] = {kHalf, kOne, kSqrtHalf, kSqrt2OverPi, kGeluCubic};

// The activation's nodes after a Gemm, from `in` to `out`: one operator with its attribute, or for
// GELU and SiLU (Gelu is an operator only from opset 20) the formula in Mul, Add, Erf, Tanh and
// Sigmoid, whose intermediate values are named out + ".1", ".2", ...; none for linear.
std::vector<Proto> activation_nodes(const Network<float>::Dense& d, const std::string& name, const std::string& in,
                                    const std::string& out) {
  std::vector<Proto> nodes;
  int step = 0;
  // Appends op(inputs) and returns its output: the next intermediate, or `out` for the final node.
  auto then = [&](const char* op, const std::vector<std::string>& inputs, bool final = false) {
    const std::string o = final ? out : out + "." + std::to_string(++step);
    nodes.push_back(node(name + "." + std::to_string(nodes.size()), op, inputs, o));
    return o;
  };
  switch (d.act) {
    case Activation::sigmoid:
      return {node(name, "Sigmoid", {in}, out)};
    case Activation::tanh:
      return {node(name, "Tanh", {in}, out)};
    case Activation::relu:
      return {node(name, "Relu", {in}, out)};
    case Activation::leaky_relu:  // alpha in float, as the float network multiplies by it
      return {node(name, "LeakyRelu", {in}, out).message(5, float_attribute("alpha", float(d.slope)))};
    case Activation::elu:
      return {node(name, "Elu", {in}, out).message(5, float_attribute("alpha", float(d.slope)))};
    case Activation::softplus:
      return {node(name, "Softplus", {in}, out)};
    case Activation::softmax:  // opset 13: over axis 1 alone, each row its own distribution
      return {node(name, "Softmax", {in}, out).message(5, int_attribute("axis", 1))};
    case Activation::linear:
      return {};
    case Activation::silu:  // z·sigmoid(z)
      then("Mul", {in, then("Sigmoid", {in})}, true);
      return nodes;
    case Activation::gelu:  // ½·z·(1 + erf(z/√2))
      then("Mul",
           {then("Mul", {in, then("Add", {then("Erf", {then("Mul", {in, kSqrtHalf.name})}), kOne.name})}), kHalf.name},
           true);
      return nodes;
    case Activation::gelu_tanh: {  // ½·z·(1 + tanh(√(2/π)·(z + 0.044715·z³)))
      const std::string cube = then("Mul", {then("Mul", {in, in}), in});
      const std::string u = then("Mul", {then("Add", {in, then("Mul", {cube, kGeluCubic.name})}), kSqrt2OverPi.name});
      then("Mul", {then("Mul", {in, then("Add", {then("Tanh", {u}), kOne.name})}), kHalf.name}, true);
      return nodes;
    }
  }
  throw InternalError("onnx_model: an activation without an ONNX operator");
}

// A norm's nodes, from z to y: BatchNormalization with the running statistics (batch_norm in
// evaluation), or layer_norm's formula (LayerNormalization is an operator only from opset 17):
// (z − mean(z))/√(mean((z − mean(z))²) + ε)·γ + β, the means over axis 1 by ReduceMean, whose axes
// are an attribute in opset 13. ε is the initializer p + ".norm.epsilon".
std::vector<Proto> norm_nodes(const Network<float>::Dense& d, const std::string& p, const std::string& z,
                              const std::string& y) {
  const std::string n = p + ".norm";
  if (d.norm == Norm::batch_norm)
    return {node(n, "BatchNormalization", {z, n + ".weight", n + ".bias", n + ".running_mean", n + ".running_var"}, y)
                .message(5, float_attribute("epsilon", float(d.norm_epsilon)))};
  std::vector<Proto> nodes;
  auto add = [&](const char* op, const std::vector<std::string>& in, const std::string& out) {
    nodes.push_back(node(n + "." + std::to_string(nodes.size()), op, in, out));
    return out;
  };
  auto mean = [&](const std::string& in, const std::string& out) {
    nodes.push_back(node(n + "." + std::to_string(nodes.size()), "ReduceMean", {in}, out)
                        .message(5, ints_attribute("axes", {1}))
                        .message(5, int_attribute("keepdims", 1)));
    return out;
  };
  const std::string centred = add("Sub", {z, mean(z, n + ".mean")}, n + ".centred");
  const std::string var = mean(add("Mul", {centred, centred}, n + ".squares"), n + ".variance");
  const std::string sd = add("Sqrt", {add("Add", {var, n + ".epsilon"}, n + ".variance_eps")}, n + ".std");
  add("Add", {add("Mul", {add("Div", {centred, sd}, n + ".xhat"), n + ".weight"}, n + ".scaled"), n + ".bias"}, y);
  return nodes;
}

bool composed(Activation a) { return a == Activation::gelu || a == Activation::gelu_tanh || a == Activation::silu; }

std::string exact(double x) {  // a double as text that parses back to the same bits
  char b[40];
  std::snprintf(b, sizeof b, "%.17g", x);
  return b;
}

// GraphProto {node = 1, name = 2, initializer = 5, input = 11, output = 12}: x / input_scale, then
// per dense layer Gemm and its activation's nodes. Values between nodes are named layers.{i}.z (the Gemm's
// output) and layers.{i}.a (the activation's); the last node's output is "probabilities".
Proto graph(const Checkpoint& ck) {
  const Network<float> net(ck.config.layers, ck.inputs, ck.outputs, ck.config.loss.type, 1);
  require(ck.params.size() == net.params().size(), "onnx_model: the checkpoint's parameters fit its network");
  Proto g;
  const float scale = float(ck.config.data.scale);  // the loader divides in float, as Div does
  g.message(1, node("scale", "Div", {"x", "input_scale"}, "x_scaled"));
  std::string in = "x_scaled";  // what the next layer reads
  bool uses_constants = false;
  const auto& layers = net.layers();
  for (size_t i = 0; i < layers.size(); ++i) {
    const std::string p = "layers." + std::to_string(i);
    const std::string a = i + 1 == layers.size() ? "probabilities" : p + ".a";  // the layer's output
    const bool normed = layers[i].norm != Norm::none;
    // Gemm -> z, the norm z -> y, the activation y -> a; a node left out passes its input on.
    const std::string y = normed ? p + ".y" : p + ".z";
    const std::vector<Proto> act = activation_nodes(layers[i], p + "." + to_string(layers[i].act), y, a);
    const std::string norm_out = act.empty() ? a : y;
    g.message(1, node(p + ".gemm", "Gemm", {in, p + ".weight", p + ".bias"}, normed || !act.empty() ? p + ".z" : a)
                     .message(5, int_attribute("transB", 1)));
    if (normed)
      for (const Proto& n : norm_nodes(layers[i], p, p + ".z", norm_out)) g.message(1, n);
    for (const Proto& n : act) g.message(1, n);
    in = a;
    uses_constants = uses_constants || composed(layers[i].act);
  }
  g.bytes(2, ck.config.name.empty() ? "nabla" : ck.config.name);
  g.message(5, tensor("input_scale", {}, &scale, 1));
  for (const TensorInfo& t : net.tensors())
    g.message(5, tensor(t.name, t.shape, ck.params.data() + t.offset, t.size()));
  for (size_t i = 0; i < layers.size(); ++i)
    if (layers[i].norm == Norm::layer_norm) {
      const float eps = float(layers[i].norm_epsilon);
      g.message(5, tensor("layers." + std::to_string(i) + ".norm.epsilon", {}, &eps, 1));
    }
  if (uses_constants)
    for (const Constant& c : kConstants) g.message(5, tensor(c.name, {}, &c.value, 1));
  g.message(11, matrix_info("x", ck.inputs));
  g.message(12, matrix_info("probabilities", ck.outputs));
  return g;
}

// StringStringEntryProto {key = 1, value = 2}.
Proto entry(const std::string& key, const std::string& value) { return Proto().bytes(1, key).bytes(2, value); }

}  // namespace

// ModelProto {ir_version = 1, producer_name = 2, doc_string = 6, graph = 7, opset_import = 8:
// OperatorSetIdProto {domain = 1 (empty: the default domain), version = 2}, metadata_props = 14}.
std::string onnx_model(const Checkpoint& ck) {
  const LayerConfig& output = ck.config.layers[output_layer_index(ck.config.layers)];
  Proto m;
  m.varint(1, kIrVersion).bytes(2, "nabla");
  m.bytes(6,
          "A multilayer perceptron trained by nabla. Input x: raw features (as the data file holds them, "
          "divided by input_scale inside the graph); output: the last layer's activations.");
  m.message(7, graph(ck));
  m.message(8, Proto().bytes(1, "").varint(2, kOpset));
  m.message(14, entry("name", ck.config.name));
  m.message(14, entry("input_scale", exact(ck.config.data.scale)));
  m.message(14, entry("inputs", std::to_string(ck.inputs)));
  m.message(14, entry("outputs", std::to_string(ck.outputs)));
  m.message(14, entry("output_activation", to_string(output.activation)));
  m.message(14, entry("epoch", std::to_string(ck.state.epoch)));
  m.message(14, entry("step", std::to_string(ck.state.step)));
  m.message(14, entry("config", to_json(ck.config).dump()));
  return m.str();
}

}  // namespace nabla::io
