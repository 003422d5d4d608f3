#include "cli/summary.hpp"

#include <cstdio>
#include <ostream>
#include <string>

#include "util/format.hpp"

namespace nabla {

namespace {

// 1234567 -> "1,234,567"
std::string grouped(int64_t n) {
  const std::string digits = std::to_string(n);
  std::string s;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) s += ',';
    s += digits[i];
  }
  return s;
}

// 784 -> "(784)"
std::string shape(int64_t units) {
  char b[32];
  std::snprintf(b, sizeof b, "(%lld)", (long long)units);
  return b;
}

// A row of the table; `key` is the layer's place in the config (model.layers[i]), whose index counts
// dropout layers too, where the tensor names (layers.{i}) count dense layers only.
void row(std::ostream& out, const std::string& layer, const std::string& shape, int64_t params, int64_t flops,
         const std::string& key = "") {
  char line[200];
  std::snprintf(line, sizeof line, "%-28s %-14s %14s %16s%s%s\n", layer.c_str(), shape.c_str(), grouped(params).c_str(),
                grouped(flops).c_str(), key.empty() ? "" : "  ", key.c_str());
  out << line;
}

}  // namespace

// FLOPs count a multiply-add as two (2·in·out for a dense layer's product), plus one per unit for
// the bias and one per unit for the activation; dropout and the loss are not counted.
void print_model_summary(std::ostream& out, const Config& c, int64_t inputs, int64_t classes) {
  const std::string rule(92, '-');
  out << "Model \"" << c.name << "\"\n" << rule << "\n";
  char head[160];
  std::snprintf(head, sizeof head, "%-28s %-14s %14s %16s  %s\n", "layer (activation)", "output shape", "parameters",
                "FLOPs/sample", "config");
  out << head << rule << "\n";
  int64_t in = inputs, total_params = 0, total_flops = 0;
  row(out, "input", shape(in), 0, 0);
  int dense_index = 0;
  for (size_t i = 0; i < c.layers.size(); ++i) {
    const LayerConfig& l = c.layers[i];
    const std::string key = "model.layers[" + std::to_string(i) + "]";
    if (l.type == LayerType::dropout) {
      char name[64];
      std::snprintf(name, sizeof name, "dropout (rate %g)", l.rate);
      row(out, name, shape(in), 0, 0, key);
      continue;
    }
    const int64_t units = l.units > 0 ? l.units : classes;
    // A norm: γ and β, and batch_norm's running mean and variance (counted: they are in the
    // checkpoint); about 4 FLOPs a unit (subtract, scale, γ, β).
    const int64_t norm_params = l.norm == Norm::batch_norm ? 4 : l.norm == Norm::layer_norm ? 2 : 0;
    const int64_t params = in * units + units + norm_params * units;
    const int64_t flops = 2 * in * units + 2 * units + (l.norm != Norm::none ? 4 * units : 0);
    char name[64];
    if (l.norm == Norm::none)
      std::snprintf(name, sizeof name, "layers.%d dense (%s)", dense_index++, to_string(l.activation));
    else
      std::snprintf(name, sizeof name, "layers.%d dense+%s (%s)", dense_index++, to_string(l.norm),
                    to_string(l.activation));
    row(out, name, shape(units), params, flops, key);
    total_params += params;
    total_flops += flops;
    in = units;
  }
  out << rule << "\n";
  row(out, "total", "", total_params, total_flops);
  std::string loss = to_string(c.loss.type);
  if (c.loss.label_smoothing > 0) loss += printf_string(", label smoothing %g", c.loss.label_smoothing);
  if (c.loss.balanced) loss += ", balanced class weights";
  if (!c.loss.class_weights.empty()) loss += ", class weights";
  out << "loss " << loss << "; training a sample costs about 3x its forward FLOPs (" << grouped(3 * total_flops)
      << ")\n";
}

}  // namespace nabla
