// Degenerate shapes a hunt over every op found mishandled: a 0-d tensor's
// size and stride, repeat past 4 dims, the median of an empty tensor, clamp's
// result dtype with a 0-d input, and nonzero's coordinates.
#include <doctest/doctest.h>

#include <cstdint>
#include <limits>
#include <vector>

#include <tapegrad/autograd/engine.h>
#include <tapegrad/autograd/gradcheck.h>
#include <tapegrad/autograd/ops.h>
#include <tapegrad/core/error.h>

namespace test_degenerate_shapes {

using tg::Tensor;

TEST_CASE("a 0-d tensor has no size or stride to read: IndexError, as PyTorch") {
  // Made in ways that left stale entries behind the empty shape.
  for (const Tensor& s :
       {tg::ones({7})[3], tg::ones({7, 5}).select(1, 2).select(0, 4), tg::ones({7}).sum(0), tg::scalar_tensor(2.0)}) {
    REQUIRE(s.dim() == 0);
    for (const std::int64_t d : {0, -1, 1}) {
      CAPTURE(d);
      CHECK_THROWS_WITH_AS(s.size(d), doctest::Contains("the tensor is 0-d"), tg::IndexError);
      CHECK_THROWS_WITH_AS(s.stride(d), doctest::Contains("the tensor is 0-d"), tg::IndexError);
    }
    CHECK(s.sizes().empty());
  }
  // Ops still take dim 0 and -1 for a 0-d tensor, as PyTorch's.
  const Tensor s = tg::scalar_tensor(3.0);
  CHECK(tg::sum(s, {0}).item<float>() == 3.0f);
  CHECK(tg::unsqueeze(s, -1).sizes().size() == 1);
}

TEST_CASE("repeat past 4 dims: the same values as the pairs path, and its gradient") {
  // Up to 4 dims repeat expands pairs; past that it repeats one dim at a time.
  const Tensor x = tg::arange(0.0, 6.0, 1.0, tg::kFloat64).reshape({2, 1, 3});
  const Tensor y = x.repeat({1, 1, 2, 1, 1});
  CHECK(y.shape() == tg::Dims{1, 1, 4, 1, 3});
  // [1, 1, 4, 1, 3] is x (as [2, 1, 3]) stacked twice along dim 2.
  CHECK(tg::equal(y.reshape({4, 3}), tg::cat({x.reshape({2, 3}), x.reshape({2, 3})}, 0)));
  // The 4-dim pairs path against the staged one on the same values.
  const Tensor four = x.repeat({2, 3, 1, 2});
  const Tensor five = x.repeat({1, 2, 3, 1, 2});
  CHECK(tg::equal(five.reshape(four.shape()), four));
  // All ones: a copy, not a view of x.
  const Tensor same = tg::ones({1, 1, 1, 1, 2}).repeat({1, 1, 1, 1, 1});
  CHECK(same.shape() == tg::Dims{1, 1, 1, 1, 2});
  const Tensor z = tg::ones({1, 1, 1, 1, 2});
  Tensor copy = z.repeat({1, 1, 1, 1, 1});
  copy.fill_(5.0);
  CHECK(z.sum().item<float>() == 2.0f);
  // A zero count and 8 dims.
  CHECK(tg::ones({2, 3}).repeat({1, 1, 1, 0, 2}).numel() == 0);
  CHECK(tg::ones({2}).repeat({1, 1, 1, 1, 1, 1, 2, 3}).shape() == tg::Dims{1, 1, 1, 1, 1, 1, 2, 6});
  CHECK_THROWS_AS(tg::ones({2}).repeat({1, 1, 1, 1, 1, 1, 1, 1, 2}), tg::ShapeError);
  // Gradients sum the copies back.
  const Tensor leaf = tg::randn({2, 1, 3}, {.dtype = tg::kFloat64}).set_requires_grad(true);
  const auto f = [](const std::vector<Tensor>& in) { return std::vector<Tensor>{in[0].repeat({2, 1, 2, 1, 2})}; };
  CHECK(tg::gradcheck(f, {leaf}));
  CHECK(tg::gradgradcheck(f, {leaf}));
}

TEST_CASE("the median of an empty floating tensor is NaN and stays in the graph, as PyTorch") {
  for (const tg::Dims& shape : {tg::Dims{0}, tg::Dims{3, 0}, tg::Dims{2, 0, 3}}) {
    for (const tg::DType dtype : {tg::kFloat32, tg::kFloat64, tg::kFloat16}) {
      const Tensor x = tg::zeros(shape, {.dtype = dtype}).set_requires_grad(true);
      const Tensor m = x.median();
      CHECK(m.dim() == 0);
      CHECK(m.dtype() == dtype);
      CHECK(std::isnan(m.to(tg::kFloat64).item<double>()));
      CHECK(m.requires_grad());
      m.backward();
      REQUIRE(x.grad().defined());
      CHECK(x.grad().shape() == x.shape());
    }
  }
  CHECK_THROWS_AS(tg::zeros({0}, {.dtype = tg::kInt64}).median(), tg::IndexError);
}

TEST_CASE("clamp with tensor bounds: the result type of all three, 0-d x included, as torch.result_type") {
  const Tensor x64 = tg::scalar_tensor(5.0, {.dtype = tg::kFloat64});
  CHECK(tg::clamp(x64, tg::zeros({3}), Tensor()).dtype() == tg::kFloat32);
  CHECK(tg::clamp(x64, tg::zeros({3}), Tensor()).to_vector<float>() == std::vector<float>{5, 5, 5});
  const Tensor i0 = tg::scalar_tensor(-2.0, {.dtype = tg::kInt64});
  CHECK(tg::clamp(i0, tg::zeros({3}, {.dtype = tg::kUInt8}), Tensor()).dtype() == tg::kUInt8);
  // A 0-d bound of a higher category lifts: int64 [3] with a 0-d float64 min is float64.
  CHECK(tg::clamp(tg::ones({3}, {.dtype = tg::kInt64}), x64, Tensor()).dtype() == tg::kFloat64);
  // Dimensioned operands promote among themselves; 0-d ones of the same category do not count.
  CHECK(tg::clamp(tg::ones({3}), tg::zeros({3}, {.dtype = tg::kFloat64}), x64).dtype() == tg::kFloat64);
  CHECK(tg::clamp(tg::ones({3}), x64, x64).dtype() == tg::kFloat32);
  CHECK(tg::clamp(x64, x64, x64).dtype() == tg::kFloat64);
}

TEST_CASE("nonzero: coordinates of every nonzero element, in order, for any rank and layout") {
  const Tensor x =
      tg::tensor({0.0, 1.0, 0.0, 2.0, 3.0, 0.0, 0.0, 0.0, 4.0, 0.0, 0.0, 5.0}, {}, tg::kFloat64).reshape({2, 2, 3});
  const std::vector<std::int64_t> want = {0, 0, 1, 0, 1, 0, 0, 1, 1, 1, 0, 2, 1, 1, 2};
  CHECK(tg::nonzero(x).shape() == tg::Dims{5, 3});
  CHECK(tg::nonzero(x).to_vector<std::int64_t>() == want);
  // Transposed: the coordinates of the view, row-major in it.
  const Tensor t = x.transpose(0, 2);  // [3, 2, 2]
  std::vector<std::int64_t> from_loop;
  for (std::int64_t i = 0; i < 3; ++i)
    for (std::int64_t j = 0; j < 2; ++j)
      for (std::int64_t k = 0; k < 2; ++k)
        if (t[i][j][k].item<double>() != 0) from_loop.insert(from_loop.end(), {i, j, k});
  CHECK(tg::nonzero(t).to_vector<std::int64_t>() == from_loop);
  // None, 0-d, and empty.
  CHECK(tg::nonzero(tg::zeros({4})).shape() == tg::Dims{0, 1});
  CHECK(tg::nonzero(tg::scalar_tensor(2.0)).shape() == tg::Dims{1, 0});
  CHECK(tg::nonzero(tg::zeros({0, 3})).shape() == tg::Dims{0, 2});
}

}  // namespace test_degenerate_shapes
