// JSON config -> validated Config. One pass over the JSON collects every problem as one
// "FILE: JSON.PATH: message" line; nothing falls back to a default silently and nothing stops at
// the first error. The format itself (every key, type, default, range) is in configs/README.md.
#include "config/config.hpp"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <climits>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <limits>
#include <set>
#include <utility>

#include "util/error.hpp"

namespace nabla {
namespace {

using ojson = nlohmann::ordered_json;
namespace fs = std::filesystem;

// ---------------------------------------------------------------------------------------------
// Enum names. A value's first name is the one to_string gives; later names for it are aliases.

template <class E>
struct Name {
  E value;
  const char* name;
};

constexpr Name<Activation> kActivations[] = {
    {Activation::sigmoid, "sigmoid"},       {Activation::tanh, "tanh"},     {Activation::relu, "relu"},
    {Activation::leaky_relu, "leaky_relu"}, {Activation::linear, "linear"}, {Activation::softmax, "softmax"}};
constexpr Name<Init> kInits[] = {{Init::glorot_uniform, "glorot_uniform"}, {Init::glorot_normal, "glorot_normal"},
                                 {Init::he, "he"},                         {Init::gaussian, "gaussian"},
                                 {Init::glorot_uniform, "xavier"},         {Init::glorot_uniform, "xavier_uniform"},
                                 {Init::glorot_normal, "xavier_normal"}};
constexpr Name<LayerType> kLayerTypes[] = {{LayerType::dense, "dense"}, {LayerType::dropout, "dropout"}};
constexpr Name<LossKind> kLosses[] = {{LossKind::cross_entropy, "cross_entropy"},
                                      {LossKind::binary_cross_entropy, "binary_cross_entropy"},
                                      {LossKind::mse, "mse"}};
constexpr Name<OptimizerKind> kOptimizers[] = {
    {OptimizerKind::sgd, "sgd"}, {OptimizerKind::adam, "adam"}, {OptimizerKind::adamw, "adamw"}};
constexpr Name<ScheduleKind> kSchedules[] = {{ScheduleKind::constant, "constant"},
                                             {ScheduleKind::step, "step"},
                                             {ScheduleKind::exponential, "exponential"},
                                             {ScheduleKind::cosine, "cosine"}};
constexpr Name<DataFormat> kFormats[] = {{DataFormat::idx, "idx"}, {DataFormat::csv, "csv"}};

template <class E, size_t N>
const char* name_of(const Name<E> (&table)[N], E value) {
  for (const auto& n : table)
    if (n.value == value) return n.name;
  return "?";  // unreachable for a valid enum value
}

template <class E, size_t N>
std::optional<E> value_of(const Name<E> (&table)[N], std::string_view name) {
  for (const auto& n : table)
    if (name == n.name) return n.value;
  return std::nullopt;
}

// The names listed in messages (no aliases) and the names a suggestion may come from (all).
template <class E, size_t N>
std::pair<std::vector<std::string>, std::vector<std::string>> names_of(const Name<E> (&table)[N]) {
  std::vector<std::string> canonical, all;
  for (size_t i = 0; i < N; ++i) {
    all.push_back(table[i].name);
    bool alias = false;
    for (size_t j = 0; j < i; ++j) alias = alias || table[j].value == table[i].value;
    if (!alias) canonical.push_back(table[i].name);
  }
  return {canonical, all};
}

// ---------------------------------------------------------------------------------------------
// "Did you mean": optimal-string-alignment distance (Levenshtein plus adjacent transpositions, so
// "rleu" is one edit from "relu"), case-insensitive.

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

// The closest candidate within 2 edits (1 for candidates of 3 letters or fewer), if any.
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

std::string joined(const std::vector<std::string>& words) {
  std::string s;
  for (size_t i = 0; i < words.size(); ++i) s += (i ? ", " : "") + words[i];
  return s;
}

// ---------------------------------------------------------------------------------------------
// The format's objects and their keys, in the order the README and to_json list them.

// A run's name becomes a folder name (runs/NAME, runs/NAME-2, ...).
constexpr size_t kMaxNameBytes = 200;
bool usable_name(const std::string& s) {
  if (s.empty() || s.size() > kMaxNameBytes || s == "." || s == "..") return false;
  for (const char ch : s)
    if (ch == '/' || ch == '\\' || (unsigned char)ch < 0x20 || ch == 0x7f) return false;
  return true;
}

const std::vector<std::string> kRootKeys = {"name",      "data",     "model",    "loss",
                                            "optimizer", "schedule", "training", "checkpoint"};
const std::vector<std::string> kDataKeys = {"train", "test",  "format",           "csv_header",
                                            "validation", "scale", "memory_budget_mb", "classes"};
const std::vector<std::string> kSourceKeys = {"images", "labels", "csv"};
const std::vector<std::string> kModelKeys = {"layers"};
const std::vector<std::string> kLayerKeys = {"type", "units", "activation", "init", "negative_slope", "rate"};
const std::vector<std::string> kOptimizerKeys = {"type",         "learning_rate", "momentum", "nesterov",
                                                 "weight_decay", "beta1",         "beta2",    "epsilon"};
const std::vector<std::string> kScheduleKeys = {"type", "warmup_epochs", "step_size", "gamma", "min_lr"};
const std::vector<std::string> kTrainingKeys = {"epochs",  "batch_size", "shuffle",       "seed",
                                                "threads", "precision",  "early_stopping"};
const std::vector<std::string> kPrecisions = {"fp32", "bf16"};
const std::vector<std::string> kEarlyStoppingKeys = {"metric", "patience", "min_delta"};
const std::vector<std::string> kCheckpointKeys = {"every", "keep"};
const std::vector<std::string> kMetrics = {"val_accuracy", "val_loss"};

struct Section {
  const char* path;  // array elements written "[]": model.layers[]
  const std::vector<std::string>* keys;
};
const Section kSections[] = {{"", &kRootKeys},
                             {"data", &kDataKeys},
                             {"data.train", &kSourceKeys},
                             {"data.test", &kSourceKeys},
                             {"model", &kModelKeys},
                             {"model.layers[]", &kLayerKeys},
                             {"optimizer", &kOptimizerKeys},
                             {"schedule", &kScheduleKeys},
                             {"training", &kTrainingKeys},
                             {"training.early_stopping", &kEarlyStoppingKeys},
                             {"checkpoint", &kCheckpointKeys}};

const std::vector<std::string>* keys_of(std::string_view section) {
  for (const auto& s : kSections)
    if (section == s.path) return s.keys;
  return nullptr;
}

std::string child(const std::string& path, const std::string& key) { return path.empty() ? key : path + "." + key; }

bool equal_nocase(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) { return lower(x) == lower(y); });
}

