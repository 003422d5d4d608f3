// Runs under faults: SIGKILL at random moments, a disk that fills up, a file-size limit, a run
// folder that turns read-only. Each time the last good checkpoint survives and loads, the error
// names the file, and once the fault is gone the run finishes with the bits of a run that never
// met it.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "cli/helpers.hpp"
#include "io/checkpoint.hpp"

namespace fs = std::filesystem;
using namespace cli_test;

namespace {

// configs/gradcheck.json for 3 epochs (2000 samples, Adam), its first layer 1000 wide so that a
// checkpoint is 9.6 MB and its writes take a real part of an epoch.
const std::vector<std::string> kWide = {
    "train", "configs/gradcheck.json",     "--quiet", "--epochs", "3", "--set", "model.layers[0].units=1000",
    "--set", "training.log_every_steps=10"};

std::string joined(const std::vector<std::string>& args) {
  std::string s;
  for (const auto& a : args) s += " " + a;
  return s;
}

// The temporary files of interrupted writes in a folder (.NAME.tmp-XXXXXXXX).
int temporaries(const fs::path& dir) {
  int n = 0;
  for (const auto& e : fs::directory_iterator(dir))
    n += e.path().filename().string().find(".tmp-") != std::string::npos;
  return n;
}

// last.safetensors, or else the epoch-N checkpoint of the highest N.
fs::path newest_checkpoint(const fs::path& dir) {
  if (fs::exists(dir / "last.safetensors")) return dir / "last.safetensors";
  fs::path newest;
  for (const auto& e : fs::directory_iterator(dir))
    if (e.path().filename().string().rfind("epoch-", 0) == 0 && e.path().extension() == ".safetensors" &&
        (newest.empty() || e.path().filename() > newest.filename()))
      newest = e.path();
  return newest;
}

// A failure message: one line, naming `file` and saying `why`, and nothing a sanitizer wrote.
void check_one_line_naming(const Run& r, const std::string& file, const std::string& why) {
  CAPTURE(r.output);
  CHECK(r.code == 2);
  CHECK(std::count(r.output.begin(), r.output.end(), '\n') == 1);
  CHECK(r.output.find(file) != std::string::npos);
  CHECK(r.output.find(why) != std::string::npos);
}

// A small tmpfs mounted at `dir` for the life of the object, where the test may mount (root);
// mounted() is false, with the reason, elsewhere.
struct Tmpfs {
  fs::path dir;
  std::string why_not;
  explicit Tmpfs(const fs::path& d, const std::string& size) : dir(d) {
    fs::create_directories(dir);
    if (::mount("tmpfs", dir.c_str(), "tmpfs", 0, ("size=" + size).c_str()) != 0)
      why_not = std::string("cannot mount a tmpfs here: ") + std::strerror(errno);
  }
  bool mounted() const { return why_not.empty(); }
  bool remount(const std::string& options) const {
    return ::mount("tmpfs", dir.c_str(), "tmpfs", MS_REMOUNT | (options == "ro" ? MS_RDONLY : 0),
                   options == "ro" ? nullptr : options.c_str()) == 0;
  }
  ~Tmpfs() {
    if (mounted()) ::umount2(dir.c_str(), MNT_DETACH);
    std::error_code ec;
    fs::remove_all(dir, ec);
    fs::remove(dir.parent_path(), ec);  // the test's folder, once empty
  }
};

}  // namespace

TEST_CASE("SIGKILL at any moment leaves a checkpoint that loads, and the run resumed from it ends as an unbroken run") {
  const fs::path dir = fresh_dir("sigkill");
  fs::create_directories(dir);
  const auto started = std::chrono::steady_clock::now();
  REQUIRE(run_nabla(joined(kWide) + " --out " + (dir / "whole").string()).code == 0);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  const std::string whole = tensor_bytes(dir / "whole/checkpoints/last.safetensors");
  const auto whole_metrics = metrics_without_timing(dir / "whole");

  // Moments spread over the whole run, loading and the last checkpoint's write included; the seed
  // makes them the same from run to run of the test (the process's timing does not).
  std::mt19937 rng(2026);
  std::uniform_real_distribution<double> moment(0.0, seconds);
  int resumed = 0, rerun = 0, finished = 0;
  for (int k = 0; k < 10; ++k) {
    const fs::path out = dir / ("cut-" + std::to_string(k));
    const double at = moment(rng);
    CAPTURE(k);
    CAPTURE(at);
    std::vector<std::string> args = kWide;
    args.push_back("--out");
    args.push_back(out.string());
    Child child{spawn_nabla(args)};
    std::this_thread::sleep_for(std::chrono::duration<double>(at));
    const int code = child.stop(SIGKILL);
    const fs::path last = out / "checkpoints/last.safetensors";
    bool ran_again = true;  // a later run in the folder removes what the killed one's write left
    if (code == 0) {
      ran_again = false;
      ++finished;  // it was faster than the moment
    } else if (!metrics_without_timing(out).empty()) {
      // An epoch was done: its checkpoint, or (killed between its metrics row and its checkpoint)
      // the epoch's before, which the resume takes up again.
      const fs::path newest = newest_checkpoint(out / "checkpoints");
      const nabla::io::Checkpoint loaded = nabla::io::load_checkpoint(newest.string());
      if (loaded.state.epoch == 3 && loaded.state.batch == 0) {
        ++finished;  // killed after the last epoch's checkpoint, in the run's report: nothing to train
        ran_again = false;
      } else {
        ++resumed;
        const Run r = run_nabla("train --quiet --resume " + newest.string());
        CAPTURE(r.output);
        REQUIRE(r.code == 0);
      }
    } else {
      ++rerun;  // killed before the first checkpoint: the same command again takes the folder
      const Run r = run_nabla(joined(args));
      CAPTURE(r.output);
      REQUIRE(r.code == 0);
    }
    CHECK(tensor_bytes(last) == whole);
    CHECK(metrics_without_timing(out) == whole_metrics);
    if (ran_again) {
      CHECK(temporaries(out) == 0);
      CHECK(temporaries(out / "checkpoints") == 0);
    }
  }
  MESSAGE("SIGKILL after 0-" << seconds << " s: " << resumed << " resumed, " << rerun << " run again, " << finished
                             << " had trained every epoch");
  fs::remove_all(dir);
}

