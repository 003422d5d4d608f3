// Valid configs: the example config's values, defaults, relative paths, --set overrides, and the
// to_json round trip. (Bad configs and their messages are in test_errors.cpp.)
#include <doctest/doctest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "config/json.hpp"
#include "config/types.hpp"
#include "config/errors_of.hpp"
#include "temp_dir.hpp"
#include "util/error.hpp"

namespace fs = std::filesystem;
using nabla::Config;

namespace {

using test::temp_dir;
using test::write_file;

using test::errors_of;

// The example of the config format (issue text), as configs/<name>.json next to a data/ folder.
const char* kExample = R"({
  "name": "default",
  "data": {
    "train": {"images": "../data/fashion-mnist/train-images-idx3-ubyte.gz",
              "labels": "../data/fashion-mnist/train-labels-idx1-ubyte.gz"},
    "test":  {"images": "../data/fashion-mnist/t10k-images-idx3-ubyte.gz",
              "labels": "../data/fashion-mnist/t10k-labels-idx1-ubyte.gz"},
    "format": "idx",
    "validation": 5000,
    "scale": 255,
    "memory_budget_mb": 512,
    "classes": 10
  },
  "model": {
    "layers": [
      {"type": "dense", "units": 256, "activation": "relu", "init": "he"},
      {"type": "dropout", "rate": 0.2},
      {"type": "dense", "units": 10, "activation": "softmax"}
    ]
  },
  "loss": "cross_entropy",
  "optimizer": {"type": "sgd", "learning_rate": 0.05, "momentum": 0.9, "nesterov": false, "weight_decay": 0},
  "schedule": {"type": "cosine", "warmup_epochs": 0},
  "training": {"epochs": 10, "batch_size": 64, "shuffle": true, "seed": 42, "threads": 2,
               "early_stopping": {"metric": "val_accuracy", "patience": 3}},
  "checkpoint": {"every": 1, "keep": 3}
})";

// The smallest valid config: everything but the training data and the layers is a default.
const char* kMinimal = R"({"data": {"train": {"images": "train.gz", "labels": "labels.gz"}},
  "model": {"layers": [{"units": 32, "activation": "relu"}, {"activation": "softmax"}]}})";

// Every variant key set away from its default, to catch a key that to_json leaves out.
const char* kCsvAdam = R"({
  "name": "csv-adam",
  "data": {"format": "csv", "train": {"csv": "/srv/train.csv"}, "test": {"csv": "test.csv"}, "csv_header": true,
           "validation": 7, "scale": 1.5, "memory_budget_mb": 64, "classes": 3},
  "model": {"layers": [{"type": "dropout", "rate": 0.1},
                       {"units": 16, "activation": "leaky_relu", "negative_slope": 0.2, "init": "xavier_normal"},
                       {"units": 8, "activation": "tanh", "init": "gaussian"},
                       {"units": 3, "activation": "sigmoid"}]},
  "loss": "binary_cross_entropy",
  "optimizer": {"type": "adamw", "learning_rate": 0.003, "weight_decay": 0.01, "beta1": 0.8, "beta2": 0.99, "epsilon": 1e-6},
  "schedule": {"type": "step", "warmup_epochs": 0.5, "step_size": 2, "gamma": 0.5},
  "training": {"epochs": 3, "batch_size": 17, "shuffle": false, "seed": 18446744073709551615, "threads": 64,
               "precision": "bf16",
               "early_stopping": {"metric": "val_loss", "patience": 2, "min_delta": 0.001}},
  "checkpoint": {"every": 0, "keep": 0}
})";

}  // namespace

