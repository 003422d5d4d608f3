#pragma once
// The config format's sections and keys as data, in the order configs/README.md and to_json list
// them. They come from the tables in schema.cpp, which also read and write each key; this header
// needs no JSON library.
#include <string>
#include <string_view>
#include <vector>

namespace nabla {

struct KeyInfo {
  std::string name;
  const char* type;  // as configs/README.md's tables name it: integer, number, boolean, string, path, object, array
  std::string default_json;  // the struct's default as to_json writes it ("0.01", "\"sgd\""); empty for sections,
                             // lists, required keys and keys whose default is not a fixed value (name, units)
  bool may_change_on_resume;
};

struct SectionInfo {
  std::string path;           // "" for the top level; an array's elements as "[]": "model.layers[]"
  std::vector<KeyInfo> keys;  // in the README's and to_json's order
  bool may_change_on_resume;  // every key in it may
};

// Every section, each before the sections inside it: "", data, data.train, data.test, model, ...
const std::vector<SectionInfo>& config_schema();

// Whether a key of a config may differ between a checkpoint's config and the config that resumes it.
// `json_path` is a leaf as to_json's output flattens to: "training.epochs", "checkpoint.keep",
// "model.layers[0].units". True for the keys the schema marks and for everything in a section it
// marks (so "checkpoint.keep", not "checkpoint").
bool may_change_on_resume(std::string_view json_path);

// Those keys for a message, in the schema's order: "name, optimizer.learning_rate, training.epochs,
// training.threads, training.precision and the checkpoint section".
std::string resumable_keys_text();

}  // namespace nabla
