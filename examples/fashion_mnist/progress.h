#pragma once
// A per-epoch progress bar: batches done, running loss, samples/s and ETA,
// redrawn in place on a terminal and printed as plain lines (every tenth of
// the epoch) when stdout is a file or a pipe.
#include <chrono>
#include <cstddef>
#include <string>

namespace fashion {

class ProgressBar {
 public:
  ProgressBar(std::string label, std::size_t total_batches, bool interactive);
  void update(std::size_t batches_done, std::size_t samples_done, double running_loss);
  void finish();

 private:
  std::string label_;
  std::size_t total_;
  bool interactive_;
  std::size_t last_plain_tenth_ = 0;
  std::chrono::steady_clock::time_point start_;
  std::chrono::steady_clock::time_point last_draw_{};
};

bool stdout_is_terminal();

}  // namespace fashion
