// Evaluation metrics over every rank's share, all-reduced: the same numbers
// as one process evaluating the whole dataset.
#include <doctest/doctest.h>

#include <cmath>
#include <span>
#include <vector>

#include <tapegrad/autograd/grad_mode.h>
#include <tapegrad/autograd/ops.h>
#include <tapegrad/core/random.h>
#include <tapegrad/data/dataset.h>
#include <tapegrad/distributed/distributed.h>
#include <tapegrad/distributed/sampler.h>
#include <tapegrad/nn/nn.h>

namespace test_metrics {

using tg::Tensor;
namespace dist = tg::distributed;

namespace {

// {summed loss, correct predictions, examples} of `model` on `indices`.
std::vector<double> partial_sums(tg::nn::Module& model, const tg::data::TensorDataset& data,
                                 const std::vector<std::size_t>& indices) {
  if (indices.empty()) return {0, 0, 0};
  tg::NoGradGuard no_grad;
  const auto batch = data.get_batch(std::span<const std::size_t>(indices));
  Tensor logits = model.forward(batch.input);
  const double loss = tg::cross_entropy(logits, batch.target, {.reduction = tg::Reduction::Sum}).item<double>();
  const double correct = logits.argmax(1).eq(batch.target).sum().item<double>();
  return {loss, correct, static_cast<double>(indices.size())};
}

}  // namespace

TEST_CASE("all_reduce_values: metrics over disjoint unpadded shares equal the whole dataset's") {
  const int p = dist::world_size();
  const std::size_t n = 103;  // not a multiple of 2 or 3: the padded sampler would repeat examples
  tg::Generator gen(42);
  const tg::data::TensorDataset data(tg::randn({103, 6}, {.dtype = tg::kFloat64}, &gen),
                                     tg::randint(0, 4, {103}, {.dtype = tg::kInt64}, &gen));
  tg::manual_seed(3);  // the same model on every rank
  tg::nn::Linear model(6, 4);
  model.to(tg::kFloat64);

  std::vector<std::size_t> all(n);
  for (std::size_t i = 0; i < n; ++i) all[i] = i;
  const auto want = partial_sums(model, data, all);

  dist::DistributedSampler shard(n, {.shuffle = true, .seed = 1, .pad = false});
  const auto mine = partial_sums(model, data, shard.indices());
  const auto got = dist::all_reduce_values(mine);
  REQUIRE(got.size() == 3);
  CHECK(got[2] == static_cast<double>(n));
  CHECK(got[1] == want[1]);
  CHECK(std::abs(got[0] - want[0]) <= 1e-12 * std::abs(want[0]));
  CHECK(mine[2] < static_cast<double>(n));  // each rank saw only its share

  // The padded (training) sampler repeats examples so that ranks take equal
  // steps: summed over ranks it would count p * ceil(n / p) examples.
  dist::DistributedSampler padded(n, {.shuffle = true, .seed = 1});
  const auto doubled = dist::all_reduce_values(partial_sums(model, data, padded.indices()));
  CHECK(doubled[2] == static_cast<double>(static_cast<std::size_t>(p) *
                                          ((n + static_cast<std::size_t>(p) - 1) / static_cast<std::size_t>(p))));

  CHECK(dist::all_reduce_values({static_cast<double>(dist::rank())}, dist::ReduceOp::kMax)[0] == p - 1);
  CHECK(dist::all_reduce_values({static_cast<double>(dist::rank())}, dist::ReduceOp::kMin)[0] == 0);
  CHECK(dist::all_reduce_values({}).empty());
}

}  // namespace test_metrics
