#pragma once
#include <string>

namespace nabla::cli {

// What `nabla --version` prints: the version and commit, how it was built, and the engines it runs on.
std::string version_text();

}  // namespace nabla::cli
