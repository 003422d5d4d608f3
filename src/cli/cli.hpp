#pragma once

namespace nabla::cli {

// Parses the command line and runs one subcommand. Returns the process exit code; errors from
// outside (config, data, flags) are printed on one line to stderr and give a non-zero code.
int run(int argc, char** argv);

}  // namespace nabla::cli
