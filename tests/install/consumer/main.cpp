// Uses the installed headers and library: a tensor, a GEMM through OpenBLAS,
// and one backward pass, each checked against values worked out by hand.
#include <fmt/core.h>

#include <cstdio>
#include <vector>

#include <tapegrad/tapegrad.h>

int main() {
  // [[1, 2], [3, 4]] @ [[5], [6]] = [[17], [39]]
  tg::Tensor a = tg::tensor({1, 2, 3, 4}, {2, 2}, {.requires_grad = true});
  tg::Tensor b = tg::tensor({5, 6}, {2, 1});
  tg::Tensor y = tg::matmul(a, b);
  std::vector<float> values = y.to_vector<float>();
  if (values != std::vector<float>{17, 39}) {
    fmt::print(stderr, "consumer: expected a @ b = [17, 39], got [{}, {}]\n", values[0], values[1]);
    return 1;
  }
  // d(sum(a @ b)) / da = ones([2, 1]) @ b^T = [[5, 6], [5, 6]]
  y.sum().backward();
  std::vector<float> grad = a.grad().to_vector<float>();
  if (grad != std::vector<float>{5, 6, 5, 6}) {
    fmt::print(stderr, "consumer: expected grad [5, 6, 5, 6], got [{}, {}, {}, {}]\n", grad[0], grad[1], grad[2],
               grad[3]);
    return 1;
  }
  fmt::print("consumer: installed tapegrad works\n");
  return 0;
}
