#pragma once
// nabla's checkpoints: safetensors files that load straight into PyTorch's nn.Linear layers
// (layers.{i}.weight [out, in] and layers.{i}.bias [out], F32), and that also hold everything a run
// needs to continue exactly where it stopped:
//   tensor optimizer.state [buffers, parameters]  the optimiser's moments (absent for plain SGD)
//   __metadata__ (strings):
//     format "nabla-checkpoint", format_version "2" (version 1 files, without crc32_metadata, still
//     load), config (the resolved config, JSON), data_paths (its data files relative to the
//     checkpoint's folder, JSON: a moved run folder finds its data again; absent in older files),
//     epoch (epochs completed), step (optimiser steps taken), batch (batches done of the next epoch:
//     non-zero only when a signal stopped the run mid-epoch), rng_dropout (the dropout stream's state),
//     optimizer, optimizer_steps, best_metric, best_epoch, since_best (early stopping), the partial
//     epoch's sums (epoch_loss_sum, epoch_correct, epoch_seen, epoch_seconds), lr (for people), and
//     crc32 (CRC-32 of all tensor bytes, 8 hex digits), and crc32_metadata (CRC-32 of every other
//     key and value, in key order, each followed by a NUL: it covers crc32 and so the tensors).
// The learning-rate schedule is a pure function of the step and the shuffle order of (seed, epoch),
// so step and epoch are their whole state.
#include <cstdint>
#include <string>
#include <vector>

#include "config/types.hpp"
#include "nn/network.hpp"

namespace nabla::io {

// Where a run is, beyond its weights.
struct RunState {
  int64_t epoch = 0;  // epochs completed
  int64_t step = 0;   // optimiser steps taken
  int64_t batch = 0;  // batches already done of epoch + 1 (a checkpoint written on a signal)
  uint64_t rng_dropout = 0;
  int64_t optimizer_steps = 0;
  double best_metric = 0;
  int64_t best_epoch = 0;
  int64_t since_best = 0;
  double epoch_loss_sum = 0;  // the partial epoch's running sums (when batch > 0)
  int64_t epoch_correct = 0, epoch_seen = 0;
  double epoch_seconds = 0;
  double lr = 0;
};

struct Checkpoint {
  std::string format_version;  // "2" (or "1": written before the metadata had a CRC of its own)
  Config config;               // parsed from the metadata and validated like a config file
  RunState state;
  int64_t inputs = 0, outputs = 0;  // the network's size, read off its first and last weights
  std::string optimizer;            // sgd, adam, adamw
  std::vector<float> params;        // in Network's layout
  std::vector<float> optimizer_state;
  // The data files the config names that were gone and were found relative to the checkpoint: a
  // line each, "data.test.images: OLD does not exist; using NEW, at the same place ...".
  std::vector<std::string> moved;
};

// Writes net's parameters, the optimiser's state and the run state to `path` atomically.
void save_checkpoint(const std::string& path, const Config& config, const Network<float>& net,
                     const std::vector<float>& optimizer_state, const RunState& state);

// Reads and validates a checkpoint completely: the safetensors structure, the metadata, the CRC, the
// config, and every tensor's dtype and shape against the network the config describes (its input
// size and class count, which only the data knows, are read off the first and last weights and then
// checked in every other tensor). Throws nabla::Error "PATH: what failed: expected ..., found ...".
// A data file of the config that is gone is looked for relative to the checkpoint (see `moved`).
Checkpoint load_checkpoint(const std::string& path);

}  // namespace nabla::io