TEST_CASE("the example config parses to the values it states") {
  const std::string file = write_file("example/configs/default.json", kExample);
  const Config c = nabla::load_config(file);
  const fs::path data = temp_dir() / "example/data/fashion-mnist";

  CHECK(c.path == file);
  CHECK(c.name == "default");
  CHECK(c.data.format == nabla::DataFormat::idx);
  CHECK(c.data.train.images == (data / "train-images-idx3-ubyte.gz").string());
  CHECK(c.data.train.labels == (data / "train-labels-idx1-ubyte.gz").string());
  CHECK(c.data.train.csv.empty());
  CHECK(c.data.test.present());
  CHECK(c.data.test.images == (data / "t10k-images-idx3-ubyte.gz").string());
  CHECK(c.data.test.labels == (data / "t10k-labels-idx1-ubyte.gz").string());
  CHECK(c.data.validation == 5000);
  CHECK(c.data.scale == 255.0);
  CHECK(c.data.memory_budget_mb == 512);
  CHECK(c.data.classes == 10);

  REQUIRE(c.layers.size() == 3);
  CHECK(c.layers[0].type == nabla::LayerType::dense);
  CHECK(c.layers[0].units == 256);
  CHECK(c.layers[0].activation == nabla::Activation::relu);
  CHECK(c.layers[0].init == nabla::Init::he);
  CHECK(c.layers[1].type == nabla::LayerType::dropout);
  CHECK(c.layers[1].rate == 0.2);
  CHECK(c.layers[2].type == nabla::LayerType::dense);
  CHECK(c.layers[2].units == 10);
  CHECK(c.layers[2].activation == nabla::Activation::softmax);
  CHECK(c.layers[2].init == nabla::Init::glorot_uniform);  // not given: glorot for softmax

  CHECK(c.loss.type == nabla::LossKind::cross_entropy);
  CHECK(c.optimizer.type == nabla::OptimizerKind::sgd);
  CHECK(c.optimizer.learning_rate == 0.05);
  CHECK(c.optimizer.momentum == 0.9);
  CHECK(c.optimizer.nesterov == false);
  CHECK(c.optimizer.weight_decay == 0.0);
  CHECK(c.schedule.type == nabla::ScheduleKind::cosine);
  CHECK(c.schedule.warmup_epochs == 0.0);
  CHECK(c.schedule.min_lr == 0.0);
  CHECK(c.training.epochs == 10);
  CHECK(c.training.batch_size == 64);
  CHECK(c.training.shuffle == true);
  CHECK(c.training.seed == 42u);
  CHECK(c.training.threads == 2);
  CHECK(c.training.early_stopping.enabled);
  CHECK(c.training.early_stopping.metric == "val_accuracy");
  CHECK(c.training.early_stopping.patience == 3);
  CHECK(c.training.early_stopping.min_delta == 0.0);
  CHECK(c.checkpoint.every == 1);
  CHECK(c.checkpoint.keep == 3);
}

TEST_CASE("left-out keys take the documented defaults") {
  const std::string file = write_file("defaults/tiny.json", kMinimal);
  const Config c = nabla::load_config(file);

  Config expected;  // the struct defaults are the format's defaults
  expected.path = file;
  expected.name = "tiny";  // the file's stem
  expected.data.train.images = (temp_dir() / "defaults/train.gz").string();
  expected.data.train.labels = (temp_dir() / "defaults/labels.gz").string();
  expected.layers.resize(2);
  expected.layers[0].units = 32;
  expected.layers[0].activation = nabla::Activation::relu;
  expected.layers[0].init = nabla::Init::he;  // relu: he
  expected.layers[1].units = 0;               // left out on the last layer: the class count
  expected.layers[1].activation = nabla::Activation::softmax;
  expected.layers[1].init = nabla::Init::glorot_uniform;
  CHECK(c == expected);

  // Spelled out, so that a changed default in config.hpp shows up here and in configs/README.md.
  CHECK(!c.data.test.present());
  CHECK(c.data.format == nabla::DataFormat::idx);
  CHECK(c.data.csv_header == false);
  CHECK(c.data.validation == 0);
  CHECK(c.data.scale == 255.0);
  CHECK(c.data.memory_budget_mb == 512);
  CHECK(c.data.classes == 0);
  CHECK(c.loss.type == nabla::LossKind::cross_entropy);
  CHECK(c.optimizer.type == nabla::OptimizerKind::sgd);
  CHECK(c.optimizer.learning_rate == 0.01);
  CHECK(c.optimizer.momentum == 0.0);
  CHECK(c.optimizer.weight_decay == 0.0);
  CHECK(c.schedule.type == nabla::ScheduleKind::constant);
  CHECK(c.training.epochs == 10);
  CHECK(c.training.batch_size == 64);
  CHECK(c.training.shuffle == true);
  CHECK(c.training.seed == 42u);
  CHECK(c.training.threads == 1);
  CHECK(c.training.precision == "fp32");
  CHECK(!c.training.early_stopping.enabled);
  CHECK(c.checkpoint.every == 1);
  CHECK(c.checkpoint.keep == 3);
}