// The message for a key `section` does not have.
std::string unknown_key(const std::string& section, const std::string& key) {
  const std::vector<std::string>& keys = *keys_of(section);
  if (section == "training.early_stopping" && key == "enabled")
    return "unknown key (the section's presence turns early stopping on: leave the section out to turn it off)";
  if (auto s = closest(key, keys)) return "unknown key (did you mean \"" + *s + "\"?)";
  // A key of exactly one other section (not a layer's), written in the wrong place.
  std::vector<std::string> elsewhere;
  for (const auto& s : kSections)
    if (section != s.path && std::string_view(s.path) != "model.layers[]")
      for (const auto& k : *s.keys)
        if (equal_nocase(k, key)) elsewhere.push_back(child(s.path, k));
  if (elsewhere.size() == 1) return "unknown key (did you mean " + elsewhere[0] + "?)";
  return "unknown key (known keys here: " + joined(keys) + ")";
}

// ---------------------------------------------------------------------------------------------
// Showing what was got: scalars as JSON writes them (numbers as written, strings quoted, true,
// null), containers by their type. Long strings are cut.

std::string quoted(const std::string& s) {
  std::string t = s;
  if (t.size() > 40) {
    size_t cut = 40;
    while (cut > 0 && (static_cast<unsigned char>(t[cut]) & 0xC0) == 0x80) --cut;  // not inside a UTF-8 character
    t = t.substr(0, cut) + "...";
  }
  return ojson(t).dump(-1, ' ', false, ojson::error_handler_t::replace);
}

std::string describe(const ojson& v) {
  switch (v.type()) {
    case ojson::value_t::null: return "null";
    case ojson::value_t::string: return quoted(v.get_ref<const std::string&>());
    case ojson::value_t::array: return v.empty() ? "an empty array" : "an array";
    case ojson::value_t::object: return v.empty() ? "an empty object" : "an object";
    default: return v.dump();  // numbers, booleans
  }
}

// A double for a message: shortest round-trip digits, "1" rather than "1.0".
std::string number(double x) {
  std::string s = ojson(x).dump();
  if (s.size() > 2 && s.compare(s.size() - 2, 2, ".0") == 0) s.resize(s.size() - 2);
  return s;
}

// An integer written as one (5) or as a number with nothing after the point (5.0, 5e2), exactly
// representable: the same value either way.
std::optional<int64_t> as_integer(const ojson& v) {
  if (v.is_number_unsigned()) {
    const uint64_t u = v.get<uint64_t>();
    if (u > static_cast<uint64_t>(INT64_MAX)) return std::nullopt;
    return static_cast<int64_t>(u);
  }
  if (v.is_number_integer()) return v.get<int64_t>();
  if (v.is_number_float()) {
    const double d = v.get<double>();
    if (std::isfinite(d) && d == std::floor(d) && std::fabs(d) <= 9007199254740992.0) return static_cast<int64_t>(d);
  }
  return std::nullopt;
}

struct Range {
  double lo;
  bool lo_open;
  double hi;
  bool hi_open;
  const char* text;
};
constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr Range kPositive{0, true, kInf, false, "a number > 0"};
constexpr Range kNonNegative{0, false, kInf, false, "a number >= 0"};
constexpr Range kFraction{0, false, 1, true, "a number in [0, 1)"};
constexpr Range kDecay{0, true, 1, false, "a number in (0, 1]"};
// The inputs are divided by data.scale in float: far outside float's range they become 0 or infinity.
constexpr Range kScale{1e-30, false, 1e30, false, "a number in [1e-30, 1e30] (the inputs are divided by it, in float)"};

// "(optimizer.type is "adam")", or "(... is "sgd", the default)" when the key was left out.
std::string is_note(const std::string& what, const char* value, bool given) {
  return "(" + what + " is \"" + value + "\"" + (given ? "" : ", the default") + ")";
}

std::string layer_path(size_t i) { return "model.layers[" + std::to_string(i) + "]"; }

// ---------------------------------------------------------------------------------------------

