// The schema as data: configs/README.md documents exactly its keys (with their types and defaults,
// in its order), the keys that may change on resume, and the output layer's place.
#include <doctest/doctest.h>

#include <algorithm>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "config/json.hpp"
#include "config/schema.hpp"
#include "config/types.hpp"

namespace {

// --- the README's key tables

struct Row {
  std::string section;  // as config_schema() names it: "", "data.train", "model.layers[]"
  std::string key, type, default_cell;
};

// The sections a heading documents: "## data" -> data, "### data.train, data.test" -> both.
std::vector<std::string> sections_of(std::string heading) {
  heading = heading.substr(heading.find_first_not_of("# "));
  if (heading == "Top level") return {""};
  if (heading == "Layers") return {"model.layers[]"};
  std::vector<std::string> sections;
  for (size_t from = 0; from <= heading.size();) {
    const size_t comma = std::min(heading.find(", ", from), heading.size());
    sections.push_back(heading.substr(from, comma - from));
    from = comma + 2;
  }
  return sections;
}

std::string trimmed(const std::string& s) {
  const size_t a = s.find_first_not_of(' '), b = s.find_last_not_of(' ');
  return a == std::string::npos ? "" : s.substr(a, b - a + 1);
}

// Every "| `key` | type | default | allowed | meaning |" row, under the heading above it.
std::vector<Row> documented_rows(const std::string& readme) {
  std::vector<Row> rows;
  std::vector<std::string> sections;
  std::istringstream in(readme);
  bool code = false;
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("```", 0) == 0) code = !code;
    if (code) continue;
    if (line.rfind("#", 0) == 0) sections = sections_of(line);
    if (line.rfind("| `", 0) != 0) continue;
    std::vector<std::string> cells;
    for (size_t from = 1, bar; (bar = line.find('|', from)) != std::string::npos; from = bar + 1)
      cells.push_back(trimmed(line.substr(from, bar - from)));
    REQUIRE(cells.size() >= 3);
    const std::string key = cells[0].substr(1, cells[0].size() - 2);  // inside the backticks
    for (const std::string& s : sections) rows.push_back({s, key, cells[1], cells[2]});
  }
  return rows;
}

// A default cell that is one value in backticks ("`0.01`", "`sgd`", "`\"fp32\"`"), as JSON text; ""
// for one in words ("required", "all defaults", "`he` for `relu`...").
std::string stated_default(const std::string& cell) {
  if (cell.size() < 2 || cell.front() != '`' || cell.back() != '`' || cell.find('`', 1) != cell.size() - 1) return "";
  const std::string text = cell.substr(1, cell.size() - 2);
  const nlohmann::json j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  return j.is_discarded() ? nlohmann::json(text).dump() : j.dump();
}

bool same_json(const std::string& a, const std::string& b) {
  return !a.empty() && !b.empty() && nlohmann::json::parse(a) == nlohmann::json::parse(b);  // 255 == 255.0
}

