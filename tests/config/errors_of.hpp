#pragma once
// What the config tests compare: every message load_config reports, one per line.
#include <string>
#include <vector>

#include "config/json.hpp"
#include "config/types.hpp"
#include "util/error.hpp"

namespace test {

// "(no error)" when load_config accepts the config.
inline std::string errors_of(const std::string& path, const std::vector<std::string>& overrides = {}) {
  try {
    nabla::load_config(path, overrides);
  } catch (const nabla::Errors& e) {
    std::string s;
    for (const auto& m : e.messages()) s += m + "\n";
    return s;
  }
  return "(no error)\n";
}

}  // namespace test
