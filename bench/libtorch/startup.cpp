// bench/programs/startup.cpp for LibTorch.
#include <torch/torch.h>

#include <cstdio>

int main() {
  const torch::Tensor a = torch::ones({2, 2});
  std::printf("%g\n", torch::mm(a, a).sum().item<float>());
}
