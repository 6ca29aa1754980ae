#pragma once
/// @file
/// Writing a file so that a crash or an error never leaves a half-written one
/// at its path: the bytes go to a temporary file in the same folder, which is
/// flushed to disk and then renamed over the destination (rename is atomic
/// within one filesystem, hence the same folder).
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include <tapegrad/core/error.h>

namespace tg {

/// The name a save's errors begin with: the op the user called when it names
/// itself (save_checkpoint, or save, whose overloads all reach the file one).
inline std::string_view saver() { return detail::current_op.empty() ? "save" : detail::current_op; }

/// Writes a file at a path through a temporary file that commit() renames
/// into place, so the path holds the old file or the whole new one.
///
/// @code
/// tg::AtomicFileWriter out("weights.bin");
/// out.write(bytes.data(), bytes.size());
/// out.commit();  // without it, the destination is left untouched
/// @endcode
class AtomicFileWriter {
 public:
  /// Creates the temporary file `path + ".tmp-PID-XXXXXX"` (the writing
  /// process's id, then six random characters). A symlink at `path` is
  /// followed, dangling or not: the file it names is written, the link stays.
  /// @throws tg::Error naming `path` and the system's reason if it cannot,
  ///   and when the destination exists but is not a regular file or is not
  ///   writable by this user (as open() for writing would refuse it).
  explicit AtomicFileWriter(std::string path);
  /// Without a successful commit(), removes the temporary file: the
  /// destination keeps whatever it held before.
  ~AtomicFileWriter();
  AtomicFileWriter(const AtomicFileWriter&) = delete;
  AtomicFileWriter& operator=(const AtomicFileWriter&) = delete;

  /// Appends `nbytes` bytes at `data` to the temporary file (buffered).
  /// @throws tg::Error naming the path and the system's reason.
  void write(const void* data, std::size_t nbytes);
  /// Flushes, fsyncs and closes the temporary file, renames it to the
  /// destination and fsyncs the folder so that the rename itself is durable.
  ///
  /// A process killed while writing (SIGKILL, a power cut) leaves its
  /// temporary file behind. So that these do not pile up, a successful commit
  /// then removes the temporary files of `path` whose writing process no
  /// longer exists on this machine (best effort: errors are ignored). Files of
  /// live processes, this one included, are never touched; a folder shared by
  /// several machines should not be written from them at once.
  /// @throws tg::Error naming the path and the system's reason; the
  ///   destination then keeps what it held.
  void commit();

  /// The destination.
  const std::string& path() const { return path_; }
  /// The temporary file written until commit().
  const std::string& temp_path() const { return temp_path_; }

 private:
  void write_through(const char* data, std::size_t nbytes);
  void flush_buffer();
  [[noreturn]] void fail(const char* what, int error_number) const;

  std::string path_;
  std::string temp_path_;
  int fd_ = -1;
  bool committed_ = false;
  /// Many small tensors would otherwise cost one system call each.
  std::vector<char> buffer_;
};

}  // namespace tg
