// The config format, once: every section's keys with their readers, ranges, the variants they
// apply to, whether they are required and whether they may change on resume. configs/README.md
// documents the same keys (tests/config/test_schema.cpp checks that it does). Adding a key is its
// struct field (types.hpp), one line here and its row in the README.
#include <algorithm>
#include <cctype>
#include <climits>
#include <cmath>

#include "config/keys.hpp"

namespace nabla {
namespace config {
namespace {

constexpr size_t kMaxNameBytes = 200;
const std::vector<std::string> kPrecisions = {"fp32", "bf16"};
const std::vector<std::string> kMetrics = {"val_accuracy", "val_loss"};

// --- values with readers of their own

Value<Config> folder_name() {
  return {Type::string,
          [](Reader& r, const ojson& x, const std::string& path, Config& c) {
            if (x.is_string() && usable_name(x.get_ref<const std::string&>())) {
              c.name = x.get_ref<const std::string&>();
              return true;
            }
            r.error(path, "expected a name for a folder: 1 to " + std::to_string(kMaxNameBytes) +
                              " bytes, not . or .., without /, \\ or control characters, got " + describe(x));
            return false;
          },
          [](const Config& c, Variants&) { return ojson(c.name); }};
}

Value<DataConfig> class_count() {
  return {Type::integer,
          [](Reader& r, const ojson& x, const std::string& path, DataConfig& d) {
            const auto c = as_integer(x);
            if (c && (*c == 0 || *c >= 2)) {
              d.classes = *c;
              return true;
            }
            r.error(path, "expected 0 (from the data) or an integer >= 2, got " + describe(x));
            return false;
          },
          [](const DataConfig& d, Variants&) { return ojson(d.classes); }};
}

// data.class_names: a name for each class, in label order; the data plan checks the count.
Value<DataConfig> class_names() {
  return {Type::array,
          [](Reader& r, const ojson& x, const std::string& path, DataConfig& d) {
            bool names = x.is_array() && !x.empty();
            for (const ojson& n : names ? x : ojson::array())
              names = names && n.is_string() && !n.get_ref<const std::string&>().empty();
            if (!names) {
              r.error(path,
                      "expected a non-empty array of non-empty strings (a name for each class), got " + describe(x));
              return false;
            }
            d.class_names.clear();
            for (const ojson& n : x) d.class_names.push_back(n.get<std::string>());
            return true;
          },
          [](const DataConfig& d, Variants&) { return ojson(d.class_names); }};
}

Value<TrainingConfig> seed() {
  return {Type::integer,
          [](Reader& r, const ojson& x, const std::string& path, TrainingConfig& t) {
            if (x.is_number_unsigned())
              t.seed = x.get<uint64_t>();  // all of 0 .. 2^64-1
            else if (const auto s = as_integer(x); s && *s >= 0)
              t.seed = static_cast<uint64_t>(*s);
            else {
              r.error(path, "expected an integer >= 0, got " + describe(x));
              return false;
            }
            return true;
          },
          [](const TrainingConfig& t, Variants&) { return ojson(t.seed); }};
}

// "write "optimizer": {"type": "adam"}" for "optimizer": "adam".
std::string type_hint(const std::string& path, const ojson& v) {
  return v.is_string() ? "write \"" + path + "\": {\"type\": " + describe(v) + "}" : "";
}

std::string on_off_hint(const std::string&, const ojson& v) {
  return v == ojson(true)    ? "write \"early_stopping\": {} to turn it on with the defaults"
         : v == ojson(false) ? "leave the section out to turn early stopping off"
                             : "";
}

// --- the sections, each before the sections that hold it

const Only kIdx = only({DataFormat::idx}, "data.format \"idx\"");
const Only kCsv = only({DataFormat::csv}, "data.format \"csv\"");
const Only kDense = only({LayerType::dense}, "dense layers");
const Only kDropout = only({LayerType::dropout}, "dropout layers");
const Only kLeakyRelu = only({Activation::leaky_relu}, "leaky_relu");
const Only kElu = only({Activation::elu}, "elu");
const Only kBatchNorm = only({Norm::batch_norm}, "batch_norm");
const Only kNormed = only({Norm::batch_norm, Norm::layer_norm}, "batch_norm and layer_norm");
const Only kCrossEntropy = only({LossKind::cross_entropy}, "cross_entropy");
const Only kSgd = only({OptimizerKind::sgd}, "sgd");
const Only kAdam = only({OptimizerKind::adam, OptimizerKind::adamw}, "adam and adamw");
const Only kStep = only({ScheduleKind::step}, "the step schedule");
const Only kDecaying = only({ScheduleKind::step, ScheduleKind::exponential}, "the step and exponential schedules");
const Only kCosine = only({ScheduleKind::cosine}, "the cosine schedule");

// data.train, data.test
const Section<DataSource> kSource = {{
    {"images", file_path(&DataSource::images), {kIdx}, kRequired},
    {"labels", file_path(&DataSource::labels), {kIdx}, kRequired},
    {"csv", file_path(&DataSource::csv), {kCsv}, kRequired},
}};

const Section<DataConfig> kData = {{
    {"train", section(&DataConfig::train, kSource), {}, kRequired},
    {"test", section(&DataConfig::test, kSource), {}, 0, [](const DataConfig& d) { return d.test.present(); }},
    {"format", variant(&DataConfig::format, kFormats, "data.format")},
    {"csv_header", boolean(&DataConfig::csv_header), {kCsv}},
    {"validation", integer(&DataConfig::validation, 0)},
    {"scale", number(&DataConfig::scale, kScale)},
    // At most 2^43 - 1 MiB, so that the budget in bytes fits in 64 bits.
    {"memory_budget_mb", integer(&DataConfig::memory_budget_mb, 1, INT64_MAX >> 20, "a positive integer")},
    {"classes", class_count()},
    {"class_names", class_names(), {}, kMayChangeOnResume, [](const DataConfig& d) { return !d.class_names.empty(); }},
}};

// model.layers[]. The activation is a variant too: negative_slope applies only to leaky_relu.
const Section<LayerConfig> kLayer = {{
    {"type", variant(&LayerConfig::type, kLayerTypes, "this layer's type")},
    // 0 (left out, on the last layer only): the class count from the data. finish_layer checks.
    {"units",
     integer(&LayerConfig::units, 1, INT_MAX, "a positive integer"),
     {kDense},
     0,
     [](const LayerConfig& l) { return l.units > 0; }},
    {"activation", variant(&LayerConfig::activation, kActivations, "this layer's activation"), {kDense}},
    {"init", computed_default(choice(&LayerConfig::init, kInits)), {kDense}},  // by the activation: finish_layer
    {"negative_slope", number(&LayerConfig::negative_slope, kFraction), {kDense, kLeakyRelu}},
    {"alpha", number(&LayerConfig::alpha, kPositive), {kDense, kElu}},
    {"norm",
     variant(&LayerConfig::norm, kNorms, "this layer's norm"),
     {kDense},
     0,
     [](const LayerConfig& l) { return l.norm != Norm::none; }},
    {"norm_momentum", number(&LayerConfig::norm_momentum, kDecay), {kDense, kBatchNorm}},
    {"norm_epsilon", number(&LayerConfig::norm_epsilon, kPositive), {kDense, kNormed}},
    {"rate", number(&LayerConfig::rate, kFraction), {kDropout}, kRequired},
}};

// What a layer's own keys cannot say: a dense layer's init defaults by its activation, and every
// dense layer but the last needs units.
void finish_layer(Reader& r, const ojson& v, const std::string& path, bool last, LayerConfig& l) {
  if (!chosen(r.variants, Selector::layer_type).ok || l.type != LayerType::dense) return;
  if (!v.contains("init") && chosen(r.variants, Selector::activation).ok) l.init = default_init(l.activation);
  if (!v.contains("units") && !last)
    r.error(path + ".units",
            "missing required key (only the last layer may leave it out, to take the class count from the data)");
}

Value<Config> layer_list() {
  return {Type::array,
          [](Reader& r, const ojson& v, const std::string& path, Config& c) {
            if (!v.is_array() || v.empty()) {
              r.error(path, "expected a non-empty array of layers, got " + describe(v));
              return false;
            }
            c.layers.resize(v.size());
            for (size_t i = 0; i < v.size(); ++i) {
              const std::string layer = path + "[" + std::to_string(i) + "]";
              if (read_section(r, kLayer, v[i], layer, c.layers[i]))
                finish_layer(r, v[i], layer, i + 1 == v.size(), c.layers[i]);
            }
            return true;
          },
          [](const Config& c, Variants& variants) {
            ojson layers = ojson::array();
            for (const LayerConfig& l : c.layers) layers.push_back(write_section(kLayer, l, variants));
            return layers;
          },
          [](const std::string& path, std::vector<SectionInfo>& out) { describe_section(kLayer, path + "[]", out); }};
}

const Section<Config> kModel = {{
    {"layers", layer_list(), {}, kRequired},
}};

// loss.class_weights: a weight per class, in label order, or "balanced". The data plan checks the count.
Value<LossConfig> class_weights() {
  return {Type::array,
          [](Reader& r, const ojson& x, const std::string& path, LossConfig& l) {
            if (x == ojson("balanced")) {
              l.balanced = true;
              return true;
            }
            bool numbers = x.is_array() && !x.empty();
            bool positive = false;
            for (const ojson& w : numbers ? x : ojson::array()) {
              numbers = numbers && w.is_number() && std::isfinite(w.get<double>()) && w.get<double>() >= 0;
              positive = positive || (w.is_number() && w.get<double>() > 0);
            }
            if (!numbers || !positive) {
              r.error(path,
                      "expected \"balanced\" or a non-empty array of numbers >= 0 (a weight for each class, "
                      "not all 0), got " +
                          describe(x));
              return false;
            }
            l.class_weights.clear();
            for (const ojson& w : x) l.class_weights.push_back(w.get<double>());
            return true;
          },
          [](const LossConfig& l, Variants&) { return l.balanced ? ojson("balanced") : ojson(l.class_weights); }};
}

const Section<LossConfig> kLoss = {{
    {"type", variant(&LossConfig::type, kLosses, "loss.type")},
    {"label_smoothing",
     number(&LossConfig::label_smoothing, kFraction),
     {kCrossEntropy},
     0,
     [](const LossConfig& l) { return l.label_smoothing > 0; }},
    {"class_weights", class_weights(), {kCrossEntropy}, 0, [](const LossConfig& l) { return l.weighted(); }},
}};

// "loss": "mse" is {"type": "mse"}; a loss with options is written as the object.
Value<Config> loss_value() {
  return {Type::object,
          [](Reader& r, const ojson& v, const std::string& path, Config& c) {
            if (v.is_string()) return r.choice(v, path, kLosses, c.loss.type);
            return read_section(r, kLoss, v, path, c.loss);
          },
          [](const Config& c, Variants& variants) {
            const ojson j = write_section(kLoss, c.loss, variants);
            return j.size() == 1 ? j.at("type") : j;
          },
          [](const std::string& path, std::vector<SectionInfo>& out) { describe_section(kLoss, path, out); }};
}

const Section<OptimizerConfig> kOptimizer = {
    {
        {"type", variant(&OptimizerConfig::type, kOptimizers, "optimizer.type")},
        {"learning_rate", number(&OptimizerConfig::learning_rate, kPositive), {}, kMayChangeOnResume},
        {"momentum", number(&OptimizerConfig::momentum, kFraction), {kSgd}},
        {"nesterov", boolean(&OptimizerConfig::nesterov), {kSgd}},
        {"weight_decay", number(&OptimizerConfig::weight_decay, kNonNegative)},
        {"beta1", number(&OptimizerConfig::beta1, kFraction), {kAdam}},
        {"beta2", number(&OptimizerConfig::beta2, kFraction), {kAdam}},
        {"epsilon", number(&OptimizerConfig::epsilon, kPositive), {kAdam}},
    },
    type_hint,
    // nesterov is true only when it was given, applied and valid.
    [](Reader& r, const ojson&, const std::string& path, OptimizerConfig& o) {
      if (o.nesterov && o.momentum == 0 && r.ok(child(path, "momentum")))
        r.error(child(path, "nesterov"), "needs optimizer.momentum > 0");
    }};

const Section<ScheduleConfig> kSchedule = {{
                                               {"type", variant(&ScheduleConfig::type, kSchedules, "schedule.type")},
                                               {"warmup_epochs", number(&ScheduleConfig::warmup_epochs, kWarmup)},
                                               {"step_size", number(&ScheduleConfig::step_size, kPositive), {kStep}},
                                               {"gamma", number(&ScheduleConfig::gamma, kDecay), {kDecaying}},
                                               {"min_lr", number(&ScheduleConfig::min_lr, kNonNegative), {kCosine}},
                                           },
                                           type_hint};

// Its presence turns early stopping on.
const Section<EarlyStoppingConfig> kEarlyStopping = {
    {
        {"metric", one_of(&EarlyStoppingConfig::metric, kMetrics)},
        {"patience", integer(&EarlyStoppingConfig::patience, 1)},
        {"min_delta", number(&EarlyStoppingConfig::min_delta, kNonNegative)},
    },
    on_off_hint,
    [](Reader&, const ojson&, const std::string&, EarlyStoppingConfig& e) { e.enabled = true; }};

const Section<TrainingConfig> kTraining = {{
    {"epochs", integer(&TrainingConfig::epochs, 1), {}, kMayChangeOnResume},
    // A GEMM's sizes are ints, and no MLP trains on a batch of more than a million samples.
    {"batch_size", integer(&TrainingConfig::batch_size, 1, int64_t(1) << 20, "a positive integer up to 1048576")},
    {"shuffle", boolean(&TrainingConfig::shuffle)},
    {"seed", seed()},
    {"threads", integer(&TrainingConfig::threads, 1, 64), {}, kMayChangeOnResume},
    {"precision", one_of(&TrainingConfig::precision, kPrecisions), {}, kMayChangeOnResume},
    {"log_every_steps",
     integer(&TrainingConfig::log_every_steps, 0),
     {},
     kMayChangeOnResume,
     [](const TrainingConfig& t) { return t.log_every_steps > 0; }},
    {"clip_grad_value",
     number(&TrainingConfig::clip_grad_value, kNonNegative),
     {},
     0,
     [](const TrainingConfig& t) { return t.clip_grad_value > 0; }},
    {"clip_grad_norm",
     number(&TrainingConfig::clip_grad_norm, kNonNegative),
     {},
     0,
     [](const TrainingConfig& t) { return t.clip_grad_norm > 0; }},
    {"early_stopping",
     section(&TrainingConfig::early_stopping, kEarlyStopping),
     {},
     0,
     [](const TrainingConfig& t) { return t.early_stopping.enabled; }},
}};

const Section<CheckpointConfig> kCheckpoint = {{
                                                   {"every", integer(&CheckpointConfig::every, 0)},
                                                   {"keep", integer(&CheckpointConfig::keep, 0)},
                                               },
                                               nullptr,
                                               nullptr,
                                               /*may_change_on_resume=*/true};

const Section<Config> kRoot = {{
    {"name", computed_default(folder_name()), {}, kMayChangeOnResume},  // the config file's stem
    {"data", section(&Config::data, kData), {}, kRequired},
    {"model", nested(kModel), {}, kRequired},
    {"loss", loss_value()},
    {"optimizer", section(&Config::optimizer, kOptimizer)},
    {"schedule", section(&Config::schedule, kSchedule)},
    {"training", section(&Config::training, kTraining)},
    {"checkpoint", section(&Config::checkpoint, kCheckpoint)},
}};

}  // namespace

const Section<Config>& root_section() { return kRoot; }

bool usable_name(const std::string& s) {
  if (s.empty() || s.size() > kMaxNameBytes || s == "." || s == "..") return false;
  for (const char ch : s)
    if (ch == '/' || ch == '\\' || (unsigned char)ch < 0x20 || ch == 0x7f) return false;
  return true;
}

const char* type_name(Type t) {
  switch (t) {
    case Type::integer:
      return "integer";
    case Type::number:
      return "number";
    case Type::boolean:
      return "boolean";
    case Type::string:
      return "string";
    case Type::path:
      return "path";
    case Type::object:
      return "object";
    case Type::array:
      return "array";
  }
  return "?";
}

std::string schema_path(std::string_view path) {
  std::string s;
  for (size_t i = 0; i < path.size(); ++i) {
    s += path[i];
    if (path[i] != '[') continue;
    size_t j = i + 1;
    while (j < path.size() && std::isdigit(static_cast<unsigned char>(path[j]))) ++j;
    if (j > i + 1 && j < path.size() && path[j] == ']') i = j - 1;  // "[12]" -> "[]"
  }
  return s;
}

const SectionInfo* find_section(std::string_view path) {
  for (const SectionInfo& s : config_schema())
    if (s.path == path) return &s;
  return nullptr;
}

bool has_key(const SectionInfo& section, std::string_view key) {
  return std::any_of(section.keys.begin(), section.keys.end(), [&](const KeyInfo& k) { return k.name == key; });
}

std::string unknown_key(const std::string& section, const std::string& key) {
  std::vector<std::string> keys;
  for (const KeyInfo& k : find_section(section)->keys) keys.push_back(k.name);
  if (section == "training.early_stopping" && key == "enabled")
    return "unknown key (the section's presence turns early stopping on: leave the section out to turn it off)";
  if (auto s = closest(key, keys)) return "unknown key (did you mean \"" + *s + "\"?)";
  // A key of exactly one other section (not an array element's), written in the wrong place.
  std::vector<std::string> elsewhere;
  for (const SectionInfo& s : config_schema())
    if (s.path != section && s.path.find("[]") == std::string::npos)
      for (const KeyInfo& k : s.keys)
        if (equal_nocase(k.name, key)) elsewhere.push_back(child(s.path, k.name));
  if (elsewhere.size() == 1) return "unknown key (did you mean " + elsewhere[0] + "?)";
  return "unknown key (known keys here: " + joined(keys) + ")";
}

}  // namespace config

const std::vector<SectionInfo>& config_schema() {
  static const std::vector<SectionInfo> schema = [] {
    std::vector<SectionInfo> out;
    config::describe_section(config::kRoot, "", out);
    return out;
  }();
  return schema;
}

bool may_change_on_resume(std::string_view json_path) {
  const std::string path = config::schema_path(json_path);
  for (const SectionInfo& s : config_schema()) {
    if (s.may_change_on_resume && path.rfind(s.path + ".", 0) == 0) return true;
    for (const KeyInfo& k : s.keys) {
      if (!k.may_change_on_resume) continue;
      const std::string key = config::child(s.path, k.name);
      // A list of values flattens to its elements: data.class_names[2].
      if (path == key || (std::string_view(k.type) == "array" && path == key + "[]")) return true;
    }
  }
  return false;
}

std::string resumable_keys_text() {
  std::vector<std::string> parts;
  for (const SectionInfo& s : config_schema()) {
    for (const KeyInfo& k : s.keys)
      if (k.may_change_on_resume) parts.push_back(config::child(s.path, k.name));
    if (s.may_change_on_resume) parts.push_back("the " + s.path + " section");
  }
  std::string text;
  for (size_t i = 0; i < parts.size(); ++i) text += (i == 0 ? "" : i + 1 == parts.size() ? " and " : ", ") + parts[i];
  return text;
}

}  // namespace nabla
