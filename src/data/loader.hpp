#pragma once
// Data on disk -> mini-batches in memory. IDX (raw or gzip) and MNIST-style CSV.
//
// A BatchLoader hands out contiguous row-major float batches (rows x features) with their labels.
// Each epoch's order is a function of (seed, epoch) alone, so a run can be repeated or resumed
// exactly. When the selected samples fit in the memory budget they are held in memory (as bytes)
// and shuffled perfectly; otherwise they are streamed from disk through a bounded buffer. Either
// way a background thread prepares the next batches while the current one trains.
#include <cstdint>
#include <memory>
#include <string>

#include "config/types.hpp"
#include "data/info.hpp"

namespace nabla::data {

// Reads and checks the headers (magic, dimensions, exact byte counts, images and labels agreeing in
// count) and scans the labels. Throws nabla::Error naming the file and the byte offset or line.
Info inspect(const DataSource& source, DataFormat format, bool csv_header);

struct Batch {
  const float* x = nullptr;         // rows x features, row-major, scaled (null when `raw` is given)
  const int32_t* labels = nullptr;  // rows
  int64_t rows = 0;
  int64_t features = 0;
  // With LoaderOptions::defer_conversion: each row's bytes, for the consumer to scale itself with
  // convert_rows (x is then null).
  const uint8_t* const* raw = nullptr;
  float scale = 1;
};

// One sample's features as held (u8, or float32 in native order) scaled into x, as every path into
// the network scales them: u8 as float(raw) / float(scale) (PyTorch's x / 255), float32 as the
// quotient in double, rounded once.
void scale_sample(Dtype dtype, const uint8_t* sample, int64_t features, double scale, float* x);

// Rows [r0, r1) of a batch handed out as bytes, scaled into x (rows of `features` floats, the batch's
// row r0 at x + r0 * features): x = byte / scale, in float.
void convert_rows(const Batch& batch, int64_t r0, int64_t r1, float* x);

struct LoaderOptions {
  int64_t begin = 0;  // the samples [begin, end) of the source; end < 0: to the end
  int64_t end = -1;
  int64_t batch_size = 64;
  bool shuffle = true;
  uint64_t seed = 0;
  double scale = 255.0;  // x = raw / scale
  int64_t memory_budget_bytes = int64_t(512) << 20;
  int prefetch = 2;  // batches prepared ahead by the background thread
  // Held in memory and stored as bytes, hand out each row's bytes (Batch::raw) rather than floats:
  // the training threads then scale their own rows in parallel, instead of a further thread taking
  // time from them when they use every core. Streamed or float data ignore it.
  bool defer_conversion = false;
};

class BatchLoader {
 public:
  BatchLoader(const DataSource& source, DataFormat format, bool csv_header, const LoaderOptions& options);
  ~BatchLoader();
  BatchLoader(const BatchLoader&) = delete;
  BatchLoader& operator=(const BatchLoader&) = delete;

  // Starts epoch `epoch` (0-based), abandoning whatever is left of the current one.
  void start_epoch(int64_t epoch);
  // The next batch of the epoch, false at its end. The batch stays valid until the next call.
  // The last batch of an epoch may be smaller than batch_size.
  bool next(Batch& batch);

  int64_t samples() const;  // end - begin
  int64_t features() const;
  int64_t batches_per_epoch() const;
  bool streaming() const;  // false when the selected samples are held in memory

  // The memory the loader holds: samples (in memory or the streaming buffer), the orders, the batch
  // ring, file buffers. At most memory_budget_bytes, unless the budget is below the minimum of one
  // sample, the ring and the file buffers. Call it between epochs (before start_epoch or after
  // next() returned false): during one, the loader's thread may be growing the buffers it reads.
  int64_t buffer_bytes() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace nabla::data
