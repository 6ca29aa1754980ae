// The smallest tapegrad program: two tensors, their matrix product, printed.
#include <fmt/core.h>

#include <tapegrad/tapegrad.h>

int main() {
  tg::manual_seed(0);
  tg::Tensor a = tg::randn({2, 3});
  tg::Tensor b = tg::tensor({1, 2, 3, 4, 5, 6}, {3, 2});
  tg::Tensor c = tg::matmul(a, b);  // [2, 3] @ [3, 2] -> [2, 2]
  fmt::print("a =\n{}\n\nb =\n{}\n\na @ b =\n{}\n", a, b, c);
}
