#pragma once
// The config between JSON and the structs of types.hpp: reading a file, --set overrides, and the
// resolved config written back. The only config header that includes the JSON library.
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "config/types.hpp"

namespace nabla {

// Reads, overrides and validates a config. `overrides` are "a.b[2].c=VALUE" strings (from --set);
// VALUE is parsed as JSON, and as a plain string when it is not JSON. Every problem found is
// reported at once: throws nabla::Errors with one "FILE: JSON.PATH: message" line each.
// An override that picks another variant (optimizer.type=adam) leaves out the file's keys that
// applied only to the old one (optimizer.momentum), and says so in `notes`, a line per override.
Config load_config(const std::string& path, const std::vector<std::string>& overrides = {},
                   std::vector<std::string>* notes = nullptr);

// The same from a JSON value already in memory; `path` names it in messages, `base_dir` resolves
// relative data paths.
Config parse_config(const nlohmann::json& j, const std::string& path, const std::string& base_dir);
// The same, reporting problems in the object's own key order (load_config keeps the file's order).
Config parse_config(const nlohmann::ordered_json& j, const std::string& path, const std::string& base_dir);

// Applies one "a.b[2].c=VALUE" override to a config's JSON, as load_config does before validating.
// A missing section on the way is created (training.early_stopping.patience=5 turns early stopping
// on); a missing key at the end is added. Throws nabla::Error "--set a.b[2].c=VALUE: PATH: what"
// when the text has no '=', an index is malformed or out of range, the path goes through a
// non-object, or a section on the way is not a known key. Returns the path it set, as messages
// write it ("model.layers[2].units").
std::string apply_override(nlohmann::ordered_json& j, const std::string& assignment);

// The resolved config, every default filled in, data paths absolute, keys in a readable order
// (name, data, model, loss, optimizer, schedule, training, checkpoint) and only the keys that apply
// to the chosen variants. For a Config from parse_config, parse_config(to_json(c), c.path, any) == c.
nlohmann::ordered_json to_json(const Config& c);

}  // namespace nabla
