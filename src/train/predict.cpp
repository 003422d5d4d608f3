#include "train/predict.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "math/blas.hpp"
#include "train/parallel.hpp"
#include "util/error.hpp"

namespace nabla {

Predictor::Predictor(const io::Checkpoint& ck, int threads, int64_t batch)
    : checkpoint_(ck),
      batch_(batch > 0 ? batch : ck.config.training.batch_size),
      net_(ck.config.layers, ck.inputs, ck.outputs, ck.config.loss.type, batch_),
      team_(threads > 0 ? threads : int(ck.config.training.threads)),
      x_(size_t(batch_ * ck.inputs)) {
  net_.params() = ck.params;
  set_blas_threads(1);  // as eval and the trainer's evaluation run, so that the outputs are theirs
  check_blas_room(team_.size());
}

std::unique_ptr<data::Inputs> Predictor::open(const std::string& input, bool csv_header) const {
  return data::Inputs::open(input, checkpoint_.inputs, checkpoint_.config.data.scale, csv_header);
}

int64_t Predictor::run(data::Inputs& in, const std::function<void(int64_t, const float*)>& each) {
  const int64_t n = outputs();
  int64_t done = 0;
  for (int64_t rows; (rows = in.read(batch_, x_.data())) > 0; done += rows) {
    const float* a = forward_rows_on(team_, net_, x_.data(), rows);
    for (int64_t i = 0; i < rows; ++i) each(done + i, a + i * n);
  }
  if (done == 0) throw Error(in.path(), "", "holds no samples");
  return done;
}

std::vector<float> class_probabilities(const float* outputs, int64_t count) {
  if (count == 1) return {1 - outputs[0], outputs[0]};
  return std::vector<float>(outputs, outputs + count);
}

std::vector<int64_t> top_classes(const std::vector<float>& p, int64_t k) {
  std::vector<int64_t> order(p.size());
  std::iota(order.begin(), order.end(), int64_t(0));
  k = std::min<int64_t>(k, int64_t(order.size()));
  // NaN (a diverged network's output) ranks last, so that the order is a true one.
  auto rank = [&](int64_t c) { return std::isnan(p[size_t(c)]) ? -INFINITY : p[size_t(c)]; };
  std::partial_sort(order.begin(), order.begin() + k, order.end(),
                    [&](int64_t a, int64_t b) { return rank(a) > rank(b) || (rank(a) == rank(b) && a < b); });
  order.resize(size_t(k));
  return order;
}

}  // namespace nabla
