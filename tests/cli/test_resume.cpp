// Runs that survive: exact resume, a diverging run that keeps its last good checkpoint, and SIGINT.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "cli/helpers.hpp"
#include "io/checkpoint.hpp"
#include "io/safetensors.hpp"
#include "math/bf16.hpp"

namespace fs = std::filesystem;
using namespace cli_test;

TEST_CASE("4 epochs in one go equal 2 epochs resumed to 4, bit for bit, on 1 and 2 threads and in bf16") {
  // configs/gradcheck.json: Adam (moments to restore), dropout (an RNG to restore), shuffling. In
  // bf16, the weights' bf16 twin is rounded again from the restored floats. every-layer.json adds
  // batch_norm's running statistics, which only the checkpoint carries from one run to the next.
  std::vector<std::string> variants = {" --threads 1", " --threads 2"};
  if (nabla::bf16_unavailable().empty()) variants.push_back(" --threads 2 --set 'training.precision=\"bf16\"'");
  for (const char* config : {"configs/gradcheck.json", "configs/every-layer.json"})
  for (const std::string& t : variants) {
    CAPTURE(config);
    CAPTURE(t);
    const fs::path whole = fresh_dir("whole"), split = fresh_dir("split");
    const std::string train = std::string("train ") + config;
    REQUIRE(run_nabla(train + " --quiet --epochs 4" + t + " --out " + whole.string()).code == 0);
    REQUIRE(run_nabla(train + " --quiet --epochs 2" + t + " --out " + split.string()).code == 0);
    const Run resumed = run_nabla(train + " --epochs 4" + t + " --resume " +
                                  (split / "checkpoints/last.safetensors").string());
    CAPTURE(resumed.output);
    REQUIRE(resumed.code == 0);
    CHECK(resumed.output.find("changed on resume: training.epochs: 2 -> 4") != std::string::npos);
    CHECK(tensor_bytes(whole / "checkpoints/last.safetensors") == tensor_bytes(split / "checkpoints/last.safetensors"));
    const auto a = metrics_without_timing(whole), b = metrics_without_timing(split);
    REQUIRE(b.size() == 4);  // no duplicated rows
    CHECK(a == b);
    fs::remove_all(whole);
    fs::remove_all(split);
  }
}

TEST_CASE(
    "a cosine run branched from an older checkpoint into a new folder continues it exactly; in place it is refused") {
  // The cosine curve spans training.epochs, so the epoch count stays; epoch-0002 is the branch point.
  const std::string cosine =
      "train configs/gradcheck.json --quiet --epochs 4 --set 'schedule.type=\"cosine\"' "
      "--set checkpoint.every=1 --set checkpoint.keep=10";
  const fs::path whole = fresh_dir("cosine-whole"), branch = fresh_dir("cosine-branch");
  REQUIRE(run_nabla(cosine + " --out " + whole.string()).code == 0);
  const fs::path second = whole / "checkpoints/epoch-0002.safetensors";
  const std::string before = bytes_of(whole / "checkpoints/last.safetensors");

  // In place, the run's epochs 3 and 4 would be left beside a new epoch 3: refused, nothing touched.
  const Run in_place = run_nabla(cosine + " --resume " + second.string());
  CAPTURE(in_place.output);
  CHECK(in_place.code == 2);
  CHECK(in_place.output.find("holds step 114 (epoch 2) of a run that went on to epoch 4: resume it into a new folder "
                             "(--out)") != std::string::npos);
  CHECK(bytes_of(whole / "checkpoints/last.safetensors") == before);
  CHECK(metrics_without_timing(whole).size() == 4);

  // Into another run's folder: refused too.
  const fs::path other = fresh_dir("cosine-other");
  REQUIRE(run_nabla("train configs/gradcheck.json --quiet --epochs 1 --out " + other.string()).code == 0);
  const Run onto = run_nabla(cosine + " --resume " + second.string() + " --out " + other.string());
  CHECK(onto.code == 2);
  CHECK(onto.output.find("already holds a run") != std::string::npos);

  // Into a new folder: epochs 3 and 4 again, the same bits, and the rows of 1 and 2 carried over.
  const Run branched = run_nabla(cosine + " --resume " + second.string() + " --out " + branch.string());
  CAPTURE(branched.output);
  REQUIRE(branched.code == 0);
  CHECK(tensor_bytes(branch / "checkpoints/last.safetensors") == tensor_bytes(whole / "checkpoints/last.safetensors"));
  CHECK(metrics_without_timing(branch) == metrics_without_timing(whole));
  fs::remove_all(whole);
  fs::remove_all(branch);
  fs::remove_all(other);
}

