#pragma once
// What `nabla inspect` prints of a checkpoint that load_checkpoint has verified completely: its
// format and position, the metrics of the epoch it holds (from the run folder's metrics.jsonl, when
// it is beside it), the architecture, every tensor with its statistics, and the resolved config.
#include <ostream>
#include <string>

#include "io/checkpoint.hpp"

namespace nabla {

void print_inspection(std::ostream& out, const std::string& path, const io::Checkpoint& ck);
void print_inspection_json(std::ostream& out, const std::string& path, const io::Checkpoint& ck);

}  // namespace nabla
