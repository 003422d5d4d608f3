#pragma once
// The gradient check of a config, as `nabla train CONFIG --gradcheck` runs it: the very network the
// config trains, in double precision, with the training run's initial weights, on the first samples
// of its training file (real data, the same every time), with dropout on and its masks fixed.
#include <cstdint>
#include <iosfwd>

#include "check/gradcheck.hpp"
#include "config/types.hpp"

namespace nabla {

struct ConfigCheck {
  GradcheckReport report;
  int64_t samples = 0;   // the training samples checked on
  bool dropout = false;  // the network has dropout layers (checked with fixed masks)
};

// Throws nabla::Error when the config's data does not fit it (as train would).
ConfigCheck gradcheck_config(const Config& config, const GradcheckOptions& options);

// What was checked, then the report (print_report).
void print_config_check(std::ostream& out, const Config& config, const ConfigCheck& check,
                        const GradcheckOptions& options);

}  // namespace nabla
