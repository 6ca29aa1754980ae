// tg::linalg (issue 14) against PyTorch: tests/reference/linalg_ops.json,
// written by tests/reference/make_linalg_ops.py (torch 1.13). Each case here
// builds the script's input with the same formula (mat) and applies the same
// function; the JSON holds the outputs' shapes and values and x.grad for the
// loss sum(y * w), w = 1, 2, 3, ... Then what PyTorch documents at singular
// and non-positive-definite inputs, batching, float32, and second order.
#include <doctest/doctest.h>

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include <tapegrad/autograd/gradcheck.h>
#include <tapegrad/autograd/linalg.h>
#include <tapegrad/autograd/ops.h>
#include <tapegrad/core/error.h>
#include <tapegrad/core/random.h>

#include "support/op_reference.h"
#include "tg_error_check.h"

namespace test_linalg {

using tg::Dims;
using tg::Tensor;
namespace L = tg::linalg;

namespace {

using tg_test::leaf;
using tg_test::one;
using tg_test::Out;

const char* const kFile = "linalg_ops.json";

// The script's mat(): ((7 k + 3 seed) mod 11 - 5) / 4, plus `shift` on each matrix's diagonal.
Tensor mat(Dims shape, int seed, double shift = 0, bool grad = true) {
  const std::int64_t n = shape.product();
  std::vector<double> v(static_cast<std::size_t>(n));
  for (std::int64_t k = 0; k < n; ++k)
    v[static_cast<std::size_t>(k)] = static_cast<double>((7 * k + 3 * seed) % 11 - 5) / 4.0;
  if (shift != 0 && shape.size() >= 2) {
    const std::int64_t r = shape[shape.size() - 2], c = shape[shape.size() - 1];
    for (std::int64_t b = 0; b < n / std::max<std::int64_t>(1, r * c); ++b)
      for (std::int64_t i = 0; i < std::min(r, c); ++i) v[static_cast<std::size_t>(b * r * c + i * c + i)] += shift;
  }
  return leaf(v, shape, grad);
}

Tensor mT(const Tensor& x) { return x.transpose(-1, -2); }
Tensor sym(const Tensor& x) { return x + mT(x); }
Tensor spd(const Tensor& x) { return tg::matmul(x, mT(x)) + tg::eye(x.size(-1), {}, {.dtype = x.dtype()}); }
Tensor first(const Tensor& x, std::int64_t k) { return tg::narrow(x, -1, 0, k); }
Tensor rest(const Tensor& x, std::int64_t k) { return tg::narrow(x, -1, k, x.size(-1) - k); }
Tensor diag_embed(const Tensor& v) { return tg::unsqueeze(v, -1) * tg::eye(v.size(-1), {}, {.dtype = v.dtype()}); }

Out many(std::vector<Tensor> ts) { return {std::move(ts), {}}; }
template <class T2>
Out both(const T2& t) {
  return many({std::get<0>(t), std::get<1>(t)});
}

void check(const std::string& name, const Tensor& x, const std::function<Out(const Tensor&)>& fn) {
  tg_test::check_op_case(kFile, name, x, fn);
}

}  // namespace

TEST_CASE("linalg: solve and inv match PyTorch, batched, with vector right-hand sides and zero-size batches") {
  check("solve_batched", mat({2, 3, 5}, 1, 3), [](const Tensor& x) { return one(L::solve(first(x, 3), rest(x, 3))); });
  check("solve_vector", mat({3, 4}, 2, 3), [](const Tensor& x) { return one(L::solve(first(x, 3), x.select(1, 3))); });
  check("solve_batched_vector", mat({2, 3, 4}, 3, 3),
        [](const Tensor& x) { return one(L::solve(first(x, 3), x.select(2, 3))); });
  check("solve_zero_batch", mat({0, 3, 4}, 0), [](const Tensor& x) { return one(L::solve(first(x, 3), rest(x, 3))); });
  check("inv", mat({3, 3}, 4, 2), [](const Tensor& x) { return one(L::inv(x)); });
  check("inv_batched", mat({2, 2, 3, 3}, 5, 2.5), [](const Tensor& x) { return one(L::inv(x)); });
  check("inv_zero_batch", mat({0, 2, 2}, 0), [](const Tensor& x) { return one(L::inv(x)); });
}

TEST_CASE("linalg: solve broadcasts batch dims, and the gradient sums over the broadcast") {
  const Tensor A = mat({3, 3}, 41, 3), B = mat({2, 3, 2}, 42);
  const Tensor X = L::solve(A, B);
  CHECK(X.shape() == Dims{2, 3, 2});
  tg::sum(X * X).backward();
  const Tensor A0 = mat({3, 3}, 41, 3);
  Tensor loss = tg::zeros({}, {.dtype = tg::kFloat64});
  for (int b = 0; b < 2; ++b) {
    const Tensor Xb = L::solve(A0, B.select(0, b).detach());
    loss = loss + tg::sum(Xb * Xb);
  }
  loss.backward();
  tg_test::check_close(A.grad(), A0.grad(), 1e-12);
  tg_test::check_close(tg::matmul(A, X), B, 1e-12);
}

TEST_CASE("linalg: det and slogdet match PyTorch; a singular det is 0 with the cofactor matrix as gradient") {
  check("det_batched", mat({2, 3, 3}, 6, 1), [](const Tensor& x) { return one(L::det(x)); });
  check("det_empty_matrix", mat({2, 0, 0}, 0), [](const Tensor& x) { return one(L::det(x)); });
  check("det_zero_batch", mat({0, 3, 3}, 0), [](const Tensor& x) { return one(L::det(x)); });
  check("slogdet_batched", mat({2, 3, 3}, 7, 0.5), [](const Tensor& x) { return both(L::slogdet(x)); });
  check("slogdet_negative", leaf({0, 1, 1, 0.5}, {2, 2}), [](const Tensor& x) { return both(L::slogdet(x)); });

  // PyTorch's first-order det gradient at an exactly singular matrix is 0 (it
  // solves with det * I = 0); the derivative is the cofactor matrix, nonzero
  // when the rank is n - 1. Values against PyTorch, gradients against the
  // cofactors written out by hand.
  struct Singular {
    const char* name;
    std::vector<double> a;
    Dims shape;
    std::vector<double> cofactor;
  };
  const std::vector<Singular> cases = {
      {"det_singular", {1, 2, 3, 4, 5, 6, 7, 8, 9}, {3, 3}, {-3, 6, -3, 6, -12, 6, -3, 6, -3}},
      {"det_singular_zero_row", {1, 2, 3, 0, 0, 0, 7, -8, 0.5}, {3, 3}, {0, 0, 0, -25, -20.5, 22, 0, 0, 0}},
      // A batch of a singular and an invertible matrix: cof([[2, 1], [-1, 3]]) = [[3, 1], [-1, 2]].
      {"det_mixed_batch", {1, 2, 2, 4, 2, 1, -1, 3}, {2, 2, 2}, {4, -2, -2, 1, 3, 1, -1, 2}},
  };
  for (const auto& c : cases) {
    CAPTURE(c.name);
    check(c.name, leaf(c.a, c.shape, false), [](const Tensor& x) { return one(L::det(x)); });
    const Tensor x = leaf(c.a, c.shape);
    const Tensor d = L::det(x);
    tg::sum(d).backward();
    tg_test::check_close(x.grad(), c.cofactor, 1e-12);
  }
}

TEST_CASE("linalg: det's higher derivatives near a singular matrix (not exactly singular) are exact") {
  // 0.1 * [1..9] has rank 2 but LU rounds its det to about 7e-18, not 0: det
  // A^-T's derivative was a difference of terms near 1e16. The sum of the
  // cofactors of a 3x3 is quadratic and, at 0.1 times this integer matrix,
  // its gradient is 0.1 times the one at [1..9], which is 0 (derived by hand:
  // each entry is a sum of +-entries along rows and columns that cancel).
  const Tensor A = (tg::arange(1, 10, 1, tg::kFloat64) * 0.1).reshape({3, 3}).detach().set_requires_grad(true);
  const Tensor g = tg::grad({L::det(A)}, {A}, {}, {.create_graph = true})[0];
  tg_test::check_close(g, {-0.03, 0.06, -0.03, 0.06, -0.12, 0.06, -0.03, 0.06, -0.03}, 1e-12);
  const Tensor h = tg::grad({tg::sum(g)}, {A})[0];
  tg_test::check_close(h, std::vector<double>(9, 0.0), 1e-12);
  // Random rank n - 1 products (never exactly singular after rounding),
  // transposed and batched too. (At 8x8 the finite differences of the first
  // derivative, det A^-T there, are too noisy for gradgradcheck's tolerance.)
  tg::Generator gen(20);
  for (std::int64_t n : {3, 5}) {
    CAPTURE(n);
    const Tensor u = tg::randn({2, n, n - 1}, {.dtype = tg::kFloat64}, &gen);
    const Tensor w = tg::randn({2, n - 1, n}, {.dtype = tg::kFloat64}, &gen);
    const Tensor a = tg::matmul(u, w).detach().set_requires_grad(true);
    const auto f = [](const std::vector<Tensor>& in) { return std::vector<Tensor>{L::det(in[0])}; };
    CHECK(tg::gradgradcheck(f, {a}));
    const Tensor at = mT(tg::matmul(u, w)).detach().set_requires_grad(true);
    CHECK(tg::gradgradcheck(f, {at}));
  }
}

TEST_CASE("linalg: det's second derivatives away from singular matrices agree in float32 and float64") {
  // Rows spanning 10^3.5 in scale, far from singular: det A^-T's derivatives
  // (the polynomial's lose digits as the rows' scales spread).
  tg::Generator gen(7);
  Tensor a = tg::randn({8, 8}, {.dtype = tg::kFloat64}, &gen);
  for (std::int64_t i = 0; i < 8; ++i) a[i].mul_(std::pow(10.0, -1.75 + 0.5 * static_cast<double>(i)));
  a = a.to(tg::kFloat32).to(tg::kFloat64);  // both see the same matrix
  const Tensor w = tg::randn({8, 8}, {.dtype = tg::kFloat64}, &gen);
  const auto second = [&](tg::DType dtype) {
    const Tensor x = a.to(dtype).detach().set_requires_grad(true);
    const Tensor g = tg::grad({L::det(x)}, {x}, {}, {.create_graph = true})[0];
    return tg::grad({tg::sum(g * w.to(dtype))}, {x})[0].to(tg::kFloat64);
  };
  const Tensor h64 = second(tg::kFloat64), h32 = second(tg::kFloat32);
  const double scale = tg::amax(tg::abs(h64)).item<double>();
  // float32's rounding times this matrix's condition (about 6e-3 here).
  CHECK(tg::amax(tg::abs(h32 - h64)).item<double>() / scale < 2e-2);
}

TEST_CASE("linalg: cholesky_solve's gradient ignores the triangle of L it does not read, at every order") {
  for (bool upper : {false, true}) {
    CAPTURE(upper);
    const std::vector<double> lower{2, 0, 0, 1, 3, 0, -1, 0.5, 1.5};
    Tensor clean = leaf(lower, {3, 3}, false);
    if (upper) clean = mT(clean).contiguous();
    const Tensor garbage =
        upper ? tg::tril(tg::full({3, 3}, 5.0, tg::kFloat64), -1) : tg::triu(tg::full({3, 3}, 5.0, tg::kFloat64), 1);
    const Tensor B = leaf({1, -2, 0.5, 1, 3, -1}, {3, 2}, false);
    const auto grads = [&](const Tensor& l) {
      const Tensor x = l.detach().set_requires_grad(true);
      const Tensor g = tg::grad({tg::sum(L::cholesky_solve(B, x, upper))}, {x}, {}, {.create_graph = true})[0];
      const Tensor h = tg::grad({tg::sum(g * g)}, {x})[0];
      return std::pair{g.detach(), h};
    };
    const auto [g_clean, h_clean] = grads(clean);
    const auto [g_dirty, h_dirty] = grads(clean + garbage);
    tg_test::check_close(g_dirty, g_clean.to_vector<double>(), 1e-12);
    tg_test::check_close(h_dirty, h_clean.to_vector<double>(), 1e-12);
    // Nothing reaches the unread triangle at either order.
    const Tensor unread = garbage.ne(0.0);
    CHECK(tg::all(tg::masked_select(g_clean, unread).eq(0.0)).item<bool>());
    CHECK(tg::all(tg::masked_select(h_clean, unread).eq(0.0)).item<bool>());
    // And the read triangle's gradients pass the checks with garbage beside them.
    const Tensor Ld = (clean + garbage).detach().set_requires_grad(true);
    const auto f = [&](const std::vector<Tensor>& in) {
      return std::vector<Tensor>{L::cholesky_solve(
          B, upper ? tg::triu(in[0]) + tg::tril(Ld.detach(), -1) : tg::tril(in[0]) + tg::triu(Ld.detach(), 1), upper)};
    };
    CHECK(tg::gradcheck(f, {Ld}));
    CHECK(tg::gradgradcheck(f, {Ld}));
  }
}

TEST_CASE("linalg: eigh reads one triangle only; NaN or Inf in the other is ignored, as PyTorch") {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  for (bool upper : {false, true}) {
    CAPTURE(upper);
    // [[2.1, 0.1, 0.1], [0.1, 2.1, 0.1], [0.1, 0.1, 2.1]]: eigenvalues 2, 2, 2.3.
    std::vector<double> a(9, 0.1);
    for (int i = 0; i < 3; ++i) a[static_cast<std::size_t>(4 * i)] = 2.1;
    a[upper ? 6 : 2] = nan;                                      // (2, 0) or (0, 2): the unread triangle
    a[upper ? 3 : 1] = std::numeric_limits<double>::infinity();  // (1, 0) or (0, 1)
    const Tensor A = leaf(a, {3, 3}, false);
    const auto [w, v] = L::eigh(A, upper ? "U" : "L");
    tg_test::check_close(w, {2.0, 2.0, 2.3}, 1e-12);
    CHECK(tg::all(tg::isfinite(v)).item<bool>());
    a[upper ? 2 : 6] = nan;  // now in the triangle read
    CHECK_THROWS_WITH_AS(L::eigh(leaf(a, {3, 3}, false), upper ? "U" : "L"),
                         doctest::Contains("triangle it reads holds NaN or Inf"), tg::ValueError);
  }
}

TEST_CASE("linalg: ops built on the SVD or the norm refuse bad input under their own name") {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  for (bool grad : {false, true}) {
    CAPTURE(grad);
    const Tensor A = leaf({1.0, nan, 3.0, 4.0, 5.0, 6.0}, {2, 3}, grad);
    const Tensor B = leaf({1.0, 2.0}, {2}, false);
    const auto names = [](const std::string& message, const char* op) {
      CAPTURE(message);
      CHECK(message.rfind(std::string(op) + ": ", 0) == 0);
      CHECK(message.find("NaN or Inf") != std::string::npos);
    };
    names(tg_test::require_tg_error<tg::ValueError>([&] { L::pinv(A); }, "pinv"), "linalg::pinv");
    names(tg_test::require_tg_error<tg::ValueError>([&] { L::lstsq(A, B); }, "lstsq"), "linalg::lstsq");
    names(tg_test::require_tg_error<tg::ValueError>([&] { L::matrix_norm(A, "nuc"); }, "nuc"), "linalg::matrix_norm");
    names(tg_test::require_tg_error<tg::ValueError>([&] { L::matrix_norm(A, 2.0); }, "2"), "linalg::matrix_norm");
    names(tg_test::require_tg_error<tg::ValueError>([&] { L::svdvals(A); }, "svdvals"), "linalg::svdvals");
    names(tg_test::require_tg_error<tg::ValueError>([&] { L::svd(A); }, "svd"), "linalg::svd");
  }
  const Tensor x = leaf({1.0, 2.0, 3.0}, {3}, false);
  const std::string bad_dim =
      tg_test::require_tg_error<tg::IndexError>([&] { L::vector_norm(x, 2.0, {3}); }, "vector_norm dim");
  CHECK(bad_dim.rfind("linalg::vector_norm: ", 0) == 0);
  const std::string empty_inf = tg_test::require_tg_error<tg::IndexError>(
      [&] { L::vector_norm(tg::zeros({0}, {.dtype = tg::kFloat64}), INFINITY); }, "vector_norm inf of empty");
  CHECK(empty_inf.rfind("linalg::vector_norm: ", 0) == 0);
  const std::string fro_dim = tg_test::require_tg_error<tg::IndexError>(
      [&] {
        L::matrix_norm(leaf({1.0, 2.0, 3.0, 4.0}, {2, 2}, false), "fro", {0, 5});
      },
      "matrix_norm dim");
  CHECK(fro_dim.rfind("linalg::matrix_norm: ", 0) == 0);
  // tg::norm keeps its own name.
  CHECK(tg_test::require_tg_error<tg::IndexError>([&] { (void)tg::norm(x, {3}); }, "norm dim").rfind("norm: ", 0) == 0);
}

TEST_CASE("linalg: cholesky and cholesky_solve match PyTorch") {
  check("cholesky", mat({3, 3}, 8), [](const Tensor& x) { return one(L::cholesky(spd(x))); });
  check("cholesky_batched", mat({2, 4, 4}, 9), [](const Tensor& x) { return one(L::cholesky(spd(x))); });
  check("cholesky_upper", mat({3, 3}, 10), [](const Tensor& x) { return one(L::cholesky(spd(x), true)); });
  check("cholesky_lower_triangle_only", mat({3, 3}, 11, 4), [](const Tensor& x) { return one(L::cholesky(x)); });
  check("cholesky_zero_batch", mat({0, 2, 2}, 0), [](const Tensor& x) { return one(L::cholesky(x)); });
  const Tensor two_eye = tg::eye(3, {}, {.dtype = tg::kFloat64}) * 2.0;
  check("cholesky_solve", mat({3, 5}, 12, 3),
        [&](const Tensor& x) { return one(L::cholesky_solve(first(x, 2), tg::tril(rest(x, 2)) + two_eye)); });
  check("cholesky_solve_batched_upper", mat({2, 3, 4}, 13, 3),
        [&](const Tensor& x) { return one(L::cholesky_solve(rest(x, 3), tg::triu(first(x, 3)) + two_eye, true)); });
}

TEST_CASE("linalg: qr matches PyTorch in every mode") {
  check("qr_reduced_tall", mat({4, 3}, 14, 2), [](const Tensor& x) { return both(L::qr(x)); });
  check("qr_reduced_batched_square", mat({2, 3, 3}, 15, 2), [](const Tensor& x) { return both(L::qr(x)); });
  check("qr_reduced_wide", mat({3, 5}, 16, 2), [](const Tensor& x) { return both(L::qr(x)); });
  check("qr_complete_wide", mat({2, 4}, 17, 2), [](const Tensor& x) { return both(L::qr(x, "complete")); });
  check("qr_complete_tall_values", mat({4, 2}, 18, 2, false),
        [](const Tensor& x) { return both(L::qr(x, "complete")); });
  check("qr_r_values", mat({4, 3}, 19, 2, false), [](const Tensor& x) { return one(std::get<1>(L::qr(x, "r"))); });
}

TEST_CASE("linalg: eigh, svd, svdvals match PyTorch on sign-free functions of the factors") {
  const Tensor spread = diag_embed(tg::tensor({0.0, 3.0, 6.0}, {3}, {.dtype = tg::kFloat64}));
  const auto w_vv = [](const std::tuple<Tensor, Tensor>& r) {
    const Tensor& V = std::get<1>(r);
    return many({std::get<0>(r), V * V});
  };
  check("eigh", mat({3, 3}, 20), [&](const Tensor& x) { return w_vv(L::eigh(sym(x) + spread)); });
  check("eigh_batched_upper", mat({2, 3, 3}, 21), [&](const Tensor& x) { return w_vv(L::eigh(sym(x) + spread, "U")); });
  check("eigh_reconstruct", mat({3, 3}, 22), [&](const Tensor& x) {
    const auto [w, V] = L::eigh(sym(x) + spread);
    return one(tg::matmul(tg::matmul(V, diag_embed(w * w)), mT(V)));
  });
  check("eigh_values_only", mat({4, 4}, 23), [](const Tensor& x) { return one(std::get<0>(L::eigh(sym(x)))); });

  const auto invariants = [](const Tensor& x, bool full) {
    const auto [U, S, Vh] = L::svd(x, full);
    const std::int64_t k = S.size(-1);
    const Tensor Uk = tg::narrow(U, -1, 0, k), Vk = tg::narrow(Vh, -2, 0, k);
    return many({S, Uk * Uk, Vk * Vk});
  };
  check("svd_tall", mat({4, 3}, 24, 1.5), [&](const Tensor& x) { return invariants(x, false); });
  check("svd_wide", mat({3, 5}, 25, 1.5), [&](const Tensor& x) { return invariants(x, false); });
  check("svd_batched_square", mat({2, 3, 3}, 26, 1.5), [&](const Tensor& x) { return invariants(x, false); });
  check("svd_full_tall", mat({4, 2}, 27, 1.5), [&](const Tensor& x) { return invariants(x, true); });
  check("svd_reconstruct_cubed", mat({3, 4}, 28, 1), [](const Tensor& x) {
    const auto [U, S, Vh] = L::svd(x, false);
    return one(tg::matmul(tg::matmul(U, diag_embed(S * S * S)), Vh));
  });
  check("svdvals", mat({2, 4, 3}, 29, 1), [](const Tensor& x) { return one(L::svdvals(x)); });
}

TEST_CASE("linalg: pinv and lstsq match PyTorch") {
  check("pinv_tall", mat({4, 3}, 30, 1), [](const Tensor& x) { return one(L::pinv(x)); });
  check("pinv_wide_batched", mat({2, 2, 3}, 31, 1), [](const Tensor& x) { return one(L::pinv(x)); });
  check("pinv_rank_deficient", leaf({1, 2, 0, 3, 4, 0}, {2, 3}), [](const Tensor& x) { return one(L::pinv(x)); });
  check("lstsq_tall", mat({5, 5}, 32, 1),
        [](const Tensor& x) { return one(std::get<0>(L::lstsq(first(x, 3), rest(x, 3)))); });
  check("lstsq_batched_wide", mat({2, 2, 4}, 40, 1),
        [](const Tensor& x) { return one(std::get<0>(L::lstsq(first(x, 3), rest(x, 3)))); });
  // rank as gelsy reports it; residuals and singular_values empty.
  const auto [X, residuals, rank, sv] =
      L::lstsq(leaf({1, 2, 0, 3, 4, 0, 5, 6, 0}, {3, 3}, false), leaf({1, 2, 3}, {3, 1}, false));
  CHECK(X.shape() == Dims{3, 1});
  CHECK(residuals.numel() == 0);
  CHECK(sv.numel() == 0);
  CHECK(rank.dtype() == tg::kInt64);
  CHECK(rank.item<std::int64_t>() == 2);
}

TEST_CASE("linalg: vector_norm and matrix_norm match PyTorch for every ord") {
  const double inf = std::numeric_limits<double>::infinity();
  const std::vector<std::pair<std::string, double>> vector_ords = {{"2", 2}, {"1", 1}, {"inf", inf}, {"neg_inf", -inf},
                                                                   {"0", 0}, {"3", 3}, {"half", 0.5}};
  for (const auto& [name, ord] : vector_ords) {
    const double o = ord;
    check("vector_norm_" + name, mat({2, 3, 4}, 34), [o](const Tensor& x) { return one(L::vector_norm(x, o)); });
  }
  check("vector_norm_dim_keepdim", mat({2, 3, 4}, 35), [](const Tensor& x) {
    return one(L::vector_norm(x, 3, {0, 2}, true));
  });
  check("vector_norm_dim", mat({2, 3, 4}, 36), [](const Tensor& x) { return one(L::vector_norm(x, 2, 1)); });
  check("matrix_norm_fro", mat({2, 3, 4}, 37), [](const Tensor& x) { return one(L::matrix_norm(x)); });
  check("matrix_norm_nuc", mat({2, 3, 4}, 37), [](const Tensor& x) { return one(L::matrix_norm(x, "nuc")); });
  const std::vector<std::pair<std::string, double>> matrix_ords = {{"1", 1},     {"neg1", -1}, {"2", 2},
                                                                   {"neg2", -2}, {"inf", inf}, {"neg_inf", -inf}};
  for (const auto& [name, ord] : matrix_ords) {
    const double o = ord;
    check("matrix_norm_" + name, mat({2, 3, 4}, 37), [o](const Tensor& x) { return one(L::matrix_norm(x, o)); });
  }
  check("matrix_norm_dims_keepdim", mat({2, 3, 4}, 38), [](const Tensor& x) {
    return one(L::matrix_norm(x, "nuc", {2, 0}, true));
  });
  check("matrix_norm_inf_dims", mat({2, 3, 4}, 39), [inf](const Tensor& x) {
    return one(L::matrix_norm(x, inf, {0, 1}));
  });
  // The existing tg::norm is the same p-norm.
  const Tensor x = mat({3, 4}, 43, 0, false);
  tg_test::check_close(L::vector_norm(x, 3, 1), tg::norm(x, 3, 1), 1e-15);
}

// The max or min over an empty dim is undefined; the error named amax and
// an inner shape ([0]) the user never wrote.
TEST_CASE("linalg: matrix_norm over an empty dim names itself and the input") {
  const double inf = std::numeric_limits<double>::infinity();
  const Tensor rows0 = tg::zeros({0, 3}, {.dtype = tg::kFloat64}), cols0 = tg::zeros({3, 0}, {.dtype = tg::kFloat64});
  for (const double ord : {inf, -inf, 2.0, -2.0}) {
    CAPTURE(ord);
    CHECK_THROWS_WITH_AS(L::matrix_norm(rows0, ord), doctest::Contains("linalg::matrix_norm: ord"), tg::IndexError);
    CHECK_THROWS_WITH_AS(L::matrix_norm(rows0, ord), doctest::Contains("of input [0, 3]"), tg::IndexError);
  }
  for (const double ord : {1.0, -1.0, 2.0})
    CHECK_THROWS_WITH_AS(L::matrix_norm(cols0, ord), doctest::Contains("of input [3, 0]"), tg::IndexError);
  // A maximum over columns that exist, of sums over no rows, is 0.
  CHECK(L::matrix_norm(rows0, 1.0).item<double>() == 0);
  CHECK(L::matrix_norm(cols0, inf).item<double>() == 0);
  CHECK(L::matrix_norm(rows0).item<double>() == 0);
}

TEST_CASE("linalg: singular and non-positive-definite inputs throw ValueError naming the op, batch element and info") {
  // Batch element 1 is singular (its second row is twice its first).
  const Tensor A = leaf({2.0, 0.0, 0.0, 2.0, 1.0, 2.0, 2.0, 4.0}, {2, 2, 2}, false);
  const Tensor B = tg::ones({2, 2, 1}, {.dtype = tg::kFloat64});
  const std::string solve = tg_test::require_tg_error<tg::ValueError>([&] { (void)L::solve(A, B); }, "solve");
  CHECK(solve.find("linalg::solve") != std::string::npos);
  CHECK(solve.find("singular") != std::string::npos);
  CHECK(solve.find("batch element 1") != std::string::npos);
  CHECK(solve.find("LAPACK info 2") != std::string::npos);
  const std::string inv = tg_test::require_tg_error<tg::ValueError>([&] { (void)L::inv(A); }, "inv");
  CHECK(inv.find("linalg::inv") != std::string::npos);
  CHECK(inv.find("batch element 1") != std::string::npos);

  // Not positive-definite: eigenvalues 3 and -1 in batch element 2.
  const Tensor P = leaf({4.0, 1.0, 1.0, 3.0, 2.0, 0.0, 0.0, 2.0, 1.0, 2.0, 2.0, 1.0}, {3, 2, 2}, false);
  const std::string chol = tg_test::require_tg_error<tg::ValueError>([&] { (void)L::cholesky(P); }, "cholesky");
  CHECK(chol.find("linalg::cholesky") != std::string::npos);
  CHECK(chol.find("positive-definite") != std::string::npos);
  CHECK(chol.find("batch element 2") != std::string::npos);
  CHECK(chol.find("LAPACK info 2") != std::string::npos);

  // slogdet's gradient needs A^-1: at a singular matrix it throws (PyTorch returns +-inf there).
  const Tensor S = leaf({1, 2, 2, 4}, {2, 2});
  const auto sl = L::slogdet(S);
  const Tensor sign = std::get<0>(sl), logabs = std::get<1>(sl);
  CHECK(sign.item<double>() == 0);
  CHECK(logabs.item<double>() == -std::numeric_limits<double>::infinity());
  const std::string back = tg_test::require_tg_error<tg::ValueError>([&] { logabs.backward(); }, "slogdet backward");
  CHECK(back.find("linalg::slogdet") != std::string::npos);
}

TEST_CASE("linalg: float32 gives the float64 results to float32 precision") {
  const Tensor A = mat({2, 3, 3}, 44, 3, false), B = mat({2, 3, 2}, 45, 0, false);
  const Tensor Af = A.to(tg::kFloat32), Bf = B.to(tg::kFloat32);
  const auto close = [](const Tensor& f, const Tensor& d) {
    CHECK(f.dtype() == tg::kFloat32);
    tg_test::check_close(f.to(tg::kFloat64), d, 1e-4);
  };
  close(L::solve(Af, Bf), L::solve(A, B));
  close(L::inv(Af), L::inv(A));
  close(L::det(Af), L::det(A));
  close(std::get<1>(L::slogdet(Af)), std::get<1>(L::slogdet(A)));
  close(L::cholesky(spd(Af)), L::cholesky(spd(A)));
  close(std::get<0>(L::eigh(sym(Af))), std::get<0>(L::eigh(sym(A))));
  close(L::svdvals(Af), L::svdvals(A));
  close(std::get<1>(L::qr(Af)), std::get<1>(L::qr(A)));
  close(L::pinv(Af), L::pinv(A));
}

TEST_CASE("linalg: second derivatives through the backward formulas (gradgradcheck)") {
  // The registry gradchecks every op; here the compositions its samples do not reach.
  const Tensor spread = diag_embed(tg::tensor({0.0, 3.0, 6.0}, {3}, {.dtype = tg::kFloat64}));
  const auto gg = [](const tg::GradcheckFunction& fn, const std::vector<Tensor>& in) {
    CHECK(tg::gradcheck(fn, in));
    CHECK(tg::gradgradcheck(fn, in));
  };
  gg([](const std::vector<Tensor>& in) { return std::vector<Tensor>{L::det(in[0])}; }, {mat({2, 3, 3}, 46, 1)});
  gg([](const std::vector<Tensor>& in) { return std::vector<Tensor>{L::cholesky(spd(in[0]), true)}; },
     {mat({3, 3}, 47)});
  gg(
      [&](const std::vector<Tensor>& in) {
        const auto [w, V] = L::eigh(sym(in[0]) + spread, "U");
        return std::vector<Tensor>{w, V * V};
      },
      {mat({3, 3}, 48)});
  gg(
      [](const std::vector<Tensor>& in) {
        const auto [U, S, Vh] = L::svd(in[0], true);
        return std::vector<Tensor>{S, tg::narrow(U, -1, 0, 2) * tg::narrow(U, -1, 0, 2), Vh * Vh};
      },
      {mat({4, 2}, 49, 1.5)});
  gg([](const std::vector<Tensor>& in) { return std::vector<Tensor>{std::get<1>(L::qr(in[0], "complete"))}; },
     {mat({2, 4}, 50, 2)});
  gg([](const std::vector<Tensor>& in) { return std::vector<Tensor>{L::pinv(in[0])}; }, {mat({2, 3}, 51, 1)});
}

TEST_CASE("linalg: qr in mode \"r\" and \"complete\" with more rows than columns is not differentiable") {
  for (const char* mode : {"r", "complete"}) {
    CAPTURE(mode);
    const Tensor x = mat({4, 2}, 52, 2);
    const Tensor R = std::get<1>(L::qr(x, mode));
    const std::string msg = tg_test::require_tg_error<tg::ValueError>([&] { tg::sum(R).backward(); }, "qr backward");
    CHECK(msg.find("linalg::qr") != std::string::npos);
  }
}

}  // namespace test_linalg
