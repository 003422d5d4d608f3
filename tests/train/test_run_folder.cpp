// The run folder's epoch files: their names and which of them pruning keeps.
#include <doctest/doctest.h>

#include <algorithm>
#include <filesystem>
#include <string>
#include <vector>

#include "temp_dir.hpp"
#include "train/run_folder.hpp"
#include "train/trainer.hpp"

namespace fs = std::filesystem;

TEST_CASE("an epoch file's number is read whatever its width, and nothing else is an epoch file") {
  CHECK(nabla::epoch_of_file("epoch-0000.safetensors") == 0);
  CHECK(nabla::epoch_of_file("epoch-0042.safetensors") == 42);
  CHECK(nabla::epoch_of_file("epoch-12345.safetensors") == 12345);
  CHECK(nabla::epoch_of_file("epoch-.safetensors") == -1);
  CHECK(nabla::epoch_of_file("epoch-12a.safetensors") == -1);
  CHECK(nabla::epoch_of_file("epoch-0001.safetensors.tmp-1") == -1);
  CHECK(nabla::epoch_of_file("best.safetensors") == -1);
  CHECK(nabla::epoch_of_file("last.safetensors") == -1);
}

TEST_CASE("pruning keeps the newest epoch files by number, past epoch 9999 too, and epoch 0, best and last") {
  const fs::path dir = test::temp_dir() / "prune" / "checkpoints";
  fs::create_directories(dir);
  for (const char* name : {"epoch-0000.safetensors", "epoch-0001.safetensors", "epoch-9998.safetensors",
                           "epoch-9999.safetensors", "epoch-10000.safetensors", "epoch-10001.safetensors",
                           "best.safetensors", "last.safetensors"})
    test::write_file("prune/checkpoints/" + std::string(name), "x");
  nabla::prune_epoch_files(dir, 2);
  std::vector<std::string> left;
  for (const auto& e : fs::directory_iterator(dir)) left.push_back(e.path().filename().string());
  std::sort(left.begin(), left.end());
  CHECK(left == std::vector<std::string>{"best.safetensors", "epoch-0000.safetensors", "epoch-10000.safetensors",
                                         "epoch-10001.safetensors", "last.safetensors"});
}