TEST_CASE("resuming a cosine run with more epochs says how the learning rate changes") {
  const fs::path run = fresh_dir("cosine-longer");
  REQUIRE(run_nabla("train configs/gradcheck.json --quiet --epochs 2 --set 'schedule.type=\"cosine\"' --out " +
                    run.string())
              .code == 0);
  const Run r = run_nabla("train configs/gradcheck.json --epochs 4 --set 'schedule.type=\"cosine\"' --resume " +
                          (run / "checkpoints/last.safetensors").string());
  CAPTURE(r.output);
  REQUIRE(r.code == 0);
  // 1800 training samples in batches of 32: 57 steps an epoch; step 115 of 228 is past the middle
  // of the new curve, p = 114/228, so the rate is half of 0.001; over 2 epochs it had reached 0.
  CHECK(r.output.find("the cosine schedule now spans 4 epochs: the learning rate at step 115 is 0.0005 (0 over 2)") !=
        std::string::npos);
  fs::remove_all(run);
}

TEST_CASE("a run stopped between an epoch's metrics row and its checkpoints resumes in place, the row made again") {
  // The row of epoch 2 is on disk, its checkpoints are not: they are still epoch 1's (taken here
  // from a 1-epoch run of the same seed, which is the same state).
  const fs::path whole = fresh_dir("row-first"), one = fresh_dir("row-first-one");
  const std::string cfg = "train configs/gradcheck.json --quiet --set checkpoint.every=0";
  REQUIRE(run_nabla(cfg + " --epochs 2 --out " + whole.string()).code == 0);
  REQUIRE(run_nabla(cfg + " --epochs 1 --out " + one.string()).code == 0);
  const auto rows = metrics_without_timing(whole);
  const std::string weights = tensor_bytes(whole / "checkpoints/last.safetensors");
  for (const char* name : {"last.safetensors", "best.safetensors"})
    fs::copy_file(one / "checkpoints" / name, whole / "checkpoints" / name, fs::copy_options::overwrite_existing);

  const Run resumed = run_nabla(cfg + " --epochs 2 --resume " + (whole / "checkpoints/last.safetensors").string());
  CAPTURE(resumed.output);
  REQUIRE(resumed.code == 0);
  CHECK(metrics_without_timing(whole) == rows);  // epoch 2's row once, the same
  CHECK(tensor_bytes(whole / "checkpoints/last.safetensors") == weights);
  fs::remove_all(whole);
  fs::remove_all(one);
}

TEST_CASE("a float run resumes in bf16: the change is reported, summary.json records it, and it trains on") {
  if (!nabla::bf16_unavailable().empty()) return;
  const fs::path run = fresh_dir("to-bf16");
  REQUIRE(run_nabla("train configs/gradcheck.json --quiet --epochs 1 --out " + run.string()).code == 0);
  const Run r = run_nabla("train configs/gradcheck.json --epochs 2 --set 'training.precision=\"bf16\"' --resume " +
                          (run / "checkpoints/last.safetensors").string());
  CAPTURE(r.output);
  REQUIRE(r.code == 0);
  CHECK(r.output.find("resuming gradcheck from ") != std::string::npos);
  CHECK(r.output.find(" in bf16 into ") != std::string::npos);
  CHECK(r.output.find("changed on resume: training.precision: \"fp32\" -> \"bf16\"") != std::string::npos);
  std::ifstream f(run / "summary.json");
  const nlohmann::json summary = nlohmann::json::parse(f);
  CHECK(summary["precision"] == "bf16");
  CHECK(summary["epochs_run"] == 2);
  CHECK(metrics_without_timing(run).size() == 2);
  fs::remove_all(run);
}

TEST_CASE("a resume that changes the architecture is refused with what differs") {
  const fs::path run = fresh_dir("arch");
  REQUIRE(run_nabla("train configs/gradcheck.json --quiet --epochs 1 --out " + run.string()).code == 0);
  const Run r = run_nabla("train configs/gradcheck.json --set model.layers[0].units=17 --resume " +
                          (run / "checkpoints/last.safetensors").string());
  CHECK(r.code == 2);
  CHECK(r.output.find("cannot resume") != std::string::npos);
  CHECK(r.output.find("model.layers[0].units: 16 -> 17") != std::string::npos);
  CHECK(r.output.find("resuming") == std::string::npos);  // never announced, then refused
  CHECK(std::count(r.output.begin(), r.output.end(), '\n') == 1);
  fs::remove_all(run);
}