class Parser {
 public:
  Parser(std::string file, const std::string& base_dir) : file_(std::move(file)) {
    std::error_code ec;
    const fs::path base = base_dir.empty() ? fs::path(".") : fs::path(base_dir);
    base_ = fs::absolute(base, ec);
    if (ec) base_ = base;
  }

  std::vector<std::string> errors;  // load_config puts duplicate keys and bad --set here first

  Config parse(const ojson& root) {
    Config c;
    c.path = file_;
    c.name = fs::path(file_).stem().string();
    if (!usable_name(c.name)) c.name = "default";
    if (!root.is_object()) {
      error("", "expected an object at the top level, got " + describe(root));
      throw Errors(errors);
    }
    for (const auto& [k, v] : root.items()) {
      if (k == "name") read_name(v, c.name);
      else if (k == "data") parse_data(v, c.data);
      else if (k == "model") parse_model(v, c.layers);
      else if (k == "loss") read_enum(v, "loss", kLosses, c.loss);
      else if (k == "optimizer") parse_optimizer(v, c.optimizer);
      else if (k == "schedule") parse_schedule(v, c.schedule);
      else if (k == "training") parse_training(v, c.training);
      else if (k == "checkpoint") parse_checkpoint(v, c.checkpoint);
      else error(k, unknown_key("", k));
    }
    loss_given_ = root.contains("loss");
    if (!root.contains("data")) error("data", "missing required key");
    if (!root.contains("model")) error("model", "missing required key");
    check_model(c);
    check_schedule(c);
    check_early_stopping(c);
    if (!errors.empty()) throw Errors(errors);
    return c;
  }

 private:
  std::string file_;
  fs::path base_;
  std::set<std::string> bad_;  // paths that had an error: the cross-field checks skip them
  bool loss_given_ = false;
  bool output_activation_given_ = false;

  void error(const std::string& path, const std::string& what) {
    errors.push_back(Error::join(file_, path, what));
    bad_.insert(path);
  }

  // True when neither `path` nor an object around it had an error, so its value can be trusted.
  bool ok(const std::string& path) const {
    if (bad_.count(path)) return false;
    for (size_t i = 0; i < path.size(); ++i)
      if ((path[i] == '.' || path[i] == '[') && bad_.count(path.substr(0, i))) return false;
    return true;
  }

  // --- readers: each checks type and range, stores only a valid value and says whether it did.

  bool object(const ojson& v, const std::string& path, const std::string& hint = "") {
    if (v.is_object()) return true;
    error(path, "expected an object, got " + describe(v) + (hint.empty() ? "" : " (" + hint + ")"));
    return false;
  }

  // `text` replaces the generated "a positive integer" / "an integer from 1 to 64" when the upper
  // bound is a technical limit rather than part of the meaning.
  bool read_int(const ojson& v, const std::string& path, int64_t lo, int64_t hi, int64_t& out,
                const std::string& text = "") {
    std::string expected = text;
    if (expected.empty())
      expected = hi != INT64_MAX ? "an integer from " + std::to_string(lo) + " to " + std::to_string(hi)
                 : lo == 1       ? "a positive integer"
                                 : "an integer >= " + std::to_string(lo);
    const auto x = as_integer(v);
    if (x && *x >= lo && *x <= hi) {
      out = *x;
      return true;
    }
    std::string message = "expected " + expected + ", got " + describe(v);
    if (x && *x > hi && !text.empty()) message += " (the largest allowed is " + std::to_string(hi) + ")";
    error(path, message);
    return false;
  }

  bool read_number(const ojson& v, const std::string& path, const Range& r, double& out) {
    if (v.is_number()) {
      const double x = v.get<double>();
      if (std::isfinite(x) && (r.lo_open ? x > r.lo : x >= r.lo) && (r.hi_open ? x < r.hi : x <= r.hi)) {
        out = x;
        return true;
      }
    }
    error(path, std::string("expected ") + r.text + ", got " + describe(v));
    return false;
  }

  bool read_bool(const ojson& v, const std::string& path, bool& out) {
    if (v.is_boolean()) {
      out = v.get<bool>();
      return true;
    }
    error(path, "expected true or false, got " + describe(v));
    return false;
  }

  void bad_choice(const ojson& v, const std::string& path, const std::vector<std::string>& listed,
                  const std::vector<std::string>& accepted) {
    std::string message = "expected one of " + joined(listed) + ", got " + describe(v);
    if (v.is_string())
      if (auto s = closest(v.get_ref<const std::string&>(), accepted)) message += " (did you mean \"" + *s + "\"?)";
    error(path, message);
  }

  template <class E, size_t N>
  bool read_enum(const ojson& v, const std::string& path, const Name<E> (&table)[N], E& out) {
    if (v.is_string())
      if (auto e = value_of(table, v.get_ref<const std::string&>())) {
        out = *e;
        return true;
      }
    const auto [listed, accepted] = names_of(table);
    bad_choice(v, path, listed, accepted);
    return false;
  }

  bool read_path(const ojson& v, const std::string& path, std::string& out) {
    if (!v.is_string() || v.get_ref<const std::string&>().empty()) {
      error(path, "expected a file path (a non-empty string), got " + describe(v));
      return false;
    }
    // Relative to the config's folder; stored absolute and lexically normal. Existence is the
    // data module's business (a config may be validated on a machine without the data).
    out = (base_ / fs::path(v.get_ref<const std::string&>())).lexically_normal().string();
    return true;
  }

