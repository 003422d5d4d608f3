#include "check/gradcheck_config.hpp"

#include <algorithm>
#include <ostream>

#include "data/loader.hpp"
#include "math/blas.hpp"
#include "train/data_plan.hpp"
#include "util/error.hpp"

namespace nabla {

ConfigCheck gradcheck_config(const Config& config, const GradcheckOptions& options) {
  const DataPlan plan = plan_data(config);
  set_blas_threads(int(config.training.threads));
  ConfigCheck check;
  check.samples = std::min(options.samples, plan.train_samples);
  data::LoaderOptions lo;
  lo.begin = 0;
  lo.end = check.samples;
  lo.batch_size = check.samples;
  lo.shuffle = false;
  lo.scale = config.data.scale;
  data::BatchLoader loader(config.data.train, config.data.format, config.data.csv_header, lo);
  loader.start_epoch(0);
  data::Batch b;
  if (!loader.next(b)) throw Error(config.path, "data.train", "no samples to check on");
  const std::vector<double> x(b.x, b.x + b.rows * b.features);
  const std::vector<int32_t> labels(b.labels, b.labels + b.rows);

  Network<double> net(config.layers, plan.train.features, plan.classes, training_loss(config, plan), check.samples);
  Rng init = Rng::stream(config.training.seed, Stream::init);
  net.initialize(init);
  for (const LayerConfig& l : config.layers) check.dropout = check.dropout || l.type == LayerType::dropout;
  const Rng masks = Rng::stream(config.training.seed, Stream::dropout);  // the training run's first masks
  GradcheckOptions o = options;
  o.seed = config.training.seed;
  check.report = gradcheck(net, x, labels, o, check.dropout ? &masks : nullptr);
  return check;
}

void print_config_check(std::ostream& out, const Config& config, const ConfigCheck& check,
                        const GradcheckOptions& options) {
  out << "gradcheck " << config.path << ": " << check.samples << " training samples, double precision, "
      << (options.per_tensor > 0 ? std::to_string(options.per_tensor) + " random entries per tensor (all if fewer)"
                                 : std::string("every entry"))
      << (check.dropout ? ", dropout on with fixed masks" : "") << "\n";
  if (config.training.precision == "bf16")
    out << "(training.precision is bf16: this checks the mathematics, in double; bf16 rounds the GEMMs' "
           "operands on top of it, which the tests check against the same rounding done in double)\n";
  print_report(out, check.report, options);
}

}  // namespace nabla
