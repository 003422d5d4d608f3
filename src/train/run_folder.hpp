#pragma once
// The run folder and the files it holds:
//   config.json      the resolved config
//   metrics.jsonl    one row an epoch, and metrics.csv the same rows for spreadsheets
//   curves.svg       the learning curves so far (train/curves.hpp), redrawn after every epoch
//   steps.jsonl      a row every training.log_every_steps steps, when that is set
//   run.json         the manifest (train/manifest.hpp)
//   summary.json     written at the end, and report.html (train/run_report.hpp)
//   checkpoints/     epoch-0000 (the initial weights), last, best, and every checkpoint.every epochs
//                    an epoch-NNNN file, the newest checkpoint.keep of them kept
//   .lock            locked (flock) by the run that trains in the folder
// A run never writes over another one: a new run needs a new or empty folder; a resumed run
// continues in its own folder (when no later checkpoint is there) or moves to a new one.
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "config/types.hpp"
#include "io/checkpoint.hpp"

namespace nabla {

// The run folder a checkpoint belongs to: RUN for RUN/checkpoints/NAME.safetensors, else its folder.
std::string run_dir_of(const std::string& checkpoint);

// The rows of a metrics.jsonl file (or of steps.jsonl), in order; a line that is not a JSON object
// (the last one of a run killed mid-write) is passed over. None when the file is missing.
std::vector<nlohmann::ordered_json> read_rows(const std::filesystem::path& file);

// The epoch of an epoch-NNNN.safetensors file name (NNNN of any width), or -1 for another name.
int64_t epoch_of_file(const std::string& name);
// Keeps the newest `keep` epoch-NNNN files of a checkpoints folder with NNNN >= 1 (epoch-0000, the
// initial weights, stays), newest by number: epoch-10000 is newer than epoch-9999.
void prune_epoch_files(const std::filesystem::path& dir, int64_t keep);

class RunFolder {
 public:
  // Opens `out` for a new run (`from` null) or for continuing checkpoint `resume` (`from` its
  // contents): refuses a folder that holds another run, creates it and locks it. In the
  // checkpoint's own folder it refuses a checkpoint older than the folder's newest state, which
  // would be left beside the new ones. Throws nabla::Error naming the folder or the checkpoint.
  RunFolder(const std::string& out, const std::string& resume, const io::Checkpoint* from);
  ~RunFolder();
  RunFolder(const RunFolder&) = delete;
  RunFolder& operator=(const RunFolder&) = delete;

  const std::filesystem::path& path() const { return out_; }
  // A new run may take a folder that a run stopped before its first epoch ended left (killed while
  // loading, say): then this says so, for a warning; otherwise empty.
  const std::string& reused() const { return reused_; }
  bool in_place() const { return in_place_; }  // a resume in the checkpoint's own folder

  std::filesystem::path last() const { return checkpoints_ / "last.safetensors"; }
  std::filesystem::path best() const { return checkpoints_ / "best.safetensors"; }
  std::filesystem::path epoch_checkpoint(int64_t epoch) const;
  void prune(int64_t keep) const { prune_epoch_files(checkpoints_, keep); }

  // A signal before the first step: removes what this run wrote (the folder only when it made
  // it); a resume in place leaves the folder as it was. Says what is left, for the message.
  std::string abandon();

  void write_config(const Config& config) const;
  // A resumed run keeps the metrics rows of epochs up to `epoch` (from the checkpoint's folder when
  // the run moves to a new one), so that it continues them without duplicated rows.
  // Returns how many rows it kept: fewer than `epoch` when the file was cut or removed.
  int64_t keep_metrics_until(int64_t epoch, const std::string& resume) const;
  // Reads the rows kept so far (rewriting metrics.csv to match), and opens metrics.jsonl to append.
  void open_metrics();
  // Appends to metrics.jsonl (flushed; a failed write throws) and rewrites metrics.csv whole.
  void append_metrics(const nlohmann::ordered_json& row);
  const std::vector<nlohmann::ordered_json>& metrics() const { return rows_; }
  void write_curves(const std::string& svg) const;
  // steps.jsonl as metrics.jsonl: a resume keeps the rows up to its step, then appends.
  void open_steps(int64_t keep_until_step, const std::string& resume);
  void append_step(const nlohmann::ordered_json& row);
  void write_summary(const nlohmann::ordered_json& summary) const;
  // run.json (train/manifest.hpp): this invocation's entry added to those of the runs before it in
  // the folder; then, when the run ends, its finish time. A run.json that cannot be read as one is
  // set aside as run.json.unreadable (not lost), and the warning that says so is returned.
  std::string begin_manifest(const nlohmann::ordered_json& entry);
  void end_manifest();
  const nlohmann::ordered_json& manifest() const { return manifest_; }
  void write_report(const std::string& html) const;

 private:
  class Lock;
  std::filesystem::path out_, checkpoints_;
  bool in_place_ = false, created_ = false;
  std::string reused_;
  std::unique_ptr<Lock> lock_;
  std::ofstream metrics_, steps_;
  std::vector<nlohmann::ordered_json> rows_;  // metrics.jsonl's
  nlohmann::ordered_json manifest_;
};

}  // namespace nabla
