// The config reader and --set: any text, as a config file, and any overrides, to a Config or to
// nabla::Error. The input is the file's text, then optionally lines "\n--set a.b=VALUE", each an
// override as the CLI passes it (tests/fuzz/config.dict has the keys and the JSON tokens).
#include <string>
#include <vector>

#include "config/json.hpp"
#include "fuzz_file.hpp"
#include "util/error.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string input(reinterpret_cast<const char*>(data), size);
  const std::string marker = "\n--set ";
  size_t end = input.find(marker);
  std::vector<std::string> overrides;
  for (size_t at = end; at != std::string::npos;) {
    const size_t from = at + marker.size(), next = input.find(marker, from);
    overrides.push_back(input.substr(from, next == std::string::npos ? std::string::npos : next - from));
    at = next;
  }
  const std::string path = fuzz::write_file("config.json", input.substr(0, end));
  try {
    std::vector<std::string> notes;
    const nabla::Config c = nabla::load_config(path, overrides, &notes);
    // What a valid config must also survive: written back and read again, as checkpoints do.
    (void)nabla::parse_config(nabla::to_json(c), c.path, "/");
  } catch (const nabla::Error&) {
  }
  return 0;
}
