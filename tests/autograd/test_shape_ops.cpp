// Shape ops, scans and order statistics (issue 14) against PyTorch:
// tests/reference/shape_ops.json, written by tests/reference/make_shape_ops.py
// (torch 1.13). Each case here repeats the script's input and op under the
// same name; the JSON holds the output's shape and values, its int64 indices
// and x.grad for the loss sum(y * w), w = 1, 2, 3, ... over y (pieces of a
// list one after the other). Then what the JSON cannot say: views, dtypes,
// and second derivatives where cumprod meets zeros.
#include <doctest/doctest.h>

#include <cmath>
#include <functional>
#include <limits>
#include <map>
#include <set>
#include <string>
#include <vector>

#include <tapegrad/autograd/gradcheck.h>
#include <tapegrad/autograd/node.h>
#include <tapegrad/autograd/ops.h>
#include <tapegrad/core/error.h>
#include <tapegrad/nn/rnn.h>

#include "support/op_reference.h"

namespace test_shape_ops {

using tg::Dims;
using tg::Tensor;

namespace {

using tg_test::iota;
using tg_test::leaf;
using tg_test::list;
using tg_test::numbers;
using tg_test::one;
using tg_test::Out;
using tg_test::pair;

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

const std::vector<double> X34 = {0.5, -1.25, 2.0, 3.5, -0.75, 1.5, -2.25, 0.25, 4.0, -3.0, 1.0, -0.5};
const std::vector<double> X_TIES = {3, 1, 2, 1, 3, 2, 1};
const std::vector<double> X_RUN = {1, 3, 3, 2, 5, 5, 0, 6};
const std::vector<double> X_ZEROS = {2, 0, 3, 4, 0, 0, 1.5, 2, 1, -2, 0.5, 3, 0, 1.5, -1, 2.5};
// Rows with no zero, one in the middle, one first, one last, two, three.
const std::vector<double> X_ZERO_ROWS = {1.5, -2, 0.5, 3, -1, 2,   0.5, 0, 3, -1.5, 0, 2, -1, 0.5, 3,
                                         2,   -1, 0.5, 3, 0,  1.5, 0,   2, 0, -3,   0, 0, 2,  0,   1};

Tensor x34() { return leaf(X34, {3, 4}); }
Tensor x234() { return leaf(iota(24), {2, 3, 4}); }

void check_case(const std::string& name, const Tensor& x, const std::function<Out(const Tensor&)>& fn) {
  tg_test::check_op_case("shape_ops.json", name, x, fn);
}

}  // namespace

TEST_CASE("tril, triu, diagonal, diag and trace match PyTorch") {
  check_case("tril", x34(), [](const Tensor& x) { return one(tg::tril(x)); });
  check_case("tril_minus1", x34(), [](const Tensor& x) { return one(x.tril(-1)); });
  check_case("tril_5", x34(), [](const Tensor& x) { return one(tg::tril(x, 5)); });
  check_case("triu_1", x34(), [](const Tensor& x) { return one(tg::triu(x, 1)); });
  check_case("triu_minus2", x34(), [](const Tensor& x) { return one(x.triu(-2)); });
  check_case("triu_batched", x234(), [](const Tensor& x) { return one(tg::triu(x)); });
  check_case("diagonal_1_0_2", x234(), [](const Tensor& x) { return one(tg::diagonal(x, 1, 0, 2)); });
  check_case("diagonal_minus1_minus1_1", x234(), [](const Tensor& x) { return one(x.diagonal(-1, -1, 1)); });
  check_case("diagonal_past_the_end", x34(), [](const Tensor& x) { return one(tg::diagonal(x, 4)); });
  check_case("diag_vector", leaf({1, -2, 3}, {3}), [](const Tensor& x) { return one(tg::diag(x)); });
  check_case("diag_vector_minus2", leaf({1, -2, 3}, {3}), [](const Tensor& x) { return one(x.diag(-2)); });
  check_case("diag_matrix_1", x34(), [](const Tensor& x) { return one(tg::diag(x, 1)); });
  check_case("diag_matrix_minus2", x34(), [](const Tensor& x) { return one(tg::diag(x, -2)); });
  check_case("trace", x34(), [](const Tensor& x) { return one(x.trace()); });
}

TEST_CASE("repeat, flip, roll, split, unbind, movedim, unflatten and meshgrid match PyTorch") {
  const std::vector<double> x23 = {1, 2, 3, 4, 5, 6};
  check_case("repeat", leaf(x23, {2, 3}), [](const Tensor& x) { return one(x.repeat({2, 1, 3})); });
  check_case("repeat_zero", leaf(x23, {2, 3}), [](const Tensor& x) { return one(tg::repeat(x, {0, 2})); });
  check_case("flip", x234(), [](const Tensor& x) { return one(tg::flip(x, {0, -1})); });
  check_case("roll_dims", x34(), [](const Tensor& x) { return one(tg::roll(x, {1, -5}, {0, 1})); });
  check_case("roll_flat", x34(), [](const Tensor& x) { return one(x.roll({3})); });
  check_case("roll_negative_flat", x34(), [](const Tensor& x) { return one(tg::roll(x, {-14})); });
  check_case("split_sizes", leaf(iota(15), {5, 3}), [](const Tensor& x) {
    return list(tg::split(x, std::vector<std::int64_t>{1, 0, 3, 1}, 0));
  });
  check_case("split_sizes_dim_minus1", x34(), [](const Tensor& x) {
    return list(x.split(std::vector<std::int64_t>{3, 1}, -1));
  });
  check_case("unbind", x34(), [](const Tensor& x) { return list(tg::unbind(x, 1)); });
  check_case("movedim_lists", x234(), [](const Tensor& x) { return one(tg::movedim(x, {0, 1}, {2, 0})); });
  check_case("movedim_one", x234(), [](const Tensor& x) { return one(x.movedim(0, -1)); });
  check_case("unflatten", leaf(iota(12), {6, 2}), [](const Tensor& x) { return one(tg::unflatten(x, 0, {2, -1})); });
  check_case("meshgrid_ij", leaf({1, 2, 3}, {3}), [](const Tensor& x) {
    return list(tg::meshgrid({x, x.slice(0, 0, 2) * 2.0}, "ij"));
  });
  check_case("meshgrid_xy", leaf({1, 2, 3}, {3}), [](const Tensor& x) {
    return list(tg::meshgrid({x, x.slice(0, 0, 2) * 2.0}, "xy"));
  });
}

TEST_CASE("cumsum, cumprod, logcumsumexp, cummax and cummin match PyTorch") {
  check_case("cumsum_1", x34(), [](const Tensor& x) { return one(tg::cumsum(x, 1)); });
  check_case("cumsum_minus2", x34(), [](const Tensor& x) { return one(x.cumsum(-2)); });
  check_case("cumsum_empty", leaf({}, {0, 3}), [](const Tensor& x) { return one(tg::cumsum(x, 0)); });
  check_case("cumprod_1", x34(), [](const Tensor& x) { return one(tg::cumprod(x, 1)); });
  check_case("cumprod_zeros_1", leaf(X_ZEROS, {4, 4}), [](const Tensor& x) { return one(tg::cumprod(x, 1)); });
  check_case("cumprod_zeros_0", leaf(X_ZEROS, {4, 4}), [](const Tensor& x) { return one(x.cumprod(0)); });
  check_case("cumprod_zero_rows_1", leaf(X_ZERO_ROWS, {6, 5}), [](const Tensor& x) { return one(tg::cumprod(x, 1)); });
  check_case("cumprod_zero_rows_0", leaf(X_ZERO_ROWS, {6, 5}), [](const Tensor& x) { return one(tg::cumprod(x, 0)); });
  check_case("logcumsumexp_1", x34(), [](const Tensor& x) { return one(tg::logcumsumexp(x, 1)); });
  check_case("logcumsumexp_wide", leaf({-1000, 1000, 3, 999}, {4}),
             [](const Tensor& x) { return one(x.logcumsumexp(0)); });
  check_case("cummax", leaf(X_RUN, {8}), [](const Tensor& x) { return pair(tg::cummax(x, 0)); });
  check_case("cummin", leaf(X_RUN, {8}), [](const Tensor& x) { return pair(x.cummin(0)); });
  check_case("cummax_minus1", x34(), [](const Tensor& x) { return pair(tg::cummax(x, -1)); });
  check_case("cummin_0", x34(), [](const Tensor& x) { return pair(tg::cummin(x, 0)); });
  check_case("cummax_nan", leaf({1, kNaN, 3, 0}, {4}, false), [](const Tensor& x) { return pair(tg::cummax(x, 0)); });
}

TEST_CASE("sort, argsort, msort, topk, kthvalue and median match PyTorch") {
  check_case("sort_stable", leaf(X_TIES, {7}), [](const Tensor& x) { return pair(tg::sort(x, -1, false, true)); });
  check_case("sort_stable_descending", leaf(X_TIES, {7}), [](const Tensor& x) { return pair(x.sort(0, true, true)); });
  check_case("sort_minus2", x34(), [](const Tensor& x) { return pair(tg::sort(x, -2)); });
  check_case("sort_nan", leaf({2, kNaN, -1, 5}, {4}, false), [](const Tensor& x) { return pair(tg::sort(x)); });
  check_case("sort_nan_descending", leaf({2, kNaN, -1, 5}, {4}, false),
             [](const Tensor& x) { return pair(tg::sort(x, -1, true)); });
  check_case("sort_empty", leaf({}, {2, 0}), [](const Tensor& x) { return pair(tg::sort(x, 1)); });
  check_case("argsort_stable", leaf(X_TIES, {7}), [](const Tensor& x) { return one(tg::argsort(x, -1, false, true)); });
  check_case("argsort_descending", x34(), [](const Tensor& x) { return one(x.argsort(1, true)); });
  check_case("msort", x34(), [](const Tensor& x) { return one(tg::msort(x)); });
  check_case("topk_2", x34(), [](const Tensor& x) { return pair(tg::topk(x, 2)); });
  check_case("topk_0", x34(), [](const Tensor& x) { return pair(x.topk(0)); });
  check_case("topk_smallest_0", x34(), [](const Tensor& x) { return pair(tg::topk(x, 2, 0, false)); });
  check_case("topk_all", leaf({3, -1, 2}, {3}), [](const Tensor& x) { return pair(tg::topk(x, 3)); });
  check_case("kthvalue_2", x34(), [](const Tensor& x) { return pair(tg::kthvalue(x, 2)); });
  check_case("kthvalue_keepdim_0", x34(), [](const Tensor& x) { return pair(x.kthvalue(3, 0, true)); });
  check_case("median_all_even", x34(), [](const Tensor& x) { return one(tg::median(x)); });
  check_case("median_all_odd", leaf({3, -1, 2, 7, 0}, {5}), [](const Tensor& x) { return one(x.median()); });
  check_case("median_dim_1", x34(), [](const Tensor& x) { return pair(tg::median(x, 1)); });
  check_case("median_dim_minus2_keepdim", x34(), [](const Tensor& x) { return pair(x.median(-2, true)); });
  check_case("median_nan", leaf({1, kNaN, 3, kNaN, 2, 0, 1, 5}, {2, 4}, false),
             [](const Tensor& x) { return pair(tg::median(x, 1)); });
  check_case("median_all_nan", leaf({1, kNaN, 3}, {3}, false), [](const Tensor& x) { return one(tg::median(x)); });
  // The median of everything shares its gradient evenly among the elements
  // equal to it (NaN among the NaNs), as PyTorch's; along a dim it does not.
  check_case("median_all_ties", leaf(X_TIES, {7}), [](const Tensor& x) { return one(tg::median(x)); });
  check_case("median_all_ties_2d", leaf({2, 1, 2, 2, 3, 0}, {2, 3}), [](const Tensor& x) { return one(x.median()); });
  check_case("median_all_nan_grad", leaf({1, kNaN, 3, kNaN}, {4}), [](const Tensor& x) { return one(tg::median(x)); });
  // With ties PyTorch's index is unspecified: values and the gradient's total only.
  for (const char* name : {"median_ties_values", "kthvalue_ties_values"}) {
    CAPTURE(name);
    const auto& want = tg_test::reference_file("shape_ops.json").at("cases").at(name);
    const Tensor x = leaf(X_TIES, {7});
    const Tensor v =
        std::string(name) == "median_ties_values" ? std::get<0>(tg::median(x, 0)) : std::get<0>(tg::kthvalue(x, 4));
    tg_test::check_close(v, numbers(want.at("values")), 1e-10);
    v.backward();
    CHECK(x.grad().sum().item<double>() == 1.0);
    CHECK(x.grad().max().item<double>() == 1.0);
  }
}

TEST_CASE("0-d inputs are one element along dim 0 or -1, as PyTorch") {
  const auto s = [] { return tg::scalar_tensor(2.5, {.dtype = tg::kFloat64}).set_requires_grad(true); };
  check_case("sort_scalar", s(), [](const Tensor& x) { return pair(tg::sort(x, -1)); });
  check_case("cumprod_scalar", s(), [](const Tensor& x) { return one(tg::cumprod(x, 0)); });
  check_case("logcumsumexp_scalar", s(), [](const Tensor& x) { return one(tg::logcumsumexp(x, 0)); });
  check_case("kthvalue_scalar", s(), [](const Tensor& x) { return pair(tg::kthvalue(x, 1)); });
  check_case("cummax_scalar", s(), [](const Tensor& x) { return pair(tg::cummax(x, 0)); });
  check_case("median_scalar", s(), [](const Tensor& x) { return one(tg::median(x)); });
  check_case("topk_scalar", s(), [](const Tensor& x) { return pair(tg::topk(x, 1)); });
  // A 0-d tensor cannot be empty: PyTorch's k = 0 gives the element, as k = 1.
  check_case("topk_scalar_0", s(), [](const Tensor& x) { return pair(tg::topk(x, 0)); });
  // flatten returned [1] before looking at its dims: any dim passed.
  for (auto [start, end] : {std::pair{0, 0}, {-1, 0}, {0, -1}, {-1, -1}})
    CHECK(tg::flatten(s(), start, end).sizes() == tg::Dims{1});
  for (auto [start, end] : {std::pair{5, 7}, {-3, 0}, {0, 1}, {-2, -1}})
    CHECK_THROWS_WITH_AS(tg::flatten(s(), start, end), doctest::Contains("flatten: dimension"), tg::IndexError);
}

TEST_CASE("cumprod's gradient is exact through zeros, to the second order") {
  // One zero, two zeros and none in a row, along either dim.
  const Tensor x = leaf(X_ZEROS, {4, 4});
  for (std::int64_t dim : {0, 1, -1}) {
    CAPTURE(dim);
    const auto f = [dim](const std::vector<Tensor>& in) { return std::vector<Tensor>{tg::cumprod(in[0], dim)}; };
    CHECK(tg::gradcheck(f, {x}));
    CHECK(tg::gradgradcheck(f, {x}));
  }
  // A zero first and last in a 1-D input.
  const Tensor v = leaf({0, 2, -1.5, 0}, {4});
  const auto g = [](const std::vector<Tensor>& in) { return std::vector<Tensor>{tg::cumprod(in[0], 0)}; };
  CHECK(tg::gradcheck(g, {v}));
  CHECK(tg::gradgradcheck(g, {v}));
  // Rows with no zero, one in the middle, first or last, two and three.
  const Tensor rows = leaf(X_ZERO_ROWS, {6, 5});
  for (std::int64_t dim : {0, 1}) {
    CAPTURE(dim);
    const auto f = [dim](const std::vector<Tensor>& in) { return std::vector<Tensor>{tg::cumprod(in[0], dim)}; };
    CHECK(tg::gradcheck(f, {rows}));
    CHECK(tg::gradgradcheck(f, {rows}));
  }
}

TEST_CASE("cumprod's backward through zeros is linear in the size") {
  // One zero anywhere used to send every slice down an n x n path: 200 rows
  // of 2000 asked for 6 GB per [200, 2000, 2000] tensor, a vector of 100000
  // for 80 GB. Ones with zeros placed in them: dx_k = sum_{j >= k} dy_j over
  // j below the slice's first zero z, for k < z; at z the number of j >= z
  // before the second zero; 0 after z.
  SUBCASE("200 rows of 2000, one zero") {
    std::vector<double> values(200 * 2000, 1.0);
    values[7 * 2000 + 500] = 0.0;
    const Tensor x = leaf(values, {200, 2000});
    const Tensor grad = tg::grad({tg::cumprod(x, 1).sum()}, {x})[0];
    const std::vector<double> g = grad.to_vector<double>();
    CHECK(g[0] == 2000.0);            // a row without zero: sum over j >= 0
    CHECK(g[7 * 2000 + 0] == 500.0);  // before the zero: j in [0, 500)
    CHECK(g[7 * 2000 + 499] == 1.0);
    CHECK(g[7 * 2000 + 500] == 1500.0);  // the zero: j in [500, 2000)
    CHECK(g[7 * 2000 + 501] == 0.0);     // after it
    CHECK(grad.sum().item<double>() == 199.0 * 2001.0 * 1000.0 + 500.0 * 501.0 / 2.0 + 1500.0);
  }
  SUBCASE("a vector of 100000 with zeros") {
    std::vector<double> values(100000, 1.0);
    values[1000] = 0.0;
    values[50000] = 0.0;
    values[99999] = 0.0;
    const Tensor x = leaf(values, {100000});
    const Tensor grad = tg::grad({tg::cumprod(x, 0).sum()}, {x})[0];
    const std::vector<double> g = grad.to_vector<double>();
    CHECK(g[0] == 1000.0);
    CHECK(g[999] == 1.0);
    CHECK(g[1000] == 49000.0);  // j in [1000, 50000)
    CHECK(g[1001] == 0.0);
    CHECK(g[50000] == 0.0);
    CHECK(g[99999] == 0.0);
    CHECK(grad.sum().item<double>() == 1000.0 * 1001.0 / 2.0 + 49000.0);
  }
  SUBCASE("products of the nonzeros overflow past the zero") {
    // y stops at 0 at position 3; 2^j of the nonzeros overflows past j = 1026.
    std::vector<double> values(5000, 2.0);
    values[3] = 0.0;
    const Tensor x = leaf(values, {5000});
    const std::vector<double> g = tg::grad({tg::cumprod(x, 0).sum()}, {x})[0].to_vector<double>();
    CHECK(g[0] == 7.0);  // 1 + 2 + 4
    CHECK(g[1] == 6.0);  // 2 + 4
    CHECK(g[2] == 4.0);
    CHECK(g[3] == std::numeric_limits<double>::infinity());  // 8 + 16 + ... overflows, truly
    CHECK(g[4] == 0.0);
    CHECK(g[4999] == 0.0);
  }
}

TEST_CASE("logcumsumexp's gradient stays finite over a range of thousands") {
  const Tensor x = leaf({-1000, 1000, 3, 999}, {4});
  const auto f = [](const std::vector<Tensor>& in) { return std::vector<Tensor>{tg::logcumsumexp(in[0], 0)}; };
  CHECK(tg::gradcheck(f, {x}));
  CHECK(tg::gradgradcheck(f, {x}));
}

TEST_CASE("diagonal, split, unbind and meshgrid give views; tril, diag and sort copy") {
  Tensor m = tg::tensor(X34, {3, 4}, tg::kFloat64);
  const Tensor d = tg::diagonal(m, 1);
  CHECK(d.storage() == m.storage());
  CHECK(d.stride(0) == 5);
  m.mul_(2.0);
  tg_test::check_close(d, {-2.5, -4.5, -1.0});
  CHECK(tg::diag(m, 1).storage() != m.storage());
  CHECK(tg::tril(m).storage() != m.storage());
  for (const auto& piece : tg::split(m, std::vector<std::int64_t>{1, 2}, 0)) CHECK(piece.storage() == m.storage());
  for (const auto& piece : tg::unbind(m, 1)) CHECK(piece.storage() == m.storage());
  const Tensor a = tg::tensor({1.0, 2.0, 3.0}), b = tg::tensor({4.0, 5.0});
  const auto grid = tg::meshgrid({a, b}, "xy");
  CHECK(grid[0].shape() == Dims{2, 3});
  CHECK(grid[0].storage() == a.storage());
  CHECK(grid[0].stride(0) == 0);
}

TEST_CASE("split, chunk and unbind record one node for all their pieces") {
  // One node per call, not one per piece: its backward is one cat over the
  // input, where a node per piece would write T whole-input zero gradients.
  Tensor x = tg::randn({6, 4}, {.dtype = tg::kFloat64}).requires_grad_(true);
  const std::vector<std::pair<std::string, std::vector<Tensor>>> calls = {
      {"split size", tg::split(x, 2, 0)},
      {"split sizes", tg::split(x, std::vector<std::int64_t>{1, 0, 2, 1}, 1)},
      {"chunk", tg::chunk(x.t(), 3, 1)},
      {"unbind", tg::unbind(x, 0)},
  };
  for (const auto& call : calls) {
    const std::string& name = call.first;
    const std::vector<Tensor>& pieces = call.second;
    CAPTURE(name);
    REQUIRE(pieces.size() > 1);
    for (std::size_t k = 0; k < pieces.size(); ++k) {
      CHECK(pieces[k].grad_fn() == pieces[0].grad_fn());
      CHECK(pieces[k].output_nr() == k);
    }
    CHECK(pieces[0].grad_fn()->num_outputs() == pieces.size());
  }
}

TEST_CASE("split, chunk and unbind: pieces without a gradient get zeros, to the second order") {
  // Only some pieces reach the loss: the others' gradients never flow, and
  // the node fills their place in x's gradient with zeros. Every layout of x.
  const auto layouts = [] {
    const Tensor base = tg::randn({4, 6}, {.dtype = tg::kFloat64});
    return std::vector<std::pair<std::string, Tensor>>{
        {"contiguous", base.clone()},
        {"transposed", tg::randn({6, 4}, {.dtype = tg::kFloat64}).t()},
        {"strided", tg::randn({4, 12}, {.dtype = tg::kFloat64}).slice(1, 0, 12, 2)},
        {"expanded", tg::randn({1, 6}, {.dtype = tg::kFloat64}).expand({4, 6})},
    };
  }();
  using Fn = std::function<Tensor(const Tensor&)>;
  const std::vector<std::pair<std::string, Fn>> ops = {
      {"split size, dim 1, pieces 0 and 2",
       [](const Tensor& x) {
         const auto p = tg::split(x, 2, 1);
         return (p[0] * p[0]).sum() + (p[2] * 3.0).sum();
       }},
      {"split sizes, dim 0, piece 1 only",
       [](const Tensor& x) {
         const auto p = tg::split(x, std::vector<std::int64_t>{1, 2, 0, 1}, 0);
         return (p[1] * p[1] * p[1]).sum();
       }},
      {"chunk, last piece only",
       [](const Tensor& x) {
         const auto p = tg::chunk(x, 4, 1);
         return tg::sin(p.back()).sum();
       }},
      {"unbind, dim 1, rows 1 and 4",
       [](const Tensor& x) {
         const auto p = tg::unbind(x, 1);
         return (p[1] * p[4]).sum();
       }},
      {"unbind, all rows",
       [](const Tensor& x) {
         const auto p = tg::unbind(x, 0);
         return tg::stack({p[3], p[0] * p[1], p[2]}, 0).exp().sum();
       }},
  };
  for (const auto& layout : layouts) {
    for (const auto& op : ops) {
      const std::string& layout_name = layout.first;
      const std::string& op_name = op.first;
      CAPTURE(layout_name);
      CAPTURE(op_name);
      const Tensor x = layout.second.detach().requires_grad_(true);
      const Fn& f = op.second;
      const auto fn = [&f](const std::vector<Tensor>& in) { return f(in[0]); };
      CHECK(tg::gradcheck(fn, {x}));
      CHECK(tg::gradgradcheck(fn, {x}));
    }
  }
  // The zeros are exact zeros where no piece was used.
  Tensor x = tg::ones({3, 4}, {.dtype = tg::kFloat64}).requires_grad_(true);
  (tg::unbind(x, 0)[1] * 2.0).sum().backward();
  tg_test::check_close(x.grad(), {0, 0, 0, 0, 2, 2, 2, 2, 0, 0, 0, 0});
}

TEST_CASE("an LSTM's graph holds no narrow or select node per step") {
  // The per-step slices of the input projection are one node (the
  // recurrent sequence's open node); a narrow per step would make backward
  // quadratic in the length. Each step's gates go whole into one lstm_cell node.
  tg::manual_seed(0);
  tg::nn::LSTM lstm(3, 4);
  const auto [out, state] = lstm(tg::randn({5, 2, 3}));
  std::map<std::string, int> counts;
  std::set<const tg::autograd::Node*> seen;
  std::vector<const tg::autograd::Node*> pending{out.grad_fn().get()};
  while (!pending.empty()) {
    const auto* node = pending.back();
    pending.pop_back();
    if (!node || !seen.insert(node).second) continue;
    ++counts[std::string(node->name())];
    for (const auto& edge : node->next_edges()) pending.push_back(edge.fn.get());
  }
  CHECK(counts["narrow"] == 0);
  CHECK(counts["select"] == 0);
  CHECK(counts["split"] == 0);
  CHECK(counts["recurrent_open"] == 1);
  CHECK(counts["lstm_cell"] == 5);
}

TEST_CASE("scans and sorts keep PyTorch's dtypes") {
  const Tensor i = tg::tensor(std::vector<std::int64_t>{3, -1, 2, 0}, {4});
  const Tensor b = tg::tensor(std::vector<double>{1, 0, 1, 1}, {4}, tg::kBool);
  CHECK(tg::cumsum(i, 0).dtype() == tg::kInt64);
  tg_test::check_close(tg::cumsum(i, 0), {3, 2, 4, 4}, 0);
  CHECK(tg::cumsum(b, 0).dtype() == tg::kInt64);
  tg_test::check_close(tg::cumsum(b, 0), {1, 1, 2, 3}, 0);
  tg_test::check_close(tg::cumprod(i, 0), {3, -3, -6, 0}, 0);
  const auto [values, indices] = tg::sort(i, 0, true);
  CHECK(values.dtype() == tg::kInt64);
  tg_test::check_close(values, {3, 2, 0, -1}, 0);
  tg_test::check_close(indices, {0, 2, 3, 1}, 0);
  const auto [bv, bi] = tg::sort(b);
  CHECK(bv.dtype() == tg::kBool);
  tg_test::check_close(bi, {1, 0, 2, 3}, 0);  // stable: the trues keep their order
  CHECK(tg::argsort(tg::tensor({2.0, 1.0})).dtype() == tg::kInt64);
}

TEST_CASE("bad arguments are tg errors naming the op and the shape") {
  const Tensor x = tg::ones({2, 3});
  CHECK_THROWS_WITH_AS(tg::split(x, std::vector<std::int64_t>{1, 1}, 1), doctest::Contains("split"), tg::ShapeError);
  CHECK_THROWS_WITH_AS(tg::split(x, std::vector<std::int64_t>{1, 1}, 1), doctest::Contains("[2, 3]"), tg::ShapeError);
  CHECK_THROWS_WITH_AS(tg::topk(x, 4), doctest::Contains("topk: k = 4"), tg::IndexError);
  CHECK_THROWS_WITH_AS(tg::kthvalue(x, 0), doctest::Contains("kthvalue"), tg::IndexError);
  CHECK_THROWS_WITH_AS(tg::sort(x, 2), doctest::Contains("sort"), tg::IndexError);
  CHECK_THROWS_WITH_AS(tg::cumsum(x, -3), doctest::Contains("cumsum"), tg::IndexError);
  CHECK_THROWS_WITH_AS(tg::diagonal(x, 0, 1, 1), doctest::Contains("diagonal"), tg::ValueError);
  CHECK_THROWS_WITH_AS(tg::tril(tg::ones({3})), doctest::Contains("tril"), tg::ShapeError);
  CHECK_THROWS_WITH_AS(tg::repeat(x, {2}), doctest::Contains("repeat"), tg::ShapeError);
  CHECK_THROWS_WITH_AS(tg::roll(x, {1, 1}, {0}), doctest::Contains("roll"), tg::ShapeError);
  CHECK_THROWS_WITH_AS(tg::unflatten(x, 1, {2, 2}), doctest::Contains("unflatten"), tg::ShapeError);
  CHECK_THROWS_WITH_AS(tg::median(tg::ones({2, 0}), 1), doctest::Contains("median"), tg::IndexError);
  CHECK_THROWS_WITH_AS(tg::meshgrid({tg::ones({2})}, "ji"), doctest::Contains("meshgrid"), tg::ValueError);
  CHECK_THROWS_WITH_AS(tg::movedim(tg::ones({2, 3, 4}), {0, 0}, {1, 2}), doctest::Contains("movedim"), tg::ValueError);
}

}  // namespace test_shape_ops
