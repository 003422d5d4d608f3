// The enums' names (to_string) and "did you mean".
#include "config/names.hpp"

#include <algorithm>
#include <cctype>
#include <cstdint>

namespace nabla {
namespace config {
namespace {

char lower(char c) { return static_cast<char>(std::tolower(static_cast<unsigned char>(c))); }

size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::vector<size_t>> d(a.size() + 1, std::vector<size_t>(b.size() + 1));
  for (size_t i = 0; i <= a.size(); ++i) d[i][0] = i;
  for (size_t j = 0; j <= b.size(); ++j) d[0][j] = j;
  for (size_t i = 1; i <= a.size(); ++i)
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t cost = lower(a[i - 1]) == lower(b[j - 1]) ? 0 : 1;
      d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost});
      if (i > 1 && j > 1 && lower(a[i - 1]) == lower(b[j - 2]) && lower(a[i - 2]) == lower(b[j - 1]))
        d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
    }
  return d[a.size()][b.size()];
}

}  // namespace

std::optional<std::string> closest(std::string_view word, const std::vector<std::string>& candidates) {
  std::optional<std::string> best;
  size_t best_distance = SIZE_MAX;
  for (const auto& c : candidates) {
    const size_t limit = c.size() <= 3 ? 1 : 2;
    const size_t d = edit_distance(word, c);
    if (d <= limit && d < best_distance) best = c, best_distance = d;
  }
  return best;
}

bool equal_nocase(std::string_view a, std::string_view b) {
  return a.size() == b.size() &&
         std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) { return lower(x) == lower(y); });
}

std::string joined(const std::vector<std::string>& words) {
  std::string s;
  for (size_t i = 0; i < words.size(); ++i) s += (i ? ", " : "") + words[i];
  return s;
}

}  // namespace config

const char* to_string(Activation v) { return config::name_of(config::kActivations, v); }
const char* to_string(Init v) { return config::name_of(config::kInits, v); }
const char* to_string(LayerType v) { return config::name_of(config::kLayerTypes, v); }
const char* to_string(Norm v) { return config::name_of(config::kNorms, v); }
const char* to_string(LossKind v) { return config::name_of(config::kLosses, v); }
const char* to_string(OptimizerKind v) { return config::name_of(config::kOptimizers, v); }
const char* to_string(ScheduleKind v) { return config::name_of(config::kSchedules, v); }
const char* to_string(DataFormat v) { return config::name_of(config::kFormats, v); }

}  // namespace nabla
