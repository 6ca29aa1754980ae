// The LibTorch twin of bench/programs/attention.cpp: attention forward +
// backward at L = 128, 256, 512, 1024, 2048 (4 heads of 64, float32, 1
// thread) along LibTorch 1.13's only path, the naive softmax(q k^T / sqrt(E)) v
// of matmul, softmax and matmul (its scaled_dot_product_attention came in
// 2.0). Measured as the tapegrad program measures: each L in a child process,
// peak resident memory = VmHWM minus the resident memory before the inputs
// were made (after one small GEMM), the median of 5 timed rounds. Prints
//   attention libtorch L <L> ms <wall per fwd+bwd> cpu_ms <CPU> peak_mib <MiB>
#include <sys/wait.h>
#include <torch/torch.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <string>
#include <vector>

extern "C" void openblas_set_num_threads(int) __attribute__((weak));

namespace {

long status_kib(const char* key) {
  std::ifstream status("/proc/self/status");
  const std::string prefix = std::string(key) + ":";
  for (std::string line; std::getline(status, line);)
    if (line.rfind(prefix, 0) == 0) return std::stol(line.substr(prefix.size()));
  return -1;
}

// This process's CPU time, all threads.
double cpu_ms() {
  timespec t{};
  ::clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) * 1e3 + static_cast<double>(t.tv_nsec) * 1e-6;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

void run(std::int64_t L) {
  torch::set_num_threads(1);
  if (openblas_set_num_threads) openblas_set_num_threads(1);
  torch::manual_seed(0);
  // A first small GEMM: one-time set-up (as BLAS buffers) stays out of the peak.
  (void)torch::matmul(torch::randn({64, 64}), torch::randn({64, 64}));
  const long before = status_kib("VmRSS");
  const std::int64_t H = 4, E = 64;
  torch::Tensor q = torch::randn({1, H, L, E}, torch::requires_grad());
  torch::Tensor k = torch::randn({1, H, L, E}, torch::requires_grad());
  torch::Tensor v = torch::randn({1, H, L, E}, torch::requires_grad());
  const torch::Tensor g = torch::randn({1, H, L, E});
  const auto step = [&] {
    const torch::Tensor scores = torch::matmul(q, k.transpose(-2, -1)) * (1.0 / std::sqrt(static_cast<double>(E)));
    const torch::Tensor out = torch::matmul(torch::softmax(scores, -1), v);
    (out * g).sum().backward();
  };
  step();  // warm-up
  const int reps = L <= 128 ? 20 : L <= 256 ? 10 : L <= 512 ? 4 : 1;
  std::vector<double> wall, cpu;
  for (int round = 0; round < 5; ++round) {
    const auto start = std::chrono::steady_clock::now();
    const double cpu_start = cpu_ms();
    for (int i = 0; i < reps; ++i) step();
    cpu.push_back((cpu_ms() - cpu_start) / reps);
    wall.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count() / reps);
  }
  const double peak_mib = static_cast<double>(status_kib("VmHWM") - before) / 1024.0;
  std::printf("attention libtorch L %lld ms %.3f cpu_ms %.3f peak_mib %.1f\n", static_cast<long long>(L), median(wall),
              median(cpu), peak_mib);
}

}  // namespace

int main() {
  for (std::int64_t L : {128, 256, 512, 1024, 2048}) {
    std::fflush(stdout);
    const pid_t pid = ::fork();
    if (pid == 0) {
      run(L);
      std::fflush(stdout);
      std::_Exit(0);
    }
    int status = 0;
    ::waitpid(pid, &status, 0);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) return 1;
  }
}
