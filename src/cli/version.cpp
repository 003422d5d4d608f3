#include "cli/version.hpp"

#include "math/bf16.hpp"
#include "train/manifest.hpp"

namespace nabla::cli {

std::string version_text() {
  const BuildInfo b = build_info();
  const std::string why = bf16_unavailable();
  return "nabla " + b.version + " (commit " + b.commit + ")\nbuild: " + b.build_type + ", " + b.compiler +
         ", flags \"" + b.flags + "\", " +
         (b.native ? "native (-march=native: for CPUs like the one that built it)" : "portable") + "\nBLAS: " + b.blas +
         "\nbf16: " + b.bf16_engine + (why.empty() ? "" : " (" + why + ")");
}

}  // namespace nabla::cli