TEST_CASE("a diverging run stops before the update and leaves the last good checkpoint untouched") {
  const fs::path run = fresh_dir("nan");
  REQUIRE(run_nabla("train configs/gradcheck.json --quiet --epochs 1 --out " + run.string()).code == 0);
  const fs::path last = run / "checkpoints/last.safetensors";
  const std::string before = bytes_of(last);
  // The learning rate may change on resume; 1e30 sends the weights to infinity in one step.
  const Run r = run_nabla(
      "train configs/gradcheck.json --quiet --epochs 3 --set optimizer.learning_rate=1e30 --resume " + last.string());
  CAPTURE(r.output);
  CHECK(r.code == 3);
  CHECK(r.output.find("training diverged at step") != std::string::npos);
  CHECK(r.output.find("first in") != std::string::npos);  // names the layer
  CHECK(bytes_of(last) == before);
  CHECK(metrics_without_timing(run).size() == 1);
  // A learning rate beyond the largest float: the gradients are finite, the very first update is not.
  const Run r2 = run_nabla(
      "train configs/gradcheck.json --quiet --epochs 3 --set optimizer.learning_rate=1e39 --resume " + last.string());
  CAPTURE(r2.output);
  CHECK(r2.code == 3);
  CHECK(r2.output.find("the update made layers.0.weight non-finite") != std::string::npos);
  CHECK(bytes_of(last) == before);
  fs::remove_all(run);
}

TEST_CASE("SIGINT finishes the step, writes a loadable checkpoint, and the run resumes exactly") {
  const fs::path whole = fresh_dir("sig-whole"), cut = fresh_dir("sig-cut");
  const std::string config = "configs/default.json";
  const std::string common = " --quiet --epochs 2 --threads 1 --set data.validation=50000 ";
  REQUIRE(run_nabla("train " + config + common + "--out " + whole.string()).code == 0);

  // Start the same run and interrupt it in the middle.
  Child child{spawn_nabla({"train", config, "--quiet", "--epochs", "2", "--threads", "1", "--set",
                           "data.validation=50000", "--out", cut.string()})};
  // Wait until training has started (epoch-0000 is written before the first step), then a little more.
  REQUIRE(wait_for([&] { return fs::exists(cut / "checkpoints/epoch-0000.safetensors"); }));
  std::this_thread::sleep_for(std::chrono::milliseconds(150));
  CHECK(child.stop(SIGINT) == 130);

  const fs::path last = cut / "checkpoints/last.safetensors";
  REQUIRE(fs::exists(last));
  const Run eval = run_nabla("eval " + last.string() + " --json");
  CHECK(eval.code == 0);
  const Run resumed = run_nabla("train " + config + common + "--resume " + last.string());
  CAPTURE(resumed.output);
  REQUIRE(resumed.code == 0);
  CHECK(tensor_bytes(whole / "checkpoints/last.safetensors") == tensor_bytes(last));
  CHECK(metrics_without_timing(whole) == metrics_without_timing(cut));
  fs::remove_all(whole);
  fs::remove_all(cut);
}

