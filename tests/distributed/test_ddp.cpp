// DistributedDataParallel: p ranks x batch 16 must train exactly as one
// process x batch 16 p (each rank also runs that reference itself).
#include <doctest/doctest.h>

#include <fmt/format.h>

#include <limits>
#include <memory>
#include <string>
#include <vector>

#include <tapegrad/autograd/ops.h>
#include <tapegrad/core/random.h>
#include <tapegrad/data/dataloader.h>
#include <tapegrad/data/dataset.h>
#include <tapegrad/distributed/ddp.h>
#include <tapegrad/distributed/distributed.h>
#include <tapegrad/distributed/sampler.h>
#include <tapegrad/nn/nn.h>
#include <tapegrad/optim/optim.h>

#include "support/close.h"

namespace test_ddp {

using tg::Tensor;
namespace dist = tg::distributed;
namespace nn = tg::nn;

namespace {

std::shared_ptr<nn::Sequential> seed_model(tg::DType dtype, std::uint64_t seed) {
  tg::manual_seed(seed);
  auto m = std::make_shared<nn::Sequential>(nn::Linear(784, 32), nn::ReLU(), nn::Linear(32, 64), nn::ReLU(),
                                            nn::Linear(64, 10));
  m->to(dtype);
  return m;
}

// The global batch of step s, the same on every rank.
std::pair<Tensor, Tensor> global_batch(tg::DType dtype, std::int64_t n, int step) {
  tg::Generator gen(1000 + static_cast<std::uint64_t>(step));
  Tensor x = tg::randn({n, 784}, {.dtype = dtype}, &gen);
  Tensor y = tg::randint(0, 10, {n}, {.dtype = tg::kInt64}, &gen);
  return {x, y};
}

std::vector<double> flat_params(const nn::Module& m) {
  std::vector<double> out;
  for (const Tensor& p : m.parameters()) {
    auto v = p.to_vector<double>();
    out.insert(out.end(), v.begin(), v.end());
  }
  return out;
}

// Relative closeness of two parameter vectors, element by element with a
// floor at the parameters' own scale.
void check_parity(const std::vector<double>& got, const std::vector<double>& want, double tol) {
  REQUIRE(got.size() == want.size());
  double worst = 0;
  for (std::size_t i = 0; i < got.size(); ++i)
    worst = std::max(worst, std::abs(got[i] - want[i]) / std::max(std::abs(want[i]), 1e-2));
  CAPTURE(worst);
  CHECK(worst <= tol);
}

// `steps` SGD steps; with `accumulate`, each step is two micro-batches and
// the first backward runs under no_sync().
void parity(tg::DType dtype, bool accumulate, double tol) {
  const int p = dist::world_size(), r = dist::rank();
  const std::int64_t local = 16, global = local * p;
  const int steps = 3;
  // Each rank starts from different weights: DDP must broadcast rank 0's.
  auto model = seed_model(dtype, 7 + static_cast<std::uint64_t>(r));
  dist::DistributedDataParallel ddp(model);
  tg::optim::SGD opt(ddp.parameters(), {.lr = 0.1, .momentum = 0.9});
  auto reference = seed_model(dtype, 7);
  tg::optim::SGD ref_opt(reference->parameters(), {.lr = 0.1, .momentum = 0.9});
  for (int step = 0; step < steps; ++step) {
    auto [x, y] = global_batch(dtype, global, step);
    ref_opt.zero_grad();
    tg::cross_entropy((*reference)(x), y).backward();
    ref_opt.step();

    Tensor xs = x.narrow(0, r * local, local), ys = y.narrow(0, r * local, local);
    opt.zero_grad();
    if (accumulate) {
      const std::int64_t half = local / 2;
      {
        auto guard = ddp.no_sync();
        (tg::cross_entropy(ddp(xs.narrow(0, 0, half)), ys.narrow(0, 0, half)) * 0.5).backward();
      }
      (tg::cross_entropy(ddp(xs.narrow(0, half, half)), ys.narrow(0, half, half)) * 0.5).backward();
    } else {
      tg::cross_entropy(ddp(xs), ys).backward();
    }
    opt.step();
  }
  check_parity(flat_params(*model), flat_params(*reference), tol);
  // Every rank holds exactly rank 0's parameters.
  for (Tensor q : model->parameters()) {
    Tensor mine = q.detach().clone(), zeros_copy = q.detach().clone();
    dist::broadcast(zeros_copy, 0);
    CHECK(tg::equal(mine, zeros_copy));
  }
}

std::vector<double> flat_grads(const nn::Module& m) {
  std::vector<double> out;
  for (const Tensor& p : m.parameters()) {
    auto v = p.grad().to_vector<double>();
    out.insert(out.end(), v.begin(), v.end());
  }
  return out;
}

// A small CNN with dropout, float64: [N, 1, 8, 8] -> 10 logits.
std::shared_ptr<nn::Sequential> dropout_cnn(std::uint64_t seed) {
  tg::manual_seed(seed);
  auto m = std::make_shared<nn::Sequential>(nn::Conv2d(1, 4, 3, {.padding = 1}), nn::ReLU(), nn::MaxPool2d(2),
                                            nn::Dropout(0.5), nn::Flatten(), nn::Linear(4 * 4 * 4, 10));
  m->to(tg::kFloat64);
  return m;
}

struct TwoHeads : nn::Module {
  nn::Linear a{4, 3}, b{4, 3};
  bool use_b = true;
  TwoHeads() {
    register_module("a", a);
    register_module("b", b);
  }
  Tensor forward(const Tensor& x) override { return use_b ? a(x) + b(x) : a(x); }
};

// A module made of the parameters and buffers listed, for the replica check.
struct Spec {
  std::string name;
  std::vector<std::int64_t> shape;
  tg::DType dtype = tg::kFloat32;
  bool requires_grad = true;
};
struct Listed : nn::Module {
  explicit Listed(const std::vector<Spec>& params, const std::vector<Spec>& buffers = {}) {
    for (const Spec& s : params) register_parameter(s.name, tg::zeros(s.shape, {.dtype = s.dtype}), s.requires_grad);
    for (const Spec& s : buffers) register_buffer(s.name, tg::zeros(s.shape, {.dtype = s.dtype}));
  }
  Tensor forward(const Tensor& x) override { return x; }
};

// The last rank builds `last`, the others `base`: construction must throw on
// every rank, with the same message naming the first difference.
void check_refused(const std::vector<Spec>& base, const std::vector<Spec>& last, const std::string& want,
                   const std::vector<Spec>& base_buffers = {}, const std::vector<Spec>& last_buffers = {},
                   double last_bucket_cap_mb = 25.0) {
  const bool is_last = dist::rank() == dist::world_size() - 1;
  auto model = std::make_shared<Listed>(is_last ? last : base, is_last ? last_buffers : base_buffers);
  const dist::DDPOptions options{.bucket_cap_mb = is_last ? last_bucket_cap_mb : 25.0};
  CHECK_THROWS_WITH_AS(dist::DistributedDataParallel(model, options), doctest::Contains(want.c_str()), tg::ValueError);
}

// After a refused or failed collective step: the ranks' collectives are
// still in step (a rank that skipped one would block or mismatch here).
void check_in_step() {
  Tensor t = tg::ones({5}, {.dtype = tg::kFloat64}) * static_cast<double>(dist::rank() + 1);
  dist::all_reduce(t);
  const int p = dist::world_size();
  tg_test::check_close(t, std::vector<double>(5, p * (p + 1) / 2.0), 0);
}

}  // namespace

TEST_CASE("DDP: p ranks x batch 16 give the parameters of 1 process x batch 16p") {
  SUBCASE("float64") { parity(tg::kFloat64, false, 1e-12); }
  SUBCASE("float32") { parity(tg::kFloat32, false, 1e-6); }
  SUBCASE("float64, no_sync accumulation") { parity(tg::kFloat64, true, 1e-12); }
  SUBCASE("float32, no_sync accumulation") { parity(tg::kFloat32, true, 1e-6); }
}

TEST_CASE("DDP: CNN with dropout: the all-reduced gradients are the whole batch's with each rank's masks") {
  const int p = dist::world_size(), r = dist::rank();
  const std::int64_t local = 16, global = local * p;
  tg::Generator gen(2024);
  Tensor x = tg::randn({global, 1, 8, 8}, {.dtype = tg::kFloat64}, &gen);
  Tensor y = tg::randint(0, 10, {global}, {.dtype = tg::kInt64}, &gen);

  auto model = dropout_cnn(7 + static_cast<std::uint64_t>(r));  // rank 0's weights must win
  dist::DistributedDataParallel ddp(model);
  ddp.train();
  // Every rank draws its own dropout masks (its own seed), as in real training.
  tg::manual_seed(500 + static_cast<std::uint64_t>(r));
  tg::cross_entropy(ddp(x.narrow(0, r * local, local)), y.narrow(0, r * local, local)).backward();
  const auto got = flat_grads(*model);

  // One process, the concatenated batch of 16p: its mean loss is the mean
  // over ranks of each rank's mean loss, so its gradient is the mean of the
  // slices' gradients; slice q is run with rank q's seed, which redraws
  // exactly rank q's masks.
  auto reference = dropout_cnn(7);
  reference->train();
  auto whole_batch_grads = [&](bool per_rank_masks) {
    reference->zero_grad();
    for (int q = 0; q < p; ++q) {
      tg::manual_seed(500 + static_cast<std::uint64_t>(per_rank_masks ? q : 0));
      (tg::cross_entropy((*reference)(x.narrow(0, q * local, local)), y.narrow(0, q * local, local)) /
       static_cast<double>(p))
          .backward();
    }
    return flat_grads(*reference);
  };
  check_parity(got, whole_batch_grads(true), 1e-12);

  // The masks matter: rank 0's masks on every slice give other gradients,
  // so the check above does see each rank's own masks.
  const auto wrong = whole_batch_grads(false);
  double worst = 0;
  for (std::size_t i = 0; i < got.size(); ++i) worst = std::max(worst, std::abs(got[i] - wrong[i]));
  CHECK(worst > 1e-6);
}

TEST_CASE("DDP: buckets hold the parameters in reverse order, split at the size cap") {
  auto model = seed_model(tg::kFloat32, 1);
  {
    dist::DistributedDataParallel one(model);
    REQUIRE(one.buckets().size() == 1);
    CHECK(one.buckets()[0].front() == "4.bias");
    CHECK(one.buckets()[0].back() == "0.weight");
  }
  // 0.1 MB: 784 x 32 floats (100 KB) alone; the rest together.
  dist::DistributedDataParallel small(model, {.bucket_cap_mb = 0.1});
  REQUIRE(small.buckets().size() == 2);
  CHECK(small.buckets()[1] == std::vector<std::string>{"0.weight"});
  // Several buckets still average correctly.
  Tensor x = tg::randn({4, 784}) * (dist::rank() + 1);
  model->zero_grad();
  small(x).sum().backward();
  for (Tensor q : model->parameters()) {
    Tensor g = q.grad().clone();
    Tensor root = q.grad().clone();
    dist::broadcast(root, 0);
    CHECK(tg::equal(g, root));  // averaged: the same on every rank
  }
}

TEST_CASE("DDP: a parameter without gradient is an error naming it, or zero with find_unused_parameters") {
  auto model = std::make_shared<TwoHeads>();
  model->use_b = false;
  {
    dist::DistributedDataParallel ddp(model);
    Tensor x = tg::randn({2, 4});
    CHECK_THROWS_WITH_AS(ddp(x).sum().backward(),
                         doctest::Contains("these parameters got no gradient in this backward: b.weight (shape [3, "
                                           "4]), b.bias (shape [3])"),
                         tg::ValueError);
  }
  model->zero_grad();
  dist::DistributedDataParallel ddp(model, {.find_unused_parameters = true});
  // Rank 0 uses b, the others do not: b's gradient is rank 0's over p.
  model->use_b = dist::rank() == 0;
  Tensor x = tg::ones({2, 4});
  ddp(x).sum().backward();
  REQUIRE(model->b.bias.grad().defined());
  tg_test::check_close(model->b.bias.grad(), std::vector<double>(3, 2.0 / dist::world_size()), 1e-6);
  tg_test::check_close(model->a.bias.grad(), std::vector<double>(3, 2.0), 1e-6);
}

TEST_CASE("DDP: a parameter without gradient on one rank only is an error there, and no rank is left waiting") {
  auto model = std::make_shared<TwoHeads>();
  dist::DistributedDataParallel ddp(model);
  model->use_b = dist::rank() == 0;
  Tensor x = tg::ones({2, 4});
  if (dist::rank() == 0) {
    CHECK_NOTHROW(ddp(x).sum().backward());
  } else {
    CHECK_THROWS_WITH_AS(ddp(x).sum().backward(),
                         doctest::Contains("got no gradient in this backward: b.weight (shape [3, 4]), b.bias"),
                         tg::ValueError);
  }
  // Every rank started the bucket's all-reduce: the next step averages normally.
  model->use_b = true;
  model->zero_grad();
  ddp(x).sum().backward();
  tg_test::check_close(model->b.bias.grad(), std::vector<double>(3, 2.0), 1e-6);
  check_in_step();
}

// As PyTorch's "Expected to mark a variable ready only once".
TEST_CASE("DDP, find_unused_parameters: a gradient for a parameter the last forward did not use is an error") {
  auto model = std::make_shared<TwoHeads>();
  dist::DistributedDataParallel ddp(model, {.find_unused_parameters = true});
  Tensor x = tg::ones({2, 4});
  const std::string late = "got a gradient in this backward although the last forward did not use them: ";
  SUBCASE("a regulariser on a parameter forward does not use") {
    model->use_b = false;
    CHECK_THROWS_WITH_AS((ddp(x).sum() + model->b.bias.pow(2).sum()).backward(),
                         doctest::Contains((late + "b.bias (shape [3])").c_str()), tg::ValueError);
  }
  SUBCASE("two forwards, one backward: the last forward does not use b") {
    model->use_b = true;
    Tensor first = ddp(x);
    model->use_b = false;
    Tensor second = ddp(x);
    CHECK_THROWS_WITH_AS((first.sum() + second.sum()).backward(),
                         doctest::Contains((late + "b.weight (shape [3, 4]), b.bias (shape [3])").c_str()),
                         tg::ValueError);
  }
  SUBCASE("the regulariser on rank 0 only: rank 0 throws, the others go on") {
    model->use_b = false;
    Tensor loss = ddp(x).sum();
    if (dist::rank() == 0) {
      CHECK_THROWS_WITH_AS((loss + model->b.bias.pow(2).sum()).backward(), doctest::Contains(late.c_str()),
                           tg::ValueError);
    } else {
      CHECK_NOTHROW(loss.backward());
    }
  }
  SUBCASE("a regulariser on a parameter forward uses is fine") {
    model->use_b = true;
    model->zero_grad();
    (ddp(x).sum() + model->b.bias.pow(2).sum()).backward();
    // d/db (sum(a(x) + b(x)) + |b|^2) = 2 + 2 b, the same on every rank.
    Tensor want = model->b.bias.detach() * 2.0 + 2.0;
    tg_test::check_close(model->b.bias.grad(), want.to_vector<double>(), 1e-6);
  }
  // Every rank finished the same collectives: the next step averages normally.
  model->use_b = true;
  model->zero_grad();
  ddp(x).sum().backward();
  tg_test::check_close(model->a.bias.grad(), std::vector<double>(3, 2.0), 1e-6);
  tg_test::check_close(model->b.bias.grad(), std::vector<double>(3, 2.0), 1e-6);
  check_in_step();
}

TEST_CASE("DDP, find_unused_parameters: a parameter no rank used keeps its .grad() as it was, as PyTorch 1.13") {
  auto model = std::make_shared<TwoHeads>();
  model->use_b = false;
  dist::DistributedDataParallel ddp(model, {.find_unused_parameters = true});
  Tensor x = tg::ones({2, 4});
  model->zero_grad();
  ddp(x).sum().backward();
  CHECK_FALSE(model->b.bias.grad().defined());
  CHECK_FALSE(model->b.weight.grad().defined());
  tg_test::check_close(model->a.bias.grad(), std::vector<double>(3, 2.0), 1e-6);
  // Defined before: left as it was on each rank (not averaged).
  const double mine = dist::rank() + 1.0;
  model->b.bias.mutable_grad() = tg::ones({3}) * mine;
  ddp(x).sum().backward();
  tg_test::check_close(model->b.bias.grad(), std::vector<double>(3, mine), 0);
}

// Where the forward ran decides, as PyTorch's require_backward_grad_sync: a
// forward inside no_sync() gives a local backward outside it, and the
// other way round. It was decided at backward, which also reported the
// parameters the no_sync forward used as "not used by the last forward".
TEST_CASE("DDP: no_sync decides at forward whether its backward synchronises") {
  auto model = std::make_shared<TwoHeads>();
  dist::DistributedDataParallel ddp(model, {.find_unused_parameters = true});
  const double mine = dist::rank() + 1.0;
  const Tensor x = tg::full({2, 4}, mine);
  // A synchronised step without b first, so that b is "unused" as last seen.
  model->use_b = false;
  model->zero_grad();
  ddp(x).sum().backward();
  model->use_b = true;
  model->zero_grad();
  Tensor local;
  {
    auto guard = ddp.no_sync();
    local = ddp(x);
  }
  CHECK_NOTHROW(local.sum().backward());
  // d/dW sum(W x + c) = 2 x per row: this rank's own inputs, not averaged.
  tg_test::check_close(model->b.weight.grad(), std::vector<double>(12, 2 * mine), 1e-6);
  model->zero_grad();
  Tensor synced = ddp(x);
  {
    auto guard = ddp.no_sync();
    synced.sum().backward();
  }
  const double p = dist::world_size();
  tg_test::check_close(model->b.weight.grad(), std::vector<double>(12, 2 * (p + 1) / 2), 1e-6);
  // A synchronised forward's decision holds until its backward ends, as
  // PyTorch's: an auxiliary forward inside no_sync() meanwhile changes nothing.
  model->zero_grad();
  Tensor held = ddp(x);
  {
    auto guard = ddp.no_sync();
    ddp(x);
  }
  held.sum().backward();
  tg_test::check_close(model->b.weight.grad(), std::vector<double>(12, 2 * (p + 1) / 2), 1e-6);
  check_in_step();
}

// The average is a constant: a gradient recorded for a second derivative
// would lose its graph without a word. Refused on every rank, after the
// all-reduces, so the next step runs.
TEST_CASE("DDP: backward with create_graph is refused, and the next step runs") {
  auto model = std::make_shared<TwoHeads>();
  dist::DistributedDataParallel ddp(model);
  const Tensor x = tg::ones({2, 4});
  model->zero_grad();
  const Tensor y = ddp(x);
  CHECK_THROWS_WITH_AS(tg::mul(y, y).sum().backward({}, false, true),
                       doctest::Contains("DistributedDataParallel: backward with create_graph is not supported"),
                       tg::ValueError);
  model->zero_grad();
  ddp(x).sum().backward();
  tg_test::check_close(model->a.bias.grad(), std::vector<double>(3, 2.0), 1e-6);
  check_in_step();
}

TEST_CASE("DDP: a bucket_cap_mb whose bytes do not fit in int64 is refused") {
  auto model = std::make_shared<TwoHeads>();
  for (double cap : {1e13, 1e300, std::numeric_limits<double>::infinity()}) {
    CAPTURE(cap);
    CHECK_THROWS_WITH_AS(dist::DistributedDataParallel(model, {.bucket_cap_mb = cap}),
                         doctest::Contains("bucket_cap_mb must be in (0, 8000000000000]"), tg::ValueError);
  }
  CHECK_NOTHROW(dist::DistributedDataParallel(model, {.bucket_cap_mb = 8e12}));
}

// On every rank, naming the first difference and the rank.
TEST_CASE("DDP: construction refuses replicas or options that differ across ranks") {
  const std::vector<Spec> base{{"w0", {3, 4}}, {"w1", {3}}};
  const std::string last = std::to_string(dist::world_size() - 1);
  SUBCASE("parameter count") {
    check_refused(base, {{"w0", {3, 4}}, {"w1", {3}}, {"w2", {2}}},
                  "rank 0's module has 2 parameters and rank " + last +
                      "'s has 3; parameter 2 is absent on rank 0 but w2 (float32, shape [2], requires grad) on rank " +
                      last);
  }
  SUBCASE("shape, with the same number of elements") {
    check_refused(base, {{"w0", {4, 3}}, {"w1", {3}}},
                  "parameter 0 is w0 (float32, shape [3, 4], requires grad) on rank 0 but w0 (float32, shape [4, 3], "
                  "requires grad) on rank " +
                      last);
  }
  SUBCASE("dtype") {
    check_refused(base, {{"w0", {3, 4}}, {"w1", {3}, tg::kFloat64}},
                  "parameter 1 is w1 (float32, shape [3], requires grad) on rank 0 but w1 (float64, shape [3], "
                  "requires grad) on rank " +
                      last);
  }
  SUBCASE("requires_grad") {
    check_refused(base, {{"w0", {3, 4}}, {"w1", {3}, tg::kFloat32, false}},
                  "parameter 1 is w1 (float32, shape [3], requires grad) on rank 0 but w1 (float32, shape [3], "
                  "requires_grad = false) on rank " +
                      last);
  }
  SUBCASE("name") {
    check_refused(base, {{"w0", {3, 4}}, {"v1", {3}}},
                  "parameter 1 is w1 (float32, shape [3], requires grad) on rank 0 but v1 (float32, shape [3], "
                  "requires grad) on rank " +
                      last);
  }
  SUBCASE("a buffer's shape") {
    check_refused(base, base,
                  "buffer 0 is running (float32, shape [4]) on rank 0 but running (float32, shape [5]) on rank " + last,
                  {{"running", {4}}}, {{"running", {5}}});
  }
  SUBCASE("bucket_cap_mb") {
    check_refused(base, base, "the option bucket_cap_mb is 25 on rank 0 but 0.5 on rank " + last, {}, {}, 0.5);
  }
  SUBCASE("a long name in a small model") {
    // The name's bytes outnumber the description's words: that is not a
    // malformed description, and the message still names the difference.
    const std::string name(200, 'n');
    check_refused({{name, {3, 4}}}, {{name, {4, 3}}},
                  "parameter 0 is " + name + " (float32, shape [3, 4], requires grad) on rank 0 but " + name +
                      " (float32, shape [4, 3], requires grad) on rank " + last);
  }
  check_in_step();
  // The same replica everywhere passes.
  auto model = std::make_shared<Listed>(base, std::vector<Spec>{{"running", {4}}});
  dist::DistributedDataParallel ddp(model);
  CHECK(ddp.buckets().size() == 1);
}

TEST_CASE("DistributedSampler: disjoint shares that cover the dataset, padded to equal length") {
  const int p = dist::world_size();
  for (std::size_t n : {std::size_t{10}, std::size_t{11}, std::size_t{2}}) {
    CAPTURE(n);
    std::vector<int> count(n, 0);
    std::size_t per_rank = 0;
    for (int r = 0; r < p; ++r) {
      dist::DistributedSampler s(n, p, r, {.seed = 3});
      s.set_epoch(2);
      auto idx = s.indices();
      per_rank = idx.size();
      CHECK(idx.size() == (n + p - 1) / p);
      for (auto i : idx) ++count[i];
    }
    // Each example at least once; only the padding repeats (at most p*per_rank - n).
    std::size_t extra = 0;
    for (int c : count) {
      CHECK(c >= 1);
      extra += static_cast<std::size_t>(c - 1);
    }
    CHECK(extra == per_rank * static_cast<std::size_t>(p) - n);
  }
  dist::DistributedSampler a(100, {.seed = 3}), b(100, {.seed = 3});
  a.set_epoch(1);
  b.set_epoch(2);
  CHECK(a.indices() != b.indices());  // a new order each epoch
  b.set_epoch(1);
  CHECK(a.indices() == b.indices());
  // Interleaved, the shares are DataLoader's order for the same seed and epoch.
  tg::data::DataLoader loader(tg::data::TensorDataset(tg::zeros({100, 1}), tg::zeros({100})),
                              {.shuffle = true, .seed = 5});
  const auto want = loader.order(3);
  for (int r = 0; r < p; ++r) {
    dist::DistributedSampler s(100, p, r, {.seed = 5});
    s.set_epoch(3);
    const auto mine = s.indices();
    for (std::size_t k = 0; k < mine.size(); ++k) {
      const std::size_t at = k * static_cast<std::size_t>(p) + static_cast<std::size_t>(r);
      CHECK(mine[k] == want[at % 100]);
    }
  }
  dist::DistributedSampler dropped(11, p, 0, {.drop_last = true});
  CHECK(dropped.size() == 11 / p);
  CHECK_THROWS_AS(dist::DistributedSampler(10, p, p), tg::ValueError);
  // The same order on every rank: rank 0's first index is everyone's view of it.
  Tensor first = tg::tensor({static_cast<double>(dist::DistributedSampler(100, p, 0, {.seed = 9}).indices()[0])});
  Tensor root = first.clone();
  dist::broadcast(root, 0);
  CHECK(tg::equal(first, root));
}

}  // namespace test_ddp