TEST_CASE("init defaults by activation and accepts the xavier aliases") {
  const std::string file = write_file("init.json", R"({"data": {"train": {"images": "a", "labels": "b"}},
    "model": {"layers": [{"units": 4, "activation": "leaky_relu"}, {"units": 4, "activation": "tanh"},
                         {"units": 4, "init": "xavier"}, {"units": 4, "init": "xavier_uniform"},
                         {"units": 4, "activation": "relu", "init": "xavier_normal"}, {"units": 4, "activation": "sigmoid"}]},
    "loss": "mse"})");
  const Config c = nabla::load_config(file);
  REQUIRE(c.layers.size() == 6);
  CHECK(c.layers[0].init == nabla::Init::he);
  CHECK(c.layers[0].negative_slope == 0.01);
  CHECK(c.layers[1].init == nabla::Init::glorot_uniform);
  CHECK(c.layers[2].activation == nabla::Activation::linear);
  CHECK(c.layers[2].init == nabla::Init::glorot_uniform);
  CHECK(c.layers[3].init == nabla::Init::glorot_uniform);
  CHECK(c.layers[4].init == nabla::Init::glorot_normal);
  CHECK(c.layers[5].init == nabla::Init::glorot_uniform);
}

TEST_CASE("the new activations' init defaults: he for the rectifier-like, glorot for the rest") {
  const std::string file = write_file("init-new.json", R"({"data": {"train": {"images": "a", "labels": "b"}},
    "model": {"layers": [{"units": 4, "activation": "gelu"}, {"units": 4, "activation": "gelu_tanh"},
                         {"units": 4, "activation": "silu"}, {"units": 4, "activation": "elu", "alpha": 0.5},
                         {"units": 4, "activation": "softplus"}, {"units": 4, "activation": "elu"},
                         {"units": 4, "activation": "gelu", "init": "glorot_normal"}, {"activation": "softmax"}]}})");
  const Config c = nabla::load_config(file);
  for (size_t i = 0; i < 6; ++i) CHECK(c.layers[i].init == nabla::Init::he);
  CHECK(c.layers[6].init == nabla::Init::glorot_normal);
  CHECK(c.layers[7].init == nabla::Init::glorot_uniform);
  CHECK(c.layers[3].alpha == 0.5);
  CHECK(c.layers[5].alpha == 1.0);
  CHECK(errors_of(file, {"model.layers[0].alpha=1"}) ==
        file + ": model.layers[0].alpha: applies only to elu (this layer's activation is \"gelu\")\n");
  CHECK(errors_of(file, {"model.layers[3].alpha=0"}) == file + ": model.layers[3].alpha: expected a number > 0, got 0\n");
}

TEST_CASE("the loss: a string or an object with label smoothing and class weights") {
  const std::string file = write_file("loss.json", kMinimal);
  const Config plain = nabla::load_config(file);
  CHECK(plain.loss == nabla::LossConfig{});
  CHECK(nabla::to_json(plain)["loss"] == "cross_entropy");  // no options: written as the string
  const Config shaped = nabla::load_config(file, {"loss.label_smoothing=0.1", "loss.class_weights=[1, 2, 0, 1]"});
  CHECK(shaped.loss.type == nabla::LossKind::cross_entropy);
  CHECK(shaped.loss.label_smoothing == 0.1);
  CHECK(shaped.loss.class_weights == std::vector<double>{1, 2, 0, 1});
  CHECK_FALSE(shaped.loss.balanced);
  CHECK(nabla::to_json(shaped)["loss"].dump() ==
        R"({"type":"cross_entropy","label_smoothing":0.1,"class_weights":[1.0,2.0,0.0,1.0]})");
  CHECK(nabla::parse_config(nabla::to_json(shaped), shaped.path, "/elsewhere") == shaped);
  const Config balanced = nabla::load_config(file, {R"(loss={"type": "cross_entropy", "class_weights": "balanced"})"});
  CHECK(balanced.loss.balanced);
  CHECK(nabla::to_json(balanced)["loss"].dump() == R"({"type":"cross_entropy","class_weights":"balanced"})");
  CHECK(nabla::parse_config(nabla::to_json(balanced), balanced.path, "/elsewhere") == balanced);
  // --set into the string form takes the long form.
  const std::string with_string = write_file("loss-string.json", R"({"data": {"train": {"images": "a", "labels": "b"}},
    "model": {"layers": [{"units": 4, "activation": "relu"}, {"activation": "softmax"}]}, "loss": "cross_entropy"})");
  CHECK(nabla::load_config(with_string, {"loss.label_smoothing=0.2"}).loss.label_smoothing == 0.2);

  CHECK(errors_of(file, {"loss.label_smoothing=1"}) ==
        file + ": loss.label_smoothing: expected a number in [0, 1), got 1\n");
  CHECK(errors_of(file, {"loss.class_weights=[0, 0]"}) ==
        file + ": loss.class_weights: expected \"balanced\" or a non-empty array of numbers >= 0 (a weight for each "
               "class, not all 0), got an array\n");
  CHECK(errors_of(file, {"loss.class_weights=[1, -1]"}) ==
        file + ": loss.class_weights: expected \"balanced\" or a non-empty array of numbers >= 0 (a weight for each "
               "class, not all 0), got an array\n");
  CHECK(errors_of(file, {"loss.class_weights=balance"}) ==
        file + ": loss.class_weights: expected \"balanced\" or a non-empty array of numbers >= 0 (a weight for each "
               "class, not all 0), got \"balance\"\n");
  CHECK(errors_of(file, {"loss.type=mse", "loss.label_smoothing=0.1"}) ==
        file + ": loss.label_smoothing: applies only to cross_entropy (loss.type is \"mse\")\n");
  CHECK(errors_of(file, {"loss.type=binary_cross_entropy"}) ==
        file + ": loss.type: binary_cross_entropy needs a sigmoid output layer (model.layers[1].activation is "
               "\"softmax\")\n");
}

