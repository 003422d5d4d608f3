#pragma once
// A checkpoint's network for other runtimes: ONNX, for onnxruntime and every tool that reads it, and
// npz, for numpy. Both take exactly what `nabla predict` takes, the RAW features as the data file
// holds them (0..255 for images), and give what it gives, the output layer's activations.
//
// ONNX (onnx.cpp): a ModelProto, IR version 7, default-domain opset 13, written by a small protobuf
// encoder of its own (an MLP needs nine messages; libonnx would bring protobuf in). The graph:
//   x [batch, inputs] float ─ Div(input_scale) ─ per dense layer i: Gemm(layers.{i}.weight [out, in],
//   layers.{i}.bias [out], transB = 1) and its activation (Sigmoid, Tanh, Relu, LeakyRelu(alpha),
//   Softmax(axis = 1); nothing for linear) ─ probabilities [batch, outputs] float
// Dropout is the identity at inference and has no node. The initializers are named as the
// checkpoint's tensors; metadata_props hold the config's name, the input scale, the sizes, the
// output activation, the checkpoint's epoch and step, and the resolved config as JSON.
//
// npz (npz.cpp): a zip archive (stored, not compressed) of .npy version 1.0 files, little-endian, C
// order: layers.{i}.weight [out, in] and layers.{i}.bias [out] (float32), input_scale (a 0-d
// float32), activations [dense layers] (unicode strings: "sigmoid", ..., "softmax") and
// negative_slopes [dense layers] (float32, leaky_relu's slope; 0 for other layers), so that
// np.load(f)["layers.0.weight"] works and a numpy forward pass needs nothing else.
//
// Both are deterministic: the same checkpoint gives the same bytes.
#include <string>

#include "io/checkpoint.hpp"

namespace nabla::io {

enum class ExportFormat { onnx, npz };

// The ONNX ModelProto's bytes.
std::string onnx_model(const Checkpoint& ck);
// The .npz archive's bytes. Throws nabla::Error (naming the checkpoint) for a tensor over the 4 GiB
// that a zip without ZIP64 can hold.
std::string npz_archive(const Checkpoint& ck);

// Writes the checkpoint's network in `format` to `output` atomically (io::write_atomically).
void export_checkpoint(const Checkpoint& ck, ExportFormat format, const std::string& output);

}  // namespace nabla::io
