// The smallest tapegrad program: two tensors, their matrix product, printed.
#include <fmt/core.h>

#include <tapegrad/tapegrad.h>

int main() {
  tg::manual_seed(0);
  tg::Tensor a = tg::randn({2, 3});
  tg::Tensor b = tg::tensor({1.0, 2.0, 3.0, 4.0, 5.0, 6.0}, {3, 2});
  tg::Tensor c = tg::matmul(a, b);  // [2, 3] @ [3, 2] -> [2, 2]
  fmt::print("a =\n{}\n\nb =\n{}\n\na @ b =\n{}\n", a, b, c);
}
