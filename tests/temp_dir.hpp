#pragma once
// A folder of the test process's own under the system's temporary folder, removed when the tests end,
// and files written into it.
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

namespace test {

inline const std::filesystem::path& temp_dir() {
  struct Dir {
    std::filesystem::path path =
        std::filesystem::temp_directory_path() / ("nabla-test-" + std::to_string(::getpid()));
    Dir() { std::filesystem::create_directories(path); }
    ~Dir() {
      std::error_code ec;
      std::filesystem::remove_all(path, ec);
    }
  };
  static const Dir dir;
  return dir.path;
}

// Writes `text` to temp_dir()/name (creating folders on the way); returns the path.
inline std::string write_file(const std::string& name, const std::string& text) {
  const std::filesystem::path p = temp_dir() / name;
  std::filesystem::create_directories(p.parent_path());
  std::ofstream(p, std::ios::binary) << text;
  return p.string();
}

}  // namespace test
