// LU with a pivot below the smallest normal number (core/kernels/lapack.cpp).
// OpenBLAS's getrf scales a column by its pivot's reciprocal and its
// triangular solves multiply by U's diagonal's reciprocals: for a pivot below
// 1 / max (2.9e-39 in float32, 5.6e-309 in float64) the reciprocal is inf, so
// det(diag(1e-39, 1)) came out NaN (PyTorch 1.13's too). Reference LAPACK's
// getf2 divides there, and so does tapegrad now: every op that factors
// through getrf (det, slogdet, solve, inv; the backwards of det, slogdet,
// solve, inv, cholesky and qr solve through the same kernel) gives the exact
// answer, the IEEE one (inf) where the true answer overflows. In float32 and
// float64, one matrix and batches, on one thread and on a team.
//
// The float modes: LAPACK runs in IEEE mode whatever tapegrad's kernels do,
// so the forward results are the same in the default mode (kernels flush
// subnormals) and after set_flush_denormal(false). det's backward reads a
// subnormal det as the arithmetic of its mode does: as 0 in the default mode
// (the singular matrix's SVD form of the cofactor, whose subnormal entries
// flush), as itself in IEEE mode (the same SVD form: det A^-T would be
// 1e-39 * inf there, while the cofactor is finite).
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <tuple>
#include <vector>

#include <tapegrad/autograd/engine.h>
#include <tapegrad/autograd/linalg.h>
#include <tapegrad/autograd/ops.h>
#include <tapegrad/autograd/tensor.h>
#include <tapegrad/core/float_mode.h>
#include <tapegrad/core/parallel.h>

#include "support/float_modes.h"