TEST_CASE("a checkpoint whose data files were replaced by others with fewer samples is refused on resume") {
  const fs::path dir = fresh_dir("replaced-data");
  fs::create_directories(dir);
  const std::string samples = std::string(NABLA_SOURCE_DIR) + "/data/samples/";
  fs::copy_file(samples + "fashion-train-2000-images-idx3-ubyte.gz", dir / "images.gz");
  fs::copy_file(samples + "fashion-train-2000-labels-idx1-ubyte.gz", dir / "labels.gz");
  const std::string data = " --set data.train.images=" + (dir / "images.gz").string() +
                           " --set data.train.labels=" + (dir / "labels.gz").string();
  REQUIRE(
      run_nabla("train configs/gradcheck.json --quiet --epochs 1" + data + " --out " + (dir / "run").string()).code ==
      0);
  // The same paths, now 500 samples: 300 for training, 10 batches an epoch where the run had 57.
  fs::copy_file(samples + "fashion-test-500-images-idx3-ubyte.gz", dir / "images.gz",
                fs::copy_options::overwrite_existing);
  fs::copy_file(samples + "fashion-test-500-labels-idx1-ubyte.gz", dir / "labels.gz",
                fs::copy_options::overwrite_existing);
  // The run's files as they are: a refused resume replaces none of them (a rewrite is a new inode).
  auto inode = [](const fs::path& p) {
    struct stat st = {};
    return ::stat(p.c_str(), &st) == 0 ? uint64_t(st.st_ino) : uint64_t(0);
  };
  const uint64_t config_before = inode(dir / "run/config.json"), metrics_before = inode(dir / "run/metrics.jsonl");
  const std::string last = (dir / "run/checkpoints/last.safetensors").string();
  const Run r = run_nabla("train configs/gradcheck.json --quiet --epochs 2" + data + " --resume " + last);
  CAPTURE(r.output);
  CHECK(r.code == 2);
  CHECK(r.output.find("its position (epoch 1, batch 0, step 57) does not fit the data's 10 batches an epoch") !=
        std::string::npos);
  CHECK(inode(dir / "run/config.json") == config_before);
  CHECK(inode(dir / "run/metrics.jsonl") == metrics_before);
  // Into a new folder: refused before the folder is made.
  const Run moved = run_nabla("train configs/gradcheck.json --quiet --epochs 2" + data + " --resume " + last +
                              " --out " + (dir / "branch").string());
  CHECK(moved.code == 2);
  CHECK(!fs::exists(dir / "branch"));
  fs::remove_all(dir);
}

TEST_CASE("a run folder in use by a training run is refused to a second one, which changes nothing") {
  const fs::path run = fresh_dir("locked");
  REQUIRE(run_nabla("train configs/gradcheck.json --quiet --epochs 1 --out " + run.string()).code == 0);
  const std::string last = (run / "checkpoints/last.safetensors").string();
  Child first{spawn_nabla({"train", "configs/gradcheck.json", "--quiet", "--epochs", "100000", "--resume", last})};
  REQUIRE(wait_for([&] { return metrics_without_timing(run).size() >= 3; }));  // it is in its epochs
  const Run second = run_nabla(
      "train configs/gradcheck.json --quiet --epochs 100000 --set optimizer.learning_rate=0.01 "
      "--resume " +
      last);
  CAPTURE(second.output);
  CHECK(second.code == 2);
  CHECK(second.output.find(run.string() + ": is in use by another nabla run") != std::string::npos);
  CHECK(first.stop(SIGTERM) == 143);
  // The rows are the first run's alone: epochs 1, 2, 3, ... once each.
  const auto rows = metrics_without_timing(run);
  for (size_t i = 0; i < rows.size(); ++i) CHECK(rows[i]["epoch"] == int(i) + 1);
  fs::remove_all(run);
}

TEST_CASE("SIGHUP (the terminal closed) stops after the step with a checkpoint, as SIGINT does") {
  const fs::path run = fresh_dir("sighup");
  const fs::path errors = run.string() + ".err";
  Child child{spawn_nabla({"train", "configs/gradcheck.json", "--quiet", "--epochs", "100000", "--out", run.string()},
                          errors.string())};
  REQUIRE(wait_for([&] { return metrics_without_timing(run).size() >= 2; }));
  CHECK(child.stop(SIGHUP) == 129);
  const std::string said = bytes_of(errors);
  CHECK(said.find("stopped by SIGHUP") == 0);
  CHECK(said.find("resume with --resume") != std::string::npos);
  CHECK_NOTHROW(nabla::io::load_checkpoint((run / "checkpoints/last.safetensors").string()));
  fs::remove_all(run);
  fs::remove(errors);
}

TEST_CASE("a run of one batch an epoch, stopped by a signal in that batch, resumes") {
  // Fashion-MNIST's 59,800 training images in one batch through the small network: an epoch is
  // almost all that batch's scaling and its step, so a signal nearly always comes during the
  // epoch's only step and leaves a checkpoint at batch 1 of 1 (one between steps leaves batch 0:
  // then the run is tried again).
  const fs::path run = fresh_dir("one-batch");
  const fs::path last = run / "checkpoints/last.safetensors";
  const std::vector<std::string> data = {"--set", "data.train.images=../data/fashion-mnist/train-images-idx3-ubyte.gz",
                                         "--set", "data.train.labels=../data/fashion-mnist/train-labels-idx1-ubyte.gz",
                                         "--set", "training.batch_size=59800"};
  nabla::io::RunState at;
  for (int attempt = 0; attempt < 10 && at.batch == 0; ++attempt) {
    fs::remove_all(run);
    std::vector<std::string> args = {"train", "configs/gradcheck.json", "--quiet", "--epochs", "100000"};
    args.insert(args.end(), data.begin(), data.end());
    args.insert(args.end(), {"--out", run.string()});
    Child child{spawn_nabla(args)};
    REQUIRE(wait_for([&] { return metrics_without_timing(run).size() >= 2; }));
    std::this_thread::sleep_for(std::chrono::milliseconds(7 + 11 * attempt));
    CHECK(child.stop(SIGINT) == 130);
    at = nabla::io::load_checkpoint(last.string()).state;
  }
  REQUIRE(at.batch == 1);
  std::string resume = "train configs/gradcheck.json --quiet --epochs " + std::to_string(at.epoch + 2);
  for (const std::string& a : data) resume += " " + a;
  const Run resumed = run_nabla(resume + " --resume " + last.string());
  CAPTURE(resumed.output);
  CHECK(resumed.code == 0);
  CHECK(metrics_without_timing(run).size() == size_t(at.epoch + 2));
  fs::remove_all(run);
}

