// The BatchLoader: three ways to walk the samples [begin, end) in an epoch order, one background
// thread that turns them into float batches ahead of the consumer.
//
//   memory  (the samples fit the budget): all of them held as stored (u8 or float32) with int32
//           labels; the epoch order is a Fisher–Yates permutation of [0, n): a perfect shuffle.
//   chunks  (too big, raw IDX): the range is cut into chunks of ~64 KiB; the chunk order is
//           shuffled, a window of as many chunks as the budget holds is read with pread, and the
//           samples inside the window are shuffled.
//   stream  (too big, gzip or CSV, which can only be read front to back): a shuffle buffer of K
//           samples; each step emits a uniformly chosen one and refills its place with the next
//           sample of the file. K comes from the budget.
// Whatever the mode, every sample of the range comes exactly once per epoch, and the order is a
// function of (seed, epoch) and, when streaming, the buffer size (so of the budget): a run repeated
// or resumed with the same config sees the same batches. shuffle = false gives file order.
//
// The ring: prefetch + 1 batch slots allocated at construction. The worker fills free slots and
// queues them; next() hands out the oldest queued slot and gives the previous one back. start_epoch()
// bumps a generation number: slots the worker fills for an older generation go back unused.
#include "data/loader.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <condition_variable>
#include <cstring>
#include <exception>
#include <limits>
#include <mutex>
#include <numeric>
#include <thread>
#include <vector>

#include "data/shuffle.hpp"
#include "data/source.hpp"
#include "math/per_cpu.hpp"
#include "util/error.hpp"
#include "util/threads.hpp"

namespace nabla::data {
namespace {

enum class Mode { memory, chunks, stream };

constexpr int64_t kChunkBytes = int64_t(64) << 10;  // the unit of random access to raw IDX
constexpr int64_t kRingBytes = int64_t(64) << 20;   // batches prepared ahead take at most this (or one batch)

template <class T>
int64_t bytes_of(const std::vector<T>& v) {
  return int64_t(v.capacity() * sizeof(T));
}

}  // namespace

struct BatchLoader::Impl {
  // Fixed at construction.
  LoaderOptions opt;
  std::unique_ptr<Source> source;  // the worker's once it runs; none in memory mode
  Info layout;
  int64_t begin = 0, end = 0, n = 0;
  int64_t batch = 0, batches = 0;
  int64_t sample_bytes = 0;  // one sample's features as held
  bool check_end = false;    // the range reaches the end of the file: check what follows
  Mode mode = Mode::memory;
  float scale = 255;  // x = u8 / scale, in float as PyTorch's x / 255 is

  // memory: the samples [begin, end); chunks: the window; stream: the shuffle buffer.
  std::vector<uint8_t> x_held;
  std::vector<int32_t> y_held;
  int64_t capacity = 0;         // samples x_held holds
  std::vector<uint32_t> order;  // memory: the sample order (n); chunks: the order in the window
  std::vector<int64_t> chunk_order;
  int64_t chunk = 0, chunks = 0, window_chunks = 0;

  // The worker's position in the current epoch.
  std::mt19937_64 rng;
  int64_t emitted = 0;     // samples emitted this epoch
  int64_t next_chunk = 0;  // chunks: the next entry of chunk_order to read
  int64_t window_pos = 0, window_size = 0;
  int64_t filled = 0;  // stream: samples in the shuffle buffer
  int64_t unread = 0;  // stream: samples of the range not yet read from the file

  // The ring and its hand-over, guarded by `mutex`.
  struct Slot {
    std::vector<float> x;             // batch x features
    std::vector<int32_t> y;           // batch
    std::vector<const uint8_t*> raw;  // deferred conversion: each row's bytes, in x_held
    int64_t rows = 0;
  };
  bool deferred = false;  // memory mode, u8 data, and the consumer converts
  std::vector<Slot> slots;
  std::vector<int> ready;  // a FIFO of filled slots: ready[(ready_head + i) % size]
  int ready_head = 0, ready_count = 0;
  std::vector<int> free_slots;  // a stack
  int free_count = 0;
  int held = -1;             // the slot the consumer's Batch points into
  int refill = 1;            // the worker wakes when this many slots are free: it fills in bursts
  int64_t consumed = 0;      // batches handed out this epoch
  uint64_t generation = 0;   // bumped by start_epoch
  uint64_t worker_done = 0;  // the worker idles while worker_done == generation
  int64_t epoch = 0;
  bool started = false, stop = false;
  std::exception_ptr error;  // from the worker, rethrown by next()
  std::mutex mutex;
  std::condition_variable cv;
  std::thread worker;