  void read_name(const ojson& v, std::string& out) {
    if (v.is_string() && usable_name(v.get_ref<const std::string&>())) {
      out = v.get_ref<const std::string&>();
      return;
    }
    error("name", "expected a name for a folder: 1 to " + std::to_string(kMaxNameBytes) +
                      " bytes, not . or .., without /, \\ or control characters, got " + describe(v));
  }

  // --- sections

  void parse_data(const ojson& v, DataConfig& d) {
    if (!object(v, "data")) return;
    const bool format_given = v.contains("format");
    const bool format_ok = !format_given || read_enum(v.at("format"), "data.format", kFormats, d.format);
    const std::string note = is_note("data.format", to_string(d.format), format_given);
    const bool csv = d.format == DataFormat::csv;
    for (const auto& [k, x] : v.items()) {
      const std::string kp = "data." + k;
      if (k == "format") continue;
      if (k == "train") parse_source(x, kp, format_ok, csv, note, d.train);
      else if (k == "test") parse_source(x, kp, format_ok, csv, note, d.test);
      else if (k == "csv_header") {
        if (format_ok && !csv) error(kp, "applies only to data.format \"csv\" " + note);
        else read_bool(x, kp, d.csv_header);
      } else if (k == "validation") read_int(x, kp, 0, INT64_MAX, d.validation);
      else if (k == "scale") read_number(x, kp, kScale, d.scale);
      // At most 2^43 - 1 MiB, so that the budget in bytes fits in 64 bits.
      else if (k == "memory_budget_mb") read_int(x, kp, 1, INT64_MAX >> 20, d.memory_budget_mb, "a positive integer");
      else if (k == "classes") {
        const auto c = as_integer(x);
        if (c && (*c == 0 || *c >= 2)) d.classes = *c;
        else error(kp, "expected 0 (from the data) or an integer >= 2, got " + describe(x));
      } else error(kp, unknown_key("data", k));
    }
    if (!v.contains("train")) error("data.train", "missing required key");
  }

  void parse_source(const ojson& v, const std::string& path, bool format_ok, bool csv, const std::string& note,
                    DataSource& s) {
    if (!object(v, path)) return;
    for (const auto& [k, x] : v.items()) {
      const std::string kp = path + "." + k;
      if (k == "images" || k == "labels") {
        if (format_ok && csv) error(kp, "applies only to data.format \"idx\" " + note);
        else read_path(x, kp, k == "images" ? s.images : s.labels);
      } else if (k == "csv") {
        if (format_ok && !csv) error(kp, "applies only to data.format \"csv\" " + note);
        else read_path(x, kp, s.csv);
      } else error(kp, unknown_key(path, k));
    }
    if (!format_ok) return;
    for (const char* k : csv ? std::vector<const char*>{"csv"} : std::vector<const char*>{"images", "labels"})
      if (!v.contains(k)) error(path + "." + k, "missing required key");
  }

  void parse_model(const ojson& v, std::vector<LayerConfig>& layers) {
    if (!object(v, "model")) return;
    for (const auto& [k, x] : v.items()) {
      if (k == "layers") parse_layers(x, layers);
      else error("model." + k, unknown_key("model", k));
    }
    if (!v.contains("layers")) error("model.layers", "missing required key");
  }

  void parse_layers(const ojson& v, std::vector<LayerConfig>& layers) {
    if (!v.is_array() || v.empty()) {
      error("model.layers", "expected a non-empty array of layers, got " + describe(v));
      return;
    }
    layers.resize(v.size());
    for (size_t i = 0; i < v.size(); ++i) parse_layer(v[i], layer_path(i), i + 1 == v.size(), layers[i]);
  }

  void parse_layer(const ojson& v, const std::string& path, bool last, LayerConfig& l) {
    if (!object(v, path)) return;
    const bool type_given = v.contains("type");
    const bool type_ok = !type_given || read_enum(v.at("type"), path + ".type", kLayerTypes, l.type);
    const std::string type_note = is_note("this layer's type", to_string(l.type), type_given);
    const bool dense = l.type == LayerType::dense;
    // The activation decides the default init and whether negative_slope applies: read it first.
    const bool activation_given = v.contains("activation");
    bool activation_ok = true;
    if (activation_given && (!type_ok || dense))
      activation_ok = read_enum(v.at("activation"), path + ".activation", kActivations, l.activation);
    const std::string activation_note = is_note("this layer's activation", to_string(l.activation), activation_given);
    if (last) output_activation_given_ = activation_given;

    for (const auto& [k, x] : v.items()) {
      const std::string kp = path + "." + k;
      auto dense_only = [&] {
        if (!type_ok || dense) return true;
        error(kp, "applies only to dense layers " + type_note);
        return false;
      };
      if (k == "type") continue;
      if (k == "activation") dense_only();  // its value was read above
      else if (k == "units") {
        int64_t units = 0;
        if (dense_only() && read_int(x, kp, 1, INT_MAX, units, "a positive integer")) l.units = static_cast<int>(units);
      } else if (k == "init") {
        if (dense_only()) read_enum(x, kp, kInits, l.init);
      } else if (k == "negative_slope") {
        if (!dense_only()) continue;
        if (activation_ok && l.activation != Activation::leaky_relu) error(kp, "applies only to leaky_relu " + activation_note);
        else read_number(x, kp, kFraction, l.negative_slope);
      } else if (k == "rate") {
        if (type_ok && dense) error(kp, "applies only to dropout layers " + type_note);
        else read_number(x, kp, kFraction, l.rate);
      } else error(kp, unknown_key("model.layers[]", k));
    }

    if (!type_ok) return;
    if (dense) {
      if (!v.contains("init") && activation_ok)
        l.init = l.activation == Activation::relu || l.activation == Activation::leaky_relu ? Init::he : Init::glorot_uniform;
      if (!v.contains("units") && !last)
        error(path + ".units", "missing required key (only the last layer may leave it out, to take the class count from the data)");
    } else if (!v.contains("rate")) {
      error(path + ".rate", "missing required key");
    }
  }