TEST_CASE("a signal while a new run loads its data stops it before the first step and leaves no folder") {
  const fs::path run = fresh_dir("early-signal");
  fs::remove_all(run);
  // configs/default.json decodes 70,000 gzipped images before its first step: a few tenths of a second.
  Child child{spawn_nabla({"train", "configs/default.json", "--quiet", "--out", run.string()})};
  REQUIRE(wait_for([&] { return fs::exists(run / ".lock"); }));  // the folder is made: the data is next
  CHECK(child.stop(SIGINT) == 130);
  CHECK_FALSE(fs::exists(run));
}

TEST_CASE("nabla eval of best.safetensors gives exactly the test accuracy metrics.jsonl recorded for its epoch") {
  const fs::path run = fresh_dir("eval");
  const std::string test_set =
      " --set data.test.images=../data/samples/fashion-test-500-images-idx3-ubyte.gz"
      " --set data.test.labels=../data/samples/fashion-test-500-labels-idx1-ubyte.gz";
  REQUIRE(run_nabla("train configs/gradcheck.json --quiet --epochs 3" + test_set + " --out " + run.string()).code == 0);
  std::ifstream s(run / "summary.json");
  const auto summary = nlohmann::json::parse(s);
  const int64_t best = summary["best_epoch"];
  const auto rows = metrics_without_timing(run);
  REQUIRE(best >= 1);
  REQUIRE(size_t(best) <= rows.size());
  const Run r = run_nabla("eval " + (run / "checkpoints/best.safetensors").string() + " --json");
  REQUIRE(r.code == 0);
  const auto e = nlohmann::json::parse(r.output);
  CHECK(e["samples"] == 500);
  CHECK(e["epoch"] == best);
  CHECK(e["accuracy"].get<double>() == rows[size_t(best - 1)]["test_accuracy"].get<double>());
  CHECK(e["loss"].get<double>() == doctest::Approx(rows[size_t(best - 1)]["test_loss"].get<double>()).epsilon(1e-12));
  int64_t total = 0;
  for (const auto& row : e["confusion"])
    for (const auto& n : row) total += n.get<int64_t>();
  CHECK(total == 500);

  // A damaged checkpoint is refused by eval with the reason, not evaluated.
  const fs::path bad = run / "damaged.safetensors";
  std::string bytes = bytes_of(run / "checkpoints/best.safetensors");
  bytes[bytes.size() - 3] ^= 1;
  std::ofstream(bad, std::ios::binary) << bytes;
  const Run refused = run_nabla("eval " + bad.string());
  CHECK(refused.code == 2);
  CHECK(refused.output.find("CRC-32") != std::string::npos);
  fs::remove_all(run);
}

TEST_CASE("a resume says when metrics.jsonl lost rows of the epochs before it") {
  const fs::path dir = fresh_dir("resume-gap");
  REQUIRE(run_nabla("train configs/gradcheck.json --quiet --epochs 2 --out " + dir.string()).code == 0);
  fs::remove(dir / "metrics.jsonl");
  const Run r = run_nabla("train --quiet --epochs 3 --resume " + (dir / "checkpoints/last.safetensors").string());
  CHECK(r.code == 0);
  CHECK(r.output == "warning: " + (dir / "metrics.jsonl").string() +
                        " holds 0 of the 2 epochs' rows before this resume (was it cut or removed?): its history has "
                        "a gap\n");
  // The rows it has from here on.
  CHECK(metrics_without_timing(dir).size() == 1);
  fs::remove_all(dir);
}
