// A training step allocates nothing: every buffer of the loader, the threaded step and the
// optimiser is sized once, before the first step. This executable replaces the global operator new
// (every C++ allocation, std::vector's and std::string's included, goes through it) with one that
// counts, and counts over a whole second epoch, as the trainer runs it: the loader's next batch,
// the threaded forward and backward, the optimiser's update.
#include <doctest/doctest.h>

#include <atomic>
#include <cstdlib>
#include <new>
#include <vector>

#include "data/loader.hpp"
#include "layers.hpp"
#include "math/rng.hpp"
#include "train/optimizer.hpp"
#include "train/parallel.hpp"

namespace {
std::atomic<bool> counting{false};
std::atomic<int64_t> allocations{0};
}  // namespace

void* operator new(size_t n) {
  if (counting.load(std::memory_order_relaxed)) allocations.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(n ? n : 1)) return p;
  throw std::bad_alloc();
}
void* operator new[](size_t n) { return ::operator new(n); }
void* operator new(size_t n, std::align_val_t a) {
  if (counting.load(std::memory_order_relaxed)) allocations.fetch_add(1, std::memory_order_relaxed);
  const size_t align = size_t(a);
  if (void* p = std::aligned_alloc(align, (n + align - 1) / align * align)) return p;
  throw std::bad_alloc();
}
void* operator new[](size_t n, std::align_val_t a) { return ::operator new(n, a); }
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, size_t) noexcept { std::free(p); }
void operator delete[](void* p, size_t) noexcept { std::free(p); }
void operator delete(void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete(void* p, size_t, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void* p, size_t, std::align_val_t) noexcept { std::free(p); }

using namespace nabla;
using test_layers::dense;
using test_layers::dropout;

TEST_CASE("an epoch of training steps allocates nothing, on 1 and 2 threads, held in memory and streamed") {
  DataSource src;
  src.images = NABLA_SOURCE_DIR "/data/samples/fashion-train-2000-images-idx3-ubyte.gz";
  src.labels = NABLA_SOURCE_DIR "/data/samples/fashion-train-2000-labels-idx1-ubyte.gz";
  const std::vector<LayerConfig> plain = {dense(64, Activation::relu), dropout(0.2), dense(32, Activation::tanh),
                                          dense(10, Activation::softmax)};
  // batch_norm (its phases by units, its running statistics), layer_norm, the activations that keep
  // z, a shaped loss and both clippings (the clipped update's two passes).
  LayerConfig bn = dense(64, Activation::gelu), ln = dense(32, Activation::silu);
  bn.norm = Norm::batch_norm;
  ln.norm = Norm::layer_norm;
  const std::vector<LayerConfig> normed = {bn, dropout(0.2), ln, dense(10, Activation::softmax)};
  LossSpec shaped;
  shaped.label_smoothing = 0.1;
  shaped.class_weights = {1, 2, 1, 1, 0.5, 1, 1, 3, 1, 1};
  for (const bool extras : {false, true})
    for (int threads : {1, 2})
      for (int64_t budget_mb : {512, 1}) {  // 1 MB: the gzip file is streamed, batch by batch
        CAPTURE(extras);
        CAPTURE(threads);
        CAPTURE(budget_mb);
        const std::vector<LayerConfig>& layers = extras ? normed : plain;
        data::LoaderOptions o;
        o.batch_size = 32;
        o.seed = 3;
        o.memory_budget_bytes = budget_mb << 20;
        o.defer_conversion = threads > 1;  // as the trainer asks
        data::BatchLoader loader(src, DataFormat::idx, false, o);
        Network<float> net(layers, 784, 10, extras ? shaped : LossSpec(LossKind::cross_entropy), 32);
        Rng init(1);
        net.initialize(init);
        DataParallel parallel(net, threads, extras ? GradientClip{0.05, 1.0} : GradientClip{});
        OptimizerConfig oc;
        oc.type = OptimizerKind::adam;
        oc.learning_rate = 0.001;
        Optimizer optimizer(oc, net.params().size());
        Rng dropout_rng(2);
        int64_t steps = 0;
        auto epoch = [&](int64_t e) {
          loader.start_epoch(e);
          data::Batch b;
          while (loader.next(b)) {
            const StepResult r = parallel.compute(b, dropout_rng.next());
            REQUIRE(r.finite);
            double norm = 0;
            REQUIRE(parallel.update(optimizer, 0.001, steps % 2 ? &norm : nullptr));  // with the norm too
            ++steps;
          }
        };
        epoch(0);  // the first epoch may size what it needs
        allocations = 0;
        counting = true;
        { const std::vector<float> one(100); }  // the counter counts: this is one
        counting = false;
        REQUIRE(allocations.load() == 1);
        steps = 0;
        allocations = 0;
        counting = true;
        epoch(1);
        counting = false;
        CHECK(steps == 63);  // 2000 samples in batches of 32
        CHECK(allocations.load() == 0);
      }
}
