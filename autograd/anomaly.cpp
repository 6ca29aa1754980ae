#include <cxxabi.h>
#include <execinfo.h>

#include <cstdlib>
#include <memory>
#include <string>

#include <tapegrad/autograd/function.h>

namespace tg::autograd {

// glibc's backtrace gives "binary(mangled+0x1f) [0x...]"; we demangle the
// function names and skip the frames inside the recording machinery.
std::string capture_recording_site() {
  constexpr int kMaxFrames = 24;
  void* frames[kMaxFrames];
  const int n = ::backtrace(frames, kMaxFrames);
  std::unique_ptr<char*, void (*)(void*)> symbols(::backtrace_symbols(frames, n), std::free);
  if (!symbols) return "  (no stack trace available)";
  std::string out;
  int shown = 0;
  for (int i = 0; i < n && shown < 10; ++i) {
    std::string line = symbols.get()[i];
    const auto open = line.find('('), plus = line.find('+', open == std::string::npos ? 0 : open);
    std::string name;
    if (open != std::string::npos && plus != std::string::npos && plus > open + 1) {
      const std::string mangled = line.substr(open + 1, plus - open - 1);
      int status = 0;
      std::unique_ptr<char, void (*)(void*)> demangled(abi::__cxa_demangle(mangled.c_str(), nullptr, nullptr, &status),
                                                       std::free);
      name = status == 0 && demangled ? demangled.get() : mangled;
    } else {
      name = line;
    }
    if (name.find("tg::autograd::") != std::string::npos) continue;  // recording machinery
    out += "  " + name + "\n";
    ++shown;
  }
  return out;
}

}  // namespace tg::autograd
