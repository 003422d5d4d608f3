// Bad configs and the exact messages they give. The expected lines are written from the rules in
// configs/README.md; "FILE" stands for the config's path as given to load_config.
#include <doctest/doctest.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "config/errors_of.hpp"
#include "config/json.hpp"
#include "config/types.hpp"
#include "temp_dir.hpp"
#include "util/error.hpp"

namespace fs = std::filesystem;

namespace {

using test::temp_dir;
using test::write_file;

using test::errors_of;

std::string expected_of(const std::vector<std::string>& lines, const std::string& file) {
  std::string s;
  for (const auto& line : lines) s += (line.rfind("FILE", 0) == 0 ? file + line.substr(4) : line) + "\n";
  return s;
}

// A valid base: one split of IDX data, one softmax output layer, everything else default.
const std::string D = R"("data": {"train": {"images": "train.gz", "labels": "labels.gz"}})";
const std::string M = R"("model": {"layers": [{"units": 10, "activation": "softmax"}]})";
std::string with(const std::string& extra) { return "{" + D + ", " + M + ", " + extra + "}"; }
std::string with_data(const std::string& data) { return "{\"data\": " + data + ", " + M + "}"; }
std::string with_layers(const std::string& layers, const std::string& extra = "") {
  return "{" + D + ", \"model\": {\"layers\": " + layers + "}" + (extra.empty() ? "" : ", " + extra) + "}";
}

struct Case {
  std::string name;
  std::string json;
  std::vector<std::string> expected;
};

const std::vector<Case>& cases() {
  static const std::vector<Case> table = {
      // --- the file as a whole
      {"empty file", "", {"FILE: the file is empty (expected a JSON object)"}},
      {"syntax error gives line:column",
       "{\n  \"data\": {\n    \"train\": }\n}",
       {"FILE:3:14: JSON syntax error: unexpected '}'; expected '[', '{', or a literal"}},
      {"trailing comma",
       R"({"name": "x",})",
       {"FILE:1:14: JSON syntax error: unexpected '}'; expected string literal"}},
      {"comment",
       "{\n// the model\n\"name\": \"x\"}",
       {"FILE:2:1: JSON syntax error: unexpected '/'; expected string literal (JSON has no comments)"}},
      {"single quotes",
       R"({"name": 'x'})",
       {"FILE:1:10: JSON syntax error: unexpected \"'\" (JSON strings take double quotes)"}},
      {"number too large for a double",
       "{\n  \"name\": 1e400}",
       {"FILE:2:11: JSON syntax error: number out of range: 1e400"}},
      {"UTF-16",
       std::string("\xFF\xFE{\0}\0", 6),
       {"FILE: the file is UTF-16 (it starts with the byte-order mark FF FE): save it as UTF-8, as JSON is"}},
      {"a UTF-8 byte-order mark is passed over",
       "\xEF\xBB\xBF{}",
       {"FILE: data: missing required key", "FILE: model: missing required key"}},
      // The JSON library would take the NUL for the end of the text and ignore the rest.
      {"a NUL byte after the JSON",
       std::string(R"({"name": "x"})") + std::string(1, '\0') + "garbage {{{",
       {"FILE:1:14: JSON syntax error: a NUL byte (JSON text holds none)"}},
      {"top level not an object", "[1, 2]", {"FILE: expected an object at the top level, got an array"}},
      {"required sections", "{}", {"FILE: data: missing required key", "FILE: model: missing required key"}},
      {"duplicate keys, also inside arrays",
       with_layers(R"([{"units": 5, "activation": "relu"}, {"units": 10, "units": 10, "activation": "softmax"}])",
                   R"("training": {"epochs": 2, "epochs": 3})"),
       {"FILE: model.layers[1].units: duplicate key", "FILE: training.epochs: duplicate key"}},

      // --- unknown keys and bad names
      {"unknown key with a suggestion",
       with(R"("optimiser": {"type": "adam"})"),
       {"FILE: optimiser: unknown key (did you mean \"optimizer\"?)"}},
      {"unknown key without a suggestion",
       with(R"("foo": 1)"),
       {"FILE: foo: unknown key (known keys here: name, data, model, loss, optimizer, schedule, training, "
        "checkpoint)"}},
      {"key of another section",
       with(R"("epochs": 5, "training": {"learning_rate": 0.1})"),
       {"FILE: epochs: unknown key (did you mean training.epochs?)",
        "FILE: training.learning_rate: unknown key (did you mean optimizer.learning_rate?)"}},
      {"unknown key inside the model",
       R"({)" + D + R"(, "model": {"layer": [{"units": 10, "activation": "softmax"}]}})",
       {"FILE: model.layer: unknown key (did you mean \"layers\"?)", "FILE: model.layers: missing required key"}},
      {"early_stopping.enabled is not a key",
       R"({"data": {"train": {"images": "a", "labels": "b"}, "validation": 100}, )" + M +
           R"(, "training": {"early_stopping": {"enabled": false}}})",
       {"FILE: training.early_stopping.enabled: unknown key (the section's presence turns early stopping on: leave the "
        "section out to turn it off)"}},
      {"enum with a suggestion",
       with_layers(R"([{"units": 32, "activation": "rleu"}, {"units": 10, "activation": "softmax"}])"),
       {"FILE: model.layers[0].activation: expected one of sigmoid, tanh, relu, leaky_relu, linear, softmax, gelu, gelu_tanh, silu, "
        "elu, softplus, got "
        "\"rleu\" "
        "(did you mean \"relu\"?)"}},
      {"enum values are case-sensitive",
       with(R"("loss": "MSE")"),
       {"FILE: loss: expected one of cross_entropy, binary_cross_entropy, mse, got \"MSE\" (did you mean \"mse\"?)"}},
      {"enum of the wrong type",
       with(R"("optimizer": {"type": 1})"),
       {"FILE: optimizer.type: expected one of sgd, adam, adamw, got 1"}},
      {"init alias suggested",
       with_layers(R"([{"units": 10, "activation": "softmax", "init": "xavier_unifrom"}])"),
       {"FILE: model.layers[0].init: expected one of glorot_uniform, glorot_normal, he, gaussian, got "
        "\"xavier_unifrom\" "
        "(did you mean \"xavier_uniform\"?)"}},
      {"layer type",
       with_layers(R"([{"type": "dens", "units": 10}])"),
       {"FILE: model.layers[0].type: expected one of dense, dropout, got \"dens\" (did you mean \"dense\"?)"}},
      {"bad variant hides its variant's keys",
       with(R"("optimizer": {"type": "adamm", "momentum": 0.9})"),
       {"FILE: optimizer.type: expected one of sgd, adam, adamw, got \"adamm\" (did you mean \"adam\"?)"}},
      {"metric",
       R"({"data": {"train": {"images": "a", "labels": "b"}, "validation": 100}, )" + M +
           R"(, "training": {"early_stopping": {"metric": "val_los", "patience": 0, "min_delta": -1}}})",
       {"FILE: training.early_stopping.metric: expected one of val_accuracy, val_loss, got \"val_los\" (did you mean "
        "\"val_loss\"?)",
        "FILE: training.early_stopping.patience: expected a positive integer, got 0",
        "FILE: training.early_stopping.min_delta: expected a number >= 0, got -1"}},

      {"precision",
       with(R"("training": {"precision": "fp16"})"),
       {"FILE: training.precision: expected one of fp32, bf16, got \"fp16\" (did you mean \"fp32\"?)"}},
      {"precision case",
       with(R"("training": {"precision": "BF16"})"),
       {"FILE: training.precision: expected one of fp32, bf16, got \"BF16\" (did you mean \"bf16\"?)"}},

      // --- types: what was expected, and what was got
      {"negative units",
       with_layers(R"([{"units": -3, "activation": "relu"}, {"units": 10, "activation": "softmax"}])"),
       {"FILE: model.layers[0].units: expected a positive integer, got -3"}},
      {"units beyond int",
       with_layers(R"([{"units": 3000000000}, {"units": 10, "activation": "softmax"}])"),
       {"FILE: model.layers[0].units: expected a positive integer, got 3000000000 (the largest allowed is "
        "2147483647)"}},
      {"fractional integer",
       with(R"("training": {"epochs": 2.5})"),
       {"FILE: training.epochs: expected a positive integer, got 2.5"}},
      {"string for a number",
       with(R"("optimizer": {"learning_rate": "0.1"})"),
       {"FILE: optimizer.learning_rate: expected a number > 0, got \"0.1\" (a string, not a number)"}},
      {"string for a boolean",
       with(R"("training": {"shuffle": "yes"})"),
       {"FILE: training.shuffle: expected true or false, got \"yes\""}},
      {"null is not a default",
       with(R"("optimizer": {"momentum": null})"),
       {"FILE: optimizer.momentum: expected a number in [0, 1), got null"}},
      {"section as a string",
       with(R"("optimizer": "adam", "schedule": "cosine")"),
       {"FILE: optimizer: expected an object, got \"adam\" (write \"optimizer\": {\"type\": \"adam\"})",
        "FILE: schedule: expected an object, got \"cosine\" (write \"schedule\": {\"type\": \"cosine\"})"}},
      {"early_stopping as true",
       R"({"data": {"train": {"images": "a", "labels": "b"}, "validation": 100}, )" + M +
           R"(, "training": {"early_stopping": true}})",
       {"FILE: training.early_stopping: expected an object, got true (write \"early_stopping\": {} to turn it on with "
        "the "
        "defaults)"}},
      {"layer not an object",
       with_layers(R"(["dense", {"units": 10, "activation": "softmax"}])"),
       {"FILE: model.layers[0]: expected an object, got \"dense\""}},
      {"empty layers",
       with_layers("[]"),
       {"FILE: model.layers: expected a non-empty array of layers, got an empty array"}},
      {"paths",
       with_data(R"({"train": {"images": 5, "labels": ""}})"),
       {"FILE: data.train.images: expected a file path (a non-empty string), got 5",
        "FILE: data.train.labels: expected a file path (a non-empty string), got \"\""}},
      {"name",
       with(R"("name": "runs/a")"),
       {"FILE: name: expected a name for a folder: 1 to 200 bytes, not . or .., without /, \\ or control characters, "
        "got \"runs/a\""}},
      {"name with a control character",
       with(R"("name": "a\nb")"),
       {"FILE: name: expected a name for a folder: 1 to 200 bytes, not . or .., without /, \\ or control characters, "
        "got \"a\\nb\""}},

      // --- ranges
      {"sgd ranges",
       with(R"("optimizer": {"learning_rate": 0, "momentum": 1, "weight_decay": -0.1})"),
       {"FILE: optimizer.learning_rate: expected a number > 0, got 0",
        "FILE: optimizer.momentum: expected a number in [0, 1), got 1",
        "FILE: optimizer.weight_decay: expected a number >= 0, got -0.1"}},
      {"adam ranges",
       with(R"("optimizer": {"type": "adam", "beta1": 1.0, "beta2": -0.5, "epsilon": 0})"),
       {"FILE: optimizer.beta1: expected a number in [0, 1), got 1.0",
        "FILE: optimizer.beta2: expected a number in [0, 1), got -0.5",
        "FILE: optimizer.epsilon: expected a number > 0, got 0"}},
      {"training ranges",
       with(R"("training": {"batch_size": 0, "threads": 65, "seed": -1, "epochs": 0})"),
       {"FILE: training.batch_size: expected a positive integer up to 1048576, got 0",
        "FILE: training.threads: expected an integer from 1 to 64, got 65",
        "FILE: training.seed: expected an integer >= 0, got -1",
        "FILE: training.epochs: expected a positive integer, got 0"}},
      {"checkpoint ranges",
       with(R"("checkpoint": {"every": -1, "keep": 1.5})"),
       {"FILE: checkpoint.every: expected an integer >= 0, got -1",
        "FILE: checkpoint.keep: expected an integer >= 0, got 1.5"}},
      {"step schedule ranges",
       with(R"("schedule": {"type": "step", "step_size": 0, "gamma": 1.5, "warmup_epochs": -1})"),
       {"FILE: schedule.step_size: expected a number > 0, got 0",
        "FILE: schedule.gamma: expected a number in (0, 1], got 1.5",
        "FILE: schedule.warmup_epochs: expected a number in [0, 1e6], got -1"}},
      // Counted in steps (an int64): 1e18 epochs overflowed it and meant no warm-up at all.
      {"warm-up beyond counting",
       with(R"("schedule": {"type": "constant", "warmup_epochs": 1e18})"),
       {"FILE: schedule.warmup_epochs: expected a number in [0, 1e6], got 1e+18"}},
      {"exponential gamma",
       with(R"("schedule": {"type": "exponential", "gamma": 0})"),
       {"FILE: schedule.gamma: expected a number in (0, 1], got 0"}},
      // The file system would open the path up to the NUL.
      {"a NUL in a path",
       with_data(R"({"train": {"images": "a.raw\u0000junk", "labels": "b"}})"),
       {"FILE: data.train.images: a file path cannot hold a NUL character (\\u0000), got \"a.raw\\u0000junk\""}},
      {"data ranges",
       with_data(
           R"({"train": {"images": "a", "labels": "b"}, "validation": -1, "scale": 0, "memory_budget_mb": 0, "classes": 1})"),
       {"FILE: data.validation: expected an integer >= 0, got -1",
        "FILE: data.scale: expected a number in [1e-30, 1e30] (the inputs are divided by it, in float), got 0",
        "FILE: data.memory_budget_mb: expected a positive integer, got 0",
        "FILE: data.classes: expected 0 (from the data) or an integer >= 2, got 1"}},
      {"layer ranges",
       with_layers(R"([{"units": 8, "activation": "leaky_relu", "negative_slope": -0.1}, {"type": "dropout", "rate": 1},
                      {"units": 10, "activation": "softmax"}])"),
       {"FILE: model.layers[0].negative_slope: expected a number in [0, 1), got -0.1",
        "FILE: model.layers[1].rate: expected a number in [0, 1), got 1"}},

      // --- keys of another variant
      {"layer keys of the other type",
       with_layers(R"([{"units": 32, "activation": "relu", "rate": 0.5}, {"type": "dropout", "rate": 0.5, "units": 3},
                      {"units": 10, "activation": "softmax"}])"),
       {"FILE: model.layers[0].rate: applies only to dropout layers (this layer's type is \"dense\", the default)",
        "FILE: model.layers[1].units: applies only to dense layers (this layer's type is \"dropout\")"}},
      {"negative_slope without leaky_relu",
       with_layers(
           R"([{"units": 8, "activation": "relu", "negative_slope": 0.1}, {"units": 10, "activation": "softmax"}])"),
       {"FILE: model.layers[0].negative_slope: applies only to leaky_relu (this layer's activation is \"relu\")"}},
      {"momentum with adam",
       with(R"("optimizer": {"type": "adam", "momentum": 0.9})"),
       {"FILE: optimizer.momentum: applies only to sgd (optimizer.type is \"adam\")"}},
      {"beta1 with the default sgd",
       with(R"("optimizer": {"beta1": 0.9})"),
       {"FILE: optimizer.beta1: applies only to adam and adamw (optimizer.type is \"sgd\", the default)"}},
      {"nesterov without momentum",
       with(R"("optimizer": {"type": "sgd", "nesterov": true})"),
       {"FILE: optimizer.nesterov: needs optimizer.momentum > 0"}},
      {"step keys with cosine",
       with(R"("schedule": {"type": "cosine", "step_size": 2, "gamma": 0.5})"),
       {"FILE: schedule.step_size: applies only to the step schedule (schedule.type is \"cosine\")",
        "FILE: schedule.gamma: applies only to the step and exponential schedules (schedule.type is \"cosine\")"}},
      {"min_lr with step",
       with(R"("schedule": {"type": "step", "min_lr": 0.001})"),
       {"FILE: schedule.min_lr: applies only to the cosine schedule (schedule.type is \"step\")"}},
      {"csv format with idx keys",
       with_data(R"({"format": "csv", "train": {"images": "a", "labels": "b"}})"),
       {"FILE: data.train.images: applies only to data.format \"idx\" (data.format is \"csv\")",
        "FILE: data.train.labels: applies only to data.format \"idx\" (data.format is \"csv\")",
        "FILE: data.train.csv: missing required key"}},
      {"idx format with csv keys",
       with_data(R"({"train": {"csv": "train.csv"}, "csv_header": true})"),
       {"FILE: data.train.csv: applies only to data.format \"csv\" (data.format is \"idx\", the default)",
        "FILE: data.train.images: missing required key", "FILE: data.train.labels: missing required key",
        "FILE: data.csv_header: applies only to data.format \"csv\" (data.format is \"idx\", the default)"}},
      {"incomplete test split",
       with_data(R"({"train": {"images": "a", "labels": "b"}, "test": {"images": "t"}})"),
       {"FILE: data.test.labels: missing required key"}},

