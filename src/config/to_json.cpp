// Config -> the resolved JSON, through the schema (schema.cpp): every default written out, keys in
// the tables' order (which is configs/README.md's), and only the keys that apply to the chosen
// variants, so that parse_config accepts it back.
#include "config/json.hpp"
#include "config/keys.hpp"

namespace nabla {

nlohmann::ordered_json to_json(const Config& c) {
  config::Variants variants{};
  return config::write_section(config::root_section(), c, variants);
}

}  // namespace nabla
