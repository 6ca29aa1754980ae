#include <tapegrad/core/regular_file.h>

#include <cerrno>
#include <system_error>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace tg {

std::string errno_text(int error_number) { return std::generic_category().message(error_number); }

const char* non_regular_kind(mode_t mode) {
  if (S_ISDIR(mode)) return "a directory";
  if (S_ISFIFO(mode)) return "a FIFO";
  if (S_ISCHR(mode)) return "a character device";
  if (S_ISBLK(mode)) return "a block device";
  if (S_ISSOCK(mode)) return "a socket";
  return "not a regular file";
}

std::string RegularFile::problem() const {
  if (kind) return std::string("is ") + kind + ", not a regular file";
  return errno_text(error);
}

RegularFile open_regular_file(const std::string& path) {
  RegularFile f;
  // O_NONBLOCK: opening a FIFO for reading otherwise waits for a writer.
  int fd = -1;
  do {
    fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
  } while (fd < 0 && errno == EINTR);
  if (fd < 0) {
    f.error = errno;
    return f;
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    f.error = errno;
    ::close(fd);
    return f;
  }
  if (!S_ISREG(st.st_mode)) {
    f.kind = non_regular_kind(st.st_mode);
    ::close(fd);
    return f;
  }
  // Regular files never block; clear the flag anyway so that reads behave
  // as on any ordinary descriptor.
  const int flags = ::fcntl(fd, F_GETFL);
  if (flags >= 0) ::fcntl(fd, F_SETFL, flags & ~O_NONBLOCK);
  f.fd = fd;
  f.size = static_cast<std::uint64_t>(st.st_size);
  return f;
}

}  // namespace tg
