#include "train/run_folder.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <set>
#include <vector>

#include "config/json.hpp"
#include "io/atomic_file.hpp"
#include "io/safetensors.hpp"
#include "train/manifest.hpp"
#include "util/error.hpp"

namespace nabla {

namespace fs = std::filesystem;

namespace {

// Whether two paths name the same folder (either may not exist yet).
bool same_folder(const fs::path& a, const fs::path& b) {
  std::error_code ea, eb;
  const fs::path ca = fs::weakly_canonical(a, ea), cb = fs::weakly_canonical(b, eb);
  return !ea && !eb && ca == cb;
}

// Whether a checkpoints folder holds a state saved after `step` (of a run at `epoch` epochs done):
// an epoch file of a later epoch, or a last or best checkpoint of a later step. A checkpoint that
// cannot be read tells nothing and is passed over. `newest` is the latest epoch found.
bool holds_later_state(const fs::path& dir, int64_t epoch, int64_t step, int64_t& newest) {
  bool later = false;
  newest = epoch;
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    const fs::directory_entry& e = *it;
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

// The rows as CSV: a header of every key in the order first seen, then a line a row, a key a row
// lacks (test_loss without a test split) left empty. Numbers as JSON writes them (round-trip exact).
std::string csv_of(const std::vector<nlohmann::ordered_json>& rows) {
  std::vector<std::string> columns;
  for (const auto& row : rows)
    for (const auto& [key, value] : row.items())
      if (std::find(columns.begin(), columns.end(), key) == columns.end()) columns.push_back(key);
  std::string csv;
  for (size_t i = 0; i < columns.size(); ++i) csv += (i ? "," : "") + columns[i];
  csv += "\n";
  for (const auto& row : rows) {
    for (size_t i = 0; i < columns.size(); ++i) {
      if (i) csv += ',';
      if (row.contains(columns[i]) && !row[columns[i]].is_null()) csv += row[columns[i]].dump();
    }
    csv += "\n";
  }
  return csv;
}

// Rewrites `file` with the rows of `file`, or of `source` when the run moved from there, whose
// integer `key` is at most `limit`, each line as it was; returns how many it kept.
int64_t keep_rows_until(const fs::path& file, const fs::path& source, const char* key, int64_t limit) {
  std::ifstream in(fs::exists(file) ? file : source);
  std::string kept;
  int64_t rows = 0;
  for (std::string line; std::getline(in, line);) {
    const auto row = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (row.is_object() && row.contains(key) && row[key].is_number_integer() && row[key].get<int64_t>() <= limit)
      kept += line + "\n", ++rows;
  }
  io::write_atomically(file.string(), kept);
  return rows;
}

}  // namespace

std::vector<nlohmann::ordered_json> read_rows(const fs::path& file) {
  std::vector<nlohmann::ordered_json> rows;
  std::ifstream in(file);
  for (std::string line; std::getline(in, line);) {
    auto row = nlohmann::ordered_json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (!row.is_discarded() && row.is_object()) rows.push_back(std::move(row));
  }
  return rows;
}

// An exclusive lock on the folder's .lock file while it lives: one run at a time in a folder (a
// resume started twice would interleave two runs' rows and checkpoints). The lock goes with the
// process, however it ends.
class RunFolder::Lock {
 public:
  explicit Lock(const fs::path& folder) {
    fd_ = ::open((folder / ".lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd_ < 0) throw Error(folder.string(), "", std::string("cannot create its .lock file: ") + std::strerror(errno));
    if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
      const int why = errno;
      ::close(fd_);
      if (why == EWOULDBLOCK)
        throw Error(folder.string(), "", "is in use by another nabla run (it holds the folder's .lock)");
      throw Error(folder.string(), "", std::string("cannot lock its .lock file: ") + std::strerror(why));
    }
  }
  ~Lock() { ::close(fd_); }
  Lock(const Lock&) = delete;
  Lock& operator=(const Lock&) = delete;

 private:
  int fd_ = -1;
};

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
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec))
    if (const int64_t epoch = epoch_of_file(it->path().filename().string()); epoch >= 1)
      files.emplace_back(epoch, it->path());
  if (ec) throw Error(dir.string(), "", "cannot list the checkpoints to prune: " + ec.message());
  std::sort(files.begin(), files.end());
  for (size_t i = 0; i + size_t(keep) < files.size(); ++i)
    if (!fs::remove(files[i].second, ec) && ec)
      throw Error(files[i].second.string(), "", "cannot remove an old checkpoint: " + ec.message());
}

