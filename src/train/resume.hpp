#pragma once
// What a checkpoint may change when a run resumes from it, and where it resumes.
//
// A run may be resumed with another number of epochs, learning rate, thread count, precision,
// checkpoint cadence or name; anything else (the architecture, the data, the optimiser, the
// batches) would make it another run, and is refused with the list of what differs.
#include <cstdint>
#include <string>
#include <vector>

#include "config/types.hpp"
#include "io/checkpoint.hpp"

namespace nabla {

// The config a resume without a config file continues with: the checkpoint's own, with `overrides`
// ("a.b=VALUE", as --set) applied and validated as a config file's. Messages name it
// "CHECKPOINT (its config)".
Config resumed_config(const std::string& checkpoint, const std::vector<std::string>& overrides);

// Refuses a resume of checkpoint `path` (its contents `from`) under config `now` that would be
// another run, or that has nothing left to train. Returns the notes for the user: what changed.
std::vector<std::string> check_resume(const io::Checkpoint& from, const Config& now, const std::string& path);

// Refuses a checkpoint whose parameter count or position does not fit this data: the same data
// files, rewritten with another sample count, would otherwise resume at a place that does not exist.
// Checked before the run folder is opened, so that a refused resume writes nothing.
void check_resume_fits(const io::Checkpoint& from, int64_t parameters, int64_t steps_per_epoch,
                       const std::string& path);

// A cosine curve spans training.epochs: another count re-spaces it from the resumed step on. The
// note that says so, or "" when the curve is the same.
std::string cosine_note(const io::Checkpoint& from, const Config& now, int64_t steps_per_epoch);

}  // namespace nabla
