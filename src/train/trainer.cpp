#include "train/trainer.hpp"

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>

#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <unistd.h>

#include <atomic>
#include <map>
#include <optional>
#include <sstream>

#include "io/atomic_file.hpp"
#include "io/checkpoint.hpp"
#include "io/safetensors.hpp"
#include "math/bf16.hpp"
#include "math/blas.hpp"
#include "math/finite.hpp"
#include "train/optimizer.hpp"
#include "train/parallel.hpp"
#include "train/progress.hpp"
#include "train/schedule.hpp"
#include "util/error.hpp"

namespace nabla {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace {

// The JSON path of the last dense layer, for messages about the output size.
std::string output_layer_path(const Config& c) {
  for (size_t i = c.layers.size(); i-- > 0;)
    if (c.layers[i].type == LayerType::dense) return "model.layers[" + std::to_string(i) + "].units";
  return "model.layers";
}

const LayerConfig& output_layer(const Config& c) {
  for (size_t i = c.layers.size(); i-- > 0;)
    if (c.layers[i].type == LayerType::dense) return c.layers[i];
  return c.layers.back();
}

std::string source_name(const DataSource& s) { return s.csv.empty() ? s.labels : s.csv; }

data::LoaderOptions loader_options(const Config& c, int64_t begin, int64_t end, bool shuffle, uint64_t seed,
                                   int64_t budget_bytes) {
  data::LoaderOptions o;
  o.begin = begin;
  o.end = end;
  o.batch_size = c.training.batch_size;
  o.shuffle = shuffle;
  o.seed = seed;
  o.scale = c.data.scale;
  o.memory_budget_bytes = budget_bytes;
  o.prefetch = 8;  // filled in bursts of 4 (loader.cpp): few wake-ups while the cores compute
  return o;
}

// SIGINT, SIGTERM and SIGHUP (the terminal closed) while training: the first asks the loop to stop
// after the current step and write a checkpoint; a second one, later than 0.2 s, stops at once.
std::atomic<int> g_signal{0};
std::atomic<int64_t> g_signal_ns{0};  // when the first one came, 0 before (lock-free: used in the handler)

int64_t monotonic_ns() {  // async-signal-safe
  timespec t{};
  clock_gettime(CLOCK_MONOTONIC, &t);
  return int64_t(t.tv_sec) * 1000000000 + t.tv_nsec;
}

// A second signal within 0.2 s of the first is the same request twice (`timeout` and `kill` of a
// process group deliver one to the process and one to its group), not a second Ctrl-C.
// The time is claimed first, so a second signal handled on another thread at the same moment sees it.
extern "C" void on_signal(int sig) {
  const int64_t now = monotonic_ns();
  int64_t first = 0;
  if (g_signal_ns.compare_exchange_strong(first, now)) {
    g_signal = sig;
    return;
  }
  if (now - first > 200000000) _exit(128 + sig);
}

std::string signal_name(int sig) {
  return sig == SIGINT ? "SIGINT" : sig == SIGTERM ? "SIGTERM" : sig == SIGHUP ? "SIGHUP" : std::to_string(sig);
}

class SignalGuard {
 public:
  SignalGuard() {
    g_signal = 0;
    g_signal_ns = 0;
    struct sigaction sa = {};
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, &old_int_);
    sigaction(SIGTERM, &sa, &old_term_);
    // A run started under nohup ignores SIGHUP, and keeps ignoring it.
    sigaction(SIGHUP, nullptr, &old_hup_);
    if (old_hup_.sa_handler != SIG_IGN) sigaction(SIGHUP, &sa, nullptr);
  }
  ~SignalGuard() {
    sigaction(SIGINT, &old_int_, nullptr);
    sigaction(SIGTERM, &old_term_, nullptr);
    sigaction(SIGHUP, &old_hup_, nullptr);
  }
  SignalGuard(const SignalGuard&) = delete;
  SignalGuard& operator=(const SignalGuard&) = delete;