// One line per problem; "" when there is none.
std::string readme_problems(const std::string& readme) {
  const std::vector<Row> rows = documented_rows(readme);
  std::vector<std::string> problems;
  std::map<std::string, std::vector<std::string>> order;  // section -> its documented keys
  for (const Row& row : rows) {
    const std::string path = row.section.empty() ? row.key : row.section + "." + row.key;
    order[row.section].push_back(row.key);
    const nabla::KeyInfo* key = nullptr;
    for (const nabla::SectionInfo& s : nabla::config_schema())
      for (const nabla::KeyInfo& k : s.keys)
        if (s.path == row.section && k.name == row.key) key = &k;
    if (!key) {
      problems.push_back(path + ": documented, but not in the schema");
      continue;
    }
    if (row.type != key->type && !(std::string(key->type) == "array" && row.type.rfind("array of ", 0) == 0))
      problems.push_back(path + ": documented as " + row.type + ", the schema's is " + key->type);
    const std::string stated = stated_default(row.default_cell);
    if (stated != key->default_json && !same_json(stated, key->default_json))
      problems.push_back(path + ": the documented default is " + (stated.empty() ? "not a value" : stated) +
                         ", the schema's " + (key->default_json.empty() ? "is not a value" : key->default_json));
  }
  for (const nabla::SectionInfo& s : nabla::config_schema()) {
    std::vector<std::string> expected;
    for (const nabla::KeyInfo& k : s.keys) {
      const auto& documented = order[s.path];
      const auto n = std::count(documented.begin(), documented.end(), k.name);
      if (n == 0)
        problems.push_back((s.path.empty() ? "" : s.path + ".") + k.name + ": in the schema, but not documented");
      if (n > 1)
        problems.push_back((s.path.empty() ? "" : s.path + ".") + k.name + ": documented " + std::to_string(n) +
                           " times");
      if (n > 0) expected.push_back(k.name);
    }
    // to_json writes the schema's order, and the README says that it is its own.
    std::vector<std::string> documented;
    for (const std::string& k : order[s.path])
      if (std::count(expected.begin(), expected.end(), k) && !std::count(documented.begin(), documented.end(), k))
        documented.push_back(k);
    if (documented != expected)
      problems.push_back((s.path.empty() ? "the top level" : s.path) +
                         ": documented in another order than the schema's");
  }
  std::string text;
  for (const std::string& p : problems) text += p + "\n";
  return text;
}

std::string readme() {
  std::ifstream in(std::string(NABLA_SOURCE_DIR) + "/configs/README.md", std::ios::binary);
  REQUIRE(in);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// The README with `from` (which must occur once) replaced by `to`.
std::string edited(const std::string& from, const std::string& to) {
  std::string text = readme();
  const size_t at = text.find(from);
  REQUIRE(at != std::string::npos);
  REQUIRE(text.find(from, at + 1) == std::string::npos);
  return text.replace(at, from.size(), to);
}

}  // namespace

TEST_CASE("configs/README.md documents every key of the schema, and only those") {
  CHECK(documented_rows(readme()).size() > 40);
  CHECK(readme_problems(readme()) == "");
}

TEST_CASE("the README check fails on a missing, extra, mistyped, misdefaulted or misplaced row") {
  const std::string momentum = "| `momentum` | number | `0` | [0, 1); sgd only | momentum coefficient |\n";
  CHECK(readme_problems(edited(momentum, "")) == "optimizer.momentum: in the schema, but not documented\n");
  CHECK(readme_problems(edited(momentum, momentum + "| `momentun` | number | `0` | | a typo |\n")) ==
        "optimizer.momentun: documented, but not in the schema\n");
  CHECK(readme_problems(edited(momentum, momentum + momentum)) == "optimizer.momentum: documented 2 times\n");
  CHECK(readme_problems(edited("| `momentum` | number | `0` |", "| `momentum` | integer | `0` |")) ==
        "optimizer.momentum: documented as integer, the schema's is number\n");
  CHECK(readme_problems(edited("| `momentum` | number | `0` |", "| `momentum` | number | `0.9` |")) ==
        "optimizer.momentum: the documented default is 0.9, the schema's 0.0\n");
  CHECK(readme_problems(edited("| `momentum` | number | `0` |", "| `momentum` | number | none |")) ==
        "optimizer.momentum: the documented default is not a value, the schema's 0.0\n");
  CHECK(readme_problems(edited("| `precision` | string | `\"fp32\"` |", "| `precision` | string | `bf16` |")) ==
        "training.precision: the documented default is \"bf16\", the schema's \"fp32\"\n");
  CHECK(readme_problems(edited("| `train` | object | required |", "| `train` | object | `{}` |")) ==
        "data.train: the documented default is {}, the schema's is not a value\n");
  CHECK(readme_problems(edited(momentum, "") + "\n## optimizer\n\n" + momentum) ==
        "optimizer: documented in another order than the schema's\n");
  CHECK(readme_problems(edited("### training.early_stopping", "### training.early_stop")) ==
        "training.early_stop.metric: documented, but not in the schema\n"
        "training.early_stop.patience: documented, but not in the schema\n"
        "training.early_stop.min_delta: documented, but not in the schema\n"
        "training.early_stopping.metric: in the schema, but not documented\n"
        "training.early_stopping.patience: in the schema, but not documented\n"
        "training.early_stopping.min_delta: in the schema, but not documented\n");
}

