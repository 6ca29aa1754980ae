#pragma once
/// @file
/// Opening a file to read it, refusing anything that is not a regular file.
/// A FIFO with no writer blocks open() forever, and a device such as
/// /dev/zero never ends, so every loader that takes a path opens it through
/// here (in core/: the IDX reader of data/ uses it too): the open is non-blocking and the type is checked on the opened
/// descriptor, so nothing can be swapped in between a check and the open.
#include <cstdint>
#include <string>

#include <sys/types.h>

namespace tg {

/// The result of open_regular_file(): an open descriptor and its size, or why not.
struct RegularFile {
  int fd = -1;                 ///< open, blocking, close-on-exec; -1 on failure
  std::uint64_t size = 0;      ///< bytes, when fd >= 0
  int error = 0;               ///< errno of a failed open or fstat
  const char* kind = nullptr;  ///< what the path is when it is not a regular file ("a FIFO")
  /// "No such file or directory", or "is a FIFO, not a regular file".
  std::string problem() const;
};

/// The system's text for an errno value ("No such file or directory"); unlike
/// std::strerror, safe to call from several threads at once.
/// @param error_number an errno value
std::string errno_text(int error_number);

/// What a file of this st_mode is, for a message: "a FIFO", "a directory", ...
const char* non_regular_kind(mode_t mode);

/// Never throws; the caller turns a failure into its own error naming the op
/// and the path. The caller owns (and must close) fd.
RegularFile open_regular_file(const std::string& path);

}  // namespace tg
