#pragma once
// Puts back the thread count a test started with when it goes out of scope:
// the default, which follows the load, or the count that was fixed.
#include <tapegrad/core/parallel.h>

namespace tg_test {

class ThreadCountRestore {
 public:
  ThreadCountRestore() = default;
  ThreadCountRestore(const ThreadCountRestore&) = delete;
  ThreadCountRestore& operator=(const ThreadCountRestore&) = delete;
  ~ThreadCountRestore() {
    if (adaptive_) tg::reset_num_threads();
    else tg::set_num_threads(threads_);
  }

 private:
  bool adaptive_ = tg::adaptive_threads();
  int threads_ = tg::get_num_threads();
};

}  // namespace tg_test
