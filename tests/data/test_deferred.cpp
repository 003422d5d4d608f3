// A loader that hands out bytes (defer_conversion) gives the very floats the ordinary one does.
#include <doctest/doctest.h>

#include <vector>

#include "data/loader.hpp"

using namespace nabla;

namespace {

// The committed sample of 2,000 Fashion-MNIST training images.
DataSource fashion_train() {
  DataSource src;
  src.images = NABLA_SOURCE_DIR "/data/samples/fashion-train-2000-images-idx3-ubyte.gz";
  src.labels = NABLA_SOURCE_DIR "/data/samples/fashion-train-2000-labels-idx1-ubyte.gz";
  return src;
}

}  // namespace

TEST_CASE("deferred conversion: the same samples, in the same order, to the same floats") {
  const DataSource src = fashion_train();
  data::LoaderOptions o;
  o.batch_size = 96;
  o.seed = 5;
  data::BatchLoader plain(src, DataFormat::idx, false, o);
  o.defer_conversion = true;
  data::BatchLoader deferred(src, DataFormat::idx, false, o);
  CHECK_FALSE(deferred.streaming());
  for (int64_t epoch : {0, 1}) {
    plain.start_epoch(epoch);
    deferred.start_epoch(epoch);
    data::Batch a, b;
    int64_t batches = 0;
    std::vector<float> x(96 * 784);
    while (plain.next(a)) {
      REQUIRE(deferred.next(b));
      REQUIRE(b.x == nullptr);
      REQUIRE(b.raw != nullptr);
      REQUIRE(a.rows == b.rows);
      data::convert_rows(b, 0, b.rows / 2, x.data());  // in two parts, as two threads would
      data::convert_rows(b, b.rows / 2, b.rows, x.data());
      for (int64_t k = 0; k < a.rows * 784; ++k) REQUIRE(x[size_t(k)] == a.x[k]);
      for (int64_t r = 0; r < a.rows; ++r) CHECK(a.labels[r] == b.labels[r]);
      ++batches;
    }
    CHECK_FALSE(deferred.next(b));
    CHECK(batches == 21);  // 2000 / 96, rounded up
  }
}

TEST_CASE("deferred conversion does not apply when the loader streams") {
  const DataSource src = fashion_train();
  data::LoaderOptions o;
  o.batch_size = 32;
  o.memory_budget_bytes = 1 << 20;  // far below the 1.5 MB of samples
  o.defer_conversion = true;
  data::BatchLoader loader(src, DataFormat::idx, false, o);
  CHECK(loader.streaming());
  loader.start_epoch(0);
  data::Batch b;
  REQUIRE(loader.next(b));
  CHECK(b.x != nullptr);
  CHECK(b.raw == nullptr);
}