      // --- across fields
      {"units left out before the last layer",
       with_layers(R"([{"activation": "relu"}, {"activation": "softmax"}])"),
       {"FILE: model.layers[0].units: missing required key (only the last layer may leave it out, to take the class "
        "count "
        "from the data)"}},
      {"dropout needs a rate",
       with_layers(R"([{"units": 8}, {"type": "dropout"}, {"units": 10, "activation": "softmax"}])"),
       {"FILE: model.layers[1].rate: missing required key"}},
      {"last layer dropout",
       with_layers(R"([{"units": 10, "activation": "relu"}, {"type": "dropout", "rate": 0.5}])", R"("loss": "mse")"),
       {"FILE: model.layers[1]: the last layer must be dense (it is the output layer), not dropout"}},
      {"two dropouts in a row",
       with_layers(R"([{"units": 8}, {"type": "dropout", "rate": 0.2}, {"type": "dropout", "rate": 0.3},
                      {"units": 10, "activation": "softmax"}])"),
       {"FILE: model.layers[2]: two dropout layers in a row (use one with the combined rate)"}},
      {"softmax before the last layer",
       with_layers(R"([{"units": 32, "activation": "softmax"}, {"units": 10, "activation": "softmax"}])"),
       {"FILE: model.layers[0].activation: softmax is only allowed on the last layer"}},
      {"softmax with one unit",
       with_layers(R"([{"units": 1, "activation": "softmax"}])"),
       {"FILE: model.layers[0].units: a softmax output needs at least 2 units, got 1"}},
      {"softmax units and classes",
       R"({"data": {"train": {"images": "a", "labels": "b"}, "classes": 10}, "model": {"layers": [{"units": 5, "activation": "softmax"}]}})",
       {"FILE: model.layers[0].units: the softmax output has 5 units but data.classes is 10"}},
      {"default cross_entropy with a sigmoid output",
       with_layers(R"([{"units": 1, "activation": "sigmoid"}])"),
       {"FILE: loss: cross_entropy (the default) needs a softmax output layer (model.layers[0].activation is "
        "\"sigmoid\")"}},
      {"cross_entropy with the default linear output",
       with_layers(R"([{"units": 10}])", R"("loss": "cross_entropy")"),
       {"FILE: loss: cross_entropy needs a softmax output layer (model.layers[0].activation is \"linear\", the "
        "default)"}},
      {"binary_cross_entropy with a softmax output",
       with(R"("loss": "binary_cross_entropy")"),
       {"FILE: loss: binary_cross_entropy needs a sigmoid output layer (model.layers[0].activation is \"softmax\")"}},
      {"early stopping without validation",
       with(R"("training": {"early_stopping": {"metric": "val_loss"}})"),
       {"FILE: training.early_stopping: early stopping needs a validation split: set data.validation > 0"}},
      {"cosine floor above the learning rate",
       with(R"("optimizer": {"learning_rate": 0.01}, "schedule": {"type": "cosine", "min_lr": 0.1})"),
       {"FILE: schedule.min_lr: must not exceed optimizer.learning_rate (0.01), got 0.1"}},

      // --- everything at once, in the file's order
      {"many errors at once",
       R"({"nme": "x", "data": {"train": {"images": "a"}, "scale": -1},
           "model": {"layers": [{"units": 0, "activation": "relu"}, {"units": 10, "activation": "softmax"}]},
           "optimizer": {"learning_rate": -1}, "training": {"epochs": "ten"}})",
       {"FILE: nme: unknown key (did you mean \"name\"?)", "FILE: data.train.labels: missing required key",
        "FILE: data.scale: expected a number in [1e-30, 1e30] (the inputs are divided by it, in float), got -1",
        "FILE: model.layers[0].units: expected a positive integer, got 0",
        "FILE: optimizer.learning_rate: expected a number > 0, got -1",
        "FILE: training.epochs: expected a positive integer, got \"ten\""}},
  };
  return table;
}

}  // namespace