TEST_CASE("past ulimit -f a checkpoint write fails naming the file, the last one survives, and the run resumes") {
  const fs::path dir = fresh_dir("ulimit-f");
  fs::create_directories(dir);
  REQUIRE(run_nabla(joined(kWide) + " --out " + (dir / "whole").string()).code == 0);
  REQUIRE(run_nabla(joined(kWide) + " --epochs 1 --out " + (dir / "cut").string()).code == 0);
  const fs::path last = dir / "cut/checkpoints/last.safetensors";
  const std::string epoch1 = tensor_bytes(last);
  // 2 MB a file: less than a checkpoint (9.6 MB), so epoch 2's first checkpoint cannot be written.
  const Run full =
      run_shell("cd " NABLA_SOURCE_DIR " && (ulimit -f 2000; exec " NABLA_BINARY " train --quiet --epochs 3 --resume " +
                last.string() + ")");
  check_one_line_naming(full, (dir / "cut/checkpoints/").string(), "File too large");
  CHECK(tensor_bytes(last) == epoch1);
  CHECK(temporaries(dir / "cut/checkpoints") == 0);
  const Run r = run_nabla("train --quiet --epochs 3 --resume " + last.string());
  CAPTURE(r.output);
  REQUIRE(r.code == 0);
  CHECK(tensor_bytes(last) == tensor_bytes(dir / "whole/checkpoints/last.safetensors"));
  CHECK(metrics_without_timing(dir / "cut") == metrics_without_timing(dir / "whole"));
  fs::remove_all(dir);
}

TEST_CASE("a disk that fills at any write of a run: the error names the file, and with room again the run finishes") {
  const fs::path dir = fresh_dir("disk-full");
  fs::create_directories(dir);
  const std::string common = " --quiet --epochs 3 --set training.log_every_steps=5";
  REQUIRE(run_nabla("train configs/gradcheck.json" + common + " --out " + (dir / "whole").string()).code == 0);
  const std::string whole = tensor_bytes(dir / "whole/checkpoints/last.safetensors");
  const auto whole_metrics = metrics_without_timing(dir / "whole");
  const Tmpfs disk(dir / "disk", "4m");
  if (!disk.mounted()) {
    MESSAGE("skipped: " << disk.why_not);
    return;
  }
  // The run writes about 1.4 MB in all; the disk is filled to leave less than that, in steps, so
  // that the space runs out in a different file or write each time.
  int failed = 0;
  for (int64_t room = 0; room <= 1'600'000; room += 160'000) {
    CAPTURE(room);
    struct statvfs s = {};
    REQUIRE(statvfs(disk.dir.c_str(), &s) == 0);
    const int64_t free_bytes = int64_t(s.f_bavail) * int64_t(s.f_frsize);
    {
      std::ofstream filler(disk.dir / "filler", std::ios::binary);
      const std::string block(4096, 'x');
      for (int64_t n = 0; n + room < free_bytes; n += 4096) filler.write(block.data(), 4096);
    }
    const fs::path out = disk.dir / "run";
    const Run r = run_nabla("train configs/gradcheck.json" + common + " --out " + out.string());
    fs::remove(disk.dir / "filler");  // room again
    if (r.code != 0) {
      ++failed;
      check_one_line_naming(r, out.string(), "No space left on device");
      // With an epoch done, from the newest checkpoint (last.safetensors may be the write that
      // failed); before that, the same command again.
      const Run again = !metrics_without_timing(out).empty()
                            ? run_nabla("train --quiet --resume " + newest_checkpoint(out / "checkpoints").string())
                            : run_nabla("train configs/gradcheck.json" + common + " --out " + out.string());
      CAPTURE(again.output);
      REQUIRE(again.code == 0);
    }
    CHECK(tensor_bytes(out / "checkpoints/last.safetensors") == whole);
    CHECK(metrics_without_timing(out) == whole_metrics);
    fs::remove_all(out);
  }
  CHECK(failed >= 5);
  MESSAGE(failed << " runs met a full disk");
  fs::remove_all(dir / "whole");  // the disk, and the folder, go with `disk`
}

