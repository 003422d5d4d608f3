#pragma once
// The training run: train() reads the data's headers, opens the run folder, restores a checkpoint or
// initialises the weights, then trains epoch after epoch. Each epoch runs the step over every batch
// (parallel.hpp), evaluates the validation and test splits, writes the metrics row and the
// checkpoints, and stops early when the validation metric stops improving. The rooms it calls on:
//   data_plan.hpp   the data against the config, the memory estimate, the loaders
//   run_folder.hpp  the run folder and its files
//   resume.hpp      what a checkpoint may change, and where it resumes
//   evaluate.hpp    the loss, accuracy and confusion matrix of a split
//   signals.hpp     SIGINT, SIGTERM and SIGHUP: stop at the next safe point
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "config/types.hpp"
#include "train/progress.hpp"
#include "util/error.hpp"

namespace nabla {

// Training stopped because the loss or a gradient stopped being finite.
class Diverged : public Error {
 public:
  using Error::Error;
};

// Training stopped on SIGINT, SIGTERM or SIGHUP, after writing a checkpoint (or, before the first
// step, writing nothing).
class Interrupted : public Error {
 public:
  Interrupted(const std::string& message, int signal) : Error(message), signal(signal) {}
  int signal;
};

struct TrainOptions {
  std::string out_dir;  // the run folder; a new run must not find a run there already
  std::string resume;   // a checkpoint to continue from (empty: a new run)
  Progress progress = Progress::lines;
  std::vector<std::string> command;  // the command line, for the run manifest
  // Called with each note of a resume (what it changes) before the first step; without it the
  // notes come back in TrainResult::notes.
  std::function<void(const std::string&)> on_note;
  // Called with each data file a resumed checkpoint's run recorded that has changed since (run.json).
  std::function<void(const std::string&)> on_warning;
  // Called once the run is accepted (the data planned, a resume checked, the run folder taken), so
  // that "resuming X into DIR" is never said of a resume that is then refused.
  std::function<void()> on_start;
};

struct TrainResult {
  int64_t epochs_run = 0;  // epochs completed in all, counting those before a resume
  int64_t best_epoch = 0;
  double best_metric = 0;
  bool stopped_early = false;
  std::vector<std::string> notes;  // what a resume allowed to change, for the user
};

// Trains config's network, writing the run folder. Throws nabla::Error on bad data or a checkpoint
// that does not fit, Diverged on a non-finite loss or gradient, Interrupted on a signal.
TrainResult train(const Config& config, const TrainOptions& options);

}  // namespace nabla