 private:
  struct sigaction old_int_ = {}, old_term_ = {}, old_hup_ = {};
};

// A JSON value as PATH -> text pairs, for comparing two configs key by key.
void flatten(const nlohmann::ordered_json& j, const std::string& path, std::map<std::string, std::string>& out) {
  if (j.is_object()) {
    for (auto it = j.begin(); it != j.end(); ++it) flatten(it.value(), path.empty() ? it.key() : path + "." + it.key(), out);
  } else if (j.is_array()) {
    for (size_t i = 0; i < j.size(); ++i) flatten(j[i], path + "[" + std::to_string(i) + "]", out);
  } else {
    out[path] = j.dump();
  }
}

// A run may be resumed with another number of epochs, learning rate, thread count, precision,
// checkpoint cadence or name; anything else (the architecture, the data, the optimiser, the batches) would make
// it another run, and is refused with the list of what differs. Returns what changed, for the user.
std::vector<std::string> check_resumable(const Config& was, const Config& now, const std::string& checkpoint) {
  std::map<std::string, std::string> a, b;
  flatten(to_json(was), "", a);
  flatten(to_json(now), "", b);
  std::vector<std::string> allowed, refused;
  auto differs = [&](const std::string& key, const std::string& from, const std::string& to) {
    const bool ok = key == "name" || key == "training.epochs" || key == "optimizer.learning_rate" ||
                    key == "training.threads" || key == "training.precision" || key.rfind("checkpoint.", 0) == 0;
    (ok ? allowed : refused).push_back(key + ": " + from + " -> " + to);
  };
  for (const auto& [key, value] : a) {
    const auto it = b.find(key);
    if (it == b.end()) differs(key, value, "(absent)");
    else if (it->second != value) differs(key, value, it->second);
  }
  for (const auto& [key, value] : b)
    if (!a.count(key)) differs(key, "(absent)", value);
  if (!refused.empty()) {
    std::string list;
    for (const std::string& r : refused) list += (list.empty() ? "" : "; ") + r;
    throw Error(now.path, "", "cannot resume " + checkpoint + ": the config differs from the checkpoint's in " + list +
                                  " (only name, training.epochs, optimizer.learning_rate, training.threads, "
                                  "training.precision and the checkpoint section may change)");
  }
  return allowed;
}

// metrics.jsonl keeps the rows of epochs up to `epoch` (from `source` when the run moves to a new
// folder), so that a resumed run continues it without duplicated rows.
void keep_metrics_until(const fs::path& file, const fs::path& source, int64_t epoch) {
  std::ifstream in(fs::exists(file) ? file : source);
  std::string kept, line;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    const auto row = nlohmann::json::parse(line, nullptr, false);
    if (!row.is_discarded() && row.contains("epoch") && row["epoch"].is_number_integer() &&
        row["epoch"].get<int64_t>() <= epoch)
      kept += line + "\n";
  }
  io::write_atomically(file.string(), kept);
}

std::string epoch_file(int64_t epoch) {
  char b[40];
  std::snprintf(b, sizeof b, "epoch-%04lld.safetensors", (long long)epoch);
  return b;
}

// Whether a checkpoints folder holds a state saved after `step` (of a run at `epoch` epochs done):
// an epoch file of a later epoch, or a last or best checkpoint of a later step. A checkpoint that
// cannot be read tells nothing and is passed over. `newest` is the latest epoch found.
bool holds_later_state(const fs::path& dir, int64_t epoch, int64_t step, int64_t& newest) {
  bool later = false;
  newest = epoch;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    const std::string name = e.path().filename().string();
    if (const int64_t n = epoch_of_file(name); n > epoch) later = true, newest = std::max(newest, n);
    if (name != "last.safetensors" && name != "best.safetensors") continue;
    try {
      const auto m = io::read_safetensors(e.path().string()).metadata;
      if (std::stoll(m.at("step")) > step) later = true, newest = std::max(newest, int64_t(std::stoll(m.at("epoch"))));
    } catch (const std::exception&) {
    }
  }
  return later;
}

