#pragma once
// Running the nabla binary from tests, as a user would from the repository root.
#include <doctest/doctest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace cli_test {

struct Run {
  int code = -1;
  std::string output;  // stdout and stderr together
};

// Runs a shell command: its exit code and its output (stdout and stderr together).
inline Run run_shell(const std::string& command) {
  Run r;
  FILE* p = popen((command + " 2>&1").c_str(), "r");
  REQUIRE(p != nullptr);
  char buf[4096];
  for (size_t n; (n = fread(buf, 1, sizeof buf, p)) > 0;) r.output.append(buf, n);
  const int status = pclose(p);
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

// Runs `nabla ARGS` from the repository root.
inline Run run_nabla(const std::string& args) {
  return run_shell("cd " NABLA_SOURCE_DIR " && " NABLA_BINARY " " + args);
}

// A path in the temporary folder that does not exist yet.
inline std::filesystem::path fresh_dir(const std::string& name) {
  const auto d = std::filesystem::temp_directory_path() / ("nabla-test-" + name + "-" + std::to_string(::getpid()));
  std::filesystem::remove_all(d);
  return d;
}

// A run's metrics.jsonl rows without the timing fields, which differ from run to run.
inline std::vector<nlohmann::json> metrics_without_timing(const std::filesystem::path& run) {
  std::vector<nlohmann::json> rows;
  std::ifstream f(run / "metrics.jsonl");
  std::string line;
  while (std::getline(f, line)) {
    auto j = nlohmann::json::parse(line, nullptr, false);
    if (j.is_discarded()) continue;  // a row still being written by a live run
    j.erase("seconds");
    j.erase("samples_per_second");
    rows.push_back(j);
  }
  return rows;
}

}  // namespace cli_test
