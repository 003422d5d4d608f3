#include "io/atomic_file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <random>

#include "util/error.hpp"

namespace nabla::io {

namespace {

[[noreturn]] void fail(const std::string& path, const std::string& what) {
  throw Error(path, "", what + ": " + std::strerror(errno));
}

// Creates the temporary file: a name nothing else uses (O_EXCL, with a random part, so that two
// writers of the same target never share one), never through a link (O_NOFOLLOW), with the mode the
// target has, or 0644 less the umask for a new file.
int create_temporary(const std::filesystem::path& folder, const std::filesystem::path& target, mode_t mode,
                     std::string& tmp) {
  std::random_device random;
  for (int attempt = 0;; ++attempt) {
    char suffix[16];
    std::snprintf(suffix, sizeof suffix, "%08x", unsigned(random()));
    std::string name = ".";  // hidden beside the target (built piece by piece: GCC 12 warns falsely on "." + ...)
    name += target.filename().string();
    name += ".tmp-";
    name += suffix;
    tmp = (folder / name).string();
    const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
    if (fd >= 0 || errno != EEXIST || attempt == 100) return fd;
  }
}

// Closes fd and removes the temporary file after a failure, keeping the failure's errno.
void discard(int fd, const std::string& tmp) {
  const int e = errno;
  if (fd >= 0) ::close(fd);
  ::unlink(tmp.c_str());
  errno = e;
}

}  // namespace

void write_atomically(const std::string& path, std::string_view bytes) {
  const std::filesystem::path target(path);
  const std::filesystem::path folder = target.has_parent_path() ? target.parent_path() : ".";

  // A rename would put a regular file where a device, a pipe or a link stands (--output /dev/null
  // would replace the device): only a regular file, or nothing, is replaced.
  struct stat st = {};
  const bool exists = ::lstat(path.c_str(), &st) == 0;
  if (exists && !S_ISREG(st.st_mode))
    throw Error(path, "", "is not a regular file (a device, a pipe, a folder or a link): it is not replaced");
  std::string tmp;
  const int fd = create_temporary(folder, target, 0644, tmp);
  if (fd < 0) fail(path, "cannot create a file in its folder (" + tmp + ")");
  // A replaced file keeps its permissions (umask gave the new one its own).
  if (exists && ::fchmod(fd, st.st_mode & 07777) != 0) {
    discard(fd, tmp);
    fail(path, "cannot give the temporary file " + tmp + " its mode");
  }
  // Failures name the file being replaced, which the user knows, and the temporary one, now gone.
  const std::string through = " (through the temporary file " + std::filesystem::path(tmp).filename().string() +
                              ", removed; the file is as it was)";
  size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      discard(fd, tmp);
      fail(path, "cannot write" + through);
    }
    done += size_t(n);
  }
  if (::fsync(fd) != 0) {
    discard(fd, tmp);
    fail(path, "cannot fsync" + through);
  }
  if (::close(fd) != 0) {  // on some file systems the last write error comes here
    discard(-1, tmp);
    fail(path, "cannot close" + through);
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    discard(-1, tmp);
    fail(path, "cannot rename the temporary file over it");
  }
  const int dir = ::open(folder.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir >= 0) {  // make the rename durable
    ::fsync(dir);
    ::close(dir);
  }
}

bool is_temporary_name(const std::string& name) {
  // create_temporary's ".", NAME, ".tmp-" and 8 hex digits: nothing else of a run folder is named so.
  const size_t at = name.rfind(".tmp-");
  if (name.size() < 2 || name[0] != '.' || at == std::string::npos || at < 2 || name.size() != at + 5 + 8) return false;
  return name.find_first_not_of("0123456789abcdef", at + 5) == std::string::npos;
}

void remove_stale_temporaries(const std::string& folder) {
  std::error_code ec;
  for (std::filesystem::directory_iterator it(folder, ec), end; !ec && it != end; it.increment(ec))
    if (it->is_regular_file(ec) && is_temporary_name(it->path().filename().string()))
      std::filesystem::remove(it->path(), ec);
}

}  // namespace nabla::io
