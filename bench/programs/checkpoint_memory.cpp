// Gradient checkpointing, measured: one training step (forward, backward,
// SGD) of a deep MLP with no checkpointing, with every layer checkpointed,
// or with sqrt(n) segments. Run each mode in its own process: the peak
// resident set (getrusage) is per process.
//
//   checkpoint_memory --mode none|every|sqrt [--layers 64] [--width 1024] [--batch 256] [--steps 3]
//
// Prints one line: mode, steps, the resident set before the first step
// (parameters, their gradients, the input), the peak, their difference (what
// the steps added: activations and temporaries), and the median step time.
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include <tapegrad/tapegrad.h>

namespace {

double rss_mb() {
  std::ifstream status("/proc/self/status");
  std::string key;
  while (status >> key) {
    if (key == "VmRSS:") {
      double kb = 0;
      status >> kb;
      return kb / 1024;
    }
    status.ignore(1 << 12, '\n');
  }
  return 0;
}

double peak_rss_mb() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<double>(usage.ru_maxrss) / 1024;
}

}  // namespace

int main(int argc, char** argv) {
  std::string mode = "none";
  std::int64_t layers = 64, width = 1024, batch = 256, steps = 3;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    const char* value = argv[i + 1];
    if (flag == "--mode") mode = value;
    else if (flag == "--layers") layers = std::atoll(value);
    else if (flag == "--width") width = std::atoll(value);
    else if (flag == "--batch") batch = std::atoll(value);
    else if (flag == "--steps") steps = std::atoll(value);
    else {
      std::fprintf(stderr, "checkpoint_memory: unknown flag %s\n", flag.c_str());
      return 2;
    }
  }
  std::int64_t segments = 0;
  if (mode == "every") segments = layers;
  else if (mode == "sqrt") segments = std::max<std::int64_t>(1, std::llround(std::sqrt(static_cast<double>(layers))));
  else if (mode != "none") {
    std::fprintf(stderr, "checkpoint_memory: --mode must be none, every or sqrt\n");
    return 2;
  }
  tg::manual_seed(0);
  tg::nn::Sequential model;
  for (std::int64_t l = 0; l < layers; ++l)
    model.push_back(tg::nn::Sequential(tg::nn::Linear(width, width), tg::nn::ReLU()));
  tg::optim::SGD opt(model.parameters(), {.lr = 1e-4});
  tg::Tensor x = tg::randn({batch, width});
  // Gradients allocated up front and zeroed in place: their memory is then
  // in the baseline, and what a step adds is activations and temporaries
  // (otherwise each layer's new gradient takes the place of the activations
  // it frees, and hides them in the peak).
  for (tg::Tensor p : model.parameters()) p.mutable_grad() = tg::zeros_like(p);
  const double before = rss_mb();
  std::vector<double> times;
  for (std::int64_t s = 0; s < steps; ++s) {
    const auto t0 = std::chrono::steady_clock::now();
    model.zero_grad(/*set_to_none=*/false);
    tg::Tensor y = segments ? tg::nn::checkpoint_sequential(model, segments, x) : model(x);
    y.pow(2.0).mean().backward();
    opt.step();
    times.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  std::sort(times.begin(), times.end());
  const double peak = peak_rss_mb();
  std::printf(
      "mode=%s layers=%lld width=%lld batch=%lld segments=%lld rss_before_MB=%.0f peak_MB=%.0f added_MB=%.0f "
      "step_s=%.3f\n",
      mode.c_str(), static_cast<long long>(layers), static_cast<long long>(width), static_cast<long long>(batch),
      static_cast<long long>(segments), before, peak, peak - before, times[times.size() / 2]);
  return 0;
}