TEST_CASE("gradient clipping: by value and by norm, off by default") {
  const std::string file = write_file("clip.json", kMinimal);
  const Config c = nabla::load_config(file);
  CHECK(c.training.clip_grad_value == 0);
  CHECK(c.training.clip_grad_norm == 0);
  CHECK_FALSE(nabla::to_json(c)["training"].contains("clip_grad_norm"));
  const Config clipped = nabla::load_config(file, {"training.clip_grad_norm=1.5", "training.clip_grad_value=0.25"});
  CHECK(clipped.training.clip_grad_norm == 1.5);
  CHECK(clipped.training.clip_grad_value == 0.25);
  CHECK(nabla::parse_config(nabla::to_json(clipped), clipped.path, "/elsewhere") == clipped);
  CHECK(errors_of(file, {"training.clip_grad_norm=-1"}) ==
        file + ": training.clip_grad_norm: expected a number >= 0, got -1\n");
}

TEST_CASE("integers may be written with a zero fraction but not with a fractional part") {
  const std::string file = write_file("ints.json", R"({"data": {"train": {"images": "a", "labels": "b"}, "validation": 1e3},
    "model": {"layers": [{"units": 10.0, "activation": "softmax"}]}, "training": {"epochs": 2.0, "seed": 7.0}})");
  const Config c = nabla::load_config(file);
  CHECK(c.data.validation == 1000);
  CHECK(c.layers[0].units == 10);
  CHECK(c.training.epochs == 2);
  CHECK(c.training.seed == 7u);
  CHECK(errors_of(file, {"training.epochs=2.5"}) == file + ": training.epochs: expected a positive integer, got 2.5\n");
}

TEST_CASE("input dropout - a dropout layer first - is allowed") {
  const std::string file = write_file("input-dropout.json", R"({"data": {"train": {"images": "a", "labels": "b"}},
    "model": {"layers": [{"type": "dropout", "rate": 0.2}, {"units": 10, "activation": "softmax"}]}})");
  const Config c = nabla::load_config(file);
  REQUIRE(c.layers.size() == 2);
  CHECK(c.layers[0].type == nabla::LayerType::dropout);
  CHECK(c.layers[0].rate == 0.2);
}

TEST_CASE("data paths are relative to the config's folder and stored absolute and normalised") {
  const std::string file = write_file("paths/sub/configs/p.json", R"({
    "data": {"train": {"images": "../data/./train.gz", "labels": "/var/lib/../data/labels.gz"},
             "test": {"images": "test.gz", "labels": "x/../test-labels.gz"}},
    "model": {"layers": [{"units": 10, "activation": "softmax"}]}})");
  const fs::path dir = temp_dir() / "paths/sub";
  const std::string train = (dir / "data/train.gz").string();
  const std::string test = (dir / "configs/test.gz").string();

  const Config c = nabla::load_config(file);
  CHECK(c.data.train.images == train);
  CHECK(c.data.train.labels == "/var/data/labels.gz");
  CHECK(c.data.test.images == test);
  CHECK(c.data.test.labels == (dir / "configs/test-labels.gz").string());

  // Given relative to the working folder, the config's path is kept as given (for messages) and
  // the data paths come out the same.
  const std::string relative = fs::relative(file, fs::current_path()).string();
  REQUIRE(fs::path(relative).is_relative());
  const Config r = nabla::load_config(relative);
  CHECK(r.path == relative);
  CHECK(r.data.train.images == train);
  CHECK(r.data.test.images == test);
  CHECK(errors_of(relative, {"training.epochs=0"}) == relative + ": training.epochs: expected a positive integer, got 0\n");

  // From memory: against base_dir; an empty path names it "default".
  const nlohmann::json j = nlohmann::json::parse(R"({"data": {"train": {"images": "i.gz", "labels": "/l.gz"}},
    "model": {"layers": [{"units": 10, "activation": "softmax"}]}})");
  const Config m = nabla::parse_config(j, "", "/srv/nabla");
  CHECK(m.data.train.images == "/srv/nabla/i.gz");
  CHECK(m.data.train.labels == "/l.gz");
  CHECK(m.name == "default");
}

