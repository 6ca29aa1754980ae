// Resident memory over a long training loop: 10,000 steps of the seed model
// (784-32-64-10, batch 32, Adam) over a pool of 100 random batches; prints
// VmRSS after step 100 and after step 10,000. Flat means the tape, the
// allocator cache and the optimizer state stop growing once warm.
// bench/libtorch/memory.cpp is the same loop for LibTorch.
#include <fstream>
#include <string>
#include <vector>

#include <tapegrad/tapegrad.h>

namespace {

long rss_kib() {
  std::ifstream status("/proc/self/status");
  for (std::string line; std::getline(status, line);)
    if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
  return -1;
}

}  // namespace

int main() {
  namespace F = tg::nn::functional;
  tg::set_num_threads(1);
  tg::manual_seed(0);
  tg::nn::Sequential model{tg::nn::Linear(784, 32), tg::nn::ReLU(), tg::nn::Linear(32, 64), tg::nn::ReLU(),
                           tg::nn::Linear(64, 10)};
  tg::optim::Adam opt(model.parameters(), {.lr = 1e-3});
  std::vector<tg::Tensor> inputs, targets;
  for (int i = 0; i < 100; ++i) {
    inputs.push_back(tg::rand({32, 784}));
    targets.push_back(tg::randint(0, 10, {32}));
  }
  long at_100 = 0;
  for (int step = 1; step <= 10000; ++step) {
    opt.zero_grad();
    tg::Tensor loss = F::cross_entropy(model.forward(inputs[step % 100]), targets[step % 100]);
    loss.backward();
    opt.step();
    if (step == 100) at_100 = rss_kib();
  }
  fmt::print("rss_kib_step_100 {} rss_kib_step_10000 {}\n", at_100, rss_kib());
}