  void parse_optimizer(const ojson& v, OptimizerConfig& o) {
    if (!object(v, "optimizer", v.is_string() ? "write \"optimizer\": {\"type\": " + describe(v) + "}" : "")) return;
    const bool type_given = v.contains("type");
    const bool type_ok = !type_given || read_enum(v.at("type"), "optimizer.type", kOptimizers, o.type);
    const std::string note = is_note("optimizer.type", to_string(o.type), type_given);
    const bool sgd = o.type == OptimizerKind::sgd;
    bool nesterov_ok = false;
    for (const auto& [k, x] : v.items()) {
      const std::string kp = "optimizer." + k;
      auto only = [&](bool applies, const char* who) {
        if (!type_ok || applies) return true;
        error(kp, std::string("applies only to ") + who + " " + note);
        return false;
      };
      if (k == "type") continue;
      if (k == "learning_rate") read_number(x, kp, kPositive, o.learning_rate);
      else if (k == "momentum") {
        if (only(sgd, "sgd")) read_number(x, kp, kFraction, o.momentum);
      } else if (k == "nesterov") {
        if (only(sgd, "sgd")) nesterov_ok = read_bool(x, kp, o.nesterov);
      } else if (k == "weight_decay") read_number(x, kp, kNonNegative, o.weight_decay);
      else if (k == "beta1" || k == "beta2") {
        if (only(!sgd, "adam and adamw")) read_number(x, kp, kFraction, k == "beta1" ? o.beta1 : o.beta2);
      } else if (k == "epsilon") {
        if (only(!sgd, "adam and adamw")) read_number(x, kp, kPositive, o.epsilon);
      } else error(kp, unknown_key("optimizer", k));
    }
    if (nesterov_ok && o.nesterov && o.momentum == 0 && ok("optimizer.momentum"))
      error("optimizer.nesterov", "needs optimizer.momentum > 0");
  }

  void parse_schedule(const ojson& v, ScheduleConfig& s) {
    if (!object(v, "schedule", v.is_string() ? "write \"schedule\": {\"type\": " + describe(v) + "}" : "")) return;
    const bool type_given = v.contains("type");
    const bool type_ok = !type_given || read_enum(v.at("type"), "schedule.type", kSchedules, s.type);
    const std::string note = is_note("schedule.type", to_string(s.type), type_given);
    for (const auto& [k, x] : v.items()) {
      const std::string kp = "schedule." + k;
      auto only = [&](bool applies, const char* who) {
        if (!type_ok || applies) return true;
        error(kp, std::string("applies only to ") + who + " " + note);
        return false;
      };
      if (k == "type") continue;
      if (k == "warmup_epochs") read_number(x, kp, kNonNegative, s.warmup_epochs);
      else if (k == "step_size") {
        if (only(s.type == ScheduleKind::step, "the step schedule")) read_number(x, kp, kPositive, s.step_size);
      } else if (k == "gamma") {
        if (only(s.type == ScheduleKind::step || s.type == ScheduleKind::exponential,
                 "the step and exponential schedules"))
          read_number(x, kp, kDecay, s.gamma);
      } else if (k == "min_lr") {
        if (only(s.type == ScheduleKind::cosine, "the cosine schedule")) read_number(x, kp, kNonNegative, s.min_lr);
      } else error(kp, unknown_key("schedule", k));
    }
  }

  void parse_training(const ojson& v, TrainingConfig& t) {
    if (!object(v, "training")) return;
    for (const auto& [k, x] : v.items()) {
      const std::string kp = "training." + k;
      if (k == "epochs") read_int(x, kp, 1, INT64_MAX, t.epochs);
      else if (k == "batch_size") read_int(x, kp, 1, INT64_MAX, t.batch_size);
      else if (k == "shuffle") read_bool(x, kp, t.shuffle);
      else if (k == "seed") {
        if (x.is_number_unsigned()) t.seed = x.get<uint64_t>();  // all of 0 .. 2^64-1
        else if (const auto s = as_integer(x); s && *s >= 0) t.seed = static_cast<uint64_t>(*s);
        else error(kp, "expected an integer >= 0, got " + describe(x));
      } else if (k == "threads") read_int(x, kp, 1, 64, t.threads);
      else if (k == "precision") {
        if (x.is_string() && std::find(kPrecisions.begin(), kPrecisions.end(), x.get_ref<const std::string&>()) != kPrecisions.end())
          t.precision = x.get<std::string>();
        else bad_choice(x, kp, kPrecisions, kPrecisions);
      } else if (k == "early_stopping") parse_early_stopping(x, t.early_stopping);
      else error(kp, unknown_key("training", k));
    }
  }