namespace test_linalg_tiny_pivots {

using tg::DType;
using tg::Tensor;
namespace L = tg::linalg;

namespace {

using tg_test::FloatMode;

// Each test starts from IEEE mode everywhere (start_float_modes), then
// switches between the default mode and IEEE mode.
void set_mode(FloatMode mode) { tg_test::set_float_mode(mode); }

const char* mode_name(FloatMode m) { return m == FloatMode::Flush ? "default mode" : "IEEE mode"; }

// The tiny value of each dtype, below 1 / max (its reciprocal overflows).
struct Tiny {
  double t;  // 1e-39 or 1e-309
  DType dtype;
};
std::vector<Tiny> tinies() { return {{1e-39, tg::kFloat32}, {1e-309, tg::kFloat64}}; }

Tensor mat(const std::vector<double>& v, tg::Dims shape, DType d, bool grad = false) {
  Tensor t = tg::tensor(v, shape, d);
  if (grad) t.requires_grad_(true);
  return t;
}

// The stored values as double (a conversion keeps subnormals).
std::vector<double> values(const Tensor& t) { return t.detach().contiguous().reshape({-1}).to_vector<double>(); }

// Exactly equal, as stored: a subnormal compared bit for bit through its
// double value, inf to inf; NaN never equals.
void check_exact(const Tensor& got, const std::vector<double>& want, const std::string& what) {
  const std::vector<double> g = values(got);
  REQUIRE(g.size() == want.size());
  for (std::size_t i = 0; i < g.size(); ++i) {
    CAPTURE(what);
    CAPTURE(i);
    CAPTURE(g[i]);
    CAPTURE(want[i]);
    CHECK(g[i] == want[i]);
  }
}

// `want` rounded to the tensor's dtype (1e-39 as a float32 stores it).
std::vector<double> in_dtype(const std::vector<double>& want, DType d) {
  if (d == tg::kFloat64) return want;
  std::vector<double> r;
  for (double w : want) r.push_back(static_cast<double>(static_cast<float>(w)));
  return r;
}

// A batch: the matrix `a` (n x n) between two normal ones (I and 2I).
std::vector<double> batch_around(const std::vector<double>& a, int n) {
  std::vector<double> v;
  for (int k = 0; k < 3; ++k)
    for (int i = 0; i < n; ++i)
      for (int j = 0; j < n; ++j)
        v.push_back(k == 1 ? a[static_cast<std::size_t>(i * n + j)] : i == j ? (k == 0 ? 1.0 : 2.0) : 0.0);
  return v;
}

// Repeats a batch of matrices `times` times: past parallel_threshold()
// elements, so that the factorizations go over the team.
std::vector<double> repeated(const std::vector<double>& v, std::int64_t times) {
  std::vector<double> r;
  for (std::int64_t k = 0; k < times; ++k) r.insert(r.end(), v.begin(), v.end());
  return r;
}

}  // namespace

TEST_CASE("linalg tiny pivots: det, slogdet, solve and inv are exact, forward") {
  tg_test::FloatModeRestore restore;
  tg_test::start_float_modes();
  const double inf = std::numeric_limits<double>::infinity();
  for (FloatMode mode : {FloatMode::Flush, FloatMode::Ieee})
    for (int threads : {1, 2})
      for (const Tiny& tn : tinies()) {
        set_mode(mode);
        tg::set_num_threads(threads);
        CAPTURE(mode_name(mode));
        CAPTURE(threads);
        CAPTURE(tg::dtype_name(tn.dtype));
        const DType d = tn.dtype;
        const double t = tn.t;
        const double ft = in_dtype({t}, d)[0], t2 = 2 * ft;  // 2 t exactly in the dtype

        // det(diag(t, 1)) = t: getrf scaled the zero below t by 1 / t = inf.
        check_exact(L::det(mat({t, 0, 0, 1}, {2, 2}, d)), {ft}, "det diag(t, 1)");
        // det [[t, 2], [0, 1]] = t.
        check_exact(L::det(mat({t, 2, 0, 1}, {2, 2}, d)), {ft}, "det [[t, 2], [0, 1]]");
        // A 3x3 whose middle pivot is 2t, with t below it (multiplier 1/2):
        // det = 1 * 2t * (1 - 1/2) = t.
        const std::vector<double> a3 = {1, 0, 0, 0, t2, 1, 0, t, 1};
        check_exact(L::det(mat(a3, {3, 3}, d)), {ft}, "det 3x3, tiny middle pivot");
        // Batched, around normal matrices: det I = 1, det 2I = 8.
        check_exact(L::det(mat(batch_around(a3, 3), {3, 3, 3}, d)), {1, ft, 8}, "det batch");

        // slogdet: sign 1, log|det| = log t (as libm takes the stored subnormal).
        {
          const auto [sign, logabs] = L::slogdet(mat({t, 0, 0, 1}, {2, 2}, d));
          check_exact(sign, {1}, "slogdet sign");
          const double want = d == tg::kFloat32 ? static_cast<double>(std::log(static_cast<float>(t))) : std::log(t);
          check_exact(logabs, {want}, "slogdet logabs");
          const auto [bsign, blog] = L::slogdet(mat(batch_around(a3, 3), {3, 3, 3}, d));
          check_exact(bsign, {1, 1, 1}, "slogdet batch sign");
          CHECK(values(blog)[0] == 0);
          CHECK(std::isfinite(values(blog)[1]));
          CHECK(values(blog)[1] < -80);
        }

        // solve [[t, 0], [1, 1]] x = [t, 2]: x = [1, 1]. LU pivots on the 1;
        // U's last pivot is -t, and getrs multiplied by 1 / -t = -inf.
        check_exact(L::solve(mat({t, 0, 1, 1}, {2, 2}, d), mat({t, 2}, {2}, d)), {1, 1}, "solve 2x2");
        // The 3x3: A [1, 0, 1] = [1, 1, 1].
        check_exact(L::solve(mat(a3, {3, 3}, d), mat({1, 1, 1}, {3, 1}, d)), {1, 0, 1}, "solve 3x3");
        // Batched: I x = 1, A x = 1, 2I x = 1.
        check_exact(L::solve(mat(batch_around(a3, 3), {3, 3, 3}, d), mat(std::vector<double>(9, 1), {3, 3, 1}, d)),
                    {1, 1, 1, 1, 0, 1, 0.5, 0.5, 0.5}, "solve batch");
        // Past the parallel threshold: the same answers from the team.
        {
          const std::int64_t times = tg::parallel_threshold() / 27 + 1;
          const Tensor A = mat(repeated(batch_around(a3, 3), times), {3 * times, 3, 3}, d);
          const Tensor B = mat(std::vector<double>(static_cast<std::size_t>(9 * times), 1), {3 * times, 3, 1}, d);
          check_exact(L::solve(A, B), repeated({1, 1, 1, 1, 0, 1, 0.5, 0.5, 0.5}, times), "solve, large batch");
          check_exact(L::det(A), repeated({1, ft, 8}, times), "det, large batch");
        }

        // inv [[t, 0], [1, 1]] = [[1/t, 0], [-1/t, 1]]: 1/t overflows, so the
        // IEEE answer is [[inf, 0], [-inf, 1]], not NaN.
        check_exact(L::inv(mat({t, 0, 1, 1}, {2, 2}, d)), {inf, 0, -inf, 1}, "inv 2x2");
        // (Not the 3x3's inverse, [[1, 0, 0], [0, 1/t, -1/t], [0, -1, 2]]:
        // reference LAPACK's back substitution gives NaN in its first row
        // there, inf * 0 for U's zero above the overflowed 1/t.)
      }
}

// A pivot just below the smallest normal number whose reciprocal does not
// overflow: getrf's answers were finite there; the division gives them to
// the last bit (float64 diag(1e-308, 2): det 2e-308, inv diag(1e308, 0.5)).
TEST_CASE("linalg tiny pivots: subnormal pivots whose reciprocal is finite") {
  tg_test::FloatModeRestore restore;
  tg_test::start_float_modes();
  set_mode(FloatMode::Ieee);
  const Tensor A = mat({1e-308, 0, 0, 2}, {2, 2}, tg::kFloat64);
  check_exact(L::det(A), {2e-308}, "det");
  const double big = 1.0 / 1e-308;  // about 1e308, as the division rounds it
  check_exact(L::inv(A), {big, 0, 0, 0.5}, "inv");
  const Tensor a32 = mat({1e-38, 0, 0, 2}, {2, 2}, tg::kFloat32);
  check_exact(L::det(a32), {static_cast<double>(1e-38f * 2.0f)}, "det float32");
  check_exact(L::inv(a32), {static_cast<double>(1.0f / 1e-38f), 0, 0, 0.5}, "inv float32");
}

TEST_CASE("linalg tiny pivots: gradients") {
  tg_test::FloatModeRestore restore;
  tg_test::start_float_modes();
  for (const Tiny& tn : tinies()) {
    const DType d = tn.dtype;
    const double t = tn.t;
    const double ft = in_dtype({t}, d)[0];
    CAPTURE(tg::dtype_name(d));

    // det at diag(t, 1): the cofactor [[1, 0], [0, t]]. IEEE mode: exact
    // (det A^-T gave t * inf = inf, before that NaN from the LU).
    set_mode(FloatMode::Ieee);
    {
      const Tensor A = mat({t, 0, 0, 1}, {2, 2}, d, true);
      const Tensor g = tg::grad({L::det(A)}, {A})[0];
      check_exact(g, {1, 0, 0, ft}, "det gradient, IEEE mode");
    }
    // The default mode reads the subnormal det as 0 (a singular matrix):
    // the cofactor's subnormal entry flushes, the rest is exact.
    set_mode(FloatMode::Flush);
    {
      const Tensor A = mat({t, 0, 0, 1}, {2, 2}, d, true);
      const Tensor y = L::det(A);
      check_exact(y, {ft}, "det, default mode");
      const Tensor g = tg::grad({y}, {A})[0];
      check_exact(g, {1, 0, 0, 0}, "det gradient, default mode");
    }
    for (FloatMode mode : {FloatMode::Flush, FloatMode::Ieee}) {
      set_mode(mode);
      CAPTURE(mode_name(mode));
      // solve [[t, 0], [1, 1]] x = b at x = [1, 1] with grad_output [1, 1]:
      // gB = A^-T [1, 1] = [0, 1] (A^T's LU meets the pivot t, with a zero
      // below it), gA = -gB x^T = [[0, 0], [-1, -1]].
      const Tensor A = mat({t, 0, 1, 1}, {2, 2}, d, true);
      const Tensor b = mat({t, 2}, {2}, d, true);
      const Tensor x = L::solve(A, b);
      const auto g = tg::grad({x}, {A, b}, {tg::ones_like(x)});
      check_exact(g[1], {0, 1}, "solve gradient of b");
      check_exact(g[0], {0, 0, -1, -1}, "solve gradient of A");
    }
  }
  // slogdet's gradient A^-T where it is representable: float64 diag(1e-308, 2).
  set_mode(FloatMode::Ieee);
  const Tensor A = mat({1e-308, 0, 0, 2}, {2, 2}, tg::kFloat64, true);
  const Tensor g = tg::grad({std::get<1>(L::slogdet(A))}, {A})[0];
  check_exact(g, {1.0 / 1e-308, 0, 0, 0.5}, "slogdet gradient");
}

}  // namespace test_linalg_tiny_pivots
