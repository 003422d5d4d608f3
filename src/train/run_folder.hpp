#pragma once
// The run folder and the files it holds:
//   config.json      the resolved config
//   metrics.jsonl    one row an epoch
//   summary.json     written at the end
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

#include "config/types.hpp"
#include "io/checkpoint.hpp"

namespace nabla {

// The run folder a checkpoint belongs to: RUN for RUN/checkpoints/NAME.safetensors, else its folder.
std::string run_dir_of(const std::string& checkpoint);

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
  void keep_metrics_until(int64_t epoch, const std::string& resume) const;
  void open_metrics();
  void append_metrics(const nlohmann::ordered_json& row);  // flushed; a failed write throws
  void write_summary(const nlohmann::ordered_json& summary) const;
  // run.json (train/manifest.hpp): this invocation's entry added to those of the runs before it in
  // the folder; then, when the run ends, its finish time. A run.json that cannot be read as one is
  // set aside as run.json.unreadable (not lost), and the warning that says so is returned.
  std::string begin_manifest(const nlohmann::ordered_json& entry);
  void end_manifest();

 private:
  class Lock;
  std::filesystem::path out_, checkpoints_;
  bool in_place_ = false, created_ = false;
  std::unique_ptr<Lock> lock_;
  std::ofstream metrics_;
  nlohmann::ordered_json manifest_;
};

}  // namespace nabla
