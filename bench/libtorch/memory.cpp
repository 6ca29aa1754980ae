// bench/programs/memory.cpp for LibTorch.
#include <torch/torch.h>

#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

extern "C" void openblas_set_num_threads(int) __attribute__((weak));

namespace {

long rss_kib() {
  std::ifstream status("/proc/self/status");
  for (std::string line; std::getline(status, line);)
    if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
  return -1;
}

}  // namespace

int main() {
  torch::set_num_threads(1);
  if (openblas_set_num_threads) openblas_set_num_threads(1);
  torch::manual_seed(0);
  torch::nn::Sequential model(torch::nn::Linear(784, 32), torch::nn::ReLU(), torch::nn::Linear(32, 64),
                              torch::nn::ReLU(), torch::nn::Linear(64, 10));
  torch::optim::Adam opt(model->parameters(), torch::optim::AdamOptions(1e-3));
  std::vector<torch::Tensor> inputs, targets;
  for (int i = 0; i < 100; ++i) {
    inputs.push_back(torch::rand({32, 784}));
    targets.push_back(torch::randint(0, 10, {32}, torch::kLong));
  }
  long at_100 = 0;
  for (int step = 1; step <= 10000; ++step) {
    opt.zero_grad();
    torch::Tensor loss = torch::nn::functional::cross_entropy(model->forward(inputs[step % 100]), targets[step % 100]);
    loss.backward();
    opt.step();
    if (step == 100) at_100 = rss_kib();
  }
  std::printf("rss_kib_step_100 %ld rss_kib_step_10000 %ld\n", at_100, rss_kib());
}