TEST_CASE("--set overrides are applied before validation") {
  const std::string file = write_file("set/base.json", kMinimal);
  const Config c = nabla::load_config(
      file, {"optimizer.type=adam", "training.epochs=2", "training.shuffle=false", "model.layers[0].units=64",
             "data.train.images=other/train.gz", "data.validation=100", "training.early_stopping.metric=val_loss",
             "name=run 7", R"(model.layers[1]={"units": 5, "activation": "softmax"})", "optimizer.beta2=0.98"});
  CHECK(c.optimizer.type == nabla::OptimizerKind::adam);  // a plain string: not JSON
  CHECK(c.optimizer.beta2 == 0.98);
  CHECK(c.training.epochs == 2);  // JSON: the integer 2
  CHECK(c.training.shuffle == false);
  CHECK(c.layers[0].units == 64);
  CHECK(c.layers[1].units == 5);
  CHECK(c.data.train.images == (temp_dir() / "set/other/train.gz").string());  // relative to the config's folder
  CHECK(c.data.validation == 100);
  CHECK(c.training.early_stopping.enabled);  // the section was created
  CHECK(c.training.early_stopping.metric == "val_loss");
  CHECK(c.name == "run 7");

  // Later overrides win over earlier ones.
  CHECK(nabla::load_config(file, {"training.epochs=2", "training.epochs=3"}).training.epochs == 3);
}

TEST_CASE("overridden values get the same validation naming the config file and JSON path") {
  const std::string file = write_file("set/validated.json", kMinimal);
  CHECK(errors_of(file, {"training.epochs=0"}) == file + ": training.epochs: expected a positive integer, got 0\n");
  CHECK(errors_of(file, {"training.epochs=ten"}) == file + ": training.epochs: expected a positive integer, got \"ten\"\n");
  CHECK(errors_of(file, {"optimizer.type=adamm"}) ==
        file + ": optimizer.type: expected one of sgd, adam, adamw, got \"adamm\" (did you mean \"adam\"?)\n");
  CHECK(errors_of(file, {"optimizer.tpye=adam"}) == file + ": optimizer.tpye: unknown key (did you mean \"type\"?)\n");
  CHECK(errors_of(file, {"optimiser={}"}) == file + ": optimiser: unknown key (did you mean \"optimizer\"?)\n");
  CHECK(errors_of(file, {"optimizer.type=adam", "optimizer.momentum=0.9"}) ==
        file + ": optimizer.momentum: applies only to sgd (optimizer.type is \"adam\")\n");
}

TEST_CASE("an override that picks another variant leaves out the file's keys of the old one, with a note") {
  const std::string file = write_file("set/variant.json", R"({"data": {"train": {"images": "t.gz", "labels": "l.gz"}},
    "model": {"layers": [{"units": 8, "activation": "leaky_relu", "negative_slope": 0.1}, {"activation": "softmax"}]},
    "optimizer": {"type": "sgd", "momentum": 0.9, "nesterov": true},
    "schedule": {"type": "step", "step_size": 5, "gamma": 0.5}})");
  std::vector<std::string> notes;
  const Config c = nabla::load_config(
      file, {"optimizer.type=adam", "schedule.type=cosine", "model.layers[0].activation=tanh", "optimizer.type=adamw"},
      &notes);
  CHECK(c.optimizer.type == nabla::OptimizerKind::adamw);
  CHECK(c.optimizer.momentum == 0);  // the default, not the file's 0.9
  CHECK_FALSE(c.optimizer.nesterov);
  CHECK(c.schedule.type == nabla::ScheduleKind::cosine);
  CHECK(c.layers[0].activation == nabla::Activation::tanh);
  REQUIRE(notes.size() == 3);  // optimizer.type, set twice, gets one
  CHECK(notes[0] == "--set schedule.type=cosine: left out " + file +
                        "'s schedule.step_size (it applies only to the step schedule); schedule.gamma (it applies only "
                        "to the step and exponential schedules)");
  CHECK(notes[1] == "--set model.layers[0].activation=tanh: left out " + file +
                        "'s model.layers[0].negative_slope (it applies only to leaky_relu)");
  CHECK(notes[2] == "--set optimizer.type=adamw: left out " + file +
                        "'s optimizer.momentum and optimizer.nesterov (they apply only to sgd)");

  // Nothing to leave out: no note. In the file, a key of another variant stays an error.
  notes.clear();
  (void)nabla::load_config(file, {"optimizer.type=sgd", "training.epochs=2"}, &notes);
  CHECK(notes.empty());
  const std::string mixed = write_file("set/mixed.json", R"({"data": {"train": {"images": "t.gz", "labels": "l.gz"}},
    "model": {"layers": [{"activation": "softmax"}]}, "optimizer": {"type": "adam", "momentum": 0.9}})");
  CHECK(errors_of(mixed, {"training.epochs=2"}) ==
        mixed + ": optimizer.momentum: applies only to sgd (optimizer.type is \"adam\")\n");
}

