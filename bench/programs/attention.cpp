// Attention forward + backward at L = 128, 256, 512, 1024, 2048 (4 heads of
// 64, float32, 1 thread): the fused tg::scaled_dot_product_attention against
// the naive softmax(q k^T / sqrt(E)) v of three tensor ops that forms the
// whole [L, L] score matrix. Each configuration runs in a child process, so
// its peak resident memory (VmHWM, minus the child's resident memory before
// the inputs were made, after one small GEMM) is its own. After one warm-up step, 5 rounds of `reps`
// steps are timed; the median round gives the time per step, as wall time and
// as this process's CPU time. Prints one line per configuration:
//   attention <fused|naive> L <L> ms <wall per fwd+bwd> cpu_ms <CPU> peak_mib <MiB>
// The LibTorch twin (its naive path: LibTorch 1.13 has no
// scaled_dot_product_attention) is bench/libtorch/attention.cpp, with the same
// output; scripts/bench.sh runs both.
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <string>
#include <vector>

#include <fmt/format.h>

#include <tapegrad/tapegrad.h>

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

void run(bool fused, std::int64_t L) {
  tg::set_num_threads(1);
  tg::manual_seed(0);
  // A first small GEMM: one-time set-up (as BLAS buffers) stays out of the peak.
  (void)tg::matmul(tg::randn({64, 64}), tg::randn({64, 64}));
  const long before = status_kib("VmRSS");
  const std::int64_t H = 4, E = 64;
  tg::Tensor q = tg::randn({1, H, L, E}, {.requires_grad = true});
  tg::Tensor k = tg::randn({1, H, L, E}, {.requires_grad = true});
  tg::Tensor v = tg::randn({1, H, L, E}, {.requires_grad = true});
  const tg::Tensor g = tg::randn({1, H, L, E});
  const auto step = [&] {
    tg::Tensor out;
    if (fused) {
      out = tg::scaled_dot_product_attention(q, k, v);
    } else {
      const tg::Tensor scores = tg::mul(tg::matmul(q, k.transpose(-2, -1)), 1.0 / std::sqrt(static_cast<double>(E)));
      out = tg::matmul(tg::softmax(scores, -1), v);
    }
    tg::sum(tg::mul(out, g)).backward();
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
  fmt::print("attention {} L {} ms {:.3f} cpu_ms {:.3f} peak_mib {:.1f}\n", fused ? "fused" : "naive", L, median(wall),
             median(cpu), peak_mib);
}

}  // namespace

int main() {
  for (std::int64_t L : {128, 256, 512, 1024, 2048})
    for (bool fused : {true, false}) {
      std::fflush(stdout);
      const pid_t pid = ::fork();
      if (pid == 0) {
        run(fused, L);
        std::fflush(stdout);
        std::_Exit(0);
      }
      int status = 0;
      ::waitpid(pid, &status, 0);
      if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) return 1;
    }
}