// Whether two paths name the same folder (either may not exist yet).
bool same_folder(const fs::path& a, const fs::path& b) {
  std::error_code ea, eb;
  const fs::path ca = fs::weakly_canonical(a, ea), cb = fs::weakly_canonical(b, eb);
  return !ea && !eb && ca == cb;
}

std::string format(const char* fmt, double x) {
  char b[64];
  std::snprintf(b, sizeof b, fmt, x);
  return b;
}

std::string percent(double x) {
  char b[32];
  std::snprintf(b, sizeof b, "%.2f%%", 100 * x);
  return b;
}

}  // namespace

std::string run_dir_of(const std::string& checkpoint) {
  const fs::path folder = fs::path(checkpoint).parent_path();
  if (folder.filename() == "checkpoints") return folder.parent_path().empty() ? "." : folder.parent_path().string();
  return folder.empty() ? "." : folder.string();
}

int64_t epoch_of_file(const std::string& name) {
  const std::string head = "epoch-", tail = ".safetensors";
  if (name.size() <= head.size() + tail.size() || name.rfind(head, 0) != 0 ||
      name.compare(name.size() - tail.size(), tail.size(), tail) != 0)
    return -1;
  int64_t epoch = 0;
  const char* first = name.data() + head.size();
  const char* last = name.data() + name.size() - tail.size();
  const auto [end, ec] = std::from_chars(first, last, epoch);
  return ec == std::errc() && end == last ? epoch : -1;
}

void prune_epoch_files(const fs::path& dir, int64_t keep) {
  if (keep <= 0) return;
  std::vector<std::pair<int64_t, fs::path>> files;
  for (const auto& e : fs::directory_iterator(dir))
    if (const int64_t epoch = epoch_of_file(e.path().filename().string()); epoch >= 1) files.emplace_back(epoch, e.path());
  std::sort(files.begin(), files.end());
  for (size_t i = 0; i + size_t(keep) < files.size(); ++i) fs::remove(files[i].second);
}

DataPlan plan_data(const Config& c) {
  DataPlan p;
  p.train = data::inspect(c.data.train, c.data.format, c.data.csv_header);
  p.classes = c.data.classes > 0 ? c.data.classes : p.train.classes;
  const std::string& file = c.path;
  if (p.train.count == 0) throw Error(file, "data.train", source_name(c.data.train) + " holds no samples");
  if (c.data.classes > 0 && p.train.classes > c.data.classes)
    throw Error(file, "data.classes",
                "is " + std::to_string(c.data.classes) + " but " + source_name(c.data.train) + " has label " +
                    std::to_string(p.train.classes - 1));
  if (c.data.validation >= p.train.count)
    throw Error(file, "data.validation",
                "expected fewer than the " + std::to_string(p.train.count) + " training samples in " +
                    source_name(c.data.train) + ", got " + std::to_string(c.data.validation));
  p.train_samples = p.train.count - c.data.validation;
  if (p.classes < 2)
    throw Error(file, "data.train",
                source_name(c.data.train) + " has only label 0: a classifier needs at least 2 classes");
  if (c.data.test.present()) {
    p.has_test = true;
    p.test = data::inspect(c.data.test, c.data.format, c.data.csv_header);
    if (p.test.count == 0) throw Error(file, "data.test", source_name(c.data.test) + " holds no samples");
    if (p.test.features != p.train.features)
      throw Error(file, "data.test",
                  source_name(c.data.test) + " has " + std::to_string(p.test.features) + " features a sample, the "
                  "training data " + std::to_string(p.train.features));
    if (p.test.classes > p.classes)
      throw Error(file, "data.test",
                  source_name(c.data.test) + " has label " + std::to_string(p.test.classes - 1) +
                      " but the training data has only " + std::to_string(p.classes) + " classes");
  }
  const LayerConfig& out = output_layer(c);
  const bool binary_unit = out.units == 1 && p.classes == 2 && out.activation != Activation::softmax;
  if (out.units != 0 && out.units != p.classes && !binary_unit)
    throw Error(file, output_layer_path(c),
                "the output layer has " + std::to_string(out.units) + " units but the data has " +
                    std::to_string(p.classes) + " classes (labels 0.." + std::to_string(p.classes - 1) + " in " +
                    source_name(c.data.train) + ")");

  // What the network will take, before anything is allocated: the parameters, their gradients, the
  // optimiser's moments and a checkpoint's copies of them, and per batch row the activations, the
  // δ and the dropout masks of every layer. Far over the machine's memory is a config error, said
  // here (and by --dry-run), not an allocation that fails later.
  double params = 0, units = 0, in = double(p.train.features);
  for (const LayerConfig& l : c.layers) {
    if (l.type != LayerType::dense) continue;
    const double out_units = l.units > 0 ? double(l.units) : double(p.classes);
    params += in * out_units + out_units;
    units += out_units;
    in = out_units;
  }
  const double moments = c.optimizer.type == OptimizerKind::sgd ? (c.optimizer.momentum > 0 ? 1 : 0) : 2;
  const double batch = double(std::min(c.training.batch_size, p.train.count));
  const double need = 4 * params * (3 + 2 * moments) + 4 * batch * (units + double(p.train.features)) * 5;
  const double memory = double(sysconf(_SC_PHYS_PAGES)) * double(sysconf(_SC_PAGESIZE));
  if (memory > 0 && need > memory)
    throw Error(file, "model.layers",
                format("the network needs about %.3g GB", need / 1e9) + " (" + format("%.4g", params) +
                    " parameters, their gradients, optimiser state and checkpoint copies, and a batch's activations), " +
                    format("more than this machine's %.3g GB of memory", memory / 1e9));
  return p;
}

