#pragma once
// One error type for everything that comes from outside the program: config files, data files,
// checkpoints, flags. It carries where (a file, and a JSON path, byte offset or line) and what was
// expected, and main() prints it on one line: "FILE: WHERE: MESSAGE".
#include <stdexcept>
#include <string>
#include <vector>

namespace nabla {

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& message) : std::runtime_error(message) {}
  // "file: where: what", leaving out the empty parts.
  Error(const std::string& file, const std::string& where, const std::string& what)
      : std::runtime_error(join(file, where, what)) {}

  static std::string join(const std::string& file, const std::string& where, const std::string& what) {
    std::string s;
    if (!file.empty()) s += file + ": ";
    if (!where.empty()) s += where + ": ";
    return s + what;
  }
};

// Several independent problems found in one pass (a config with three bad keys reports all three).
// what() is every message, one per line.
class Errors : public Error {
 public:
  explicit Errors(std::vector<std::string> messages) : Error(joined(messages)), messages_(std::move(messages)) {}
  const std::vector<std::string>& messages() const { return messages_; }

 private:
  static std::string joined(const std::vector<std::string>& m) {
    std::string s;
    for (size_t i = 0; i < m.size(); ++i) s += (i ? "\n" : "") + m[i];
    return s;
  }
  std::vector<std::string> messages_;
};

// A broken invariant of nabla's own code, never the user's input: a bug to report. It is not an
// Error, so that no handler of bad input catches it, and the CLI exits with its own code (4).
class InternalError : public std::logic_error {
 public:
  explicit InternalError(const std::string& what) : std::logic_error("internal error: " + what) {}
};

// Checks an invariant that memory safety rests on, in every build (an assert vanishes in Release).
inline void require(bool holds, const char* what) {
  if (!holds) throw InternalError(what);
}

}  // namespace nabla
