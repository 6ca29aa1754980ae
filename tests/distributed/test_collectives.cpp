// The MPI process group's collectives, checked against values every rank
// can compute alone.
#include <doctest/doctest.h>

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

}  // namespace test_collectives
