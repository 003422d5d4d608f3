#pragma once
// Running the nabla binary from tests, as a user would from the repository root.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "io/safetensors.hpp"

extern char** environ;

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

// A whole file.
inline std::string bytes_of(const std::filesystem::path& p) {
  std::ifstream f(p, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
}

// The model and optimiser tensors of a checkpoint, as raw bytes.
inline std::string tensor_bytes(const std::filesystem::path& p) { return nabla::io::read_safetensors(p.string()).data; }

// nabla started in the background from the source folder, its output to /dev/null (or its
// standard error to `errors`).
inline pid_t spawn_nabla(std::vector<std::string> args, const std::string& errors = "/dev/null") {
  args.insert(args.begin(), NABLA_BINARY);
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  // With SIGINT, SIGTERM and SIGHUP at their defaults, whatever this test runs under (nohup, say).
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t defaults;
  sigemptyset(&defaults);
  for (int sig : {SIGINT, SIGTERM, SIGHUP}) sigaddset(&defaults, sig);
  posix_spawnattr_setsigdefault(&attr, &defaults);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGDEF);
  posix_spawn_file_actions_t quiet;
  posix_spawn_file_actions_init(&quiet);
  posix_spawn_file_actions_addopen(&quiet, 1, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addopen(&quiet, 2, errors.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  pid_t pid = -1;
  REQUIRE(chdir(NABLA_SOURCE_DIR) == 0);
  REQUIRE(posix_spawn(&pid, NABLA_BINARY, &quiet, &attr, argv.data(), environ) == 0);
  posix_spawn_file_actions_destroy(&quiet);
  posix_spawnattr_destroy(&attr);
  return pid;
}

// Waits up to 20 s for `done`, polling.
template <class F>
bool wait_for(F done) {
  for (int i = 0; i < 4000 && !done(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  return done();
}

// The exit code of a process that has been signalled to stop, or minus the signal that killed it
// (so that 130 means it handled SIGINT and exited, not that SIGINT killed it).
inline int exit_code(pid_t pid) {
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status);
}

// A spawned nabla that a failed REQUIRE, leaving the test early, does not leave running.
struct Child {
  pid_t pid;
  ~Child() {
    if (pid > 0) kill(pid, SIGKILL), waitpid(pid, nullptr, 0);
  }
  int stop(int sig) {  // its exit code
    kill(pid, sig);
    const int code = exit_code(pid);
    pid = -1;
    return code;
  }
};

}  // namespace cli_test
