// The smallest useful program: make a tensor, multiply, print. scripts/bench.sh
// times whole runs of it (start-up, static initialisation, BLAS loading,
// exit) and reads its peak resident memory; bench/libtorch/startup.cpp is the same
// program for LibTorch.
#include <tapegrad/tapegrad.h>

int main() {
  const tg::Tensor a = tg::ones({2, 2});
  fmt::print("{}\n", tg::matmul(a, a).sum().item<float>());
}
