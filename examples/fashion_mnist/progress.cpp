#include "progress.h"

#include <unistd.h>

#include <cstdio>

#include <fmt/format.h>

namespace fashion {

bool stdout_is_terminal() { return ::isatty(STDOUT_FILENO) != 0; }

ProgressBar::ProgressBar(std::string label, std::size_t total_batches, bool interactive)
    : label_(std::move(label)),
      total_(total_batches),
      interactive_(interactive),
      start_(std::chrono::steady_clock::now()) {}

void ProgressBar::update(std::size_t done, std::size_t samples, double running_loss) {
  const auto now = std::chrono::steady_clock::now();
  const double elapsed = std::chrono::duration<double>(now - start_).count();
  const double rate = elapsed > 0 ? static_cast<double>(samples) / elapsed : 0;
  const double eta = done > 0 ? elapsed / static_cast<double>(done) * static_cast<double>(total_ - done) : 0;
  if (interactive_) {
    // Redraw at most 20 times a second: drawing costs more than a batch.
    if (done != total_ && now - last_draw_ < std::chrono::milliseconds(50)) return;
    last_draw_ = now;
    constexpr int kWidth = 30;
    const int filled = total_ ? static_cast<int>(kWidth * done / total_) : kWidth;
    fmt::print("\r{} [{}{}] {}/{} loss {:.4f} {:.0f} samples/s ETA {:.1f}s ", label_, std::string(filled, '='),
               std::string(kWidth - filled, ' '), done, total_, running_loss, rate, eta);
    std::fflush(stdout);
    return;
  }
  const std::size_t tenth = total_ ? done * 10 / total_ : 10;
  if (tenth > last_plain_tenth_ && tenth < 10) {
    last_plain_tenth_ = tenth;
    fmt::print("{} {}/{} loss {:.4f} {:.0f} samples/s ETA {:.1f}s\n", label_, done, total_, running_loss, rate, eta);
    std::fflush(stdout);
  }
}

void ProgressBar::finish() {
  if (interactive_) fmt::print("\n");
}

}  // namespace fashion