TEST_CASE("every bad config in the table gives exactly its messages") {
  CHECK(cases().size() >= 25);
  int i = 0;
  for (const auto& c : cases()) {
    CAPTURE(c.name);
    const std::string file = write_file("case-" + std::to_string(i++) + ".json", c.json);
    CHECK(errors_of(file) == expected_of(c.expected, file));
  }
}

TEST_CASE("the base of the table is valid so each case fails for its own reason") {
  const std::string file = write_file("base.json", with(R"("name": "base")"));
  CHECK(errors_of(file) == "(no error)\n");
}

TEST_CASE("a file that cannot be read") {
  const std::string missing = (temp_dir() / "no-such.json").string();
  CHECK(errors_of(missing) == missing + ": cannot open: " + std::strerror(ENOENT) + "\n");
  CHECK(errors_of(missing) == missing + ": cannot open: No such file or directory\n");
  const std::string folder = temp_dir().string();
  CHECK(errors_of(folder) == folder + ": cannot open: Is a directory\n");
}

TEST_CASE("errors are nabla::Errors with one message per line in what") {
  const std::string file = write_file("two.json", "{}");
  try {
    nabla::load_config(file);
    FAIL("load_config accepted {}");
  } catch (const nabla::Errors& e) {
    REQUIRE(e.messages().size() == 2);
    CHECK(std::string(e.what()) == e.messages()[0] + "\n" + e.messages()[1]);
  }
}
