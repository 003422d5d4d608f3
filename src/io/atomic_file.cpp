#include "io/atomic_file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "util/error.hpp"

namespace nabla::io {

namespace {

[[noreturn]] void fail(const std::string& path, const std::string& what) {
  throw Error(path, "", what + ": " + std::strerror(errno));
}

}  // namespace

void write_atomically(const std::string& path, std::string_view bytes) {
  const std::filesystem::path target(path);
  const std::filesystem::path folder = target.has_parent_path() ? target.parent_path() : ".";
  std::string tmp_name = target.filename().string();  // .NAME.tmp-PID, hidden beside the target
  tmp_name.insert(0, 1, '.');
  tmp_name += ".tmp-" + std::to_string(::getpid());
  const std::string tmp = (folder / tmp_name).string();

  // A rename would put a regular file where a device, a pipe or a link stands (--output /dev/null
  // would replace the device): only a regular file, or nothing, is replaced.
  struct stat st = {};
  if (::lstat(path.c_str(), &st) == 0 && !S_ISREG(st.st_mode))
    throw Error(path, "", "is not a regular file (a device, a pipe, a folder or a link): it is not replaced");
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) fail(path, "cannot create a file in its folder (" + tmp + ")");
  size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      const int e = errno;
      ::close(fd);
      ::unlink(tmp.c_str());
      errno = e;
      fail(tmp, "cannot write");
    }
    done += size_t(n);
  }
  if (::fsync(fd) != 0) {
    const int e = errno;
    ::close(fd);
    ::unlink(tmp.c_str());
    errno = e;
    fail(tmp, "cannot fsync");
  }
  ::close(fd);
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    const int e = errno;
    ::unlink(tmp.c_str());
    errno = e;
    fail(path, "cannot rename the temporary file over it");
  }
  const int dir = ::open(folder.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir >= 0) {  // make the rename durable
    ::fsync(dir);
    ::close(dir);
  }
}

}  // namespace nabla::io