TEST_CASE("bad --set paths name the override and are reported with the config's errors") {
  const std::string file = write_file("set/bad.json", kMinimal);
  auto one = [&](const std::string& set) { return errors_of(file, {set}); };
  CHECK(one("training.epochs") == "--set training.epochs: expected PATH=VALUE, e.g. training.epochs=20\n");
  CHECK(one("=5") == "--set =5: expected PATH=VALUE, e.g. training.epochs=20\n");
  CHECK(one("model.layers[x].units=3") == "--set model.layers[x].units=3: bad index \"[x]\" (expected [N] with N = 0, 1, 2, ...)\n");
  CHECK(one("model.layers[-1].units=3") == "--set model.layers[-1].units=3: bad index \"[-1]\" (expected [N] with N = 0, 1, 2, ...)\n");
  CHECK(one("model.layers[1.units=3") == "--set model.layers[1.units=3: bad index \"[1.units\" (expected [N] with N = 0, 1, 2, ...)\n");
  CHECK(one("model.layers[2].units=3") ==
        "--set model.layers[2].units=3: model.layers[2]: index out of range (model.layers has 2 elements)\n");
  CHECK(one("model[0]=1") == "--set model[0]=1: model: expected an array to take element [0] of, got an object\n");
  CHECK(one("data.train.images.x=1") ==
        "--set data.train.images.x=1: data.train.images: expected an object to set \"x\" in, got \"train.gz\"\n");
  CHECK(one("optimiser.type=adam") == "--set optimiser.type=adam: optimiser: unknown key (did you mean \"optimizer\"?)\n");
  CHECK(one("training..epochs=2") == "--set training..epochs=2: bad path: empty key\n");
  CHECK(one("training.=2") == "--set training.=2: bad path: empty key\n");
  CHECK(one("model.layers[0]x=2") == "--set model.layers[0]x=2: bad path: expected . or [ after ]\n");
  CHECK(one("name=\xff") == "--set name=\xff: the value is not valid UTF-8\n");
  CHECK(one("training.epochs.x=1") ==
        "--set training.epochs.x=1: training.epochs: not in the config, so there is nothing to set inside it\n");
  CHECK(one(R"(training={"epochs": 1, "epochs": 2})") ==
        R"(--set training={"epochs": 1, "epochs": 2}: epochs: duplicate key)" "\n");

  // Several at once, then the config's own errors (here: one caused by a good override).
  CHECK(errors_of(file, {"optimiser.type=adam", "training.epochs=0", "model.layers[9].units=1"}) ==
        "--set optimiser.type=adam: optimiser: unknown key (did you mean \"optimizer\"?)\n"
        "--set model.layers[9].units=1: model.layers[9]: index out of range (model.layers has 2 elements)\n" +
            file + ": training.epochs: expected a positive integer, got 0\n");
}

TEST_CASE("apply_override on JSON in memory") {
  nlohmann::ordered_json j = nlohmann::ordered_json::parse(R"({"training": {"epochs": 1}, "model": {"layers": [{}]}})");
  nabla::apply_override(j, "training.epochs=5");
  nabla::apply_override(j, "schedule.type=cosine");  // a missing section is created
  nabla::apply_override(j, "model.layers[0].units=[1, 2]");
  nabla::apply_override(j, "name=");  // an empty value is the empty string
  nabla::apply_override(j, "loss=\"mse\"");
  CHECK(j.dump() ==
        R"({"training":{"epochs":5},"model":{"layers":[{"units":[1,2]}]},"schedule":{"type":"cosine"},"name":"","loss":"mse"})");
  CHECK_THROWS_WITH_AS(nabla::apply_override(j, "training"), "--set training: expected PATH=VALUE, e.g. training.epochs=20",
                       nabla::Error);
}

