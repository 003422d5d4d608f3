// JSON config -> validated Config. One pass over the JSON collects every problem as one
// "FILE: JSON.PATH: message" line; nothing falls back to a default silently and nothing stops at
// the first error. The keys are read through the schema (schema.cpp); here are the checks across
// sections and the entry points.
#include <algorithm>
#include <filesystem>

#include "config/json.hpp"
#include "config/json_text.hpp"
#include "config/keys.hpp"
#include "util/error.hpp"

namespace nabla {
namespace {

namespace fs = std::filesystem;
using config::ojson;
using config::Reader;

std::string layer_path(size_t i) { return "model.layers[" + std::to_string(i) + "]"; }

// --- checks across fields, each run only when the values it reads were valid

void check_layers(Reader& r, const Config& c) {
  auto type_known = [&](size_t i) { return r.ok(layer_path(i)) && r.ok(layer_path(i) + ".type"); };
  const size_t last = c.layers.size() - 1;
  for (size_t i = 0; i < c.layers.size(); ++i) {
    const LayerConfig& l = c.layers[i];
    if (!type_known(i)) continue;
    if (l.type == LayerType::dropout && i > 0 && type_known(i - 1) && c.layers[i - 1].type == LayerType::dropout)
      r.error(layer_path(i), "two dropout layers in a row (use one with the combined rate)");
    if (l.type == LayerType::dense && i < last && l.activation == Activation::softmax &&
        r.ok(layer_path(i) + ".activation"))
      r.error(layer_path(i) + ".activation", "softmax is only allowed on the last layer");
  }
}

// The last layer against the loss and the class count. `given` is its JSON object.
void check_output(Reader& r, const Config& c, const ojson& given, bool loss_given, const std::string& loss_path) {
  const size_t last = c.layers.size() - 1;
  const LayerConfig& out = c.layers[last];
  if (out.type != LayerType::dense) {
    r.error(layer_path(last), "the last layer must be dense (it is the output layer), not dropout");
    return;
  }
  const std::string units = layer_path(last) + ".units";
  const std::string activation = layer_path(last) + ".activation";
  if (out.activation == Activation::softmax && r.ok(activation) && r.ok(units) && out.units > 0) {
    if (out.units < 2)
      r.error(units, "a softmax output needs at least 2 units, got " + std::to_string(out.units));
    else if (c.data.classes > 0 && r.ok("data") && r.ok("data.classes") && out.units != c.data.classes)
      r.error(units, "the softmax output has " + std::to_string(out.units) + " units but data.classes is " +
                         std::to_string(c.data.classes));
  }
  if (!r.ok(loss_path) || !r.ok(activation)) return;
  const std::string loss = std::string(to_string(c.loss.type)) + (loss_given ? "" : " (the default)");
  const std::string note = config::is_note(activation, to_string(out.activation), given.contains("activation"));
  if (c.loss.type == LossKind::cross_entropy && out.activation != Activation::softmax)
    r.error(loss_path, loss + " needs a softmax output layer " + note);
  if (c.loss.type == LossKind::binary_cross_entropy && out.activation != Activation::sigmoid)
    r.error(loss_path, loss + " needs a sigmoid output layer " + note);
}

void check_model(Reader& r, const Config& c, const ojson& root) {
  if (c.layers.empty() || !r.ok("model.layers")) return;
  check_layers(r, c);
  const size_t last = c.layers.size() - 1;
  if (r.ok(layer_path(last)) && r.ok(layer_path(last) + ".type"))
    check_output(r, c, root.at("model").at("layers").at(last), root.contains("loss"),
                 root.contains("loss") && root.at("loss").is_object() ? "loss.type" : "loss");
}

void check_schedule(Reader& r, const Config& c) {
  // Cosine anneals from learning_rate down to min_lr: a floor above the start is a mistake.
  if (c.schedule.type == ScheduleKind::cosine && c.schedule.min_lr > c.optimizer.learning_rate &&
      r.ok("schedule.min_lr") && r.ok("optimizer.learning_rate"))
    r.error("schedule.min_lr", "must not exceed optimizer.learning_rate (" +
                                   config::number_text(c.optimizer.learning_rate) + "), got " +
                                   config::number_text(c.schedule.min_lr));
}

void check_early_stopping(Reader& r, const Config& c) {
  if (c.training.early_stopping.enabled && c.data.validation == 0 && r.ok("data") && r.ok("data.validation"))
    r.error("training.early_stopping", "early stopping needs a validation split: set data.validation > 0");
}

Config parse(Reader& r, const ojson& root) {
  Config c;
  c.path = r.file();
  c.name = fs::path(r.file()).stem().string();
  if (!config::usable_name(c.name)) c.name = "default";
  if (!root.is_object()) {
    r.error("", "expected an object at the top level, got " + config::describe(root));
    throw Errors(r.errors);
  }
  config::read_section(r, config::root_section(), root, "", c);
  check_model(r, c, root);
  check_schedule(r, c);
  check_early_stopping(r, c);
  if (!r.errors.empty()) throw Errors(r.errors);
  return c;
}

}  // namespace

Config parse_config(const nlohmann::ordered_json& j, const std::string& path, const std::string& base_dir) {
  Reader r(path, base_dir);
  return parse(r, j);
}

Config parse_config(const nlohmann::json& j, const std::string& path, const std::string& base_dir) {
  return parse_config(nlohmann::ordered_json(j), path, base_dir);
}

Config load_config(const std::string& path, const std::vector<std::string>& overrides,
                   std::vector<std::string>* notes) {
  const std::string text = config::read_text(path);
  Reader r(path, fs::path(path).parent_path().string());
  ojson root = config::parse_text(text, path, r.errors);
  std::vector<std::string> assignments;  // by r.set_paths
  for (const auto& o : overrides) {
    try {
      r.set_paths.push_back(apply_override(root, o));
      assignments.push_back(o);
    } catch (const Error& e) {
      r.errors.push_back(e.what());
    }
  }
  Config c = parse(r, root);
  // "--set optimizer.type=adam: left out configs/x.json's optimizer.momentum and optimizer.nesterov
  // (they apply only to sgd)", once for a path set twice
  for (size_t s = 0; notes && s < r.set_paths.size(); ++s) {
    if (std::find(r.set_paths.begin() + s + 1, r.set_paths.end(), r.set_paths[s]) != r.set_paths.end()) continue;
    std::vector<std::string> whos;  // a clause each, in order
    std::vector<std::vector<std::string>> keys;
    for (const Reader::LeftOut& l : r.left_out) {
      if (l.selector != r.set_paths[s]) continue;
      const size_t w = std::find(whos.begin(), whos.end(), l.who) - whos.begin();
      if (w == whos.size()) whos.push_back(l.who), keys.emplace_back();
      keys[w].push_back(l.key);
    }
    std::string clauses;
    for (size_t w = 0; w < whos.size(); ++w) {
      std::string list;
      for (size_t k = 0; k < keys[w].size(); ++k)
        list += (k == 0 ? "" : k + 1 == keys[w].size() ? " and " : ", ") + keys[w][k];
      clauses += (w == 0 ? "" : "; ") + list + " (" + (keys[w].size() == 1 ? "it applies" : "they apply") +
                 " only to " + whos[w] + ")";
    }
    if (!clauses.empty()) notes->push_back("--set " + assignments[s] + ": left out " + path + "'s " + clauses);
  }
  return c;
}

}  // namespace nabla
