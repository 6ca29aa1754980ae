// Reduction kernels: hand-computed values, keepdim and negative dims,
// strided inputs against contiguous copies, the fast paths against a plain
// loop, zero-size and 0-d tensors, dtypes, and error messages.
#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include <doctest/doctest.h>

#include <tapegrad/autograd/ops.h>
#include <tapegrad/core/kernels/copy.h>
#include <tapegrad/core/kernels/loop.h>
#include <tapegrad/core/kernels/reduce.h>
#include <tapegrad/core/parallel.h>

#include "support/close.h"
#include "support/dtype_layouts.h"

namespace test_reduce {

using namespace tg;

namespace {

const double kInf = std::numeric_limits<double>::infinity();
const double kNaN = std::numeric_limits<double>::quiet_NaN();

std::vector<double> values(const Tensor& t) { return t.to_vector<double>(); }

// [0, 1, ..., n-1] as `dtype`, viewed as `shape`.
Tensor iota(Dims shape, DType dtype = kFloat32) {
  return arange(static_cast<double>(shape.product()), {.dtype = dtype}).view(shape);
}

// |got - expected| <= tol * (1 + |expected|) elementwise; NaN and inf must match exactly.
// float32 kernels: 1e-6 unless a case says otherwise.
void check_close(const Tensor& t, const std::vector<double>& expected, double tol = 1e-6) {
  tg_test::check_close(t, expected, tol);
}

// Deterministic values that are not all equal and have no ties.
Tensor wavy(Dims shape, DType dtype = kFloat64) {
  std::vector<double> v(static_cast<std::size_t>(shape.product()));
  for (std::size_t i = 0; i < v.size(); ++i) v[i] = std::sin(0.37 * static_cast<double>(i) + 0.1) * 3 + 0.01 * i;
  return tensor(v, shape).to(dtype);
}

}  // namespace

TEST_CASE("sum over all, one and several dims, with keepdim and negative dims") {
  Tensor x = iota({2, 3});  // [[0 1 2] [3 4 5]]
  check_close(kernel::sum(x, {}, false), {15});
  CHECK(kernel::sum(x, {}, false).dim() == 0);
  check_close(kernel::sum(x, Dims{0}, false), {3, 5, 7});
  check_close(kernel::sum(x, Dims{1}, false), {3, 12});
  check_close(kernel::sum(x, Dims{-1}, false), {3, 12});
  CHECK(kernel::sum(x, Dims{-1}, true).shape() == Dims{2, 1});
  CHECK(kernel::sum(x, Dims{0}, true).shape() == Dims{1, 3});
  CHECK(kernel::sum(x, {}, true).shape() == Dims{1, 1});

  Tensor y = iota({2, 3, 4});  // y[i][j][k] = 12i + 4j + k
  // over i and k, per j: sum_i sum_k (12i + 4j + k) = 4*12 + 2*(16j + 6) = 60 + 32j
  check_close(kernel::sum(y, Dims{0, 2}, false), {60, 92, 124});
  check_close(kernel::sum(y, Dims{-1, 0}, false), {60, 92, 124});
  CHECK(kernel::sum(y, Dims{0, 2}, true).shape() == Dims{1, 3, 1});
  check_close(kernel::sum(y, Dims{0, 1, 2}, false), {276});
  // over j: 3*(12i + k) + 4*(0+1+2) = 36i + 3k + 12
  check_close(kernel::sum(y, Dims{1}, false), {12, 15, 18, 21, 48, 51, 54, 57});
  CHECK(tg::sum(x).item<double>() == 15);
  CHECK(x.sum({1}).shape() == Dims{2});
}

// The order of a lane-wise sum is part of its result: element j goes to lane
// j % 8 (the tail past the last whole eight to lane 0), then lanes 0-3 take
// 4-7, 0-1 take 2-3, and 0 takes 1. The terms (+-2^53 and small values) make
// other orders of folding the lanes give other doubles; both the row sum of
// reductions (n >= 16) and kernel::lane_sum (the losses' row sums) must keep
// this one.
TEST_CASE("lane-wise sums fold their eight lanes in one fixed order") {
  const auto term = [](std::int64_t j) {
    const double big = std::ldexp(1.0, 53);
    const double first[8] = {big, 1, big, 1, -big, 1, -big, 1};
    return j < 8 ? first[j] : static_cast<double>(j % 3) + 0.5;
  };
  // The lanes after the element loop, then a fold in the given order.
  const auto folded = [&](std::int64_t n, int order) {
    double l[8] = {};
    std::int64_t j = 0;
    for (; j + 8 <= n; j += 8)
      for (int k = 0; k < 8; ++k) l[k] += term(j + k);
    for (; j < n; ++j) l[0] += term(j);
    if (order == 0) return ((l[0] + l[4]) + (l[2] + l[6])) + ((l[1] + l[5]) + (l[3] + l[7]));  // ours
    if (order == 1) return ((l[0] + l[1]) + (l[2] + l[3])) + ((l[4] + l[5]) + (l[6] + l[7]));  // neighbours
    double s = 0;                                                                              // one running total
    for (double x : l) s += x;
    return s;
  };
  int neighbours_differ = 0, running_differs = 0;
  for (std::int64_t n = 0; n <= 70; ++n) {
    const double expected = folded(n, 0);
    neighbours_differ += folded(n, 1) != expected;
    running_differs += folded(n, 2) != expected;
    CHECK_MESSAGE(kernel::lane_sum<double>(n, term) == expected, "n = ", n);
    std::vector<double> v(static_cast<std::size_t>(n));
    for (std::int64_t j = 0; j < n; ++j) v[static_cast<std::size_t>(j)] = term(j);
    if (n >= 16) CHECK_MESSAGE(sum(tensor(v, {n})).item<double>() == expected, "n = ", n);
  }
  // The check above tells the orders apart at most sizes.
  CHECK(neighbours_differ >= 40);
  CHECK(running_differs >= 40);
}

TEST_CASE("sum dtypes: float stays, int64 and bool give int64") {
  CHECK(kernel::sum(iota({3}), {}, false).dtype() == kFloat32);
  CHECK(kernel::sum(iota({3}, kFloat64), {}, false).dtype() == kFloat64);
  Tensor i = tensor({1, 2, 3, 4}, {2, 2}, {.dtype = kInt64});
  Tensor si = kernel::sum(i, Dims{0}, false);
  CHECK(si.dtype() == kInt64);
  CHECK(si.to_vector<std::int64_t>() == std::vector<std::int64_t>{4, 6});
  Tensor b = tensor({1, 0, 1, 1, 0}, {5}, {.dtype = kBool});
  Tensor sb = kernel::sum(b, {}, false);
  CHECK(sb.dtype() == kInt64);
  CHECK(sb.item<std::int64_t>() == 3);
  Tensor pb = kernel::prod(b, {}, false);
  CHECK(pb.dtype() == kInt64);
  CHECK(pb.item<std::int64_t>() == 0);
}

TEST_CASE("a float32 sum of a million 0.1s is accurate") {
  Tensor x = full({1000000}, 0.1, {.dtype = kFloat32});
  const double exact = 1e6 * static_cast<double>(0.1f);
  CHECK(std::abs(kernel::sum(x, {}, false).item<double>() - exact) / exact < 1e-6);
  CHECK(std::abs(kernel::mean(x, {}, false).item<double>() - static_cast<double>(0.1f)) < 1e-7);
  // Down the columns too (dim 0 of [N, C]), and single-threaded.
  Tensor cols = full({250000, 4}, 0.1, {.dtype = kFloat32});
  const int threads = get_num_threads();
  for (int t : {1, threads}) {
    set_num_threads(t);
    for (double v : values(kernel::sum(cols, Dims{0}, false)))
      CHECK(std::abs(v - 250000 * static_cast<double>(0.1f)) / (250000 * 0.1) < 1e-6);
  }
  set_num_threads(threads);
}

TEST_CASE("strided inputs give the results of their contiguous copies") {
  Tensor base = wavy({6, 8});
  const std::vector<Tensor> views = {
      base.t(),                                       // transposed
      base.slice(1, 1, 8, 2),                         // every other column
      base.slice(0, 1, 5).slice(1, 2, 7),             // a window
      base.reshape({6, 2, 4}).permute({2, 0, 1}),     // permuted 3-D
      base.select(1, 3).unsqueeze(1).expand({6, 5}),  // stride 0
  };
  for (std::size_t v = 0; v < views.size(); ++v) {
    CAPTURE(v);
    const Tensor& x = views[v];
    REQUIRE_FALSE(x.is_contiguous());
    const Tensor c = x.clone();
    const int nd = x.dim();
    std::vector<Dims> dim_lists = {{}, {0}, {nd - 1}, {0, nd - 1}};
    if (nd == 3) dim_lists.push_back({1});
    for (const Dims& dims : dim_lists) {
      for (bool keepdim : {false, true}) {
        check_close(kernel::sum(x, dims, keepdim), values(kernel::sum(c, dims, keepdim)), 1e-12);
        check_close(kernel::amax(x, dims, keepdim), values(kernel::amax(c, dims, keepdim)), 0);
        check_close(kernel::var(x, dims, 1, keepdim), values(kernel::var(c, dims, 1, keepdim)), 1e-12);
        check_close(kernel::norm(x, 3, dims, keepdim), values(kernel::norm(c, 3, dims, keepdim)), 1e-12);
        check_close(kernel::logsumexp(x, dims, keepdim), values(kernel::logsumexp(c, dims, keepdim)), 1e-12);
      }
    }
    for (int d = 0; d < nd; ++d) {
      auto [v1, i1] = kernel::max(x, d, false);
      auto [v2, i2] = kernel::max(c, d, false);
      check_close(v1, values(v2), 0);
      CHECK(values(i1) == values(i2));
      check_close(kernel::softmax(x, d), values(kernel::softmax(c, d)), 1e-12);
      check_close(kernel::log_softmax(x, d), values(kernel::log_softmax(c, d)), 1e-12);
    }
    CHECK(kernel::argmax(x, {}, false).item<std::int64_t>() == kernel::argmax(c, {}, false).item<std::int64_t>());
  }
}

namespace {
// Row sums, column sums, column maxima and the total of a float32 [N, C]
// tensor, by a plain loop in double.
struct Reference {
  std::vector<double> rows, cols, col_max;
  double total = 0;
};
Reference reference(const Tensor& x) {
  const std::int64_t N = x.size(0), C = x.size(1);
  const std::vector<double> v = values(x);
  Reference r{std::vector<double>(N, 0), std::vector<double>(C, 0), std::vector<double>(C, -kInf), 0};
  for (std::int64_t i = 0; i < N; ++i)
    for (std::int64_t j = 0; j < C; ++j) {
      const double e = v[static_cast<std::size_t>(i * C + j)];
      r.rows[i] += e;
      r.cols[j] += e;
      r.col_max[j] = std::max(r.col_max[j], e);
      r.total += e;
    }
  return r;
}
}  // namespace

TEST_CASE("large reductions match a plain loop, serial and parallel") {
  // Above parallel_threshold() elements, shaped to hit every loop of the
  // engine: rows (last dim, many outputs), columns (dim 0, many outputs),
  // few outputs (the reduced range split across threads), with and without
  // a strided reduced dim.
  Tensor wide = wavy({3001, 37}, kFloat32);
  Tensor narrow = wavy({20000, 3}, kFloat32);
  const Reference w = reference(wide), n = reference(narrow);
  const int threads = get_num_threads();
  for (int t : {1, 2}) {
    CAPTURE(t);
    set_num_threads(t);
    check_close(kernel::sum(wide, Dims{1}, false), w.rows);
    check_close(kernel::sum(wide, Dims{0}, false), w.cols);
    check_close(kernel::sum(wide.t(), Dims{1}, false), w.cols);
    check_close(kernel::amax(wide, Dims{0}, false), w.col_max, 0);
    check_close(kernel::sum(wide, {}, false), {w.total});
    check_close(kernel::sum(wide.reshape({3001 * 37, 1}), Dims{0}, false), {w.total});
    check_close(kernel::sum(narrow, Dims{0}, false), n.cols);
    check_close(kernel::sum(narrow, Dims{1}, false), n.rows);
    check_close(kernel::amax(narrow, Dims{0}, false), n.col_max, 0);
    // The index of the max must not depend on how the range was split.
    Tensor peaks = zeros({100000});
    kernel::fill_(peaks.slice(0, 70000, 70003), 5);
    kernel::fill_(peaks.slice(0, 20000, 20001), 5);
    CHECK(kernel::argmax(peaks, {}, false).item<std::int64_t>() == 20000);
    auto [pv, pi] = kernel::max(peaks.reshape({2, 50000}), 1, false);
    CHECK(pi.to_vector<std::int64_t>() == std::vector<std::int64_t>{20000, 20000});
    check_close(pv, {5, 5});
    check_close(Tensor(kernel::softmax(peaks.reshape({2, 50000}), 0)).slice(1, 20000, 20001), {0.5, 0.5});
  }
  set_num_threads(threads);
}

TEST_CASE("mean, var and std") {
  Tensor x = tensor({1.0, 2.0, 3.0, 4.0, 6.0, 8.0}, {2, 3});
  check_close(kernel::mean(x, {}, false), {4});
  check_close(kernel::mean(x, Dims{1}, false), {2, 6});
  check_close(kernel::mean(x, Dims{0}, true), {2.5, 4, 5.5});
  CHECK(kernel::mean(x, Dims{0}, true).shape() == Dims{1, 3});
  // rows: [1 2 3] mean 2, squares 1+0+1 = 2;  [4 6 8] mean 6, squares 4+0+4 = 8
  check_close(kernel::var(x, Dims{1}, 1, false), {1, 4});
  check_close(kernel::var(x, Dims{1}, 0, false), {2.0 / 3, 8.0 / 3});
  check_close(kernel::std(x, Dims{-1}, 1, true), {1, 2});
  CHECK(kernel::std(x, Dims{-1}, 1, true).shape() == Dims{2, 1});
  // all: mean 4, squares 9+4+1+0+4+16 = 34
  check_close(kernel::var(x, {}, 1, false), {34.0 / 5});
  check_close(x.var(), {34.0 / 5});
  check_close(x.std(std::nullopt, 0.0), {std::sqrt(34.0 / 6)});
  // Values far from zero: the two-pass var stays exact.
  Tensor far = tensor({1e8 + 1, 1e8 + 2, 1e8 + 3}, {3}, {.dtype = kFloat64});
  check_close(kernel::var(far, {}, 1, false), {1}, 1e-9);
  // One element with correction 1: 0/0.
  CHECK(std::isnan(kernel::var(tensor({5.0}), {}, 1, false).item<double>()));
}

TEST_CASE("amax, amin, max and min") {
  Tensor x = tensor({3.0, 1.0, 4.0, 1.0, 5.0, 9.0, 2.0, 6.0}, {2, 4});
  check_close(kernel::amax(x, {}, false), {9});
  check_close(kernel::amin(x, Dims{1}, false), {1, 2});
  check_close(kernel::amax(x, Dims{0}, true), {5, 9, 4, 6});
  auto [v, i] = kernel::max(x, 1, false);
  check_close(v, {4, 9});
  CHECK(i.dtype() == kInt64);
  CHECK(i.to_vector<std::int64_t>() == std::vector<std::int64_t>{2, 1});
  auto [mv, mi] = kernel::min(x, -1, true);
  CHECK(mv.shape() == Dims{2, 1});
  check_close(mv, {1, 2});
  // Ties: the first index, as PyTorch.
  CHECK(mi.to_vector<std::int64_t>() == std::vector<std::int64_t>{1, 2});
  auto [cv, ci] = kernel::max(x, 0, false);
  check_close(cv, {5, 9, 4, 6});
  CHECK(ci.to_vector<std::int64_t>() == std::vector<std::int64_t>{1, 1, 0, 1});
  // NaN wins, and its index is reported.
  Tensor n = tensor({1, kNaN, 3, kNaN});
  CHECK(std::isnan(kernel::amax(n, {}, false).item<double>()));
  CHECK(std::isnan(kernel::amin(n, {}, false).item<double>()));
  CHECK(kernel::argmax(n, {}, false).item<std::int64_t>() == 1);
  CHECK(kernel::argmin(n, {}, false).item<std::int64_t>() == 1);
  // -inf everywhere is still a max.
  Tensor ninf = tensor({-kInf, -kInf});
  CHECK(kernel::amax(ninf, {}, false).item<double>() == -kInf);
  CHECK(kernel::argmax(ninf, {}, false).item<std::int64_t>() == 0);
  // Integers and bool keep their dtype.
  Tensor ints = tensor({-5, 7, 2}, {3}, {.dtype = kInt64});
  CHECK(kernel::amax(ints, {}, false).item<std::int64_t>() == 7);
  CHECK(kernel::amin(ints, {}, false).dtype() == kInt64);
  Tensor flags = tensor({0, 1, 0}, {3}, {.dtype = kBool});
  CHECK(kernel::amax(flags, {}, false).item<bool>());
  CHECK_FALSE(kernel::amin(flags, {}, false).item<bool>());
}

TEST_CASE("argmax and argmin") {
  Tensor x = tensor({3.0, 1.0, 4.0, 1.0, 5.0, 9.0, 2.0, 6.0}, {2, 4});
  CHECK(kernel::argmax(x, {}, false).item<std::int64_t>() == 5);
  CHECK(kernel::argmin(x, {}, false).item<std::int64_t>() == 1);
  CHECK(kernel::argmax(x, {}, true).shape() == Dims{1, 1});
  CHECK(kernel::argmax(x, 1, false).to_vector<std::int64_t>() == std::vector<std::int64_t>{2, 1});
  CHECK(kernel::argmin(x, 0, true).to_vector<std::int64_t>() == std::vector<std::int64_t>{0, 0, 1, 0});
  CHECK(kernel::argmin(x, 0, true).shape() == Dims{1, 4});
  // Flat index into the transposed view, row-major: x.t() = [[3 5] [1 9] [4 2] [1 6]]
  CHECK(kernel::argmax(x.t(), {}, false).item<std::int64_t>() == 3);
  CHECK(kernel::argmin(x.t(), {}, false).item<std::int64_t>() == 2);
  CHECK(tg::argmax(x, -1).to_vector<std::int64_t>() == std::vector<std::int64_t>{2, 1});
}

// A bool matrix through the reductions and orderings, against torch 1.13 on
// torch.tensor([[True, False], [False, True]]): argmax, argmin, trace, topk,
// kthvalue and median raise ("not implemented for 'Bool'"), the others give
// these dtypes and values.
TEST_CASE("bool: argmax, argmin and trace refuse it as PyTorch does; max, sort, cumsum and the rest take it") {
  const Tensor b = tensor({1, 0, 0, 1}, {2, 2}, {.dtype = kBool});
  CHECK_THROWS_WITH_AS(tg::argmax(b), "argmax: expected a numeric tensor, got bool (shape [2, 2])", DTypeError);
  CHECK_THROWS_WITH_AS(tg::argmax(b, 0), doctest::Contains("argmax: expected a numeric tensor, got bool"), DTypeError);
  CHECK_THROWS_WITH_AS(b.argmax(1, true), doctest::Contains("argmax"), DTypeError);
  CHECK_THROWS_WITH_AS(tg::argmin(b), "argmin: expected a numeric tensor, got bool (shape [2, 2])", DTypeError);
  CHECK_THROWS_WITH_AS(b.argmin(0), doctest::Contains("argmin: expected a numeric tensor, got bool"), DTypeError);
  CHECK_THROWS_WITH_AS(kernel::argmax(b, {}, false), doctest::Contains("argmax"), DTypeError);
  CHECK_THROWS_WITH_AS(tg::trace(b), "trace: expected a numeric tensor, got bool (shape [2, 2])", DTypeError);
  CHECK_THROWS_WITH_AS(b.trace(), doctest::Contains("trace: expected a numeric tensor, got bool"), DTypeError);
  CHECK_THROWS_WITH_AS(tg::topk(b, 1), doctest::Contains("topk"), DTypeError);
  CHECK_THROWS_WITH_AS(tg::kthvalue(b, 1), doctest::Contains("kthvalue"), DTypeError);
  CHECK_THROWS_WITH_AS(tg::median(b), doctest::Contains("median"), DTypeError);
  // trace of the same matrix in uint8 or int8: int64, as PyTorch.
  CHECK(tg::trace(b.to(kUInt8)).dtype() == kInt64);
  CHECK(tg::trace(b.to(kInt8)).item<std::int64_t>() == 2);
  // Taken, with PyTorch's dtypes and values.
  CHECK(tg::max(b).dtype() == kBool);
  CHECK(tg::max(b).item<bool>());
  CHECK_FALSE(tg::min(b).item<bool>());
  const auto [mv, mi] = tg::min(b, 0);
  CHECK(mv.dtype() == kBool);
  CHECK(mi.to_vector<std::int64_t>() == std::vector<std::int64_t>{1, 0});
  const auto [sv, si] = tg::sort(b);
  CHECK(sv.to_vector<bool>() == std::vector<bool>{false, true, false, true});
  CHECK(si.to_vector<std::int64_t>() == std::vector<std::int64_t>{1, 0, 0, 1});
  CHECK(tg::msort(b).to_vector<bool>() == std::vector<bool>{false, false, true, true});
  const Tensor cs = tg::cumsum(b, 0);
  CHECK(cs.dtype() == kInt64);
  CHECK(cs.to_vector<std::int64_t>() == std::vector<std::int64_t>{1, 0, 1, 1});
  CHECK(tg::cumprod(b, 0).dtype() == kInt64);
  CHECK(tg::cumprod(b, 0).to_vector<std::int64_t>() == std::vector<std::int64_t>{1, 0, 0, 0});
  const auto [cv, ci] = tg::cummax(b, 0);
  CHECK(cv.dtype() == kBool);
  CHECK(ci.to_vector<std::int64_t>() == std::vector<std::int64_t>{0, 0, 0, 1});
  CHECK(tg::sum(b).item<std::int64_t>() == 2);
  CHECK(tg::prod(b).dtype() == kInt64);
  CHECK(tg::diagonal(b).to_vector<bool>() == std::vector<bool>{true, true});
}

TEST_CASE("logsumexp is stable") {
  Tensor x = tensor({0, std::log(3.0), 1, 1}, {2, 2}, {.dtype = kFloat64});
  check_close(kernel::logsumexp(x, Dims{1}, false), {std::log(4.0), 1 + std::log(2.0)}, 1e-12);
  check_close(kernel::logsumexp(x, {}, false), {std::log(4 + 2 * std::exp(1.0))}, 1e-12);
  Tensor big = tensor({1e4, 1e4, -1e4, 1e4 - 1});
  const double lse = kernel::logsumexp(big, {}, false).item<double>();
  CHECK(std::isfinite(lse));
  CHECK(lse == doctest::Approx(1e4 + std::log(2 + std::exp(-1.0))).epsilon(1e-6));
  check_close(kernel::logsumexp(tensor({-1e4, -1e4}), {}, false), {-1e4 + std::log(2.0)});
  CHECK(kernel::logsumexp(tensor({-kInf, -kInf}), {}, false).item<double>() == -kInf);
  CHECK(kernel::logsumexp(tensor({kInf, 1}), {}, false).item<double>() == kInf);
  Tensor ints = tensor({0, 0}, {2}, {.dtype = kInt64});
  Tensor li = kernel::logsumexp(ints, {}, false);
  CHECK(li.dtype() == kFloat32);
  check_close(li, {std::log(2.0)});
  CHECK(kernel::logsumexp(x, Dims{0}, true).shape() == Dims{1, 2});
}

TEST_CASE("prod") {
  Tensor x = tensor({1.0, 2.0, 3.0, 4.0, 5.0, 6.0}, {2, 3});
  check_close(kernel::prod(x, {}, false), {720});
  check_close(kernel::prod(x, Dims{0}, false), {4, 10, 18});
  check_close(kernel::prod(x, Dims{-1}, true), {6, 120});
  check_close(kernel::prod(tensor({2.0, 0.0, 3.0}), {}, false), {0});
  CHECK(tg::prod(x, 1).shape() == Dims{2});
  Tensor ints = tensor({-2, 3, 5}, {3}, {.dtype = kInt64});
  CHECK(kernel::prod(ints, {}, false).item<std::int64_t>() == -30);
  CHECK(kernel::prod(ints, {}, false).dtype() == kInt64);
}

TEST_CASE("norm for p = 2, 1, inf, -inf, 0 and general p") {
  Tensor x = tensor({3.0, -4.0, 0.0, 1.0, -2.0, 2.0}, {2, 3});
  check_close(kernel::norm(x, 2, {}, false), {std::sqrt(34.0)});
  check_close(kernel::norm(x, 2, Dims{1}, false), {5, 3});
  check_close(kernel::norm(x, 1, Dims{1}, true), {7, 5});
  check_close(kernel::norm(x, kInf, Dims{1}, false), {4, 2});
  check_close(kernel::norm(x, -kInf, Dims{1}, false), {0, 1});
  check_close(kernel::norm(x, 0, {}, false), {5});
  check_close(kernel::norm(x, 3, Dims{0}, false), {std::cbrt(28.0), std::cbrt(72.0), 2});
  check_close(tg::norm(x), {std::sqrt(34.0)});
  CHECK_THROWS_WITH_AS(kernel::norm(iota({3}, kInt64), 2, {}, false), doctest::Contains("norm"), DTypeError);
}

TEST_CASE("softmax and log_softmax") {
  Tensor x = tensor({0, std::log(3.0), 1, 1, 1, 1}, {2, 3}, {.dtype = kFloat64});
  // Row 0: e^x = [1 3 e];  row 1: uniform.
  const double z = 4 + std::exp(1.0);
  check_close(kernel::softmax(x, 1), {1 / z, 3 / z, std::exp(1.0) / z, 1.0 / 3, 1.0 / 3, 1.0 / 3}, 1e-12);
  check_close(kernel::log_softmax(x, -1),
              {-std::log(z), std::log(3 / z), 1 - std::log(z), -std::log(3.0), -std::log(3.0), -std::log(3.0)}, 1e-12);
  // Along dim 0 (columns): pairs (0, 1), (log 3, 1), (1, 1).
  const double e = std::exp(1.0);
  check_close(kernel::softmax(x, 0), {1 / (1 + e), 3 / (3 + e), 0.5, e / (1 + e), e / (3 + e), 0.5}, 1e-12);
  // Large values stay finite; -inf gets probability 0.
  Tensor big = tensor({1000, 1000, -kInf});
  check_close(kernel::softmax(big, 0), {0.5, 0.5, 0});
  check_close(kernel::log_softmax(big, 0), {-std::log(2.0), -std::log(2.0), -kInf});
  // A 0-d tensor: softmax 1, log_softmax 0.
  check_close(kernel::softmax(scalar_tensor(7), 0), {1});
  check_close(kernel::log_softmax(scalar_tensor(7), -1), {0});
  CHECK(kernel::softmax(zeros({0, 3}), 1).shape() == Dims{0, 3});
  CHECK_THROWS_WITH_AS(kernel::softmax(iota({3}, kInt64), 0), doctest::Contains("softmax"), DTypeError);
  CHECK_THROWS_WITH_AS(kernel::softmax(x, 2), doctest::Contains("softmax"), IndexError);
}

TEST_CASE("fused softmax backwards follow their formulas") {
  Tensor x = wavy({3, 4, 5});
  Tensor dy = tg::add(tg::mul(wavy({3, 4, 5}), 0.5), 0.3);
  for (int d = 0; d < 3; ++d) {
    CAPTURE(d);
    Tensor y = kernel::softmax(x, d);
    const Tensor expected = tg::mul(y, tg::sub(dy, tg::sum(tg::mul(dy, y), Dims{d}, true)));
    check_close(kernel::softmax_backward(y, dy, d), values(expected), 1e-12);
    Tensor ly = kernel::log_softmax(x, d);
    const Tensor lexpected = tg::sub(dy, tg::mul(tg::exp(ly), tg::sum(dy, Dims{d}, true)));
    check_close(kernel::log_softmax_backward(ly, dy, d), values(lexpected), 1e-12);
  }
  CHECK_THROWS_WITH_AS(kernel::softmax_backward(x, zeros({3}, {.dtype = kFloat64}), 0),
                       doctest::Contains("softmax_backward"), ShapeError);
}

TEST_CASE("zero-size reductions") {
  Tensor e = zeros({0, 3});
  check_close(kernel::sum(e, Dims{0}, false), {0, 0, 0});
  CHECK(kernel::sum(e, Dims{1}, false).shape() == Dims{0});
  check_close(kernel::sum(e, {}, false), {0});
  check_close(kernel::prod(e, Dims{0}, false), {1, 1, 1});
  check_close(kernel::mean(e, Dims{0}, false), {kNaN, kNaN, kNaN});
  check_close(kernel::norm(e, 2, Dims{0}, false), {0, 0, 0});
  check_close(kernel::logsumexp(e, Dims{0}, false), {-kInf, -kInf, -kInf});
  // max over the non-empty dim of an empty tensor is an empty result...
  CHECK(kernel::amax(e, Dims{1}, false).shape() == Dims{0});
  CHECK(std::get<1>(kernel::max(e, 1, false)).shape() == Dims{0});
  // ...but over the empty dim there is no answer.
  CHECK_THROWS_WITH_AS(kernel::amax(e, Dims{0}, false), doctest::Contains("amax: cannot reduce over a zero-size"),
                       IndexError);
  CHECK_THROWS_WITH_AS(kernel::max(e, 0, false), doctest::Contains("max: cannot reduce over a zero-size"), IndexError);
  CHECK_THROWS_WITH_AS(kernel::argmin(e, {}, false), doctest::Contains("argmin"), IndexError);
  // max() over everything names itself, not the amax underneath.
  CHECK_THROWS_WITH_AS(tg::max(e), doctest::Contains("zero-size"), IndexError);
  try {
    tg::min(e);
    FAIL("min of an empty tensor did not throw");
  } catch (const IndexError& err) {
    CHECK(std::string(err.what()).rfind("min: cannot reduce over a zero-size dimension", 0) == 0);
  }
  CHECK_THROWS_WITH_AS(kernel::norm(e, kInf, Dims{0}, false), doctest::Contains("norm"), IndexError);
  // p < 0: a sum of |x|^p with nothing summed would be inf; refused as torch.linalg.vector_norm refuses it.
  const Tensor rows = zeros({2, 0});
  CHECK_THROWS_WITH_AS(kernel::norm(rows, -1.0, Dims{1}, false),
                       doctest::Contains("norm: the -1 norm of an empty slice is undefined (input shape [2, 0])"),
                       IndexError);
  CHECK_THROWS_WITH_AS(kernel::norm(rows, -0.5, Dims{}, false), doctest::Contains("-0.5 norm"), IndexError);
  CHECK_THROWS_WITH_AS(kernel::norm(rows, -kInf, Dims{1}, false), doctest::Contains("the -inf norm"), IndexError);
  // A positive p keeps the empty sum's 0, and a negative p over dims that are not empty is computed.
  check_close(kernel::norm(rows, 2.0, Dims{1}, false), {0, 0});
  CHECK(kernel::norm(rows, -1.0, Dims{0}, false).shape() == Dims{0});
}

TEST_CASE("0-d tensors reduce to themselves") {
  Tensor s = scalar_tensor(2.5);
  check_close(kernel::sum(s, {}, false), {2.5});
  CHECK(kernel::sum(s, Dims{0}, true).dim() == 0);
  CHECK(kernel::sum(s, Dims{-1}, false).dim() == 0);
  check_close(kernel::mean(s, {}, false), {2.5});
  check_close(kernel::prod(s, {}, false), {2.5});
  check_close(kernel::amax(s, Dims{0}, false), {2.5});
  check_close(kernel::norm(scalar_tensor(-3), 2, {}, false), {3});
  auto [v, i] = kernel::max(s, 0, false);
  check_close(v, {2.5});
  CHECK(i.item<std::int64_t>() == 0);
  CHECK(kernel::argmax(s, {}, false).item<std::int64_t>() == 0);
  CHECK_THROWS_AS(kernel::sum(s, Dims{1}, false), IndexError);
}

TEST_CASE("dims are checked and errors name the op") {
  Tensor x = iota({2, 3});
  CHECK_THROWS_WITH_AS(kernel::sum(x, Dims{2}, false), doctest::Contains("sum: dimension 2 out of range"), IndexError);
  CHECK_THROWS_WITH_AS(kernel::mean(x, Dims{-3}, false), doctest::Contains("mean"), IndexError);
  CHECK_THROWS_WITH_AS(kernel::sum(x, Dims{1, -1}, false), doctest::Contains("sum: dim 1 appears more than once"),
                       ValueError);
  CHECK_THROWS_WITH_AS(kernel::amax(x, Dims{0, 0}, false), doctest::Contains("amax"), ValueError);
  CHECK_THROWS_WITH_AS(kernel::max(x, 5, false), doctest::Contains("max"), IndexError);
  CHECK_THROWS_WITH_AS(kernel::argmax(x, 2, false), doctest::Contains("argmax"), IndexError);
  CHECK_THROWS_WITH_AS(kernel::prod(x, Dims{3}, false), doctest::Contains("prod"), IndexError);
  CHECK_THROWS_WITH_AS(kernel::logsumexp(x, Dims{-4}, false), doctest::Contains("logsumexp"), IndexError);
  // Integer means are refused, as PyTorch.
  CHECK_THROWS_WITH_AS(kernel::mean(iota({3}, kInt64), {}, false), doctest::Contains("mean"), DTypeError);
  CHECK_THROWS_WITH_AS(kernel::var(iota({3}, kInt64), {}, 1, false), doctest::Contains("var"), DTypeError);
  CHECK_THROWS_WITH_AS(kernel::std(iota({3}, kInt64), {}, 1, false), doctest::Contains("std"), DTypeError);
}

TEST_CASE("tie weights and index masks for the gradients of max") {
  Tensor x = tensor({1.0, 3.0, 3.0, 2.0, 5.0, 0.0}, {2, 3});
  Tensor y = kernel::amax(x, Dims{1}, true);
  check_close(kernel::tie_weights(x, y, kernel::reduction_mask(Dims{1}, 2, "t")), {0, 0.5, 0.5, 0, 1, 0});
  Tensor idx = tensor({2, 0}, {2, 1}, {.dtype = kInt64});
  check_close(kernel::index_mask({2, 3}, 1, idx, kFloat32), {0, 0, 1, 1, 0, 0});
}

TEST_CASE("int64 sum and prod wrap modulo 2^64 instead of overflowing") {
  // Found by fuzz_tensor_program: prod of int64 values near INT64_MAX
  // overflowed a signed integer, undefined behaviour.
  const tg::Tensor x = tg::tensor(std::vector<std::int64_t>{INT64_MAX, 9});
  CHECK(x.prod().item<std::int64_t>() == static_cast<std::int64_t>(static_cast<std::uint64_t>(INT64_MAX) * 9u));
  CHECK(x.sum().item<std::int64_t>() == static_cast<std::int64_t>(static_cast<std::uint64_t>(INT64_MAX) + 9u));
}

// The reductions compute in float32, float64 or int64 and widen the other
// dtypes first (core/kernels/reduce.cpp): every dtype, on every layout, must
// give what the float64 reduction of the same values gives, rounded to the
// result's dtype (exactly, for the folds and the extremes).
TEST_CASE("every dtype reduces like its values in float64, on every layout") {
  tg_test::for_each_dtype_and_layout([](DType dtype, const Tensor& x, const Tensor& wide) {
    const bool floating = is_floating(dtype);
    const DType sum_dtype = floating ? dtype : kInt64;
    for (const Dims& dims : std::vector<Dims>{{}, {0}, {1}}) {
      CAPTURE(dims.size());
      const Tensor s = kernel::sum(x, dims, false);
      CHECK(s.dtype() == sum_dtype);
      check_close(s, values(kernel::to(kernel::sum(wide, dims, false), sum_dtype)), 0);
      const Tensor p = kernel::prod(x, dims, true);
      CHECK(p.dtype() == sum_dtype);
      check_close(p, values(kernel::to(kernel::prod(wide, dims, true), sum_dtype)), 0);
      const Tensor hi = kernel::amax(x, dims, false), lo = kernel::amin(x, dims, false);
      CHECK(hi.dtype() == dtype);
      check_close(hi, values(kernel::amax(wide, dims, false)), 0);
      check_close(lo, values(kernel::amin(wide, dims, false)), 0);
      if (floating) {
        const double tol = dtype == kBFloat16 ? 1e-2 : dtype == kFloat16 ? 1e-3 : 1e-6;
        const Tensor m = kernel::mean(x, dims, false);
        CHECK(m.dtype() == dtype);
        check_close(m, values(kernel::mean(wide, dims, false)), tol);
        check_close(kernel::var(x, dims, 1, false), values(kernel::var(wide, dims, 1, false)), tol);
        check_close(kernel::std(x, dims, 0, false), values(kernel::std(wide, dims, 0, false)), tol);
        check_close(kernel::norm(x, 2, dims, false), values(kernel::norm(wide, 2, dims, false)), tol);
        check_close(kernel::logsumexp(x, dims, false), values(kernel::logsumexp(wide, dims, false)), tol);
      } else {
        CHECK_THROWS_WITH_AS(kernel::mean(x, dims, false), doctest::Contains(std::string(dtype_name(dtype)).c_str()),
                             DTypeError);
      }
    }
    for (int d = 0; d < 2; ++d) {
      auto [mv, mi] = kernel::max(x, d, false);
      auto [wv, wi] = kernel::max(wide, d, false);
      CHECK(mv.dtype() == dtype);
      check_close(mv, values(wv), 0);
      CHECK(values(mi) == values(wi));  // ties: the first index
      // argmin refuses bool, as PyTorch's.
      if (dtype == kBool) CHECK_THROWS_AS(kernel::argmin(x, d, false), DTypeError);
      else CHECK(values(kernel::argmin(x, d, false)) == values(kernel::argmin(wide, d, false)));
      if (is_floating(dtype)) {
        const double tol = dtype == kBFloat16 ? 1e-2 : dtype == kFloat16 ? 1e-3 : 1e-6;
        const Tensor sm = kernel::softmax(x, d);
        CHECK(sm.dtype() == dtype);
        check_close(sm, values(kernel::softmax(wide, d)), tol);
        check_close(kernel::log_softmax(x, d), values(kernel::log_softmax(wide, d)), tol);
        const Tensor g = kernel::softmax_backward(sm, x, d);
        CHECK(g.dtype() == dtype);
        check_close(g, values(kernel::softmax_backward(sm.to(kFloat64), wide, d)), 5 * tol);
      }
    }
  });
}

}  // namespace test_reduce
