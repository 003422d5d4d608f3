#include "cli/version.hpp"

#include "math/bf16.hpp"
#include "math/blas.hpp"
#include "nabla_build.hpp"
#include "nabla_commit.hpp"

namespace nabla::cli {

std::string version_text() {
  return std::string("nabla ") + NABLA_VERSION + " (commit " + NABLA_COMMIT + ")\n" + "build: " + NABLA_BUILD_TYPE +
         ", " + NABLA_COMPILER + ", flags \"" + NABLA_BUILD_FLAGS + "\", " +
         (NABLA_NATIVE_BUILD ? "native (-march=native: for CPUs like the one that built it)" : "portable") +
         "\nBLAS: " + blas_description() + "\nbf16: " + bf16_engine() +
         (bf16_unavailable().empty() ? "" : " (" + bf16_unavailable() + ")");
}

}  // namespace nabla::cli