  void parse_early_stopping(const ojson& v, EarlyStoppingConfig& e) {
    const std::string path = "training.early_stopping";
    const std::string hint = v == ojson(true)    ? "write \"early_stopping\": {} to turn it on with the defaults"
                             : v == ojson(false) ? "leave the section out to turn early stopping off"
                                                 : "";
    if (!object(v, path, hint)) return;
    e.enabled = true;
    for (const auto& [k, x] : v.items()) {
      const std::string kp = path + "." + k;
      if (k == "metric") {
        if (x.is_string() && std::find(kMetrics.begin(), kMetrics.end(), x.get_ref<const std::string&>()) != kMetrics.end())
          e.metric = x.get<std::string>();
        else bad_choice(x, kp, kMetrics, kMetrics);
      } else if (k == "patience") read_int(x, kp, 1, INT64_MAX, e.patience);
      else if (k == "min_delta") read_number(x, kp, kNonNegative, e.min_delta);
      else error(kp, unknown_key(path, k));
    }
  }

  void parse_checkpoint(const ojson& v, CheckpointConfig& c) {
    if (!object(v, "checkpoint")) return;
    for (const auto& [k, x] : v.items()) {
      const std::string kp = "checkpoint." + k;
      if (k == "every") read_int(x, kp, 0, INT64_MAX, c.every);
      else if (k == "keep") read_int(x, kp, 0, INT64_MAX, c.keep);
      else error(kp, unknown_key("checkpoint", k));
    }
  }

  // --- checks across fields, each run only when the values it reads were valid

  void check_model(const Config& c) {
    if (c.layers.empty() || !ok("model.layers")) return;
    auto type_known = [&](size_t i) { return ok(layer_path(i)) && ok(layer_path(i) + ".type"); };
    const size_t last = c.layers.size() - 1;
    for (size_t i = 0; i < c.layers.size(); ++i) {
      const LayerConfig& l = c.layers[i];
      if (!type_known(i)) continue;
      if (l.type == LayerType::dropout && i > 0 && type_known(i - 1) && c.layers[i - 1].type == LayerType::dropout)
        error(layer_path(i), "two dropout layers in a row (use one with the combined rate)");
      if (l.type == LayerType::dense && i < last && l.activation == Activation::softmax && ok(layer_path(i) + ".activation"))
        error(layer_path(i) + ".activation", "softmax is only allowed on the last layer");
    }
    if (!type_known(last)) return;
    const LayerConfig& out = c.layers[last];
    if (out.type != LayerType::dense) {
      error(layer_path(last), "the last layer must be dense (it is the output layer), not dropout");
      return;
    }
    const std::string units = layer_path(last) + ".units";
    const std::string activation = layer_path(last) + ".activation";
    if (out.activation == Activation::softmax && ok(activation) && ok(units) && out.units > 0) {
      if (out.units < 2) error(units, "a softmax output needs at least 2 units, got " + std::to_string(out.units));
      else if (c.data.classes > 0 && ok("data") && ok("data.classes") && out.units != c.data.classes)
        error(units, "the softmax output has " + std::to_string(out.units) + " units but data.classes is " +
                         std::to_string(c.data.classes));
    }
    if (!ok("loss") || !ok(activation)) return;
    const std::string loss = std::string(to_string(c.loss)) + (loss_given_ ? "" : " (the default)");
    const std::string note = is_note(activation, to_string(out.activation), output_activation_given_);
    if (c.loss == LossKind::cross_entropy && out.activation != Activation::softmax)
      error("loss", loss + " needs a softmax output layer " + note);
    if (c.loss == LossKind::binary_cross_entropy && out.activation != Activation::sigmoid)
      error("loss", loss + " needs a sigmoid output layer " + note);
  }

  void check_schedule(const Config& c) {
    // Cosine anneals from learning_rate down to min_lr: a floor above the start is a mistake.
    if (c.schedule.type == ScheduleKind::cosine && c.schedule.min_lr > c.optimizer.learning_rate &&
        ok("schedule.min_lr") && ok("optimizer.learning_rate"))
      error("schedule.min_lr", "must not exceed optimizer.learning_rate (" + number(c.optimizer.learning_rate) +
                                   "), got " + number(c.schedule.min_lr));
  }

  void check_early_stopping(const Config& c) {
    if (c.training.early_stopping.enabled && c.data.validation == 0 && ok("data") && ok("data.validation"))
      error("training.early_stopping", "early stopping needs a validation split: set data.validation > 0");
  }
};

// ---------------------------------------------------------------------------------------------
// Reading and parsing the file.

// A config is a few kilobytes; a file much larger is something else.
constexpr size_t kMaxConfigBytes = size_t(16) << 20;

std::string read_text(const std::string& path) {
  auto fail = [&](const std::string& what) { throw Errors({Error::join(path, "", what)}); };
  std::error_code ec;
  if (fs::is_directory(path, ec)) fail(std::string("cannot open: ") + std::strerror(EISDIR));
  const auto status = fs::status(path, ec);
  if (!ec && fs::exists(status) && !fs::is_regular_file(status))
    fail("is not a regular file (a device or a pipe?), expected a JSON config file");
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) fail(std::string("cannot open: ") + std::strerror(errno));
  std::string text;
  char buffer[1 << 16];
  size_t n = 0;
  while ((n = std::fread(buffer, 1, sizeof buffer, f)) > 0) {
    text.append(buffer, n);
    if (text.size() > kMaxConfigBytes) {
      std::fclose(f);
      fail("is over " + std::to_string(kMaxConfigBytes >> 20) + " MB, expected a JSON config file");
    }
  }
  const int read_error = std::ferror(f) ? errno : 0;
  std::fclose(f);
  if (read_error) fail(std::string("cannot read: ") + std::strerror(read_error));
  return text;
}