  Impl(const DataSource& src, DataFormat format, bool csv_header, const LoaderOptions& o);
  void plan_memory();
  void plan_streaming(int64_t ring_bytes);

  // Worker side.
  void run();
  void begin_epoch(int64_t e);
  void fill(Slot& s);
  void emit(float* x, int32_t& y);
  void load_window();
  void read_next(uint8_t* x, int32_t* y);
  void convert(const uint8_t* sample, float* x) const;

  // Consumer side, with the mutex held.
  void restart_locked(int64_t e);
  void give_back_locked(int slot) { free_slots[size_t(free_count++)] = slot; }
};

BatchLoader::Impl::Impl(const DataSource& src, DataFormat format, bool csv_header, const LoaderOptions& o) : opt(o) {
  source = open_source(src, format, csv_header);
  layout = source->layout();
  const std::string& path = source->path();
  begin = opt.begin;
  end = opt.end < 0 ? layout.count : opt.end;
  if (layout.count == 0) throw Error(path, "", "holds no samples");
  if (begin < 0 || end > layout.count || begin >= end)
    throw Error(path, "",
                "expected a range of samples 0 <= begin < end <= " + std::to_string(layout.count) + ", found [" +
                    std::to_string(begin) + ", " + std::to_string(end) + ")");
  if (opt.batch_size < 1)
    throw Error("data: expected a batch size of at least 1, found " + std::to_string(opt.batch_size));
  if (!(opt.scale > 0) || !std::isfinite(opt.scale))
    throw Error("data: expected a positive scale, found " + std::to_string(opt.scale));
  if (opt.memory_budget_bytes < 0)
    throw Error("data: expected a memory budget of at least 0 bytes, found " + std::to_string(opt.memory_budget_bytes));
  n = end - begin;
  batch = std::min(opt.batch_size, n);
  batches = (n + batch - 1) / batch;
  // Batches prepared ahead: as many as asked, but no more than kRingBytes of them (at least one), so
  // that a batch of the whole data set is not held nine times over.
  const int64_t batch_bytes = batch * (layout.features * int64_t(sizeof(float)) + int64_t(sizeof(int32_t)));
  opt.prefetch = int(std::min<int64_t>(std::max(opt.prefetch, 1), std::max<int64_t>(1, kRingBytes / batch_bytes - 1)));
  // Filling the ring in bursts of half its size wakes the worker once every few batches instead of
  // every batch: fewer context switches when all cores are computing.
  refill = std::max(1, opt.prefetch / 2);

  sample_bytes = layout.sample_bytes();
  check_end = end == layout.count;
  scale = float(opt.scale);

  // The ring: the consumer holds one slot while the worker fills `prefetch` more.
  const int nslots = opt.prefetch + 1;
  slots.resize(size_t(nslots));
  ready.resize(size_t(nslots));
  free_slots.resize(size_t(nslots));
  for (int i = 0; i < nslots; ++i) give_back_locked(i);
  const int64_t ring_bytes = nslots * batch_bytes;

  // In memory when the samples, their labels and the order fit beside the ring and the file buffers.
  const int64_t held_bytes = n * (sample_bytes + int64_t(sizeof(int32_t)) + int64_t(sizeof(uint32_t)));
  if (n <= std::numeric_limits<uint32_t>::max() &&
      ring_bytes + source->buffer_bytes() + held_bytes <= opt.memory_budget_bytes)
    plan_memory();
  else
    plan_streaming(ring_bytes);
  deferred = opt.defer_conversion && mode == Mode::memory && layout.dtype == Dtype::u8;
  for (Slot& s : slots) {
    if (deferred)
      s.raw.resize(size_t(batch));
    else
      s.x.resize(size_t(batch * layout.features));
    s.y.resize(size_t(batch));
  }

  worker = start_thread([this] { run(); });
}

void BatchLoader::Impl::plan_memory() {
  mode = Mode::memory;
  capacity = n;
  x_held.resize(size_t(n * sample_bytes));
  y_held.resize(size_t(n));
  order.resize(size_t(n));
  source->seek(begin);
  source->read(n, x_held.data(), y_held.data());
  if (check_end) source->finish();
  source.reset();  // nothing more to read: its buffers go too
}

void BatchLoader::Impl::plan_streaming(int64_t ring_bytes) {
  const int64_t budget = opt.memory_budget_bytes - ring_bytes - source->buffer_bytes();
  const int64_t per_sample = sample_bytes + int64_t(sizeof(int32_t));
  if (source->random_access()) {
    mode = Mode::chunks;
    chunk = std::max<int64_t>(1, kChunkBytes / std::max<int64_t>(1, sample_bytes));
    chunk = std::min(chunk, n);
    chunks = (n + chunk - 1) / chunk;
    // The window, and its order, take what is left after the chunk order.
    int64_t room = budget - chunks * int64_t(sizeof(int64_t));
    capacity = std::clamp<int64_t>(room / (per_sample + int64_t(sizeof(uint32_t))), 1, n);
    capacity = std::min<int64_t>(capacity, std::numeric_limits<uint32_t>::max());
    // A small budget: chunks as big as the window, the window one chunk. Smaller chunks are more of
    // them, whose order takes more of the budget: shrink until the window and the order both fit.
    while (capacity < chunk) {
      chunk = capacity;
      chunks = (n + chunk - 1) / chunk;
      room = budget - chunks * int64_t(sizeof(int64_t));
      capacity = std::clamp<int64_t>(room / (per_sample + int64_t(sizeof(uint32_t))), 1, chunk);
      if (capacity == chunk) break;
    }
    window_chunks = capacity / chunk;
    capacity = window_chunks * chunk;
    chunk_order.resize(size_t(chunks));
    order.resize(size_t(capacity));
  } else {
    mode = Mode::stream;
    // In file order one sample of room is enough; shuffled, the buffer is as big as the budget allows.
    capacity = opt.shuffle ? std::clamp<int64_t>(budget / per_sample, 1, n) : 1;
  }
  x_held.resize(size_t(capacity * sample_bytes));
  y_held.resize(size_t(capacity));
}

void BatchLoader::Impl::run() {
  std::unique_lock lock(mutex);
  for (;;) {
    cv.wait(lock, [&] { return stop || worker_done != generation; });
    if (stop) return;
    const uint64_t gen = generation;
    const int64_t e = epoch;
    lock.unlock();
    int64_t made = 0;
    int slot = -1;
    bool bursting = false;
    try {
      begin_epoch(e);
      while (made < batches) {
        lock.lock();
        // Between bursts, sleep until `refill` slots are free; within a burst, fill every free one.
        const int64_t want = free_count > 0 && bursting ? 1 : std::min<int64_t>(refill, batches - made);
        cv.wait(lock, [&] { return stop || generation != gen || free_count >= want; });
        bursting = true;
        if (stop) return;
        if (generation != gen) break;  // start_epoch: drop this epoch
        slot = free_slots[size_t(--free_count)];
        bursting = free_count > 0;
        lock.unlock();
        fill(slots[size_t(slot)]);
        lock.lock();
        if (generation != gen) break;
        ready[size_t((ready_head + ready_count++) % int(ready.size()))] = slot;
        slot = -1;
        ++made;
        lock.unlock();
        cv.notify_all();
      }
      if (!lock.owns_lock()) lock.lock();
    } catch (...) {
      if (!lock.owns_lock()) lock.lock();
      if (generation == gen) error = std::current_exception();
    }
    if (slot >= 0) give_back_locked(slot);
    if (generation == gen) worker_done = gen;  // the epoch is made (or failed): idle until the next
    cv.notify_all();
  }
}

void BatchLoader::Impl::begin_epoch(int64_t e) {
  rng = epoch_rng(opt.seed, e);
  emitted = 0;
  switch (mode) {
    case Mode::memory:
      std::iota(order.begin(), order.end(), uint32_t(0));
      if (opt.shuffle) fisher_yates(order.data(), n, rng);
      break;
    case Mode::chunks:
      std::iota(chunk_order.begin(), chunk_order.end(), int64_t(0));
      if (opt.shuffle) fisher_yates(chunk_order.data(), chunks, rng);
      next_chunk = 0;
      window_pos = window_size = 0;
      break;
    case Mode::stream:
      source->seek(begin);
      unread = n;
      filled = 0;
      if (opt.shuffle) {
        filled = std::min(capacity, n);
        source->read(filled, x_held.data(), y_held.data());
        unread -= filled;
        if (unread == 0 && check_end) source->finish();  // the whole range fits the buffer
      }
      break;
  }
}

// stream: the next sample of the file; after the range's last one, whatever follows is checked.
void BatchLoader::Impl::read_next(uint8_t* x, int32_t* y) {
  source->read(1, x, y);
  if (--unread == 0 && check_end) source->finish();
}

void BatchLoader::Impl::fill(Slot& s) {
  s.rows = std::min(batch, n - emitted);
  if (deferred) {  // only where each row's bytes are: the consumer converts them
    for (int64_t r = 0; r < s.rows; ++r) {
      const int64_t i = order[size_t(emitted++)];
      s.raw[size_t(r)] = x_held.data() + i * sample_bytes;
      s.y[size_t(r)] = y_held[size_t(i)];
    }
    return;
  }
  for (int64_t r = 0; r < s.rows; ++r) emit(s.x.data() + r * layout.features, s.y[size_t(r)]);
}

// The next sample of the epoch order into one row of a batch.
void BatchLoader::Impl::emit(float* x, int32_t& y) {
  switch (mode) {
    case Mode::memory: {
      int64_t i = order[size_t(emitted)];
      convert(x_held.data() + i * sample_bytes, x);
      y = y_held[size_t(i)];
      break;
    }
    case Mode::chunks: {
      if (window_pos == window_size) load_window();
      int64_t i = order[size_t(window_pos++)];
      convert(x_held.data() + i * sample_bytes, x);
      y = y_held[size_t(i)];
      break;
    }
    case Mode::stream: {
      if (!opt.shuffle) {  // file order: the buffer is a one-sample staging area
        read_next(x_held.data(), y_held.data());
        convert(x_held.data(), x);
        y = y_held[0];
        break;
      }
      int64_t j = int64_t(uniform_below(rng, uint64_t(filled)));
      uint8_t* at = x_held.data() + j * sample_bytes;
      convert(at, x);
      y = y_held[size_t(j)];
      if (unread > 0) {
        read_next(at, &y_held[size_t(j)]);  // the emitted place takes the next sample of the file
      } else {                              // the file is done: the buffer's last sample fills the hole
        --filled;
        std::memmove(at, x_held.data() + filled * sample_bytes, size_t(sample_bytes));
        y_held[size_t(j)] = y_held[size_t(filled)];
      }
      break;
    }
  }
  ++emitted;
}

// chunks: reads the next window_chunks chunks of the epoch's chunk order and shuffles within them.
void BatchLoader::Impl::load_window() {
  window_size = 0;
  for (int64_t w = 0; w < window_chunks && next_chunk < chunks; ++w) {
    int64_t first = begin + chunk_order[size_t(next_chunk++)] * chunk;
    int64_t len = std::min(chunk, end - first);
    source->read_at(first, len, x_held.data() + window_size * sample_bytes, y_held.data() + window_size);
    window_size += len;
  }
  std::iota(order.begin(), order.begin() + window_size, uint32_t(0));
  if (opt.shuffle) fisher_yates(order.data(), window_size, rng);
  window_pos = 0;
}

void scale_sample(Dtype dtype, const uint8_t* sample, int64_t features, double scale, float* x) {
  if (dtype == Dtype::u8) {
    const float s = float(scale);
    for (int64_t k = 0; k < features; ++k) x[k] = float(sample[k]) / s;  // vectorised
  } else {
    for (int64_t k = 0; k < features; ++k) {
      float v;
      std::memcpy(&v, sample + 4 * k, 4);
      x[k] = float(double(v) / scale);
    }
  }
}

void BatchLoader::Impl::convert(const uint8_t* sample, float* x) const {
  scale_sample(layout.dtype, sample, layout.features, opt.scale, x);
}

void BatchLoader::Impl::restart_locked(int64_t e) {
  ++generation;
  epoch = e;
  started = true;
  error = nullptr;
  consumed = 0;
  for (; ready_count > 0; --ready_count) {
    give_back_locked(ready[size_t(ready_head)]);
    ready_head = (ready_head + 1) % int(ready.size());
  }
  if (held >= 0) give_back_locked(held);
  held = -1;
}

BatchLoader::BatchLoader(const DataSource& source, DataFormat format, bool csv_header, const LoaderOptions& options)
    : impl_(std::make_unique<Impl>(source, format, csv_header, options)) {}

BatchLoader::~BatchLoader() {
  {
    std::lock_guard lock(impl_->mutex);
    impl_->stop = true;
  }
  impl_->cv.notify_all();
  impl_->worker.join();
}

void BatchLoader::start_epoch(int64_t epoch) {
  {
    std::lock_guard lock(impl_->mutex);
    impl_->restart_locked(epoch);
  }
  impl_->cv.notify_all();
}

bool BatchLoader::next(Batch& batch) {
  Impl& m = *impl_;
  std::unique_lock lock(m.mutex);
  if (!m.started) m.restart_locked(0);
  if (m.held >= 0) {
    m.give_back_locked(m.held);
    m.held = -1;
  }
  if (m.free_count >= m.refill || m.ready_count <= 1) m.cv.notify_all();  // else the worker sleeps on
  if (m.consumed == m.batches) return false;
  // Batches made before a failure still come out, in order; then the error.
  m.cv.wait(lock, [&] { return m.ready_count > 0 || m.error; });
  if (m.ready_count == 0) std::rethrow_exception(m.error);
  m.held = m.ready[size_t(m.ready_head)];
  m.ready_head = (m.ready_head + 1) % int(m.ready.size());
  --m.ready_count;
  ++m.consumed;
  const Impl::Slot& s = m.slots[size_t(m.held)];
  batch.x = m.deferred ? nullptr : s.x.data();
  batch.raw = m.deferred ? s.raw.data() : nullptr;
  batch.scale = m.scale;
  batch.labels = s.y.data();
  batch.rows = s.rows;
  batch.features = m.layout.features;
  return true;
}

// The rows are shuffled samples of a dataset far larger than the caches, each a jump in memory: the
// bytes of the row two ahead are requested while this one is scaled, so that the memory's answer
// overlaps the work (one row takes about as long to scale as the memory takes to answer; the
// measurement is in the README's Performance section). Compiled for AVX-512, AVX2 and
// the baseline; the division is exact in each, so all give the same floats.
NABLA_PER_CPU void convert_rows(const Batch& batch, int64_t r0, int64_t r1, float* x) {
  constexpr int64_t kAhead = 2, kLine = 64;
  const int64_t f = batch.features;
  const float scale = batch.scale;
  for (int64_t r = r0; r < r1; ++r) {
    if (r + kAhead < r1)
      for (int64_t at = 0; at < f; at += kLine) __builtin_prefetch(batch.raw[r + kAhead] + at);
    const uint8_t* in = batch.raw[r];
    float* out = x + r * f;
    for (int64_t k = 0; k < f; ++k) out[k] = float(in[k]) / scale;  // as the loader's own conversion
  }
}

int64_t BatchLoader::samples() const { return impl_->n; }
int64_t BatchLoader::features() const { return impl_->layout.features; }
int64_t BatchLoader::batches_per_epoch() const { return impl_->batches; }
bool BatchLoader::streaming() const { return impl_->mode != Mode::memory; }

int64_t BatchLoader::buffer_bytes() const {
  const Impl& m = *impl_;
  int64_t total = bytes_of(m.x_held) + bytes_of(m.y_held) + bytes_of(m.order) + bytes_of(m.chunk_order);
  for (const Impl::Slot& s : m.slots) total += bytes_of(s.x) + bytes_of(s.y) + bytes_of(s.raw);
  if (m.source) total += m.source->buffer_bytes();
  return total;
}

}  // namespace nabla::data
