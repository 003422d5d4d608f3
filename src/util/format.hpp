#pragma once
// The small text formatters that messages, progress lines and reports share.
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

namespace nabla {

// One number through a printf format: printf_string("%.4f", 0.5) is "0.5000".
inline std::string printf_string(const char* format, double x) {
  char b[64];
  std::snprintf(b, sizeof b, format, x);
  return b;
}

// A fraction as a percentage with two decimals: percent(0.8912) is "89.12%".
inline std::string percent(double fraction) { return printf_string("%.2f%%", 100 * fraction); }

// A tensor shape as the safetensors header writes it: "[784, 256]".
inline std::string shape_text(const std::vector<int64_t>& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

}  // namespace nabla
