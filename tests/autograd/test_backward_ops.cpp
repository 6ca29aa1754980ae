// The fused backward kernels are ops of their own (one backward idiom): their
// derivatives, written once, must give second derivatives that match finite
// differences. gradgradcheck over the tg:: neural-network ops in float64,
// every one with a non-contiguous input, and with every tensor argument that
// can take a gradient (weights, biases, probability targets) requiring one.
#include <cstdint>
#include <vector>

#include <doctest/doctest.h>

#include <tapegrad/autograd/gradcheck.h>
#include <tapegrad/autograd/ops.h>
#include <tapegrad/core/random.h>

namespace test_backward_ops {

using tg::Tensor;

namespace {

using Inputs = std::vector<Tensor>;

// Normal float64 values of `shape`, seen through `perm` of a tensor laid out
// in the permuted order: the same shape, non-contiguous strides.
Tensor strided_leaf(const tg::Dims& shape, const tg::Dims& perm) {
  tg::Dims stored(shape);
  for (int i = 0; i < shape.size(); ++i) stored[perm[i]] = shape[i];
  Tensor x = tg::randn(stored, {.dtype = tg::kFloat64}).permute(perm);
  REQUIRE(x.shape() == shape);
  REQUIRE(!x.is_contiguous());
  return x.set_requires_grad(true);
}

Tensor leaf(const tg::Dims& shape) { return tg::randn(shape, {.dtype = tg::kFloat64}).set_requires_grad(true); }

Tensor labels(std::initializer_list<double> v, tg::Dims shape) { return tg::tensor(v, shape, {.dtype = tg::kInt64}); }

}  // namespace

TEST_CASE("softmax and log_softmax: second derivatives through their backward ops") {
  tg::manual_seed(21);
  const Tensor x = strided_leaf({3, 4}, {1, 0});
  for (std::int64_t d : {0, 1, -1}) {
    CAPTURE(d);
    CHECK(tg::gradgradcheck([d](const Inputs& in) { return tg::softmax(in[0], d); }, {x}));
    CHECK(tg::gradgradcheck([d](const Inputs& in) { return tg::log_softmax(in[0], d); }, {x}));
  }
}

TEST_CASE("layer_norm: second derivatives for input, weight and bias") {
  tg::manual_seed(22);
  const Tensor x = strided_leaf({2, 3, 4}, {0, 2, 1});
  const Tensor w = leaf({3, 4}), b = leaf({3, 4});
  CHECK(tg::gradgradcheck([](const Inputs& in) { return tg::layer_norm(in[0], {3, 4}, in[1], in[2]); }, {x, w, b}));
  CHECK(tg::gradgradcheck([](const Inputs& in) { return tg::layer_norm(in[0], {4}, in[1]); }, {x, leaf({4})}));
  CHECK(tg::gradgradcheck([](const Inputs& in) { return tg::layer_norm(in[0], {4}); }, {x}));
  // Only the parameters learn: the backward op still differentiates in dy.
  const Tensor fixed = strided_leaf({2, 3, 4}, {0, 2, 1}).detach();
  CHECK(tg::gradgradcheck([&](const Inputs& in) { return tg::layer_norm(fixed, {3, 4}, in[0], in[1]); }, {w, b}));
}

TEST_CASE("batch_norm (training): second derivatives for input, weight and bias") {
  tg::manual_seed(23);
  const Tensor x = strided_leaf({3, 2, 4}, {2, 1, 0});
  const Tensor w = leaf({2}), b = leaf({2});
  auto train = [](const Inputs& in) {
    return tg::batch_norm(in[0], {}, {}, in.size() > 1 ? in[1] : Tensor(), in.size() > 2 ? in[2] : Tensor(), true);
  };
  CHECK(tg::gradgradcheck(train, {x, w, b}));
  CHECK(tg::gradgradcheck(train, {x}));
  const Tensor x2 = strided_leaf({4, 3}, {1, 0});
  CHECK(tg::gradgradcheck(train, {x2, leaf({3})}));
}

TEST_CASE("conv2d: second derivatives with a non-contiguous input") {
  tg::manual_seed(24);
  const Tensor x = strided_leaf({2, 2, 5, 4}, {0, 1, 3, 2});
  const Tensor w = leaf({3, 2, 3, 2}), b = leaf({3});
  CHECK(tg::gradgradcheck([](const Inputs& in) { return tg::conv2d(in[0], in[1], in[2], {2, 1}, 1); }, {x, w, b}));
}

TEST_CASE("max_pool2d and avg_pool2d: second derivatives with a non-contiguous input") {
  // Distinct values keep each window's maximum away from ties.
  const std::int64_t n = 2 * 2 * 5 * 6;
  Tensor x = tg::randperm(n).to(tg::kFloat64).div_(static_cast<double>(n)).reshape({2, 2, 6, 5}).transpose(2, 3);
  x.set_requires_grad(true);
  REQUIRE(!x.is_contiguous());
  CHECK(tg::gradgradcheck([](const Inputs& in) { return tg::max_pool2d(in[0], 2, 1, 1); }, {x}));
  CHECK(tg::gradgradcheck([](const Inputs& in) { return std::get<0>(tg::max_pool2d_with_indices(in[0], 3, 2)); }, {x}));
  CHECK(tg::gradgradcheck([](const Inputs& in) { return tg::avg_pool2d(in[0], 3, 2, 1, false); }, {x}));
}

TEST_CASE("embedding: second derivatives, padding row included") {
  tg::manual_seed(25);
  const Tensor weight = strided_leaf({5, 3}, {1, 0});
  const Tensor idx = labels({0, 4, 2, 4, 1, 0}, {2, 3});
  CHECK(tg::gradgradcheck([&](const Inputs& in) { return tg::embedding(idx, in[0]); }, {weight}));
  CHECK(tg::gradgradcheck([&](const Inputs& in) { return tg::embedding(idx, in[0], -1); }, {weight}));
}

TEST_CASE("dropout: second derivatives with a fixed mask") {
  const Tensor x = strided_leaf({3, 4}, {1, 0});
  CHECK(tg::gradgradcheck(
      [](const Inputs& in) {
        tg::Generator gen(7);  // the same mask on every call
        return tg::dropout(in[0], 0.4, true, &gen);
      },
      {x}));
}

TEST_CASE("cross_entropy and nll_loss on class indices: second derivatives") {
  tg::manual_seed(26);
  const Tensor x = strided_leaf({3, 4, 2}, {2, 0, 1});
  const Tensor y = labels({0, 3, -100, 1, 2, 2}, {3, 2});
  const Tensor w = tg::tensor({0.5, 2, 1, 1.5}, {4}, {.dtype = tg::kFloat64});
  for (tg::Reduction r : {tg::Reduction::None, tg::Reduction::Mean, tg::Reduction::Sum}) {
    CAPTURE(tg::reduction_name(r));
    CHECK(tg::gradgradcheck(
        [&](const Inputs& in) {
          return tg::cross_entropy(in[0], y, {.weight = w, .label_smoothing = 0.2, .reduction = r});
        },
        {x}));
    CHECK(tg::gradgradcheck([&](const Inputs& in) { return tg::nll_loss(in[0], y, {.weight = w, .reduction = r}); },
                            {x}));
  }
}

TEST_CASE("cross_entropy on probabilities: second derivatives for logits and targets") {
  tg::manual_seed(27);
  const Tensor w = tg::tensor({0.5, 2, 1}, {3}, {.dtype = tg::kFloat64});
  const Tensor x = strided_leaf({4, 3}, {1, 0});
  const Tensor t = tg::softmax(tg::randn({3, 4}, {.dtype = tg::kFloat64}), 0).t().set_requires_grad(true);
  REQUIRE(!t.is_contiguous());
  for (tg::Reduction r : {tg::Reduction::None, tg::Reduction::Mean, tg::Reduction::Sum}) {
    CAPTURE(tg::reduction_name(r));
    auto fn = [&](const Inputs& in) {
      return tg::cross_entropy(in[0], in[1], {.weight = w, .label_smoothing = 0.1, .reduction = r});
    };
    CHECK(tg::gradgradcheck(fn, {x, t}));
    // One of the two learning at a time: the backward op's other half alone.
    CHECK(tg::gradgradcheck([&](const Inputs& in) { return fn({in[0], t.detach()}); }, {x}));
    CHECK(tg::gradgradcheck([&](const Inputs& in) { return fn({x.detach(), in[0]}); }, {t}));
  }
}

TEST_CASE("binary_cross_entropy and the logits form: second derivatives for input and target") {
  tg::manual_seed(28);
  // Probabilities in (0.1, 0.9): away from the clamps, where the loss has kinks.
  const Tensor x = tg::add(tg::mul(tg::rand({4, 3}, {.dtype = tg::kFloat64}), 0.8), 0.1).t().set_requires_grad(true);
  const Tensor t = tg::rand({4, 3}, {.dtype = tg::kFloat64}).t().set_requires_grad(true);
  const Tensor weight = tg::tensor({0.5, 2, 1, 3}, {4}, {.dtype = tg::kFloat64});
  for (tg::Reduction r : {tg::Reduction::None, tg::Reduction::Mean, tg::Reduction::Sum}) {
    CAPTURE(tg::reduction_name(r));
    CHECK(tg::gradgradcheck(
        [&](const Inputs& in) { return tg::binary_cross_entropy(in[0], in[1], {.weight = weight, .reduction = r}); },
        {x, t}));
    CHECK(tg::gradgradcheck([&](const Inputs& in) { return tg::binary_cross_entropy(in[0], t.detach()); }, {x}));
    CHECK(tg::gradgradcheck([&](const Inputs& in) { return tg::binary_cross_entropy(x.detach(), in[0]); }, {t}));
  }
  const Tensor logits = strided_leaf({3, 4}, {1, 0});
  const Tensor pos_weight = tg::tensor({1, 2, 0.5, 3}, {4}, {.dtype = tg::kFloat64}).set_requires_grad(true);
  CHECK(tg::gradgradcheck(
      [&](const Inputs& in) { return tg::binary_cross_entropy_with_logits(in[0], in[1], {.pos_weight = in[2]}); },
      {logits, t, pos_weight}));
}

TEST_CASE("mse, l1 and huber losses: second derivatives") {
  tg::manual_seed(29);
  const Tensor x = strided_leaf({3, 4}, {1, 0});
  const Tensor t = leaf({3, 4});
  CHECK(tg::gradgradcheck([](const Inputs& in) { return tg::mse_loss(in[0], in[1]); }, {x, t}));
  CHECK(tg::gradgradcheck([](const Inputs& in) { return tg::l1_loss(in[0], in[1], {.reduction = tg::Reduction::Sum}); },
                          {x, t}));
  CHECK(tg::gradgradcheck([](const Inputs& in) { return tg::huber_loss(in[0], in[1], {.delta = 0.7}); }, {x, t}));
}

}  // namespace test_backward_ops
