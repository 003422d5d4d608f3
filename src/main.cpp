#include "cli/cli.hpp"

int main(int argc, char** argv) { return nabla::cli::run(argc, argv); }