Evaluation evaluate(Network<float>& net, data::BatchLoader& loader, int64_t classes) {
  Evaluation e;
  e.confusion.assign(size_t(classes * classes), 0);
  double loss_sum = 0;
  int64_t correct = 0;
  const int64_t outputs = net.outputs();
  loader.start_epoch(0);
  data::Batch b;
  while (loader.next(b)) {
    const float* a = net.forward(b.x, b.rows);
    const LossResult r = net.loss(b.labels, false);
    loss_sum += r.loss * double(b.rows);
    correct += r.correct;
    e.samples += b.rows;
    for (int64_t i = 0; i < b.rows; ++i) {
      const float* row = a + i * outputs;
      const int64_t predicted =
          outputs == 1 ? (row[0] > 0.5f ? 1 : 0) : int64_t(std::max_element(row, row + outputs) - row);
      ++e.confusion[size_t(b.labels[i] * classes + predicted)];
    }
  }
  if (e.samples > 0) {
    e.loss = loss_sum / double(e.samples);
    e.accuracy = double(correct) / double(e.samples);
  }
  return e;
}

void check_precision(const Config& c) {
  if (c.training.precision == "bf16")
    if (const std::string why = bf16_unavailable(); !why.empty())
      throw Error(c.path, "training.precision", "bf16 is not available: " + why + " (use \"fp32\")");
}

