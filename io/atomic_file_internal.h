#pragma once
// Internals of io/atomic_file.cpp that its tests reach: not installed
// (TAPEGRAD_INTERNAL_HEADERS in CMakeLists.txt), exported through TG_API.
#include <cstddef>
#include <string>

#include <tapegrad/core/export.h>

namespace tg::detail {

// The longest file name (bytes) the folder's filesystem takes: pathconf's
// _PC_NAME_MAX (eCryptfs allows about 143), 255 when it says nothing, and
// never more than 255, Linux's own limit for any filesystem.
TG_API std::size_t folder_name_max(const std::string& folder);

// "<name>.tmp-": what the temporary files next to the file `file_name` start
// with (followed by "<pid>-XXXXXX", at most 14 more bytes). A name too long
// for that within `name_max` bytes is cut short, at the start of a UTF-8
// character, so that a filesystem that insists on UTF-8 names takes it.
TG_API std::string temp_name_prefix(const std::string& file_name, std::size_t name_max);

// Called with the descriptor and path of each temporary file as soon as
// open() has created it, before anything else touches it: lets the tests see
// the permission bits it was born with. Null (the default) calls nothing.
using TempFileCreatedHook = void (*)(int fd, const std::string& temp_path);
TG_API void set_temp_file_created_hook(TempFileCreatedHook hook);

}  // namespace tg::detail
