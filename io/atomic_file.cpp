#include <tapegrad/io/atomic_file.h>

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <system_error>

#include <fmt/format.h>

#include <tapegrad/core/error.h>
#include <tapegrad/core/regular_file.h>
#include <tapegrad/io/atomic_file_internal.h>

namespace tg {
namespace {

constexpr std::size_t kBufferBytes = std::size_t{1} << 18;
constexpr int kNameAttempts = 100;

// Six characters that differ between processes, threads and calls. O_EXCL
// makes a clash harmless (we try another name), so this need not be secure.
std::string random_suffix() {
  static std::atomic<std::uint64_t> counter{0};
  std::uint64_t x = static_cast<std::uint64_t>(::getpid()) * 0x9E3779B97F4A7C15ull ^
                    static_cast<std::uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count()) ^
                    (counter.fetch_add(1, std::memory_order_relaxed) << 40);
  // splitmix64 finaliser, to spread the bits over all six characters.
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  x ^= x >> 31;
  static constexpr char kAlphabet[] = "abcdefghijklmnopqrstuvwxyz0123456789";
  std::string s(6, 'a');
  for (char& c : s) {
    c = kAlphabet[x % 36];
    x /= 36;
  }
  return s;
}

void close_quietly(int fd) {
  if (fd >= 0) ::close(fd);
}

constexpr std::size_t kLinuxNameMax = 255;
constexpr std::size_t kTempSuffixBytes = 5 + 14;  // ".tmp-" and "<pid>-XXXXXX"

std::atomic<detail::TempFileCreatedHook> temp_file_created_hook{nullptr};

// The folder a path's file lives in ("." for a bare name).
std::string folder_of(const std::string& path) {
  const std::string parent = std::filesystem::path(path).parent_path().string();
  return parent.empty() ? std::string(1, '.') : parent;
}

// The prefix of the temporary files of a whole path: its folder, then the
// prefix of its name, cut to fit that folder's filesystem.
std::string temp_path_prefix(const std::string& path) {
  const std::filesystem::path p(path);
  const std::string name = p.filename().string();
  return (p.parent_path() / detail::temp_name_prefix(name, detail::folder_name_max(folder_of(path)))).string();
}

// Removes the temporary files next to `path` ("<name>.tmp-<pid>-XXXXXX") left
// by processes that no longer exist: writers killed before they could commit
// or clean up. Best effort; never throws.
void remove_orphaned_temp_files(const std::string& path) noexcept {
  try {
    namespace fs = std::filesystem;
    const fs::path target(path);
    const fs::path folder = folder_of(path);
    const std::string prefix = detail::temp_name_prefix(target.filename().string(), detail::folder_name_max(folder));
    const auto self = static_cast<long long>(::getpid());
    std::error_code ec;
    for (fs::directory_iterator it(folder, ec), end; !ec && it != end; it.increment(ec)) {
      const std::string name = it->path().filename().string();
      if (name.compare(0, prefix.size(), prefix) != 0) continue;
      // The pid: the digits up to the next '-'.
      long long pid = 0;
      std::size_t k = prefix.size();
      for (; k < name.size() && name[k] >= '0' && name[k] <= '9' && pid < (1LL << 40); ++k)
        pid = pid * 10 + (name[k] - '0');
      if (k == prefix.size() || k >= name.size() || name[k] != '-' || pid <= 0 || pid == self) continue;
      // Alive (or not ours to signal, EPERM): leave it.
      if (::kill(static_cast<::pid_t>(pid), 0) == 0 || errno != ESRCH) continue;
      std::error_code ignored;
      fs::remove(it->path(), ignored);
    }
  } catch (...) {}
}

// Linux's own limit on links followed in one path (MAXSYMLINKS); open()
// fails with ELOOP beyond it.
constexpr int kMaxSymlinkHops = 40;

// The file a symlink chain at `path` ends in, whether or not that file
// exists yet: a dangling link names the file open(O_CREAT) would create.
std::filesystem::path follow_symlinks(const std::string& path) {
  namespace fs = std::filesystem;
  fs::path target = path;
  for (int hops = 0;; ++hops) {
    std::error_code ec;
    if (!fs::is_symlink(fs::symlink_status(target, ec))) return target;
    if (hops == kMaxSymlinkHops)
      throw Error(fmt::format("{}: cannot follow the symlink '{}': {}", saver(), path, errno_text(ELOOP)));
    const fs::path next = fs::read_symlink(target, ec);
    if (ec) throw Error(fmt::format("{}: cannot read the symlink '{}': {}", saver(), target.string(), ec.message()));
    // A relative link is relative to the folder the link is in.
    target = next.is_absolute() ? next : target.parent_path() / next;
  }
}

// The file the rename will replace. A symlink is followed, so that saving
// through it writes the file it names and the link stays (as writing through
// open() would), even when that file does not exist yet. The rename needs
// write permission on the folder only, so a file the caller may not write
// (chmod a-w, the usual guard of a checkpoint to keep) is refused here, as
// open() for writing would refuse it; root may write anything, as with open().
// Whatever exists and is not a regular file is refused: the rename would
// silently swap a device, a FIFO or a socket for a regular file (as root,
// /dev/full itself), and cannot replace a folder.
std::string save_destination(const std::string& path) {
  if (path.empty()) throw Error(fmt::format("{}: the path is empty", saver()));
  const std::string target = follow_symlinks(path).string();
  struct stat st {};
  if (::stat(target.c_str(), &st) != 0) return target;
  if (!S_ISREG(st.st_mode))
    throw Error(fmt::format("{}: '{}' is {}, not a regular file; save writes a new regular file", saver(), path,
                            non_regular_kind(st.st_mode)));
  if (::faccessat(AT_FDCWD, target.c_str(), W_OK, AT_EACCESS) != 0) {
    const int error_number = errno;
    throw Error(
        fmt::format("{}: cannot replace '{}': {} (the file is not writable by this user; make it "
                    "writable or save elsewhere)",
                    saver(), target, errno_text(error_number)));
  }
  return target;
}

}  // namespace

