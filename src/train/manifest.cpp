#include "train/manifest.hpp"

#include <unistd.h>

#include <ctime>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <string_view>
#include <thread>

#include "io/sha256.hpp"
#include "math/bf16.hpp"
#include "math/blas.hpp"
#include "nabla_build.hpp"
#include "nabla_commit.hpp"
#include "train/run_folder.hpp"
#include "util/error.hpp"

namespace nabla {

namespace {

using ojson = nlohmann::ordered_json;

// The CPU's model name and the instruction sets nabla's kernels choose between.
ojson cpu() {
  std::ifstream in("/proc/cpuinfo");
  std::string line, model = "unknown";
  std::set<std::string> flags;
  const std::set<std::string> wanted = {"sse4_2",   "avx",         "avx2",        "fma",      "avx512f", "avx512bw",
                                        "avx512vl", "avx512_vnni", "avx512_bf16", "amx_bf16", "amx_tile"};
  while (std::getline(in, line)) {
    const auto colon = line.find(':');
    if (colon == std::string::npos) continue;
    const std::string key = line.substr(0, line.find_first_of(" \t"));
    const std::string value = colon + 2 <= line.size() ? line.substr(colon + 2) : "";
    if (key == "model" && line.rfind("model name", 0) == 0 && model == "unknown") model = value;
    if (key == "flags" && flags.empty()) {
      std::istringstream words(value);
      for (std::string w; words >> w;)
        if (wanted.count(w)) flags.insert(w);
    }
  }
  return {{"model", model}, {"cores", std::thread::hardware_concurrency()}, {"features", flags}};
}

// The newest entry's recorded SHA-256 of each data key, from a run folder's run.json.
std::vector<std::pair<std::string, ojson>> recorded(const std::string& folder) {
  std::ifstream in(std::filesystem::path(folder) / "run.json");
  if (!in) return {};
  const ojson m = ojson::parse(in, nullptr, false);
  if (m.is_discarded() || !m.contains("runs") || !m["runs"].is_array() || m["runs"].empty()) return {};
  const ojson& last = m["runs"].back();
  std::vector<std::pair<std::string, ojson>> out;
  if (last.contains("data") && last["data"].is_object())
    for (auto it = last["data"].begin(); it != last["data"].end(); ++it) out.emplace_back(it.key(), it.value());
  return out;
}

}  // namespace

BuildInfo build_info() {
  return {NABLA_VERSION,           NABLA_COMMIT,       NABLA_BUILD_TYPE, NABLA_COMPILER, NABLA_BUILD_FLAGS,
          NABLA_NATIVE_BUILD != 0, blas_description(), bf16_engine()};
}

std::string utc_now() {
  const std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char b[32];
  std::strftime(b, sizeof b, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return b;
}

ojson data_fingerprints(const Config& c, const std::string& only) {
  ojson data = ojson::object();
  for (const auto& [key, path] : data_files(c))
    if (!path->empty() && std::string_view(key).rfind(only, 0) == 0)
      data[key] = {{"path", *path}, {"sha256", io::sha256_of_file(*path)}};
  return data;
}

ojson manifest_entry(const Config& c, const std::vector<std::string>& command) {
  const BuildInfo b = build_info();
  ojson e;
  e["nabla"] = {{"version", b.version},   {"commit", b.commit}, {"build_type", b.build_type},
                {"compiler", b.compiler}, {"flags", b.flags},   {"native", b.native}};
  e["blas"] = {{"library", b.blas}, {"threads_per_product", 1}};
  if (c.training.precision == "bf16") e["bf16"] = b.bf16_engine;
  e["cpu"] = cpu();
  e["threads"] = c.training.threads;
  e["seed"] = c.training.seed;
  e["precision"] = c.training.precision;
  e["command"] = command;
  e["started"] = utc_now();
  e["finished"] = nullptr;
  e["data"] = data_fingerprints(c);
  return e;
}

std::vector<std::string> changed_data_files(const std::string& checkpoint, const Config& c, const std::string& only) {
  if (recorded(run_dir_of(checkpoint)).empty()) return {};  // no manifest: nothing to hash the files for
  try {
    return changed_data_files(checkpoint, data_fingerprints(c, only));
  } catch (const Error&) {
    return {};  // a file that cannot be read: the command that reads it says so
  }
}

std::vector<std::string> changed_data_files(const std::string& checkpoint, const ojson& now) {
  std::vector<std::string> changed;
  for (const auto& [key, was] : recorded(run_dir_of(checkpoint))) {
    if (!now.contains(key) || !was.contains("sha256") || !was["sha256"].is_string()) continue;
    const std::string a = was["sha256"], b = now[key]["sha256"];
    if (a != b)
      changed.push_back(now[key]["path"].get<std::string>() + " (" + key +
                        ") has changed since the run recorded it in " +
                        (std::filesystem::path(run_dir_of(checkpoint)) / "run.json").string() + " (SHA-256 " +
                        a.substr(0, 12) + "..., now " + b.substr(0, 12) + "...)");
  }
  return changed;
}

}  // namespace nabla