namespace {

// Whether `folder` holds only what a new run writes before its first epoch ends, by its names (the
// config, the manifest, the curves, metrics and steps without a row, the initial checkpoint, the
// temporary files of a write cut short): what a run killed while loading or in its first epoch
// (SIGKILL, a power cut) left. Nothing in it is worth keeping: the same command makes it again.
bool left_before_first_epoch(const fs::path& folder) {
  static const std::set<std::string> top = {".lock",         "config.json", "run.json",    "curves.svg",
                                            "metrics.jsonl", "metrics.csv", "steps.jsonl", "checkpoints"};
  std::error_code ec;
  for (fs::directory_iterator it(folder, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (!top.count(name) && !io::is_temporary_name(name)) return false;
  }
  for (fs::directory_iterator it(folder / "checkpoints", ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (name != "epoch-0000.safetensors" && !io::is_temporary_name(name)) return false;
  }
  return !ec && read_rows(folder / "metrics.jsonl").empty();  // steps.jsonl's rows are the first epoch's
}

// last.safetensors, or else the epoch-N checkpoint of the highest N (a run stopped between an
// epoch's metrics row and its last.safetensors has only those); empty when there is none.
fs::path newest_checkpoint(const fs::path& dir) {
  std::error_code ec;
  if (fs::exists(dir / "last.safetensors", ec)) return dir / "last.safetensors";
  fs::path newest;
  int64_t highest = -1;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec))
    if (const int64_t epoch = epoch_of_file(it->path().filename().string()); epoch > highest)
      highest = epoch, newest = it->path();
  return newest;
}

}  // namespace

RunFolder::RunFolder(const std::string& out, const std::string& resume, const io::Checkpoint* from)
    : out_(out), checkpoints_(out_ / "checkpoints") {
  std::error_code ec;
  in_place_ = from && same_folder(out_, run_dir_of(resume));
  const bool taken = !in_place_ && fs::is_directory(out_, ec) && !fs::is_empty(out_, ec);
  const bool reuse = taken && !from && left_before_first_epoch(out_);
  if (taken && !reuse && fs::exists(out_ / "metrics.jsonl", ec)) {
    const fs::path newest = newest_checkpoint(checkpoints_);
    throw Error(out_.string(), "",
                "already holds a run (metrics.jsonl): " +
                    (newest.empty() ? std::string() : "continue it with --resume " + newest.string() + ", or ") +
                    "choose another --out");
  }
  if (taken && !reuse)
    throw Error(out_.string(), "",
                std::string("is not empty: a ") + (from ? "resumed run moved to another folder" : "new run") +
                    " needs a new or empty folder (--out)");
  created_ = !fs::exists(out_, ec);
  fs::create_directories(checkpoints_, ec);
  if (ec) throw Error(out_.string(), "", "cannot create the run folder: " + ec.message());
  lock_ = std::make_unique<Lock>(out_);  // a run still loading there holds it: refused, untouched
  if (reuse) {
    for (const char* name : {"config.json", "run.json", "curves.svg", "metrics.jsonl", "metrics.csv", "steps.jsonl",
                             "checkpoints/epoch-0000.safetensors"})
      fs::remove(out_ / name, ec);
    reused_ = out_.string() +
              " held only what a run stopped before its first epoch ended left (no metrics row, no checkpoint but the "
              "initial one): this run starts it anew";
  }
  // A run killed in the middle of a write (SIGKILL, a power cut) left its temporary file; the lock
  // says no writer is alive.
  io::remove_stale_temporaries(out_.string());
  io::remove_stale_temporaries(checkpoints_.string());
  int64_t newest = 0;
  if (in_place_ && holds_later_state(checkpoints_, from->state.epoch, from->state.step, newest))
    throw Error(resume, "",
                "holds step " + std::to_string(from->state.step) + " (epoch " + std::to_string(from->state.epoch) +
                    ") of a run that went on " +
                    (newest > from->state.epoch ? "to epoch " + std::to_string(newest) : "past it") +
                    ": resume it into a new folder (--out) so that the later checkpoints are kept");
}

RunFolder::~RunFolder() = default;

fs::path RunFolder::epoch_checkpoint(int64_t epoch) const {
  char b[40];
  std::snprintf(b, sizeof b, "epoch-%04lld.safetensors", (long long)epoch);
  return checkpoints_ / b;
}