TEST_CASE("the schema's sections, each before the sections inside it") {
  std::vector<std::string> paths;
  for (const nabla::SectionInfo& s : nabla::config_schema()) paths.push_back(s.path);
  CHECK(paths == std::vector<std::string>{"", "data", "data.train", "data.test", "model", "model.layers[]", "loss", "optimizer",
                                          "schedule", "training", "training.early_stopping", "checkpoint"});
}

TEST_CASE("may_change_on_resume gives the trainer's allow-list") {
  // The rule as trainer.cpp's check_resumable wrote it before the schema held it.
  // data.class_names, added since, is one more (its elements, data.class_names[i], with it).
  auto allowed = [](const std::string& key) {
    return key == "name" || key == "training.epochs" || key == "optimizer.learning_rate" || key == "training.threads" ||
           key == "training.precision" || key == "training.log_every_steps" || key.rfind("checkpoint.", 0) == 0 || key == "data.class_names" ||
           (key.rfind("data.class_names[", 0) == 0 && key.back() == ']' && key.size() > 18);
  };
  const std::vector<std::string> odd = {"",
                                        "name.x",
                                        "names",
                                        "checkpoint",
                                        "checkpoint.",
                                        "checkpoint.x[0]",
                                        "xcheckpoint.keep",
                                        "training",
                                        "training.epochs[0]",
                                        "optimizer.learning_rate.x",
                                        "model.layers[12].init",
                                        "model.layers[].units"};
  for (const std::string& p : odd) {
    CAPTURE(p);
    CHECK(nabla::may_change_on_resume(p) == allowed(p));
  }
  // Every key of the schema, as to_json's output flattens to ("model.layers[3].units").
  int changeable = 0;
  for (const nabla::SectionInfo& s : nabla::config_schema())
    for (const nabla::KeyInfo& k : s.keys) {
      std::string p = s.path.empty() ? k.name : s.path + "." + k.name;
      for (size_t at; (at = p.find("[]")) != std::string::npos;) p.replace(at, 2, "[3]");
      CAPTURE(p);
      CHECK(nabla::may_change_on_resume(p) == allowed(p));
      CHECK(k.may_change_on_resume == (allowed(p) && s.path != "checkpoint"));
      changeable += allowed(p);
    }
  CHECK(changeable == 9);  // the seven keys, checkpoint.every and checkpoint.keep
  CHECK(nabla::may_change_on_resume("data.class_names[4]"));
  CHECK(!nabla::may_change_on_resume("data.classes[4]"));
  CHECK(nabla::resumable_keys_text() ==
        "name, data.class_names, optimizer.learning_rate, training.epochs, training.threads, training.precision, "
        "training.log_every_steps and the checkpoint section");
}

TEST_CASE("the output layer is the last dense layer") {
  nabla::Config c;
  CHECK(nabla::output_layer_path(c) == "model.layers");
  c.layers.resize(4);
  c.layers[1].type = nabla::LayerType::dropout;
  c.layers[3].type = nabla::LayerType::dropout;
  CHECK(nabla::output_layer_index(c.layers) == 2);
  CHECK(nabla::output_layer_path(c) == "model.layers[2].units");
  c.layers[3].type = nabla::LayerType::dense;
  CHECK(nabla::output_layer_index(c.layers) == 3);
  CHECK(nabla::output_layer_path(c) == "model.layers[3].units");
  for (auto& l : c.layers) l.type = nabla::LayerType::dropout;
  CHECK(nabla::output_layer_index(c.layers) == 3);  // none is dense: the last layer
  CHECK(nabla::output_layer_path(c) == "model.layers");
}