// "LINE:COLUMN" (both from 1, columns in characters) of the byte at `offset`.
std::string line_column(const std::string& text, size_t offset) {
  size_t line = 1, column = 1;
  for (size_t i = 0; i < offset && i < text.size(); ++i) {
    if (text[i] == '\n') line++, column = 1;
    else if ((static_cast<unsigned char>(text[i]) & 0xC0) != 0x80) column++;  // not a UTF-8 continuation byte
  }
  return std::to_string(line) + ":" + std::to_string(column);
}

// nlohmann's "[json.exception.parse_error.101] parse error at line 3, column 14: syntax error while
// parsing value - unexpected '}'; ..." becomes "FILE:3:14: JSON syntax error: unexpected '}'; ...".
std::string syntax_error(const std::string& text, const std::string& file, const nlohmann::json::parse_error& e) {
  std::string what = e.what();
  if (const size_t colon = what.find(": "); colon != std::string::npos) what = what.substr(colon + 2);
  const std::string prefix = "syntax error while parsing ";
  if (what.compare(0, prefix.size(), prefix) == 0)
    if (const size_t dash = what.find(" - "); dash != std::string::npos) what = what.substr(dash + 3);
  // "; last read: '{<U+000A>/'" repeats what line:column already says, less readably.
  const std::string last_read = "; last read: '";
  if (const size_t from = what.find(last_read); from != std::string::npos) {
    const size_t to = what.find("'; ", from + last_read.size());
    what.erase(from, to == std::string::npos ? std::string::npos : to + 1 - from);
  }
  std::string where = file;
  if (e.byte > 0) {
    const size_t at = e.byte - 1;  // e.byte counts the offending byte itself
    where += ":" + line_column(text, at);
    const std::string invalid = "invalid literal";
    const unsigned char c = at < text.size() ? static_cast<unsigned char>(text[at]) : 0;
    if (what.compare(0, invalid.size(), invalid) == 0 && c > ' ' && c < 127) {
      const char quote = c == '\'' ? '"' : '\'';
      what.replace(0, invalid.size(), std::string("unexpected ") + quote + text[at] + quote);
      if (c == '/') what += " (JSON has no comments)";
      if (c == '\'') what += " (JSON strings take double quotes)";
    }
  }
  return where + ": JSON syntax error: " + what;
}

// Parses the text keeping the file's key order; every key given twice in one object goes into
// `errors` (JSON keeps the last one silently).
ojson parse_text(const std::string& text, const std::string& file, std::vector<std::string>& errors) {
  if (text.find_first_not_of(" \t\r\n") == std::string::npos)
    throw Errors({Error::join(file, "", "the file is empty (expected a JSON object)")});

  struct Frame {
    bool array;
    size_t index = 0;  // array: the element being parsed
    std::string key{};  // object: the key being parsed
    std::set<std::string> keys{};
  };
  std::vector<Frame> stack;
  auto path = [&] {
    std::string s;
    for (const auto& f : stack) s += f.array ? "[" + std::to_string(f.index) + "]" : (s.empty() ? "" : ".") + f.key;
    return s;
  };
  using Event = nlohmann::json::parse_event_t;
  auto track = [&](int, Event event, ojson& parsed) {
    switch (event) {
      case Event::object_start: stack.push_back({false}); break;
      case Event::array_start: stack.push_back({true}); break;
      case Event::key:
        stack.back().key = parsed.get<std::string>();
        if (!stack.back().keys.insert(stack.back().key).second) errors.push_back(Error::join(file, path(), "duplicate key"));
        break;
      case Event::value:
        if (!stack.empty() && stack.back().array) stack.back().index++;
        break;
      case Event::object_end:
      case Event::array_end:
        stack.pop_back();
        if (!stack.empty() && stack.back().array) stack.back().index++;
        break;
    }
    return true;
  };
  try {
    return ojson::parse(text, track);
  } catch (const nlohmann::json::parse_error& e) {
    throw Errors({syntax_error(text, file, e)});
  } catch (const nlohmann::json::exception& e) {
    // out_of_range 406, "number overflow parsing '1e400'": a number too large for a double. It
    // carries no position: find the literal in the text.
    std::string what = e.what(), where = file;
    const std::string marker = "number overflow parsing '";
    if (const size_t m = what.find(marker); m != std::string::npos) {
      const std::string literal = what.substr(m + marker.size(), what.rfind('\'') - m - marker.size());
      what = "number out of range: " + literal;
      if (const size_t at = text.find(literal); at != std::string::npos) where += ":" + line_column(text, at);
    }
    throw Errors({where + ": JSON syntax error: " + what});
  }
}

}  // namespace

// ---------------------------------------------------------------------------------------------

const char* to_string(Activation v) { return name_of(kActivations, v); }
const char* to_string(Init v) { return name_of(kInits, v); }
const char* to_string(LayerType v) { return name_of(kLayerTypes, v); }
const char* to_string(LossKind v) { return name_of(kLosses, v); }
const char* to_string(OptimizerKind v) { return name_of(kOptimizers, v); }
const char* to_string(ScheduleKind v) { return name_of(kSchedules, v); }
const char* to_string(DataFormat v) { return name_of(kFormats, v); }