// Holds an exclusive lock on a run folder's .lock file while it lives: one run at a time in a
// folder (a resume started twice would interleave two runs' rows and checkpoints). The lock goes
// with the process, however it ends.
class FolderLock {
 public:
  explicit FolderLock(const fs::path& folder) {
    fd_ = ::open((folder / ".lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd_ < 0) throw Error(folder.string(), "", std::string("cannot create its .lock file: ") + std::strerror(errno));
    if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
      const int why = errno;
      ::close(fd_);
      if (why == EWOULDBLOCK) throw Error(folder.string(), "", "is in use by another nabla run (it holds the folder's .lock)");
      throw Error(folder.string(), "", std::string("cannot lock its .lock file: ") + std::strerror(why));
    }
  }
  ~FolderLock() { ::close(fd_); }
  FolderLock(const FolderLock&) = delete;
  FolderLock& operator=(const FolderLock&) = delete;

 private:
  int fd_ = -1;
};

TrainResult train(const Config& c, const TrainOptions& options) {
  const auto started = Clock::now();
  // From here a signal asks the run to stop at the next safe point (before the first step, or
  // after a step), never leaving half a run folder.
  SignalGuard signals;
  const DataPlan plan = plan_data(c);
  check_precision(c);
  // The threads split each step between them (parallel.hpp); every GEMM runs on one thread.
  set_blas_threads(1);
  TrainResult result;

  // A checkpoint to continue from must describe this very run.
  std::optional<io::Checkpoint> from;
  if (!options.resume.empty()) {
    from = io::load_checkpoint(options.resume);
    for (const std::string& change : check_resumable(from->config, c, options.resume))
      result.notes.push_back("changed on resume: " + change);
    if (from->state.epoch >= c.training.epochs)
      throw Error(options.resume, "",
                  "is at epoch " + std::to_string(from->state.epoch) + " and training.epochs is " +
                      std::to_string(c.training.epochs) + ": nothing to train (raise it with --epochs)");
  }

  // The run folder: a run never writes over another one. A resumed run continues in its own folder
  // (when no later checkpoint is there: it would be left beside the new ones) or in a new one.
  const fs::path out(options.out_dir);
  const fs::path ckpt_dir = out / "checkpoints";
  std::error_code ec;
  const bool in_place = from && same_folder(out, run_dir_of(options.resume));
  if (!in_place && fs::exists(out / "metrics.jsonl", ec))
    throw Error(out.string(), "", "already holds a run (metrics.jsonl): choose another --out or remove it");
  if (!in_place && fs::is_directory(out, ec) && !fs::is_empty(out, ec))
    throw Error(out.string(), "", std::string("is not empty: a ") + (from ? "resumed run moved to another folder" : "new run") +
                                      " needs a new or empty folder (--out)");
  const bool created = !fs::exists(out, ec);
  fs::create_directories(ckpt_dir, ec);
  if (ec) throw Error(out.string(), "", "cannot create the run folder: " + ec.message());
  const FolderLock lock(out);
  int64_t newest = 0;
  if (in_place && holds_later_state(ckpt_dir, from->state.epoch, from->state.step, newest))
    throw Error(options.resume, "",
                "holds step " + std::to_string(from->state.step) + " (epoch " + std::to_string(from->state.epoch) +
                    ") of a run that went on " + (newest > from->state.epoch ? "to epoch " + std::to_string(newest) : "past it") +
                    ": resume it into a new folder (--out) so that the later checkpoints are kept");

  // One seed, separate streams: initialisation, shuffling, dropout.
  Rng init_rng = Rng::stream(c.training.seed, 0);
  const uint64_t shuffle_seed = Rng::stream(c.training.seed, 1).next();
  Rng dropout_rng = Rng::stream(c.training.seed, 2);

  // The memory budget is shared between the splits in proportion to their size.
  const double budget = double(c.data.memory_budget_mb) * double(1 << 20);
  const double all = double(plan.train.count + (plan.has_test ? plan.test.count : 0));
  auto share = [&](int64_t n) { return std::max<int64_t>(int64_t(std::min(budget * double(n) / all, 0x1p62)), 1 << 20); };
  const DataSource& src = c.data.train;
  data::LoaderOptions train_options =
      loader_options(c, 0, plan.train_samples, c.training.shuffle, shuffle_seed, share(plan.train_samples));
  // With several training threads they scale their own rows (parallel.hpp): on two cores, the
  // loader's thread would take time from them. With one, the loader's thread uses the idle core.
  train_options.defer_conversion = c.training.threads > 1;
  data::BatchLoader train_loader(src, c.data.format, c.data.csv_header, train_options);
  std::unique_ptr<data::BatchLoader> val_loader, test_loader;
  if (c.data.validation > 0)
    val_loader = std::make_unique<data::BatchLoader>(
        src, c.data.format, c.data.csv_header,
        loader_options(c, plan.train_samples, plan.train.count, false, 0, share(c.data.validation)));
  if (plan.has_test)
    test_loader = std::make_unique<data::BatchLoader>(c.data.test, c.data.format, c.data.csv_header,
                                                      loader_options(c, 0, -1, false, 0, share(plan.test.count)));

  // Workspaces for the largest batch any loader hands out.
  const int64_t largest_split = std::max({plan.train_samples, c.data.validation, plan.has_test ? plan.test.count : 0});
  Network<float> net(c.layers, plan.train.features, plan.classes, c.loss,
                     std::min(c.training.batch_size, largest_split));
  Optimizer optimizer(c.optimizer, net.params().size());
  DataParallel parallel(net, int(c.training.threads));
  const EarlyStoppingConfig& es = c.training.early_stopping;
  const bool higher_is_better = es.metric != "val_loss";

  // A signal while loading stops the run before it writes anything but the folder and its lock: a
  // run in a new folder takes them away again (the folder only when it made it); a resumed run in
  // its own folder is as it was.
  if (g_signal) {
    if (!in_place) {
      for (const char* name : {"checkpoints", ".lock"}) fs::remove_all(out / name, ec);
      if (created) fs::remove(out, ec);
    }
    throw Interrupted("stopped by " + signal_name(g_signal) + " before the first step: " +
                          (in_place ? "the run is as it was" : "nothing was written to " + out.string()),
                      g_signal.load());
  }
  io::write_atomically((out / "config.json").string(), to_json(c).dump(2) + "\n");

  io::RunState st;
  st.best_metric = higher_is_better ? -1.0 : INFINITY;
  if (from) {
    if (from->params.size() != net.params().size())
      throw Error(options.resume, "",
                  "the checkpoint's network has " + std::to_string(from->params.size()) + " parameters, the data " +
                      "makes this config's " + std::to_string(net.params().size()) +
                      " (another input size or class count)");
    net.params() = from->params;
    optimizer.state() = from->optimizer_state;
    optimizer.set_steps(from->state.optimizer_steps);
    st = from->state;
    dropout_rng.set_state(st.rng_dropout);
    keep_metrics_until(out / "metrics.jsonl", fs::path(run_dir_of(options.resume)) / "metrics.jsonl", st.epoch);
  } else {
    net.initialize(init_rng);
    st.rng_dropout = dropout_rng.state();
    io::save_checkpoint((ckpt_dir / epoch_file(0)).string(), c, net, optimizer.state(), st);
  }
  if (c.training.precision == "bf16") net.use_bf16();  // after the weights are set: it rounds them
  const fs::path last = ckpt_dir / "last.safetensors";
  // The file that holds the newest state saved (or resumed from), for the messages that stop a run.
  fs::path good = from ? fs::path(options.resume) : ckpt_dir / epoch_file(0);
  auto save = [&](const fs::path& path) {
    st.rng_dropout = dropout_rng.state();
    st.optimizer_steps = optimizer.steps();
    io::save_checkpoint(path.string(), c, net, optimizer.state(), st);
    if (path == last) good = last;
  };

  const int64_t steps_per_epoch = train_loader.batches_per_epoch();
  // A checkpoint's position must be one this data's epochs can reach: the same data files, rewritten
  // with another sample count, would otherwise resume at a place that does not exist.
  if (from && (st.batch > steps_per_epoch || st.step != st.epoch * steps_per_epoch + st.batch ||
               st.epoch_correct > st.epoch_seen))
    throw Error(options.resume, "",
                "its position (epoch " + std::to_string(st.epoch) + ", batch " + std::to_string(st.batch) + ", step " +
                    std::to_string(st.step) + ") does not fit the data's " + std::to_string(steps_per_epoch) +
                    " batches an epoch (were the data files changed?)");
  // A cosine curve spans training.epochs: another count re-spaces it from the resumed step on.
  if (from && c.schedule.type == ScheduleKind::cosine && from->config.training.epochs != c.training.epochs) {
    const double was = learning_rate(c.schedule, c.optimizer.learning_rate, st.step, steps_per_epoch,
                                     from->config.training.epochs);
    const double now = learning_rate(c.schedule, c.optimizer.learning_rate, st.step, steps_per_epoch, c.training.epochs);
    result.notes.push_back("the cosine schedule now spans " + std::to_string(c.training.epochs) +
                           " epochs: the learning rate at step " + std::to_string(st.step + 1) + " is " +
                           format("%.4g", now) + " (" + format("%.4g", was) + " over " +
                           std::to_string(from->config.training.epochs) + ")");
  }
  ProgressDisplay progress(options.progress, c.training.epochs, steps_per_epoch);
  std::ofstream metrics(out / "metrics.jsonl", std::ios::app);
  result.epochs_run = st.epoch;
  result.best_epoch = st.best_epoch;
  result.best_metric = st.best_metric;

  // Time spent outside the training steps, reported in summary.json.
  const double load_seconds = std::chrono::duration<double>(Clock::now() - started).count();
  double eval_seconds = 0;
  for (int64_t epoch = st.epoch + 1; epoch <= c.training.epochs; ++epoch) {
    progress.start_epoch(epoch);
    train_loader.start_epoch(epoch - 1);
    data::Batch b;
    for (int64_t k = 0; k < st.batch; ++k) train_loader.next(b);  // a mid-epoch resume: these are done
    if (st.batch == 0) st.epoch_loss_sum = 0, st.epoch_correct = 0, st.epoch_seen = 0, st.epoch_seconds = 0;
    auto t0 = Clock::now();
    // The error that stops a diverging run: where it stopped, what happened, what is safe on disk.
    auto diverged = [&](const std::string& what) {
      return Diverged(out.string(), "",
                      "training diverged at step " + std::to_string(st.step + 1) + " (epoch " + std::to_string(epoch) +
                          ", batch " + std::to_string(st.batch + 1) + "): " + what + ", and " + good.string() +
                          " holds the last good state; lower optimizer.learning_rate");
    };
    while (train_loader.next(b)) {
      st.lr = learning_rate(c.schedule, c.optimizer.learning_rate, st.step, steps_per_epoch, c.training.epochs);
      const StepResult r = parallel.compute(b, dropout_rng.next());
      if (!r.finite) {  // stop before the update: nothing good is touched
        const std::string where = parallel.first_nonfinite();
        throw diverged((std::isfinite(r.loss) ? "a gradient is not finite" : "the loss is " + format("%g", r.loss)) +
                       (where.empty() ? "" : ", first in " + where) + "; no update was applied");
      }
      if (!parallel.update(optimizer, st.lr)) {  // finite gradients, but a step too large for a float
        std::string where = "the optimiser's moments";
        for (const TensorInfo& t : net.tensors())
          if (!all_finite(net.params().data() + t.offset, t.size())) {
            where = t.name;
            break;
          }
        throw diverged("the update made " + where + " non-finite; nothing was written");
      }
      ++st.step;
      ++st.batch;
      st.epoch_loss_sum += r.loss * double(b.rows);
      st.epoch_correct += r.correct;
      st.epoch_seen += b.rows;
      if (g_signal) {  // finish this step, keep it, go
        st.epoch_seconds += std::chrono::duration<double>(Clock::now() - t0).count();
        st.epoch = epoch - 1;
        save(last);
        progress.end_epoch("");
        throw Interrupted("stopped by " + signal_name(g_signal) + " at step " + std::to_string(st.step) +
                              " (epoch " + std::to_string(epoch) + ", batch " + std::to_string(st.batch) +
                              "); resume with --resume " + last.string(),
                          g_signal.load());
      }
      if (options.progress == Progress::bar) {
        const double elapsed = st.epoch_seconds + std::chrono::duration<double>(Clock::now() - t0).count();
        progress.batch(st.batch, st.epoch_loss_sum / double(st.epoch_seen),
                       double(st.epoch_correct) / double(st.epoch_seen), double(st.epoch_seen) / std::max(elapsed, 1e-9),
                       st.lr);
      }
    }
    const double seconds = st.epoch_seconds + std::chrono::duration<double>(Clock::now() - t0).count();
    const double seen = double(st.epoch_seen);
    st.epoch = epoch;
    st.batch = 0;

    nlohmann::ordered_json row;
    row["epoch"] = epoch;
    row["step"] = st.step;
    row["lr"] = st.lr;
    row["train_loss"] = st.epoch_loss_sum / seen;
    row["train_accuracy"] = double(st.epoch_correct) / seen;
    std::string line = "epoch " + std::to_string(epoch) + "/" + std::to_string(c.training.epochs) + "  train loss " +
                       format("%.4f", st.epoch_loss_sum / seen) + " acc " + percent(double(st.epoch_correct) / seen);
    double metric = 0;
    const auto eval_start = Clock::now();
    if (val_loader) {
      const Evaluation v = evaluate(net, *val_loader, plan.classes);
      row["val_loss"] = v.loss;
      row["val_accuracy"] = v.accuracy;
      line += "  val loss " + format("%.4f", v.loss) + " acc " + percent(v.accuracy);
      metric = higher_is_better ? v.accuracy : v.loss;
    }
    if (test_loader) {
      const Evaluation t = evaluate(net, *test_loader, plan.classes);
      row["test_loss"] = t.loss;
      row["test_accuracy"] = t.accuracy;
      line += "  test loss " + format("%.4f", t.loss) + " acc " + percent(t.accuracy);
    }
    eval_seconds += std::chrono::duration<double>(Clock::now() - eval_start).count();
    row["seconds"] = seconds;
    row["samples_per_second"] = seen / seconds;
    line += "  " + format("%.2f s", seconds) + "  " + format("%.0f samples/s", seen / seconds) + "  lr " +
            format("%.3g", st.lr);

    // The best epoch by the validation metric (the last one when there is no validation split).
    bool improved = !val_loader;
    if (val_loader) {
      improved = higher_is_better ? metric > st.best_metric + es.min_delta : metric < st.best_metric - es.min_delta;
      if (improved) st.best_metric = metric, st.best_epoch = epoch, st.since_best = 0;
      else ++st.since_best;
    } else {
      st.best_epoch = epoch;
    }
    // The metrics row first, then the checkpoints: a run stopped between them resumes from the
    // epoch before, which drops this row (keep_metrics_until), so no row is ever missing.
    metrics << row.dump() << "\n" << std::flush;
    if (!metrics) throw Error((out / "metrics.jsonl").string(), "", "cannot write (is the disk full?)");
    save(last);
    if (improved) save(ckpt_dir / "best.safetensors");
    if (c.checkpoint.every > 0 && epoch % c.checkpoint.every == 0) {
      save(ckpt_dir / epoch_file(epoch));
      prune_epoch_files(ckpt_dir, c.checkpoint.keep);
    }
    progress.end_epoch(line);
    result.epochs_run = epoch;
    result.best_epoch = st.best_epoch;
    result.best_metric = st.best_metric;

    if (g_signal)
      throw Interrupted("stopped by " + signal_name(g_signal) + " after epoch " +
                            std::to_string(epoch) + "; resume with --resume " + last.string(),
                        g_signal.load());
    if (val_loader && es.enabled && st.since_best >= es.patience) {
      result.stopped_early = true;
      progress.message("early stopping: " + es.metric + " has not improved for " + std::to_string(es.patience) +
                       " epochs (best " + format("%.6g", st.best_metric) + " at epoch " +
                       std::to_string(st.best_epoch) + ")");
      break;
    }
  }

  nlohmann::ordered_json summary;
  summary["name"] = c.name;
  summary["epochs_run"] = result.epochs_run;
  summary["steps"] = st.step;
  summary["stopped_early"] = result.stopped_early;
  summary["best_epoch"] = st.best_epoch;
  if (val_loader) summary["best_" + es.metric] = st.best_metric;
  summary["best_checkpoint"] = (ckpt_dir / "best.safetensors").string();
  summary["parameters"] = net.params().size();
  summary["threads"] = c.training.threads;
  summary["precision"] = c.training.precision;
  summary["load_seconds"] = load_seconds;  // data headers, loaders, network, the initial checkpoint
  summary["eval_seconds"] = eval_seconds;  // validation and test passes, all epochs
  io::write_atomically((out / "summary.json").string(), summary.dump(2) + "\n");
  return result;
}

}  // namespace nabla
