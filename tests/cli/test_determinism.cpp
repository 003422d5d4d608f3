// The same seed gives the same run, bit for bit, on any number of threads: the step's blocks of
// rows and units are fixed by the batch and the layers, never by the thread count
// (src/train/parallel.hpp), so each GEMM has the same shape and operands, and every sum runs in
// the same order. Checked on the weights and optimiser state of the last checkpoint and on every
// metrics row (the timings aside), for the reference network and for one with dropout and a
// first layer narrower than a block.
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

#include "cli/helpers.hpp"

namespace fs = std::filesystem;
using namespace cli_test;

TEST_CASE("1, 2 and 3 threads train the same bits, with and without dropout, in fp32 and bf16, on either kernel") {
  const fs::path dir = fresh_dir("threads");
  const std::string samples =
      " --set data.train.images=../data/samples/fashion-train-2000-images-idx3-ubyte.gz"
      " --set data.train.labels=../data/samples/fashion-train-2000-labels-idx1-ubyte.gz"
      " --set data.validation=200 --set data.test.images=../data/samples/"
      "fashion-test-500-images-idx3-ubyte.gz --set data.test.labels=../data/samples/"
      "fashion-test-500-labels-idx1-ubyte.gz";
  struct Case {
    const char* name;
    std::string args;
    std::string env = "";  // before the command
  };
  // The reference network (784-256-128-10, batch 64: a last batch of 8 rows), gradcheck.json's
  // six layers with dropout, a first layer of 16 units, batch 32, and every-layer.json's eleven
  // (the activations that keep z, label smoothing, balanced class weights, clipping by norm and
  // by value: the two passes of the clipped update).
  std::vector<Case> cases = {
      {"default", "configs/default.json --epochs 3" + samples},
      {"dropout", "configs/gradcheck.json --epochs 3"},
      {"every-layer", "configs/every-layer.json --epochs 2 --set training.clip_grad_value=0.05"}};
  // --version says "bf16: oneDNN X.Y.Z", with the reason in parentheses where bf16 cannot run.
  const std::string version = run_nabla("--version").output;
  const size_t line = version.find("\nbf16: ");
  // OpenBLAS's AVX2 kernels (Haswell), whose products split by rows differ in bits from the whole
  // (the reason the blocks are fixed): the same promise holds with them.
  std::ifstream cpuinfo("/proc/cpuinfo");
  const std::string flags((std::istreambuf_iterator<char>(cpuinfo)), std::istreambuf_iterator<char>());
  if (flags.find(" avx2") != std::string::npos)
    cases.push_back({"default-haswell", "configs/default.json --epochs 2" + samples, "OPENBLAS_CORETYPE=Haswell "});
  const bool bf16 = line != std::string::npos && version.find('(', line) == std::string::npos;
  if (bf16)
    cases.push_back({"default-bf16", "configs/default.json --epochs 2 --set 'training.precision=\"bf16\"'" + samples});
  else
    MESSAGE("bf16 left out: this CPU has no AVX-512 BF16 (nabla --version)");
  for (const Case& c : cases) {
    CAPTURE(c.name);
    for (int threads : {1, 2, 3}) {
      const fs::path out = dir / (std::string(c.name) + "-" + std::to_string(threads));
      const Run r = run_shell("cd " NABLA_SOURCE_DIR " && " + c.env + NABLA_BINARY " train " + c.args +
                              " --quiet --threads " + std::to_string(threads) + " --out " + out.string());
      CAPTURE(r.output);
      REQUIRE(r.code == 0);
      if (threads == 1) continue;
      const fs::path one = dir / (std::string(c.name) + "-1");
      CAPTURE(threads);
      CHECK(tensor_bytes(out / "checkpoints/last.safetensors") == tensor_bytes(one / "checkpoints/last.safetensors"));
      CHECK(metrics_without_timing(out) == metrics_without_timing(one));
    }
  }
  fs::remove_all(dir);
}
