// --set PATH=VALUE: one change to a config's JSON before it is validated, so that an overridden
// value gets the same checks and messages as one written in the file.
#include <algorithm>

#include "config/json.hpp"
#include "config/json_text.hpp"
#include "config/keys.hpp"
#include "util/error.hpp"

namespace nabla {
namespace {

using config::ojson;

// One step of a path: a key, or an array index (`key` empty).
struct Step {
  std::string key;
  size_t index = 0;
};

[[noreturn]] void fail(const std::string& assignment, const std::string& where, const std::string& what) {
  throw Error("--set " + assignment, where, what);
}

// "a.b[2].c" -> a, b, [2], c
std::vector<Step> steps_of(const std::string& path, const std::string& assignment) {
  std::vector<Step> steps;
  for (size_t i = 0; i < path.size();) {
    if (path[i] == '[') {
      const size_t close = path.find(']', i);
      const std::string digits = path.substr(i + 1, close == std::string::npos ? std::string::npos : close - i - 1);
      if (close == std::string::npos || digits.empty() || digits.size() > 9 ||
          !std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; }))
        fail(assignment, "",
             "bad index \"" + path.substr(i, close == std::string::npos ? std::string::npos : close - i + 1) +
                 "\" (expected [N] with N = 0, 1, 2, ...)");
      steps.push_back({"", std::stoul(digits)});
      i = close + 1;
      if (i < path.size() && path[i] != '.' && path[i] != '[')
        fail(assignment, "", "bad path: expected . or [ after ]");
    } else {
      const size_t end = path.find_first_of(".[", i);
      steps.push_back({path.substr(i, end == std::string::npos ? std::string::npos : end - i)});
      if (steps.back().key.empty()) fail(assignment, "", "bad path: empty key");
      i = end;
    }
    if (i < path.size() && path[i] == '.' && ++i == path.size()) fail(assignment, "", "bad path: empty key");
  }
  return steps;
}

// VALUE as JSON, or as a plain string when it is not JSON.
ojson value_of(const std::string& text, const std::string& assignment) {
  ojson value = ojson::parse(text, nullptr, /*allow_exceptions=*/false);
  if (!value.is_discarded()) {  // parsed again as a config file is, so that a key given twice is an error
    std::vector<std::string> twice;
    // Named as the user wrote it, up to 60 characters (a value may be a hundred kilobytes long).
    const std::string named = assignment.size() <= 60 ? assignment : assignment.substr(0, 57) + "...";
    value = config::parse_text(text, "--set " + named, twice);
    if (!twice.empty()) throw Error(twice.front());
    return value;
  }
  value = text;
  // The command line may hold any bytes; the config (and the checkpoint that stores it) is JSON.
  try {
    (void)value.dump();
  } catch (const nlohmann::json::type_error&) {
    fail(assignment, "", "the value is not valid UTF-8");
  }
  return value;
}

// The value the steps lead to and its path as the config's messages write it ("model.layers[2].units"), creating on the
// way a known section that the config leaves out (all defaults). The last step's key is added when it is missing.
std::pair<ojson&, std::string> target(ojson& root, const std::vector<Step>& steps, const std::string& assignment) {
  ojson* at = &root;
  std::string walked;   // as written, for messages
  std::string section;  // the same with indexes as "[]", to look up the format's keys
  for (size_t s = 0; s < steps.size(); ++s) {
    const Step& step = steps[s];
    if (step.key.empty()) {
      const std::string here = walked + "[" + std::to_string(step.index) + "]";
      if (!at->is_array())
        fail(assignment, walked,
             "expected an array to take element [" + std::to_string(step.index) + "] of, got " + config::describe(*at));
      if (step.index >= at->size())
        fail(assignment, here, "index out of range (" + walked + " has " + std::to_string(at->size()) + " elements)");
      at = &(*at)[step.index];
      walked = here;
      section += "[]";
      continue;
    }
    const std::string here = config::child(walked, step.key);
    // "loss": "mse" is short for {"type": "mse"}: setting a key inside it takes the long form.
    if (walked == "loss" && at->is_string()) *at = ojson{{"type", *at}};
    if (!at->is_object())
      fail(assignment, walked, "expected an object to set \"" + step.key + "\" in, got " + config::describe(*at));
    if (!at->contains(step.key) && s + 1 < steps.size()) {
      const SectionInfo* known = config::find_section(section);
      if (known && !config::has_key(*known, step.key)) fail(assignment, here, config::unknown_key(section, step.key));
      if (!known || !config::find_section(config::child(section, step.key)))
        fail(assignment, here, "not in the config, so there is nothing to set inside it");
      (*at)[step.key] = ojson::object();
    }
    at = &(*at)[step.key];
    walked = here;
    section = config::child(section, step.key);
  }
  return {*at, walked};
}

}  // namespace

std::string apply_override(nlohmann::ordered_json& root, const std::string& assignment) {
  const size_t eq = assignment.find('=');
  if (eq == std::string::npos || eq == 0) fail(assignment, "", "expected PATH=VALUE, e.g. training.epochs=20");
  const std::vector<Step> steps = steps_of(assignment.substr(0, eq), assignment);
  ojson value = value_of(assignment.substr(eq + 1), assignment);
  auto [at, path] = target(root, steps, assignment);
  at = std::move(value);
  return path;
}

}  // namespace nabla