TEST_CASE("a run folder that turned read-only is refused naming it, changes nothing, and resumes once writable") {
  const fs::path dir = fresh_dir("read-only");
  fs::create_directories(dir);
  const std::string common = " --quiet --set training.log_every_steps=5";
  REQUIRE(run_nabla("train configs/gradcheck.json --epochs 3" + common + " --out " + (dir / "whole").string()).code ==
          0);
  const Tmpfs disk(dir / "disk", "8m");
  if (!disk.mounted()) {
    MESSAGE("skipped: " << disk.why_not);
    return;
  }
  const fs::path out = disk.dir / "run", last = out / "checkpoints/last.safetensors";
  REQUIRE(run_nabla("train configs/gradcheck.json --epochs 1" + common + " --out " + out.string()).code == 0);
  const std::string epoch1 = tensor_bytes(last);
  REQUIRE(disk.remount("ro"));
  const Run r = run_nabla("train --epochs 3" + common + " --resume " + last.string());
  check_one_line_naming(r, out.string(), "Read-only file system");
  CHECK(tensor_bytes(last) == epoch1);
  REQUIRE(disk.remount("size=8m"));
  const Run again = run_nabla("train --epochs 3" + common + " --resume " + last.string());
  CAPTURE(again.output);
  REQUIRE(again.code == 0);
  CHECK(tensor_bytes(last) == tensor_bytes(dir / "whole/checkpoints/last.safetensors"));
  CHECK(metrics_without_timing(out) == metrics_without_timing(dir / "whole"));
  fs::remove_all(dir / "whole");  // the disk, and the folder, go with `disk`
}

TEST_CASE("a run stuck in a call that does not return is stopped by the first signal's watchdog") {
  // Stuck for real: nabla's progress lines go to a pipe of one page that nobody reads, so its
  // printf blocks in write(2), and SA_RESTART restarts that write after the signal. Without the
  // watchdog this run never ends; with it, SIGTERM ends it kStopGraceSeconds (20 s) later.
  const fs::path out = fresh_dir("stuck"), errors = out.string() + ".stderr";
  int fds[2];
  REQUIRE(pipe(fds) == 0);
  REQUIRE(fcntl(fds[1], F_SETPIPE_SZ, 4096) >= 0);
  std::vector<std::string> args = {NABLA_BINARY,        "train", "configs/gradcheck.json",
                                   "--epochs",          "1000",  "--set",
                                   "data.validation=0", "--out", out.string()};
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t files;
  posix_spawn_file_actions_init(&files);
  posix_spawn_file_actions_adddup2(&files, fds[1], 1);
  posix_spawn_file_actions_addclose(&files, fds[0]);
  posix_spawn_file_actions_addopen(&files, 2, errors.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  pid_t pid = -1;
  REQUIRE(chdir(NABLA_SOURCE_DIR) == 0);
  REQUIRE(posix_spawn(&pid, NABLA_BINARY, &files, nullptr, argv.data(), environ) == 0);
  posix_spawn_file_actions_destroy(&files);
  close(fds[1]);
  Child child{pid};
  // Full: the next progress line (about 75 bytes) no longer fits in the page, and the run has
  // trained past its first checkpoint.
  REQUIRE(wait_for([&] {
    int queued = 0;
    return ioctl(fds[0], FIONREAD, &queued) == 0 && queued > 4096 - 75 &&
           fs::exists(out / "checkpoints/last.safetensors");
  }));
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  const auto signalled = std::chrono::steady_clock::now();
  const int code = child.stop(SIGTERM);
  const double waited = std::chrono::duration<double>(std::chrono::steady_clock::now() - signalled).count();
  close(fds[0]);
  const std::string said = bytes_of(errors);
  CAPTURE(said);
  CAPTURE(waited);
  CHECK(code == 143);
  CHECK(waited > 15);
  CHECK(waited < 40);
  CHECK(said.find("nabla: stopped by SIGTERM, but the run reached no safe point within 20 s") != std::string::npos);
  CHECK_NOTHROW(nabla::io::load_checkpoint((out / "checkpoints/last.safetensors").string()));
  fs::remove_all(out);
  fs::remove(errors);
}