TEST_CASE("to_json gives the resolved config in a readable key order") {
  const std::string file = write_file("json/tiny.json", kMinimal);
  const Config c = nabla::load_config(file);
  const std::string images = (temp_dir() / "json/train.gz").string(), labels = (temp_dir() / "json/labels.gz").string();
  const nlohmann::ordered_json expected = nlohmann::ordered_json::parse(R"({
    "name": "tiny",
    "data": {"train": {"images": ")" + images + R"(", "labels": ")" + labels + R"("},
             "format": "idx", "validation": 0, "scale": 255.0, "memory_budget_mb": 512, "classes": 0},
    "model": {"layers": [{"type": "dense", "units": 32, "activation": "relu", "init": "he"},
                         {"type": "dense", "activation": "softmax", "init": "glorot_uniform"}]},
    "loss": "cross_entropy",
    "optimizer": {"type": "sgd", "learning_rate": 0.01, "momentum": 0.0, "nesterov": false, "weight_decay": 0.0},
    "schedule": {"type": "constant", "warmup_epochs": 0.0},
    "training": {"epochs": 10, "batch_size": 64, "shuffle": true, "seed": 42, "threads": 1, "precision": "fp32"},
    "checkpoint": {"every": 1, "keep": 3}
  })");
  CHECK(nabla::to_json(c).dump(2) == expected.dump(2));  // dump compares the order too
}

TEST_CASE("to_json round-trips through parse_config") {
  const std::vector<std::pair<std::string, std::string>> configs = {
      {"rt/example/configs/default.json", kExample}, {"rt/tiny.json", kMinimal}, {"rt/csv-adam.json", kCsvAdam}};
  for (const auto& [name_, text] : configs) {
    const std::string& name = name_;  // clang 14 lets no lambda capture a binding
    CAPTURE(name);
    const Config c = nabla::load_config(write_file(name, text));
    // Data paths are absolute, so the folder it is parsed against no longer matters.
    CHECK(nabla::parse_config(nabla::to_json(c), c.path, "/somewhere/else") == c);
    const nlohmann::json unordered = nabla::to_json(c);
    CHECK(nabla::parse_config(unordered, c.path, "/somewhere/else") == c);
    // And to_json of the result is the same text.
    CHECK(nabla::to_json(nabla::parse_config(nabla::to_json(c), c.path, "")).dump() == nabla::to_json(c).dump());
  }

  const Config csv = nabla::load_config(write_file("rt/csv-adam.json", kCsvAdam));
  CHECK(csv.data.train.csv == "/srv/train.csv");
  CHECK(csv.data.test.csv == (temp_dir() / "rt/test.csv").string());
  CHECK(csv.training.seed == 18446744073709551615u);
  CHECK(csv.layers[1].init == nabla::Init::glorot_normal);
  CHECK(csv.layers[1].negative_slope == 0.2);
  CHECK(csv.optimizer.type == nabla::OptimizerKind::adamw);
  CHECK(csv.optimizer.epsilon == 1e-6);
  CHECK(csv.schedule.step_size == 2.0);
}

TEST_CASE("enum names") {
  using nabla::to_string;
  CHECK(std::string(to_string(nabla::Activation::leaky_relu)) == "leaky_relu");
  CHECK(std::string(to_string(nabla::Init::glorot_normal)) == "glorot_normal");
  CHECK(std::string(to_string(nabla::LayerType::dropout)) == "dropout");
  CHECK(std::string(to_string(nabla::DataFormat::csv)) == "csv");
}

