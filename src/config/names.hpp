#pragma once
// The enums' names in the config format, and "did you mean" for names and keys that are nearly
// right. Inside src/config only.
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "config/types.hpp"

namespace nabla::config {

// A value's first name is the one to_string gives; later names for it are aliases.
template <class E>
struct Name {
  E value;
  const char* name;
};

inline constexpr Name<Activation> kActivations[] = {
    {Activation::sigmoid, "sigmoid"},   {Activation::tanh, "tanh"},
    {Activation::relu, "relu"},         {Activation::leaky_relu, "leaky_relu"},
    {Activation::linear, "linear"},     {Activation::softmax, "softmax"},
    {Activation::gelu, "gelu"},         {Activation::gelu_tanh, "gelu_tanh"},
    {Activation::silu, "silu"},         {Activation::elu, "elu"},
    {Activation::softplus, "softplus"}, {Activation::silu, "swish"}};
inline constexpr Name<Init> kInits[] = {{Init::glorot_uniform, "glorot_uniform"},
                                        {Init::glorot_normal, "glorot_normal"},
                                        {Init::he, "he"},
                                        {Init::gaussian, "gaussian"},
                                        {Init::glorot_uniform, "xavier"},
                                        {Init::glorot_uniform, "xavier_uniform"},
                                        {Init::glorot_normal, "xavier_normal"}};
inline constexpr Name<Norm> kNorms[] = {
    {Norm::none, "none"}, {Norm::batch_norm, "batch_norm"}, {Norm::layer_norm, "layer_norm"}};
inline constexpr Name<LayerType> kLayerTypes[] = {{LayerType::dense, "dense"}, {LayerType::dropout, "dropout"}};
inline constexpr Name<LossKind> kLosses[] = {{LossKind::cross_entropy, "cross_entropy"},
                                             {LossKind::binary_cross_entropy, "binary_cross_entropy"},
                                             {LossKind::mse, "mse"}};
inline constexpr Name<OptimizerKind> kOptimizers[] = {
    {OptimizerKind::sgd, "sgd"}, {OptimizerKind::adam, "adam"}, {OptimizerKind::adamw, "adamw"}};
inline constexpr Name<ScheduleKind> kSchedules[] = {{ScheduleKind::constant, "constant"},
                                                    {ScheduleKind::step, "step"},
                                                    {ScheduleKind::exponential, "exponential"},
                                                    {ScheduleKind::cosine, "cosine"}};
inline constexpr Name<DataFormat> kFormats[] = {{DataFormat::idx, "idx"}, {DataFormat::csv, "csv"}};

template <class E, size_t N>
const char* name_of(const Name<E> (&table)[N], E value) {
  for (const auto& n : table)
    if (n.value == value) return n.name;
  return "?";  // unreachable for a valid enum value
}

template <class E, size_t N>
std::optional<E> value_of(const Name<E> (&table)[N], std::string_view name) {
  for (const auto& n : table)
    if (name == n.name) return n.value;
  return std::nullopt;
}

// The names listed in messages (no aliases) and the names a suggestion may come from (all).
template <class E, size_t N>
std::pair<std::vector<std::string>, std::vector<std::string>> names_of(const Name<E> (&table)[N]) {
  std::vector<std::string> canonical, all;
  for (size_t i = 0; i < N; ++i) {
    all.push_back(table[i].name);
    bool alias = false;
    for (size_t j = 0; j < i; ++j) alias = alias || table[j].value == table[i].value;
    if (!alias) canonical.push_back(table[i].name);
  }
  return {canonical, all};
}

// The closest candidate within 2 edits (1 for candidates of 3 letters or fewer), if any. Edits are
// those of the optimal-string-alignment distance (Levenshtein plus adjacent transpositions, so
// "rleu" is one edit from "relu"), case-insensitive.
std::optional<std::string> closest(std::string_view word, const std::vector<std::string>& candidates);

bool equal_nocase(std::string_view a, std::string_view b);

// "a, b, c"
std::string joined(const std::vector<std::string>& words);

}  // namespace nabla::config