namespace detail {

std::size_t folder_name_max(const std::string& folder) {
  const long reported = ::pathconf(folder.c_str(), _PC_NAME_MAX);
  // -1: no limit, or the folder cannot be asked (open() will then say why).
  if (reported <= 0) return kLinuxNameMax;
  return std::min(static_cast<std::size_t>(reported), kLinuxNameMax);
}

std::string temp_name_prefix(const std::string& file_name, std::size_t name_max) {
  const std::size_t room = name_max > kTempSuffixBytes ? name_max - kTempSuffixBytes : 0;
  std::size_t keep = std::min(file_name.size(), room);
  if (keep < file_name.size()) {
    // file_name[keep], the first byte cut off, continues a character: cut
    // before that character instead. A UTF-8 character has at most three
    // continuation bytes; more in a row is not UTF-8, cut as it comes.
    auto continues = [&](std::size_t k) { return (static_cast<unsigned char>(file_name[k]) & 0xC0) == 0x80; };
    std::size_t start = keep;
    for (int back = 0; back < 3 && start > 0 && continues(start); ++back) --start;
    if (!continues(start)) keep = start;
  }
  return file_name.substr(0, keep) + ".tmp-";
}

void set_temp_file_created_hook(TempFileCreatedHook hook) { temp_file_created_hook.store(hook); }

}  // namespace detail