TEST_CASE("every enum value's name, as configs/README.md spells it, parses to that value and is written back") {
  using nabla::Activation;
  using nabla::Init;
  using nabla::LossKind;
  using nabla::OptimizerKind;
  using nabla::ScheduleKind;
  auto parse = [](const char* text) {
    return nabla::parse_config(nlohmann::ordered_json::parse(text), "enum.json", "/srv");
  };
  // A config with one key set to a name: {KEY} stands where it goes.
  auto with = [&](const std::string& key, const std::string& name) {
    std::string text = R"({"data": {"train": {"images": "i.gz", "labels": "l.gz"}}, "model": {"layers": [
        {"units": 4, "activation": "ACT", "init": "INIT"}, {"activation": "softmax"}]},
        "optimizer": {"type": "OPT"}, "schedule": {"type": "SCHED"}})";
    for (const char* k : {"ACT", "INIT", "OPT", "SCHED"}) {
      const std::string value = k == key ? name : k == std::string("ACT") ? "relu" : k == std::string("INIT") ? "he"
                                           : k == std::string("OPT") ? "sgd" : "constant";
      text.replace(text.find(k), std::string(k).size(), value);
    }
    return parse(text.c_str());
  };
  const std::pair<Activation, const char*> activations[] = {  // softmax: on the last layer only, below
      {Activation::sigmoid, "sigmoid"}, {Activation::tanh, "tanh"},     {Activation::relu, "relu"},
      {Activation::leaky_relu, "leaky_relu"}, {Activation::linear, "linear"}, {Activation::gelu, "gelu"},
      {Activation::gelu_tanh, "gelu_tanh"}, {Activation::silu, "silu"}, {Activation::elu, "elu"},
      {Activation::softplus, "softplus"}};
  for (const auto& [value, name_] : activations) {
    const char* name = name_;  // clang 14 lets no lambda capture a binding
    CAPTURE(name);
    CHECK(with("ACT", name).layers[0].activation == value);
    CHECK(std::string(to_string(value)) == name);
  }
  CHECK(with("ACT", "swish").layers[0].activation == Activation::silu);
  CHECK(with("ACT", "relu").layers[1].activation == Activation::softmax);
  CHECK(std::string(to_string(Activation::softmax)) == "softmax");
  const std::pair<Init, const char*> inits[] = {{Init::glorot_uniform, "glorot_uniform"}, {Init::glorot_normal, "glorot_normal"},
                                                {Init::he, "he"}, {Init::gaussian, "gaussian"}};
  for (const auto& [value, name_] : inits) {
    const char* name = name_;  // clang 14 lets no lambda capture a binding
    CAPTURE(name);
    CHECK(with("INIT", name).layers[0].init == value);
    CHECK(std::string(to_string(value)) == name);
  }
  const std::pair<OptimizerKind, const char*> optimizers[] = {
      {OptimizerKind::sgd, "sgd"}, {OptimizerKind::adam, "adam"}, {OptimizerKind::adamw, "adamw"}};
  for (const auto& [value, name_] : optimizers) {
    const char* name = name_;  // clang 14 lets no lambda capture a binding
    CAPTURE(name);
    CHECK(with("OPT", name).optimizer.type == value);
    CHECK(std::string(to_string(value)) == name);
  }
  const std::pair<ScheduleKind, const char*> schedules[] = {{ScheduleKind::constant, "constant"},
                                                            {ScheduleKind::step, "step"},
                                                            {ScheduleKind::exponential, "exponential"},
                                                            {ScheduleKind::cosine, "cosine"}};
  for (const auto& [value, name_] : schedules) {
    const char* name = name_;  // clang 14 lets no lambda capture a binding
    CAPTURE(name);
    CHECK(with("SCHED", name).schedule.type == value);
    CHECK(std::string(to_string(value)) == name);
  }
  const std::pair<LossKind, const char*> losses[] = {{LossKind::cross_entropy, "cross_entropy"},
                                                     {LossKind::binary_cross_entropy, "binary_cross_entropy"},
                                                     {LossKind::mse, "mse"}};
  for (const auto& [value, name] : losses) CHECK(std::string(to_string(value)) == name);
  CHECK(parse(R"({"data": {"train": {"images": "i.gz", "labels": "l.gz"}}, "model": {"layers": [{"units": 1,
        "activation": "sigmoid"}]}, "loss": "binary_cross_entropy"})").loss.type == LossKind::binary_cross_entropy);
  CHECK(parse(R"({"data": {"train": {"images": "i.gz", "labels": "l.gz"}}, "model": {"layers": [{"activation":
        "linear"}]}, "loss": "mse"})").loss.type == LossKind::mse);
  CHECK(parse(R"({"data": {"train": {"csv": "t.csv"}, "format": "csv"}, "model": {"layers": [{"activation":
        "softmax"}]}})").data.format == nabla::DataFormat::csv);
}

TEST_CASE("every config in configs/ is valid and round-trips") {
  int count = 0;
  for (const auto& entry : fs::directory_iterator(fs::path(NABLA_SOURCE_DIR) / "configs")) {
    if (entry.path().extension() != ".json") continue;
    const std::string file = entry.path().string();
    CAPTURE(file);
    CHECK(errors_of(file, {}) == "(no error)\n");
    if (errors_of(file, {}) != "(no error)\n") continue;
    const Config c = nabla::load_config(file);
    CHECK(nabla::parse_config(nabla::to_json(c), c.path, "") == c);
    ++count;
  }
  CHECK(count > 0);
}