template <> std::optional<Activation> from_string<Activation>(std::string_view s) { return value_of(kActivations, s); }
template <> std::optional<Init> from_string<Init>(std::string_view s) { return value_of(kInits, s); }
template <> std::optional<LayerType> from_string<LayerType>(std::string_view s) { return value_of(kLayerTypes, s); }
template <> std::optional<LossKind> from_string<LossKind>(std::string_view s) { return value_of(kLosses, s); }
template <> std::optional<OptimizerKind> from_string<OptimizerKind>(std::string_view s) { return value_of(kOptimizers, s); }
template <> std::optional<ScheduleKind> from_string<ScheduleKind>(std::string_view s) { return value_of(kSchedules, s); }
template <> std::optional<DataFormat> from_string<DataFormat>(std::string_view s) { return value_of(kFormats, s); }

void apply_override(nlohmann::ordered_json& root, const std::string& assignment) {
  auto fail = [&](const std::string& where, const std::string& what) { throw Error("--set " + assignment, where, what); };
  const size_t eq = assignment.find('=');
  if (eq == std::string::npos || eq == 0) fail("", "expected PATH=VALUE, e.g. training.epochs=20");
  const std::string path = assignment.substr(0, eq);

  // "a.b[2].c" -> steps a, b, [2], c
  struct Step {
    std::string key;  // empty for an index
    size_t index = 0;
  };
  std::vector<Step> steps;
  for (size_t i = 0; i < path.size();) {
    if (path[i] == '[') {
      const size_t close = path.find(']', i);
      const std::string digits = path.substr(i + 1, close == std::string::npos ? std::string::npos : close - i - 1);
      if (close == std::string::npos || digits.empty() || digits.size() > 9 ||
          !std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; }))
        fail("", "bad index \"" + path.substr(i, close == std::string::npos ? std::string::npos : close - i + 1) +
                     "\" (expected [N] with N = 0, 1, 2, ...)");
      steps.push_back({"", std::stoul(digits)});
      i = close + 1;
      if (i < path.size() && path[i] != '.' && path[i] != '[') fail("", "bad path: expected . or [ after ]");
    } else {
      const size_t end = path.find_first_of(".[", i);
      steps.push_back({path.substr(i, end == std::string::npos ? std::string::npos : end - i)});
      if (steps.back().key.empty()) fail("", "bad path: empty key");
      i = end;
    }
    if (i < path.size() && path[i] == '.' && ++i == path.size()) fail("", "bad path: empty key");
  }

  ojson value = ojson::parse(assignment.substr(eq + 1), nullptr, /*allow_exceptions=*/false);
  if (value.is_discarded()) {
    value = assignment.substr(eq + 1);  // not JSON: a plain string
    // The command line may hold any bytes; the config (and the checkpoint that stores it) is JSON.
    try {
      (void)value.dump();
    } catch (const nlohmann::json::type_error&) {
      fail("", "the value is not valid UTF-8");
    }
  }

  ojson* at = &root;
  std::string walked;   // as written, for messages
  std::string section;  // the same with indexes as "[]", to look up the format's keys
  for (size_t s = 0; s < steps.size(); ++s) {
    const Step& step = steps[s];
    if (step.key.empty()) {
      const std::string here = walked + "[" + std::to_string(step.index) + "]";
      if (!at->is_array())
        fail(walked, "expected an array to take element [" + std::to_string(step.index) + "] of, got " + describe(*at));
      if (step.index >= at->size())
        fail(here, "index out of range (" + walked + " has " + std::to_string(at->size()) + " elements)");
      at = &(*at)[step.index];
      walked = here;
      section += "[]";
      continue;
    }
    const std::string here = child(walked, step.key);
    if (!at->is_object()) fail(walked, "expected an object to set \"" + step.key + "\" in, got " + describe(*at));
    if (!at->contains(step.key) && s + 1 < steps.size()) {
      // A section on the way that the config leaves out (all defaults): create it.
      const std::vector<std::string>* keys = keys_of(section);
      if (keys && std::find(keys->begin(), keys->end(), step.key) == keys->end()) fail(here, unknown_key(section, step.key));
      if (!keys || !keys_of(child(section, step.key)))
        fail(here, "not in the config, so there is nothing to set inside it");
      (*at)[step.key] = ojson::object();
    }
    at = &(*at)[step.key];
    walked = here;
    section = child(section, step.key);
  }
  *at = std::move(value);
}

Config parse_config(const nlohmann::ordered_json& j, const std::string& path, const std::string& base_dir) {
  return Parser(path, base_dir).parse(j);
}

Config parse_config(const nlohmann::json& j, const std::string& path, const std::string& base_dir) {
  return parse_config(nlohmann::ordered_json(j), path, base_dir);
}

Config load_config(const std::string& path, const std::vector<std::string>& overrides) {
  const std::string text = read_text(path);
  std::vector<std::string> errors;
  ojson root = parse_text(text, path, errors);
  for (const auto& o : overrides) {
    try {
      apply_override(root, o);
    } catch (const Error& e) {
      errors.push_back(e.what());
    }
  }
  Parser parser(path, fs::path(path).parent_path().string());
  parser.errors = std::move(errors);
  return parser.parse(root);
}

}  // namespace nabla
