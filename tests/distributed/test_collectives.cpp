// The MPI process group's collectives, checked against values every rank
// can compute alone.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include <tapegrad/autograd/ops.h>
#include <tapegrad/distributed/distributed.h>

#include "support/close.h"

namespace test_collectives {

using tg::Tensor;
namespace dist = tg::distributed;
using dist::ReduceOp;

namespace {

// Rank r's values: r + 1, 2(r + 1), ... so every reduction is known.
Tensor ranked(tg::DType dtype, std::int64_t n = 5) {
  return (tg::arange(1.0, static_cast<double>(n + 1)) * (dist::rank() + 1)).to(dtype);
}

}  // namespace

TEST_CASE("collectives: rank and world size come from the launcher") {
  CHECK(dist::is_initialized());
  CHECK(dist::world_size() >= 2);
  CHECK(dist::rank() >= 0);
  CHECK(dist::rank() < dist::world_size());
  CHECK(dist::default_group().backend() == "mpi");
}

TEST_CASE("collectives: all_reduce sum, mean, max and min, for each dtype") {
  const double p = dist::world_size();
  const double sum_of_factors = p * (p + 1) / 2;  // sum of r + 1
  for (tg::DType dtype : {tg::kFloat32, tg::kFloat64, tg::kInt64}) {
    CAPTURE(dtype);
    auto& pg = dist::default_group();
    Tensor s = ranked(dtype), mean = ranked(dtype), mx = ranked(dtype), mn = ranked(dtype);
    auto w1 = pg.all_reduce(s, ReduceOp::kSum);
    auto w2 = pg.all_reduce(mean, ReduceOp::kMean);
    auto w3 = pg.all_reduce(mx, ReduceOp::kMax);
    auto w4 = pg.all_reduce(mn, ReduceOp::kMin);
    for (auto* w : {&w1, &w2, &w3, &w4}) (*w)->wait();
    CHECK(w1->is_completed());
    std::vector<double> want_sum, want_mean, want_max, want_min;
    for (int i = 1; i <= 5; ++i) {
      want_sum.push_back(i * sum_of_factors);
      want_mean.push_back(dtype == tg::kInt64 ? static_cast<double>(static_cast<std::int64_t>(i * sum_of_factors) /
                                                                    static_cast<std::int64_t>(p))
                                              : i * sum_of_factors / p);
      want_max.push_back(i * p);
      want_min.push_back(i);
    }
    tg_test::check_close(s, want_sum, 0);
    tg_test::check_close(mean, want_mean, dtype == tg::kFloat32 ? 1e-7 : 0);
    tg_test::check_close(mx, want_max, 0);
    tg_test::check_close(mn, want_min, 0);
  }
}

// A Work dropped without wait() still gives wait()'s result: a mean
// all-reduce or reduce-scatter whose handle was not kept gave the sum.
TEST_CASE("collectives: a dropped Work completes as wait() does") {
  auto& pg = dist::default_group();
  const double p = dist::world_size();
  Tensor t = tg::full({3}, dist::rank() + 1.0, {.dtype = tg::kFloat64});
  pg.all_reduce(t, ReduceOp::kMean);  // handle dropped at once
  tg_test::check_close(t, std::vector<double>(3, (p + 1) / 2), 0);
  Tensor in = tg::full({2 * dist::world_size()}, dist::rank() + 1.0, {.dtype = tg::kFloat64});
  Tensor out = tg::zeros({2}, {.dtype = tg::kFloat64});
  { auto dropped = pg.reduce_scatter(out, in, ReduceOp::kMean); }
  tg_test::check_close(out, std::vector<double>(2, (p + 1) / 2), 0);
}

TEST_CASE("collectives: broadcast from every root") {
  for (int root = 0; root < dist::world_size(); ++root) {
    Tensor t = ranked(tg::kFloat64);
    dist::broadcast(t, root);
    tg_test::check_close(t, (tg::arange(1.0, 6.0) * (root + 1)).to_vector<double>(), 0);
  }
}

TEST_CASE("collectives: all_gather and reduce_scatter") {
  const int p = dist::world_size();
  auto& pg = dist::default_group();
  Tensor out = tg::zeros({p, 3}, {.dtype = tg::kFloat64});
  pg.all_gather(out, ranked(tg::kFloat64, 3))->wait();
  std::vector<double> want;
  for (int r = 0; r < p; ++r)
    for (int i = 1; i <= 3; ++i) want.push_back(i * (r + 1));
  tg_test::check_close(out, want, 0);

  // Chunk c of rank r holds (r + 1) * (c * 2 + i), i = 1, 2.
  Tensor in = (tg::arange(1.0, 2.0 * p + 1) * (dist::rank() + 1)).to(tg::kFloat64);
  Tensor mine = tg::zeros({2}, {.dtype = tg::kFloat64});
  pg.reduce_scatter(mine, in, ReduceOp::kSum)->wait();
  const double factors = p * (p + 1) / 2.0;
  tg_test::check_close(mine, {(2.0 * dist::rank() + 1) * factors, (2.0 * dist::rank() + 2) * factors}, 0);
  dist::barrier();
}

TEST_CASE("collectives: bad arguments are clear errors, raised on the calling rank before any communication") {
  auto& pg = dist::default_group();
  Tensor t = tg::zeros({4, 3}, {.dtype = tg::kFloat64});
  Tensor strided = t.t();
  CHECK_THROWS_WITH_AS(pg.all_reduce(strided), "all_reduce: the tensor (shape [3, 4]) must be contiguous",
                       tg::ValueError);
  Tensor flags = tg::zeros({2}, {.dtype = tg::kBool});
  CHECK_THROWS_AS(pg.all_reduce(flags), tg::DTypeError);
  CHECK_THROWS_AS(pg.broadcast(t, dist::world_size()), tg::ValueError);
  Tensor small = tg::zeros({1}, {.dtype = tg::kFloat64});
  CHECK_THROWS_AS(pg.all_gather(small, t), tg::ShapeError);
  CHECK_THROWS_AS(pg.reduce_scatter(t, small), tg::ShapeError);
}

// Ranks that disagree got undefined results without a word: a broadcast of
// [3] into [5] left the rest stale, float32 summed with float64 gave
// garbage, sum against max summed. With the checks every rank throws the
// same error, before any data moves, and the group stays usable.
TEST_CASE("collectives: with collective_checks, ranks that disagree all throw, naming what each passed") {
  auto& pg = dist::default_group();
  const int r = dist::rank();
  const bool odd = r % 2 == 1;
  const bool was_on = dist::collective_checks();  // off unless TAPEGRAD_DISTRIBUTED_DEBUG=DETAIL
  dist::set_collective_checks(true);
  CHECK(dist::collective_checks());
  const auto disagree = doctest::Contains("the ranks disagree (rank 0: ");
  {
    Tensor t = tg::full({odd ? 5 : 3}, r + 1.0);
    CHECK_THROWS_WITH_AS(pg.broadcast(t, 0), disagree, tg::ValueError);
    CHECK_THROWS_WITH_AS(pg.broadcast(t, 0),
                         doctest::Contains("rank 0: broadcast of float32 [3], root 0; rank 1: broadcast of float32 "
                                           "[5], root 0"),
                         tg::ValueError);
    CHECK(t.to_vector<double>() == std::vector<double>(static_cast<std::size_t>(odd ? 5 : 3), r + 1.0));
  }
  {
    Tensor t = odd ? tg::ones({4}, {.dtype = tg::kFloat64}) : tg::ones({4});
    CHECK_THROWS_WITH_AS(pg.all_reduce(t), doctest::Contains("all_reduce of float64 [4], op sum"), tg::ValueError);
    Tensor u = tg::ones({2});
    CHECK_THROWS_WITH_AS(pg.all_reduce(u, odd ? ReduceOp::kMax : ReduceOp::kSum), doctest::Contains("op max"),
                         tg::ValueError);
    CHECK_THROWS_WITH_AS(pg.broadcast(u, odd ? 1 : 0), doctest::Contains("root 1"), tg::ValueError);
  }
  {
    Tensor in = tg::ones({odd ? 3 : 2}), out = tg::zeros({(odd ? 3 : 2) * dist::world_size()});
    CHECK_THROWS_WITH_AS(pg.all_gather(out, in), disagree, tg::ValueError);
    // One rank in a barrier, another in an all_reduce.
    Tensor v = tg::ones({1});
    if (odd) CHECK_THROWS_WITH_AS(pg.barrier(), doctest::Contains("barrier"), tg::ValueError);
    else CHECK_THROWS_WITH_AS(pg.all_reduce(v), doctest::Contains("barrier"), tg::ValueError);
  }
  // Calls that agree still run, with the right results.
  Tensor t = ranked(tg::kFloat64);
  pg.all_reduce(t)->wait();
  const double p = dist::world_size();
  tg_test::check_close(t, {p * (p + 1) / 2, p * (p + 1), 1.5 * p * (p + 1), 2 * p * (p + 1), 2.5 * p * (p + 1)}, 1e-12);
  Tensor b = tg::full({3}, r + 1.0);
  pg.broadcast(b, 0)->wait();
  CHECK(b.to_vector<double>() == std::vector<double>{1, 1, 1});
  pg.barrier()->wait();
  // One rank refusing its own arguments: it throws its error, the others
  // one naming it, and none waits in the all-gather.
  {
    Tensor ok = tg::ones({4});
    Tensor flags = tg::zeros({4}, {.dtype = tg::kBool});
    if (odd) CHECK_THROWS_AS(pg.all_reduce(flags), tg::DTypeError);
    else
      CHECK_THROWS_WITH_AS(pg.all_reduce(ok), doctest::Contains("all_reduce: rank 1 refused its own arguments"),
                           tg::ValueError);
    Tensor strided = tg::zeros({3, 2}).t();
    if (r == 0) CHECK_THROWS_AS(pg.broadcast(strided, 0), tg::ValueError);
    else CHECK_THROWS_WITH_AS(pg.broadcast(ok, 0), doctest::Contains("rank 0 refused"), tg::ValueError);
  }
  pg.barrier()->wait();
  dist::set_collective_checks(was_on);
}

}  // namespace test_collectives
