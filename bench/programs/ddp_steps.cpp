// Data-parallel training, measured (run under mpirun, 1 thread per rank):
//
//   mpirun -np 2 ddp_steps [--model seed|wide] [--batch 32] [--steps 50]
//
// Each rank trains on `batch` examples per step (random data: only time
// matters). Rank 0 prints the median step time and steps/s, the bytes each
// step all-reduces, the time a blocking all-reduce of those gradients takes
// after backward (what communication costs without overlap), and the time
// DistributedDataParallel's backward still waited at its end; the hidden
// share is 1 - wait / blocking. Medians, then the fastest of each.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include <tapegrad/distributed/ddp.h>
#include <tapegrad/distributed/distributed.h>
#include <tapegrad/tapegrad.h>

namespace dist = tg::distributed;

namespace {

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

// On a shared machine a collective waits for its slowest rank to be
// scheduled: the fastest step is the better estimate of the uncontended cost.
double fastest(const std::vector<double>& v) { return *std::min_element(v.begin(), v.end()); }

}  // namespace

int main(int argc, char** argv) {
  dist::init();
  std::string model_name = "seed";
  std::int64_t batch = 32, steps = 50;
  double bucket_mb = 25;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    if (flag == "--model") model_name = argv[i + 1];
    else if (flag == "--batch") batch = std::atoll(argv[i + 1]);
    else if (flag == "--steps") steps = std::atoll(argv[i + 1]);
    else if (flag == "--bucket-mb") bucket_mb = std::atof(argv[i + 1]);
    else dist::abort("ddp_steps: unknown flag " + flag, 2);
  }
  tg::set_num_threads(1);
  const std::int64_t hidden = model_name == "wide" ? 1024 : 32, hidden2 = model_name == "wide" ? 1024 : 64;
  tg::manual_seed(0);
  auto model =
      std::make_shared<tg::nn::Sequential>(tg::nn::Linear(784, hidden), tg::nn::ReLU(), tg::nn::Linear(hidden, hidden2),
                                           tg::nn::ReLU(), tg::nn::Linear(hidden2, 10));
  dist::DistributedDataParallel ddp(model, {.bucket_cap_mb = bucket_mb});
  tg::optim::SGD opt(ddp.parameters(), {.lr = 0.01});
  tg::Tensor x = tg::randn({batch, 784});
  tg::Tensor y = tg::randint(0, 10, {batch});
  std::int64_t bytes = 0;
  for (const auto& p : model->parameters()) bytes += p.numel() * 4;

  std::vector<double> step_times, waits, blocking;
  for (std::int64_t s = 0; s < steps + 5; ++s) {
    dist::barrier();
    const auto t0 = std::chrono::steady_clock::now();
    opt.zero_grad();
    tg::cross_entropy(ddp(x), y).backward();
    opt.step();
    const double t = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    // The same gradients all-reduced again, blocking, after backward: the
    // cost DDP would pay with no overlap at all.
    dist::barrier();
    const auto c0 = std::chrono::steady_clock::now();
    {
      // One flat buffer, as DDP's single bucket: the same bytes in one collective.
      std::vector<tg::Tensor> flat;
      for (const auto& p : model->parameters()) flat.push_back(p.grad().reshape({-1}));
      tg::Tensor all = tg::cat(flat);
      dist::all_reduce(all, dist::ReduceOp::kMean);
    }
    const double c = std::chrono::duration<double>(std::chrono::steady_clock::now() - c0).count();
    if (s < 5) continue;  // warm-up
    step_times.push_back(t);
    waits.push_back(ddp.last_wait_seconds());
    blocking.push_back(c);
  }
  if (dist::rank() == 0) {
    const double step = median(step_times), wait = median(waits), block = median(blocking);
    std::printf(
        "model=%s ranks=%d batch_per_rank=%lld step_ms=%.3f steps_per_s=%.1f grad_bytes=%lld "
        "blocking_allreduce_ms=%.3f ddp_wait_ms=%.3f hidden_share=%.2f\n",
        model_name.c_str(), dist::world_size(), static_cast<long long>(batch), step * 1e3, 1 / step,
        static_cast<long long>(bytes), block * 1e3, wait * 1e3, block > 0 ? 1 - wait / block : 0.0);
    std::printf("  fastest: step_ms=%.3f blocking_allreduce_ms=%.3f ddp_wait_ms=%.3f\n", fastest(step_times) * 1e3,
                fastest(blocking) * 1e3, fastest(waits) * 1e3);
  }
  dist::finalize();
  return 0;
}
