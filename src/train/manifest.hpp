#pragma once
// The run manifest, run.json in every run folder: what ran, how it was built, on what machine, on
// which data. One entry per invocation that trained in the folder (a resume in place adds one):
//   nabla     version, commit, build type, compiler, flags, native or portable
//   blas      OpenBLAS's build, the kernels it chose, the threads of each product
//   bf16      the engine and its version (a bf16 run only)
//   cpu       model, cores, the instruction sets that matter here
//   threads, seed, precision, command (the command line), started, finished (UTC, ISO 8601; null
//   while the run goes on, or when it stopped without finishing)
//   data      per data file of the config: its key (data.train.images, ...), path and SHA-256
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "config/types.hpp"

namespace nabla {

// How this nabla was built, and what it runs on (also `nabla --version`).
struct BuildInfo {
  std::string version, commit, build_type, compiler, flags;
  bool native = false;
  std::string blas, bf16_engine;
};
BuildInfo build_info();

// The config's data files: "data.train.images" -> {path, sha256}, for the splits it names, or only
// the keys that start with `only` ("data.test.").
nlohmann::ordered_json data_fingerprints(const Config& config, const std::string& only = "data.");

// This invocation's entry (finished null).
nlohmann::ordered_json manifest_entry(const Config& config, const std::vector<std::string>& command);

// The data files named in a checkpoint's config whose SHA-256 differs from the one its run folder's
// run.json recorded (the newest entry that names the file): one line each, for a warning. Nothing
// when there is no manifest (a checkpoint moved alone, or written before manifests).
std::vector<std::string> changed_data_files(const std::string& checkpoint, const Config& config,
                                            const std::string& only = "data.");
// The same against fingerprints already taken (data_fingerprints' form), so that no file is read twice.
std::vector<std::string> changed_data_files(const std::string& checkpoint, const nlohmann::ordered_json& fingerprints);

// Now, UTC, as 2026-12-01T19:55:02Z.
std::string utc_now();

}  // namespace nabla