std::string RunFolder::abandon() {
  if (in_place_) return "the run is as it was";
  // The folder was new or empty when this run took it: everything in it is this run's.
  std::error_code ec;
  metrics_.close();
  steps_.close();
  std::vector<fs::path> entries;
  for (fs::directory_iterator it(out_, ec), end; !ec && it != end; it.increment(ec)) entries.push_back(it->path());
  for (const fs::path& p : entries) fs::remove_all(p, ec);
  if (created_) fs::remove(out_, ec);
  return "nothing was written to " + out_.string();
}

void RunFolder::write_config(const Config& config) const {
  io::write_atomically((out_ / "config.json").string(), to_json(config).dump(2) + "\n");
}

int64_t RunFolder::keep_metrics_until(int64_t epoch, const std::string& resume) const {
  return keep_rows_until(out_ / "metrics.jsonl", fs::path(run_dir_of(resume)) / "metrics.jsonl", "epoch", epoch);
}

void RunFolder::open_metrics() {
  rows_ = read_rows(out_ / "metrics.jsonl");
  io::write_atomically((out_ / "metrics.csv").string(), csv_of(rows_));  // a resume may have dropped rows
  metrics_.open(out_ / "metrics.jsonl", std::ios::app);
}

void RunFolder::append_metrics(const nlohmann::ordered_json& row) {
  metrics_ << row.dump() << "\n" << std::flush;
  if (!metrics_) throw Error((out_ / "metrics.jsonl").string(), "", "cannot write (is the disk full?)");
  rows_.push_back(row);
  io::write_atomically((out_ / "metrics.csv").string(), csv_of(rows_));
}

void RunFolder::write_report(const std::string& html) const {
  io::write_atomically((out_ / "report.html").string(), html);
}

void RunFolder::write_curves(const std::string& svg) const {
  io::write_atomically((out_ / "curves.svg").string(), svg);
}

void RunFolder::open_steps(int64_t keep_until_step, const std::string& resume) {
  const fs::path file = out_ / "steps.jsonl";
  if (!resume.empty()) keep_rows_until(file, fs::path(run_dir_of(resume)) / "steps.jsonl", "step", keep_until_step);
  steps_.open(file, std::ios::app);
}

void RunFolder::append_step(const nlohmann::ordered_json& row) {
  steps_ << row.dump() << "\n" << std::flush;
  if (!steps_) throw Error((out_ / "steps.jsonl").string(), "", "cannot write (is the disk full?)");
}

void RunFolder::write_summary(const nlohmann::ordered_json& summary) const {
  io::write_atomically((out_ / "summary.json").string(), summary.dump(2) + "\n");
}

std::string RunFolder::begin_manifest(const nlohmann::ordered_json& entry) {
  const fs::path path = out_ / "run.json";
  std::string warning;
  std::ifstream in(path);
  manifest_ = in ? nlohmann::ordered_json::parse(in, nullptr, false) : nlohmann::ordered_json();
  in.close();
  if (manifest_.is_discarded() || !manifest_.is_object() || !manifest_.contains("runs") ||
      !manifest_["runs"].is_array()) {
    std::error_code ec;
    if (fs::exists(path, ec)) {  // damaged, or not nabla's: kept for whoever wants to look
      const fs::path aside = out_ / "run.json.unreadable";
      fs::rename(path, aside, ec);
      if (ec) throw Error(path.string(), "", "cannot be read as a run manifest, nor set aside: " + ec.message());
      warning = path.string() +
                " could not be read as a run manifest (the runs before this one are not in it): set "
                "aside as " +
                aside.string() + ", and a new one begun";
    }
    manifest_ = {{"runs", nlohmann::ordered_json::array()}};
  }
  manifest_["runs"].push_back(entry);
  io::write_atomically((out_ / "run.json").string(),
                       manifest_.dump(2, ' ', false, nlohmann::ordered_json::error_handler_t::replace) + "\n");
  return warning;
}

void RunFolder::end_manifest() {
  if (manifest_.is_null()) return;
  manifest_["runs"].back()["finished"] = utc_now();
  io::write_atomically((out_ / "run.json").string(),
                       manifest_.dump(2, ' ', false, nlohmann::ordered_json::error_handler_t::replace) + "\n");
}

}  // namespace nabla
