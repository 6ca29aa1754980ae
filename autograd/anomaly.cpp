// Where an op was recorded, for anomaly mode's errors. Boost.Stacktrace
// captures the return addresses at recording time (cheap) and symbolises
// them (function, file, line) only when an error message needs them. Which
// back end does the symbolising is chosen by CMake (see CMakeLists.txt):
// libbacktrace (reads the binary's DWARF, in process) when it links, else
// Boost's basic back end (names from the dynamic symbol table alone).
#include <memory>
#include <string>

#ifdef TAPEGRAD_HAVE_LIBBACKTRACE
#define BOOST_STACKTRACE_USE_BACKTRACE
#endif
#include <fmt/format.h>
#include <boost/stacktrace.hpp>

#include <tapegrad/autograd/function.h>

namespace tg::autograd {

struct RecordingSite {
  boost::stacktrace::stacktrace frames;
};

namespace {

// Frames of the recording machinery (attach, record, this file) and of
// Boost itself say nothing about the user's program.
bool is_machinery(const std::string& name) {
  return name.find("tg::autograd::") != std::string::npos || name.find("boost::stacktrace") != std::string::npos ||
         name.find("tg::profiler::") != std::string::npos;
}

}  // namespace

std::shared_ptr<const RecordingSite> capture_recording_frames() {
  // Deep enough to get from the op through the user's helpers to their loop.
  constexpr std::size_t kMaxFrames = 32;
  return std::make_shared<RecordingSite>(RecordingSite{boost::stacktrace::stacktrace(0, kMaxFrames)});
}

std::string describe_recording_site(const RecordingSite& site) {
  constexpr int kShown = 10;
  std::string out;
  int shown = 0;
  for (const auto& frame : site.frames) {
    if (shown == kShown) break;
    std::string name = frame.name();
    if (is_machinery(name)) continue;
    if (name.empty()) name = fmt::format("{}", frame.address());
    const std::string file = frame.source_file();
    if (file.empty()) out += fmt::format("  #{} {}\n", shown, name);
    else out += fmt::format("  #{} {}\n        at {}:{}\n", shown, name, file, frame.source_line());
    ++shown;
  }
  if (out.empty()) return "  (no stack trace available)\n";
  return out;
}

std::string capture_recording_site() { return describe_recording_site(*capture_recording_frames()); }

}  // namespace tg::autograd
