// nn::checkpoint_sequential: segments of a Sequential recomputed in backward.
#include <doctest/doctest.h>

#include <cstdint>
#include <memory>
#include <vector>

#include <tapegrad/autograd/ops.h>
#include <tapegrad/core/random.h>
#include <tapegrad/nn/nn.h>

#include "support/close.h"

namespace test_grad_checkpoint {

using tg::Tensor;

namespace {

tg::nn::Sequential make_model() {
  tg::manual_seed(21);
  tg::nn::Sequential model{tg::nn::Linear(6, 8), tg::nn::Tanh(),       tg::nn::Dropout(0.3),
                           tg::nn::Linear(8, 8), tg::nn::ReLU(),       tg::nn::Linear(8, 8),
                           tg::nn::Tanh(),       tg::nn::Dropout(0.2), tg::nn::Linear(8, 3)};
  model.to(tg::kFloat64);
  return model;
}

std::vector<std::vector<double>> grads_of(tg::nn::Sequential& model, std::int64_t segments, std::int64_t features = 6) {
  model.zero_grad();
  tg::manual_seed(77);
  Tensor x = tg::randn({4, features}, {.dtype = tg::kFloat64});
  Tensor y = segments == 0 ? model(x) : tg::nn::checkpoint_sequential(model, segments, x);
  (y * y).sum().backward();
  std::vector<std::vector<double>> out;
  for (const Tensor& p : model.parameters()) out.push_back(p.grad().to_vector<double>());
  return out;
}

}  // namespace

TEST_CASE("checkpoint_sequential: every segment count gives the unchecked gradients, dropout included") {
  auto model = make_model();
  const auto want = grads_of(model, 0);
  for (std::int64_t segments = 1; segments <= 9; ++segments) {
    CAPTURE(segments);
    const auto got = grads_of(model, segments);
    REQUIRE(got.size() == want.size());
    for (std::size_t i = 0; i < got.size(); ++i) tg_test::check_close(got[i], want[i], 0);
  }
}

// A parameter a segment reads twice (one layer applied twice, or two layers
// with a tied weight) is one target of the recomputation: it gave 2x before.
TEST_CASE("checkpoint_sequential: a layer used twice or a tied weight gets the unchecked gradient") {
  for (bool tied : {false, true}) {
    CAPTURE(tied);
    tg::manual_seed(31);
    auto first = std::make_shared<tg::nn::Linear>(4, 4);
    auto second = tied ? std::make_shared<tg::nn::Linear>(4, 4) : first;
    if (tied) second->weight = first->weight;
    // Six modules: two segments checkpoint [first, Tanh, second] together.
    tg::nn::Sequential model;
    model.push_back(first);
    model.push_back(std::make_shared<tg::nn::Tanh>());
    model.push_back(second);
    model.push_back(std::make_shared<tg::nn::Tanh>());
    model.push_back(std::make_shared<tg::nn::Identity>());
    model.push_back(std::make_shared<tg::nn::Identity>());
    model.to(tg::kFloat64);
    REQUIRE(model.parameters().size() == (tied ? 3U : 2U));
    const auto want = grads_of(model, 0, 4);
    for (std::int64_t segments = 1; segments <= 6; ++segments) {
      CAPTURE(segments);
      const auto got = grads_of(model, segments, 4);
      REQUIRE(got.size() == want.size());
      for (std::size_t i = 0; i < got.size(); ++i) tg_test::check_close(got[i], want[i], 1e-15);
    }
  }
}

TEST_CASE("checkpoint_sequential: a segment count outside [1, modules] is a ValueError") {
  auto model = make_model();
  Tensor x = tg::randn({4, 6}, {.dtype = tg::kFloat64});
  CHECK_THROWS_WITH_AS(tg::nn::checkpoint_sequential(model, 0, x),
                       "checkpoint_sequential: segments must be between 1 and the number of modules (9), got 0",
                       tg::ValueError);
  CHECK_THROWS_AS(tg::nn::checkpoint_sequential(model, 10, x), tg::ValueError);
  tg::nn::Sequential empty;
  CHECK_THROWS_AS(tg::nn::checkpoint_sequential(empty, 1, x), tg::ValueError);
}

}  // namespace test_grad_checkpoint