AtomicFileWriter::AtomicFileWriter(std::string path) : path_(save_destination(path)) {
  // Replacing a file keeps its permission bits (a private checkpoint stays
  // private), as writing into it would. The temporary file is created with
  // them, never wider: created 0666 less the umask and narrowed later, it
  // was open to other users in between, and a descriptor opened then keeps
  // reading what is written after. Owner and group cannot follow without
  // privileges. A new file gets 0666 less the umask, as any other. (Not
  // mkstemp: it creates files readable by the owner only.)
  struct stat existing {};
  const bool replacing = ::stat(path_.c_str(), &existing) == 0;
  const ::mode_t mode = replacing ? (existing.st_mode & 0777) : 0666;
  for (int attempt = 0; attempt < kNameAttempts; ++attempt) {
    temp_path_ = temp_path_prefix(path_) + std::to_string(::getpid()) + "-" + random_suffix();
    fd_ = ::open(temp_path_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
    if (fd_ >= 0) break;
    if (errno != EEXIST) {
      const int error_number = errno;
      throw Error(fmt::format("{}: cannot create a temporary file '{}' to write '{}': {}", saver(), temp_path_, path_,
                              errno_text(error_number)));
    }
  }
  if (fd_ < 0)
    throw Error(fmt::format("{}: cannot create a temporary file next to '{}': {} names tried, all taken", saver(),
                            path_, kNameAttempts));
  if (const auto hook = temp_file_created_hook.load()) hook(fd_, temp_path_);
  // The umask (or a default ACL) may have taken bits the destination has:
  // give them back. Only adding, up to the destination's own bits, so the
  // file is never more open than the one it replaces. Best effort, as a
  // filesystem without permissions (vfat) refuses: the file then stays
  // narrower, never wider.
  struct stat created {};
  if (replacing && ::fstat(fd_, &created) == 0 && (created.st_mode & 0777) != mode) (void)::fchmod(fd_, mode);
  buffer_.reserve(kBufferBytes);
}

AtomicFileWriter::~AtomicFileWriter() {
  close_quietly(fd_);
  if (!committed_) ::unlink(temp_path_.c_str());
}

void AtomicFileWriter::fail(const char* what, int error_number) const {
  throw Error(fmt::format("{}: cannot {} '{}' (temporary file for '{}'): {}", saver(), what, temp_path_, path_,
                          errno_text(error_number)));
}

void AtomicFileWriter::write(const void* data, std::size_t nbytes) {
  if (committed_)
    throw Error(fmt::format("{}: '{}' was already committed; nothing more can be written", saver(), path_));
  if (nbytes == 0) return;  // `data` may then be null, which memcpy must not see
  const char* bytes = static_cast<const char*>(data);
  if (buffer_.size() + nbytes <= kBufferBytes) {
    buffer_.insert(buffer_.end(), bytes, bytes + nbytes);
    return;
  }
  flush_buffer();
  if (nbytes < kBufferBytes) buffer_.insert(buffer_.end(), bytes, bytes + nbytes);
  else write_through(bytes, nbytes);
}

void AtomicFileWriter::flush_buffer() {
  write_through(buffer_.data(), buffer_.size());
  buffer_.clear();
}

void AtomicFileWriter::write_through(const char* data, std::size_t nbytes) {
  while (nbytes > 0) {
    const ::ssize_t n = ::write(fd_, data, nbytes);
    if (n < 0) {
      if (errno == EINTR) continue;
      fail("write", errno);
    }
    data += n;
    nbytes -= static_cast<std::size_t>(n);
  }
}

void AtomicFileWriter::commit() {
  if (committed_) return;
  flush_buffer();
  if (::fsync(fd_) != 0) fail("flush to disk", errno);
  const int fd = fd_;
  fd_ = -1;
  if (::close(fd) != 0) fail("close", errno);
  if (std::rename(temp_path_.c_str(), path_.c_str()) != 0) {
    const int error_number = errno;
    throw Error(
        fmt::format("{}: cannot rename '{}' to '{}': {}", saver(), temp_path_, path_, errno_text(error_number)));
  }
  committed_ = true;

  // The rename lives in the folder's entries: without this it could be lost
  // in a power cut even though the file's data reached the disk.
  const std::string folder = folder_of(path_);
  const int dir_fd = ::open(folder.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir_fd < 0) {
    const int error_number = errno;
    throw Error(fmt::format("{}: wrote '{}' but cannot open its folder '{}' to make the rename durable: {}", saver(),
                            path_, folder, errno_text(error_number)));
  }
  // EINVAL: this filesystem cannot sync folders; there is nothing more to do.
  if (::fsync(dir_fd) != 0 && errno != EINVAL) {
    const int error_number = errno;
    ::close(dir_fd);
    throw Error(fmt::format("{}: wrote '{}' but cannot flush its folder '{}' to disk: {}", saver(), path_, folder,
                            errno_text(error_number)));
  }
  ::close(dir_fd);
  remove_orphaned_temp_files(path_);
}

}  // namespace tg
