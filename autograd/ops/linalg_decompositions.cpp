// tg::linalg: forwards on the LAPACK kernels (core/kernels/lapack.h),
// backwards as PyTorch's formulas (torch/csrc/autograd/FunctionsManual.cpp),
// written with differentiable ops (solve, matmul, tril, ...), so that a
// gradient of a gradient is recorded through them.
#include <cmath>
#include <limits>
#include <memory>
#include <span>
#include <vector>

#include <fmt/format.h>

#include <tapegrad/autograd/function.h>
#include <tapegrad/autograd/grad_mode.h>
#include <tapegrad/autograd/linalg.h>
#include <tapegrad/autograd/ops.h>
#include <tapegrad/core/kernels/elementwise.h>
#include <tapegrad/core/kernels/lapack.h>
#include <tapegrad/core/profiler.h>

namespace tg::linalg {

using autograd::Backward;
using autograd::SavedTensor;

namespace {

Tensor mT(const Tensor& x) { return transpose(x, -1, -2); }

// svd and svdvals for an op built on them: bad input (NaN, a vector) is then
// refused under the name of the op the user called (pinv's NaN says pinv).
std::tuple<Tensor, Tensor, Tensor> svd_for(const char* caller, const Tensor& A, bool full_matrices);
Tensor svdvals_for(const char* caller, const Tensor& A);
Tensor pinv_for(const char* caller, const Tensor& A, double rtol);

// The outputs of a multi-output op, saved once record() has numbered them: a
// saved output remembers its output number, which record() assigns.
struct SavedOutputs {
  SavedTensor a, b, c;
};

Tensor eye_of(std::int64_t n, DType dtype) { return tg::eye(n, {}, {.dtype = dtype}); }

// v [..., n] -> [..., n, n] with v on the diagonal.
Tensor diag_embed(const Tensor& v) { return mul(unsqueeze(v, -1), eye_of(v.size(-1), v.dtype())); }

Dims with_matrix(Dims batch, std::int64_t rows, std::int64_t cols) {
  batch.push_back(rows);
  batch.push_back(cols);
  return batch;
}

Dims batch_dims(const Tensor& A) { return Dims(std::span<const std::int64_t>(A.shape().begin(), A.shape().end() - 2)); }

Tensor expand_to(const Tensor& x, const Dims& shape) { return x.shape() == shape ? x : expand(x, shape); }

void check_same_dtype(const char* op, const Tensor& a, const Tensor& b) {
  if (a.dtype() != b.dtype())
    throw DTypeError(fmt::format("{}: both inputs must have the same dtype, got {} {} and {} {}", op,
                                 dtype_name(a.dtype()), shape_str(a.sizes()), dtype_name(b.dtype()),
                                 shape_str(b.sizes())));
}

// torch 1.13's rule: B is a (batch of) vector(s) when it is 1-D or has A's shape without its last dim.
bool vector_rhs(const Tensor& A, const Tensor& B) {
  if (B.dim() == 1) return true;
  if (B.dim() != A.dim() - 1) return false;
  for (int d = 0; d < B.dim(); ++d)
    if (B.size(d) != A.size(d)) return false;
  return true;
}

// A X = B for A [..., n, n] and B [..., n, k] of one batch shape.
Tensor solve_same_batch(const char* op, const Tensor& A, const Tensor& B) {
  Tensor X = kernel::lu_solve(op, A, B);
  if (autograd::needs_grad(A, B)) {
    autograd::record("linalg::solve", {&A, &B}, {&X},
                     [sa = SavedTensor(A, false), sx = SavedTensor(X, true), op](Backward& bw) {
                       // X = A^-1 B:  gB = A^-T gX,  gA = -gB X^T.
                       const Tensor A = bw.unpack(sa);
                       const Tensor gB = solve_same_batch(op, mT(A), bw.grad());
                       if (bw.needs(0)) bw.add(0, neg(matmul(gB, mT(bw.unpack(sx)))));
                       if (bw.needs(1)) bw.add(1, gB);
                     });
  }
  return X;
}

// B as a matrix [..., n, k], A and B broadcast to one batch shape.
Tensor solve_impl(const char* op, const Tensor& A, const Tensor& B) {
  kernel::check_matrix(op, A, true);
  check_same_dtype(op, A, B);
  const bool vec = B.dim() >= 1 && vector_rhs(A, B);
  const Tensor Bm = vec ? unsqueeze(B, -1) : B;
  kernel::check_matrix(op, Bm, false);
  const std::int64_t n = A.size(-1);
  if (Bm.size(-2) != n)
    throw ShapeError(fmt::format("{}: A {} and B {} do not match: A has {} rows, B {}", op, shape_str(A.sizes()),
                                 shape_str(B.sizes()), n, Bm.size(-2)));
  const Dims batch = kernel::broadcast_matrix_batch(op, A, Bm);
  const Tensor X =
      solve_same_batch(op, expand_to(A, with_matrix(batch, n, n)), expand_to(Bm, with_matrix(batch, n, Bm.size(-1))));
  return vec ? squeeze(X, -1) : X;
}

Tensor inv_impl(const char* op, const Tensor& A) {
  kernel::check_matrix(op, A, true);
  const std::int64_t n = A.size(-1);
  return solve_same_batch(op, A, expand_to(eye_of(n, A.dtype()), A.shape()));
}

// c_i = prod_{j != i} s_j over the last dim, without dividing by a zero s_i.
Tensor products_but_one(const Tensor& s) {
  const std::int64_t n = s.size(-1);
  const Tensor before = narrow(cumprod(pad(s, {1, 0}, "constant", 1.0), -1), -1, 0, n);
  const Tensor after = flip(narrow(cumprod(pad(flip(s, {-1}), {1, 0}, "constant", 1.0), -1), -1, 0, n), {-1});
  return mul(before, after);
}

// The cofactor matrix det(A) A^-T, finite where A is singular: from
// A = U diag(S) Vh, det(U) det(Vh) U diag(prod_{j != i} s_j) Vh.
Tensor cofactor_by_svd(const Tensor& A) {
  const auto [U, S, Vh] = svd_for("linalg::det", A, false);
  Tensor sign;
  {
    NoGradGuard constant;  // +-1, locally constant
    sign = mul(Tensor(kernel::det(U)), Tensor(kernel::det(Vh)));
  }
  const Tensor c = mul(products_but_one(S), unsqueeze(sign, -1));
  return matmul(mul(U, unsqueeze(c, -2)), Vh);
}

// The cofactor matrix as a polynomial in A, for a backward that will itself
// be differentiated: derivatives through the SVD form are wrong past the
// second where a singular value is 0, and those of det A^-T lose every digit
// near a singular A (a third derivative of a
// 2x2 det, which is quadratic, came out nonzero). Faddeev and LeVerrier:
//   M_1 = I,  M_k = A M_{k-1} - tr(A M_{k-1}) / (k - 1) I,  adj(A) = (-1)^(n+1) M_n,
// only products, sums and divisions by integers, so exact at every order. Its
// rounding grows with n and A's spread of scales, so only small matrices take
// it, and only for the derivatives (det's backward takes the value from the SVD).
constexpr std::int64_t kPolynomialCofactorMaxN = 8;

// Whether some matrix of the batch is near singular: |det A| within
// sqrt(eps) of Hadamard's bound, the product of its rows' norms (1 for
// orthogonal rows, 0 for dependent ones), computed in float64.
bool near_singular(const Tensor& A, const Tensor& det) {
  NoGradGuard no_grad;
  const double tolerance = std::sqrt(A.dtype() == kFloat32 ? 0x1p-23 : 0x1p-52);
  const Tensor a = to_dtype(A, kFloat64);
  const Tensor bound = prod(sqrt(sum(mul(a, a), {-1})), -1);
  const std::vector<double> b = bound.reshape({-1}).to_vector<double>();
  const std::vector<double> d = det.reshape({-1}).to_vector<double>();
  for (std::size_t i = 0; i < d.size(); ++i)
    if (!(std::fabs(d[i]) > tolerance * b[i])) return true;  // NaN counts as near
  return false;
}

// Whether some element of x is 0 or below the smallest normal number of its
// dtype: one pass over x, whether a subnormal reads as itself or (while
// kernels flush) as 0. A NaN is neither.
bool zero_or_below_normal(const Tensor& x) {
  NoGradGuard no_grad;
  const double smallest = x.dtype() == kFloat32 ? static_cast<double>(std::numeric_limits<float>::min())
                                                : std::numeric_limits<double>::min();
  for (const double v : x.reshape({-1}).to_vector<double>())
    if (std::fabs(v) < smallest) return true;
  return false;
}

Tensor cofactor_by_polynomial(const Tensor& A) {
  const std::int64_t n = A.size(-1);
  const Tensor I = eye(n, std::nullopt, {.dtype = A.dtype()});
  Tensor M = expand(I, A.shape());
  for (std::int64_t k = 2; k <= n; ++k) {
    const Tensor AM = matmul(A, M);
    const Tensor c = sum(diagonal(AM, 0, -2, -1), {-1}, /*keepdim=*/true);
    M = sub(AM, mul(unsqueeze(c, -1), I), 1.0 / static_cast<double>(k - 1));
  }
  return mT(n % 2 == 1 ? M : neg(M));
}

// y [batch] broadcast over a matrix's two dims.
Tensor per_matrix(const Tensor& y) { return unsqueeze(unsqueeze(y, -1), -1); }

// syminvadj(X) = X + X^T with X's diagonal counted once.
Tensor sym_once(const Tensor& X) { return sub(add(X, mT(X)), diag_embed(diagonal(X, 0, -2, -1))); }

// QR's backward for m >= n (R square and invertible):
//   gA = (gQ + Q syminvadj(triu(gR R^T - Q^T gQ))) R^-T.
Tensor qr_backward_tall(const Tensor& gQ, const Tensor& gR, const Tensor& Q, const Tensor& R) {
  Tensor M;
  if (gR.defined()) M = matmul(gR, mT(R));
  if (gQ.defined()) M = M.defined() ? sub(M, matmul(mT(Q), gQ)) : neg(matmul(mT(Q), gQ));
  Tensor b = matmul(Q, sym_once(triu(M)));
  if (gQ.defined()) b = add(b, gQ);
  // b R^-T = (R^-1 b^T)^T
  return mT(solve_same_batch("linalg::qr", R, mT(b)));
}

}  // namespace

Tensor solve(const Tensor& A, const Tensor& B) {
  TG_PROFILE_OP("linalg::solve", A, B);
  return solve_impl("linalg::solve", A, B);
}

Tensor inv(const Tensor& A) {
  TG_PROFILE_OP("linalg::inv", A);
  return inv_impl("linalg::inv", A);
}

Tensor det(const Tensor& A) {
  TG_PROFILE_OP("linalg::det", A);
  Tensor y = kernel::det(A);
  if (autograd::needs_grad(A)) {
    autograd::record("linalg::det", {&A}, {&y}, [sa = SavedTensor(A, false), sy = SavedTensor(y, true)](Backward& bw) {
      // d det / dA = cof(A) = det(A) A^-T. Where some det is exactly 0 (LU
      // found a zero pivot), A^-1 does not exist: the SVD form of cof(A),
      // as PyTorch does there, or its polynomial when this backward is
      // differentiated itself.
      const Tensor A = bw.unpack(sa), y = bw.unpack(sy);
      // "Exactly 0" as the product det A^-T reads det: a subnormal det too
      // while kernels flush (that product would be 0 * inf, or a cofactor
      // of 0 where A^-T is finite). In IEEE mode a subnormal det takes the
      // SVD form as well: A^-1 then overflows where the cofactor does not
      // (diag(1e-39, 1) in float32: 1e-39 * inf for a cofactor of 1).
      const bool singular = zero_or_below_normal(y);
      const auto first_order = [&] {
        return singular ? cofactor_by_svd(A) : mul(per_matrix(y), mT(inv_impl("linalg::det", A)));
      };
      Tensor cof;
      // A det read as 0 (or subnormal) takes the SVD form above, whose own
      // derivatives are NaN or wrong at a zero or tiny singular value: the
      // polynomial's there too, whatever near_singular says (a float32 2x2 of
      // entries near 1e-20 has det 1e-40, not near singular by that test).
      if (is_grad_enabled() && A.size(-1) <= kPolynomialCofactorMaxN && (singular || near_singular(A, y))) {
        // Differentiated again: the value as below (the polynomial's rounding
        // grows with n and A's scale: about 1 where the cofactor is 0 for a
        // float32 8x8 of entries near 10), every derivative from the
        // polynomial. Not only at an exactly singular A: near one, the
        // derivative of det A^-T is a difference of terms of size det cond^2
        // (1e16 against a true 0 for a 3x3 of rank 2 rounded to det 7e-18).
        // Away from singular matrices det A^-T stays: the polynomial's
        // rounding there grows with the rows' spread of scales (a relative
        // error of 30 in float32 for an 8x8 whose rows span 10^3.5).
        const Tensor P = cofactor_by_polynomial(A);
        Tensor value;
        {
          NoGradGuard no_grad;
          value = first_order();
        }
        cof = add(value, sub(P, P.detach()));
      } else {
        cof = first_order();
      }
      bw.add(0, mul(per_matrix(bw.grad()), cof));
    });
  }
  return y;
}

std::tuple<Tensor, Tensor> slogdet(const Tensor& A) {
  TG_PROFILE_OP("linalg::slogdet", A);
  auto [sign_base, logabs_base] = kernel::slogdet(A);
  Tensor sign = sign_base, logabs = logabs_base;
  if (autograd::needs_grad(A)) {
    autograd::record("linalg::slogdet", {&A}, {nullptr, &logabs}, [sa = SavedTensor(A, false)](Backward& bw) {
      // d log|det A| / dA = A^-T (a singular A has none: inv throws, naming the batch element).
      if (!bw.grad(1).defined()) return;
      bw.add(0, mul(per_matrix(bw.grad(1)), mT(inv_impl("linalg::slogdet", bw.unpack(sa)))));
    });
  }
  return {sign, logabs};
}

Tensor cholesky(const Tensor& A, StrictBool upper) {
  TG_PROFILE_OP("linalg::cholesky", A);
  const char* op = "linalg::cholesky";
  Tensor L = kernel::cholesky(op, A, upper);
  if (autograd::needs_grad(A)) {
    autograd::record(op, {&A}, {&L}, [sl = SavedTensor(L, true), up = static_cast<bool>(upper)](Backward& bw) {
      // Murray (2016): with Phi(M) = tril(M) with its diagonal halved, symmetrized,
      //   gA = L^-T Phi(L^T gL) L^-1   (U = L^T for upper).
      Tensor L = bw.unpack(sl), gL = bw.grad();
      if (up) {
        L = mT(L);
        gL = mT(gL);
      }
      const Tensor M = tril(matmul(mT(L), gL));
      const Tensor phi = mul(add(M, mT(tril(M, -1))), 0.5);
      const Tensor left = solve_same_batch("linalg::cholesky", mT(L), phi);  // L^-T Phi
      bw.add(0, mT(solve_same_batch("linalg::cholesky", mT(L), mT(left))));  // (L^-T left^T)^T = left L^-1
    });
  }
  return L;
}

Tensor cholesky_solve(const Tensor& B, const Tensor& L, StrictBool upper) {
  TG_PROFILE_OP("linalg::cholesky_solve", B, L);
  const char* op = "linalg::cholesky_solve";
  kernel::check_matrix(op, L, true);
  kernel::check_matrix(op, B, false);
  check_same_dtype(op, B, L);
  const std::int64_t n = L.size(-1);
  if (B.size(-2) != n)
    throw ShapeError(fmt::format("{}: B {} and L {} do not match: L is {} x {}, B has {} rows", op,
                                 shape_str(B.sizes()), shape_str(L.sizes()), n, n, B.size(-2)));
  const Dims batch = kernel::broadcast_matrix_batch(op, B, L);
  const Tensor Le = expand_to(L, with_matrix(batch, n, n)), Be = expand_to(B, with_matrix(batch, n, B.size(-1)));
  Tensor X = kernel::cholesky_solve(op, Be, Le, upper);
  if (autograd::needs_grad(Be, Le)) {
    autograd::record(
        op, {&Be, &Le}, {&X},
        [sl = SavedTensor(Le, false), sx = SavedTensor(X, true), up = static_cast<bool>(upper)](Backward& bw) {
          // X = (L L^T)^-1 B:  gB = (L L^T)^-1 gX,  C = gB X^T + X gB^T,
          // gL = -C L (U: -U C), restricted to the triangle that is read. The
          // product takes only that triangle of L too: the other one is never
          // read, so it must not enter gL's value nor, under create_graph, get
          // a derivative of its own.
          const Tensor L = bw.unpack(sl);
          const Tensor gB = cholesky_solve(bw.grad(), L, up);
          if (bw.needs(0)) bw.add(0, gB);
          if (bw.needs(1)) {
            Tensor C = matmul(gB, mT(bw.unpack(sx)));
            C = add(C, mT(C));
            bw.add(1, up ? neg(triu(matmul(triu(L), C))) : neg(tril(matmul(C, tril(L)))));
          }
        });
  }
  return X;
}

std::tuple<Tensor, Tensor> qr(const Tensor& A, std::string_view mode) {
  TG_PROFILE_OP("linalg::qr", A);
  const char* op = "linalg::qr";
  auto [q_base, r_base] = kernel::qr(op, A, mode);
  Tensor Q = mode == "r" ? Tensor(kernel::empty({0}, {.dtype = A.dtype()})) : Tensor(q_base), R = r_base;
  if (autograd::needs_grad(A)) {
    const std::int64_t m = A.size(-2), n = A.size(-1);
    const std::string why = mode == "r"                   ? "mode \"r\" computes no Q, on which the derivative depends"
                            : mode == "complete" && m > n ? "mode \"complete\" with more rows than columns"
                                                          : "";
    auto saved = std::make_shared<SavedOutputs>();
    autograd::record(op, {&A}, {mode == "r" ? nullptr : &Q, &R}, [saved, why, m, n, shape = A.shape()](Backward& bw) {
      if (!why.empty())
        throw ValueError(fmt::format("linalg::qr: not differentiable with {} (input {})", why, shape_str(shape)));
      const Tensor Q = bw.unpack(saved->a), R = bw.unpack(saved->b);
      const Tensor &gQ = bw.grad(0), &gR = bw.grad(1);
      if (m >= n) {
        bw.add(0, qr_backward_tall(gQ, gR, Q, R));
        return;
      }
      // A = [X | Y] with X m x m: Q R_X = X and R_Y = Q^T Y, so
      //   gY = Q gR_Y,  gX = the square case with gQ + Y gR_Y^T.
      const Tensor RX = narrow(R, -1, 0, m);
      const Tensor Y = matmul(Q, narrow(R, -1, m, n - m));
      Tensor gRX, gRY;
      if (gR.defined()) {
        gRX = narrow(gR, -1, 0, m);
        gRY = narrow(gR, -1, m, n - m);
      }
      Tensor gQX = gQ;
      if (gRY.defined()) gQX = gQX.defined() ? add(gQX, matmul(Y, mT(gRY))) : matmul(Y, mT(gRY));
      const Tensor gX = qr_backward_tall(gQX, gRX, Q, RX);
      const Tensor gY = gRY.defined() ? matmul(Q, gRY) : zeros_like(Y);
      bw.add(0, cat({gX, gY}, -1));
    });
    if (mode != "r") saved->a = SavedTensor(Q, true);
    saved->b = SavedTensor(R, true);
  }
  return {Q, R};
}

std::tuple<Tensor, Tensor> eigh(const Tensor& A, std::string_view UPLO) {
  TG_PROFILE_OP("linalg::eigh", A);
  const char* op = "linalg::eigh";
  if (UPLO != "L" && UPLO != "U")
    throw ValueError(fmt::format("{}: UPLO must be \"L\" or \"U\", got \"{}\"", op, UPLO));
  auto [w_base, v_base] = kernel::eigh(op, A, UPLO == "U");
  Tensor w = w_base, V = v_base;
  if (autograd::needs_grad(A)) {
    auto saved = std::make_shared<SavedOutputs>();
    autograd::record(op, {&A}, {&w, &V}, [saved](Backward& bw) {
      // gA = V (diag(gw) + skew(V^T gV) / E) V^T,  E_ij = w_j - w_i (1 on the
      // diagonal, where skew is 0), skew(X) = (X - X^T) / 2.
      const Tensor w = bw.unpack(saved->a), V = bw.unpack(saved->b);
      const Tensor &gw = bw.grad(0), &gV = bw.grad(1);
      Tensor inner;
      if (gV.defined()) {
        const Tensor VtgV = matmul(mT(V), gV);
        const Tensor skew = mul(sub(VtgV, mT(VtgV)), 0.5);
        const Tensor E = add(sub(unsqueeze(w, -2), unsqueeze(w, -1)), eye_of(w.size(-1), w.dtype()));
        inner = div(skew, E);
      }
      if (gw.defined()) inner = inner.defined() ? add(inner, diag_embed(gw)) : diag_embed(gw);
      bw.add(0, matmul(V, matmul(inner, mT(V))));
    });
    saved->a = SavedTensor(w, true);
    saved->b = SavedTensor(V, true);
  }
  return {w, V};
}

std::tuple<Tensor, Tensor, Tensor> svd(const Tensor& A, StrictBool full_matrices) {
  TG_PROFILE_OP("linalg::svd", A);
  return svd_for("linalg::svd", A, full_matrices);
}

namespace {

std::tuple<Tensor, Tensor, Tensor> svd_for(const char* caller, const Tensor& A, bool full_matrices) {
  const char* op = "linalg::svd";  // the node's name
  auto [u_base, s_base, vh_base] = kernel::svd(caller, A, full_matrices, true);
  Tensor U = u_base, S = s_base, Vh = vh_base;
  if (autograd::needs_grad(A)) {
    const std::int64_t m = A.size(-2), n = A.size(-1), k = std::min(m, n);
    auto saved = std::make_shared<SavedOutputs>();
    autograd::record(op, {&A}, {&U, &S, &Vh}, [saved, m, n, k](Backward& bw) {
      // PyTorch's svd_backward. With E_ij = s_j^2 - s_i^2 (1 on the diagonal)
      // and skew(X) = X - X^T:
      //   gA = U [(skew(U^T gU) S + S skew(V^T gV)) / E + diag(gS)] V^T,
      // plus, for m > n, (I - U U^T) gU S^-1 V^T, and for m < n,
      // U S^-1 gV^T (I - V V^T). Full matrices: the extra columns of U
      // (rows of Vh) are any basis of the complement; they get no gradient.
      Tensor U = narrow(bw.unpack(saved->a), -1, 0, k), S = bw.unpack(saved->b),
             Vh = narrow(bw.unpack(saved->c), -2, 0, k);
      Tensor gU = bw.grad(0), gS = bw.grad(1), gVh = bw.grad(2);
      if (gU.defined()) gU = narrow(gU, -1, 0, k);
      if (gVh.defined()) gVh = narrow(gVh, -2, 0, k);
      if (!gU.defined() && !gVh.defined()) {
        bw.add(0, matmul(mul(U, unsqueeze(gS, -2)), Vh));
        return;
      }
      const Tensor V = mT(Vh);
      const Tensor S2 = mul(S, S);
      const Tensor E = add(sub(unsqueeze(S2, -2), unsqueeze(S2, -1)), eye_of(k, S.dtype()));
      const auto skew = [](const Tensor& X) { return sub(X, mT(X)); };
      Tensor inner;
      if (gU.defined()) inner = mul(skew(matmul(mT(U), gU)), unsqueeze(S, -2));
      if (gVh.defined()) {
        const Tensor t = mul(unsqueeze(S, -1), skew(matmul(Vh, mT(gVh))));
        inner = inner.defined() ? add(inner, t) : t;
      }
      inner = div(inner, E);
      if (gS.defined()) inner = add(inner, diag_embed(gS));
      Tensor gA;
      if (m > n && gU.defined()) {
        const Tensor gUSinv = div(gU, unsqueeze(S, -2));
        gA = matmul(add(matmul(U, inner), sub(gUSinv, matmul(U, matmul(mT(U), gUSinv)))), Vh);
      } else if (m < n && gVh.defined()) {
        const Tensor SinvgVh = div(gVh, unsqueeze(S, -1));
        gA = matmul(U, add(matmul(inner, Vh), sub(SinvgVh, matmul(matmul(SinvgVh, V), Vh))));
      } else {
        gA = matmul(U, matmul(inner, Vh));
      }
      bw.add(0, gA);
    });
    saved->a = SavedTensor(U, true);
    saved->b = SavedTensor(S, true);
    saved->c = SavedTensor(Vh, true);
  }
  return {U, S, Vh};
}

Tensor svdvals_for(const char* caller, const Tensor& A) {
  // With a gradient to come, U and V are needed for it.
  if (autograd::needs_grad(A)) return std::get<1>(svd_for(caller, A, false));
  return std::get<1>(kernel::svd(caller, A, false, false));
}

}  // namespace

Tensor svdvals(const Tensor& A) {
  TG_PROFILE_OP("linalg::svdvals", A);
  return svdvals_for("linalg::svdvals", A);
}

Tensor pinv(const Tensor& A, double rtol) {
  TG_PROFILE_OP("linalg::pinv", A);
  return pinv_for("linalg::pinv", A, rtol);
}

namespace {

Tensor pinv_for(const char* caller, const Tensor& A, double rtol) {
  const char* op = "linalg::pinv";  // the node's name
  kernel::check_matrix(caller, A, false);
  const std::int64_t m = A.size(-2), n = A.size(-1);
  if (rtol < 0)
    rtol =
        static_cast<double>(std::max(m, n)) * (A.dtype() == kFloat32 ? 1.1920928955078125e-07 : 2.220446049250313e-16);
  Tensor P;
  {
    NoGradGuard forward_only;
    const auto [U, S, Vh] = svd_for(caller, A, false);
    if (S.numel() == 0 || m == 0 || n == 0) {
      P = zeros(with_matrix(batch_dims(A), n, m), {.dtype = A.dtype()});
    } else {
      const Tensor cutoff = mul(narrow(S, -1, 0, 1), rtol);
      // A singular value the reciprocal reads as 0 (a subnormal one while
      // kernels flush; LAPACK returns it as it is) is dropped too.
      const Tensor keep = logical_and(gt(S, cutoff), logical_not(Tensor(kernel::reads_as_zero(S))));
      const Tensor s_inv = where(keep, reciprocal(where(keep, S, 1.0)), 0.0);
      P = matmul(mul(mT(Vh), unsqueeze(s_inv, -2)), mT(U));
    }
  }
  if (autograd::needs_grad(A)) {
    autograd::record(op, {&A}, {&P}, [sa = SavedTensor(A, false), sp = SavedTensor(P, true), m, n](Backward& bw) {
      // PyTorch's pinv_backward (Golub and Pereyra), in the order that keeps
      // the intermediate matrices smallest.
      const Tensor A = bw.unpack(sa), pA = bw.unpack(sp), g = bw.grad();
      const Tensor pAh = mT(pA), gh = mT(g);
      Tensor gA;
      if (m <= n) {
        const Tensor K = matmul(gh, pA);
        const Tensor KpAh = matmul(K, pAh);
        gA = add(sub(sub(KpAh, mT(matmul(pA, K))), matmul(matmul(A, pA), KpAh)),
                 matmul(matmul(pAh, pA), sub(gh, matmul(K, A))));
      } else {
        const Tensor K = matmul(pA, gh);
        const Tensor pAhK = matmul(pAh, K);
        gA = add(sub(matmul(matmul(sub(gh, matmul(A, K)), pA), pAh), mT(matmul(K, pA))),
                 sub(pAhK, matmul(matmul(pAhK, pA), A)));
      }
      bw.add(0, gA);
    });
  }
  return P;
}

}  // namespace

std::tuple<Tensor, Tensor, Tensor, Tensor> lstsq(const Tensor& A, const Tensor& B) {
  TG_PROFILE_OP("linalg::lstsq", A, B);
  const char* op = "linalg::lstsq";
  kernel::check_matrix(op, A, false);
  check_same_dtype(op, A, B);
  const bool vec = B.dim() >= 1 && B.dim() == A.dim() - 1;
  const Tensor Bm = vec ? unsqueeze(B, -1) : B;
  kernel::check_matrix(op, Bm, false);
  if (Bm.size(-2) != A.size(-2))
    throw ShapeError(fmt::format("{}: A {} and B {} do not match: A has {} rows, B {}", op, shape_str(A.sizes()),
                                 shape_str(B.sizes()), A.size(-2), Bm.size(-2)));
  kernel::broadcast_matrix_batch(op, A, Bm);
  const Tensor X = matmul(pinv_for(op, A, -1), Bm);
  Tensor rank;
  {
    NoGradGuard no_grad;
    const Tensor S = svdvals_for(op, A);
    const double eps = A.dtype() == kFloat32 ? 1.1920928955078125e-07 : 2.220446049250313e-16;
    if (S.size(-1) == 0) {
      rank = zeros(batch_dims(A), {.dtype = kInt64});
    } else {
      const Tensor cutoff = mul(narrow(S, -1, 0, 1), eps * static_cast<double>(std::max(A.size(-2), A.size(-1))));
      rank = sum(to_dtype(gt(S, cutoff), kInt64), {-1});
    }
  }
  const Tensor empty = zeros({0}, {.dtype = A.dtype()});
  return {vec ? squeeze(X, -1) : X, empty, rank, empty};
}

Tensor vector_norm(const Tensor& x) {
  TG_PROFILE_OP("linalg::vector_norm", x);
  return detail::vector_norm(x, 2, DimList{}, false);
}

Tensor detail::vector_norm(const Tensor& x, double ord, const DimList& dim, bool keepdim) {
  if (!is_floating(x.dtype()))
    throw DTypeError(fmt::format("linalg::vector_norm: expected a floating-point tensor, got {} {}",
                                 dtype_name(x.dtype()), shape_str(x.sizes())));
  return tg::detail::norm_dims(x, ord, dim, keepdim, "linalg::vector_norm");
}

namespace {

// The two dims of a matrix norm, made non-negative and checked.
std::pair<std::int64_t, std::int64_t> matrix_dims(const char* op, const Tensor& A, const DimList& dim) {
  if (A.dim() < 2)
    throw ShapeError(fmt::format("{}: expected a matrix or a batch of matrices (at least 2 dims), got {}", op,
                                 shape_str(A.sizes())));
  const Dims& d = dim.dims();
  if (d.size() != 2)
    throw ShapeError(fmt::format("{}: dim must name 2 dims, got {} (input {})", op, d.size(), shape_str(A.sizes())));
  const auto wrap = [&](std::int64_t i) {
    if (i < -A.dim() || i >= A.dim())
      throw IndexError(fmt::format("{}: dim {} is out of range for input {}", op, i, shape_str(A.sizes())));
    return i < 0 ? i + A.dim() : i;
  };
  const std::int64_t d0 = wrap(d[0]), d1 = wrap(d[1]);
  if (d0 == d1) throw ShapeError(fmt::format("{}: dim names dim {} twice (input {})", op, d0, shape_str(A.sizes())));
  if (!is_floating(A.dtype()))
    throw DTypeError(fmt::format("{}: expected a floating-point tensor, got {} {}", op, dtype_name(A.dtype()),
                                 shape_str(A.sizes())));
  return {d0, d1};
}

// A with dims d0, d1 moved last, so that the norm is over the matrices of a batch.
Tensor matrices_last(const Tensor& A, std::int64_t d0, std::int64_t d1) { return movedim(A, {d0, d1}, {-2, -1}); }

// Puts back the reduced dims d0 < d1 as size 1 (keepdim).
Tensor keep(Tensor y, std::int64_t d0, std::int64_t d1) {
  const std::int64_t lo = std::min(d0, d1), hi = std::max(d0, d1);
  return unsqueeze(unsqueeze(y, lo), hi);
}

}  // namespace

Tensor matrix_norm(const Tensor& A, std::string_view ord, DimList dim, StrictBool keepdim) {
  TG_PROFILE_OP("linalg::matrix_norm", A);
  const char* op = "linalg::matrix_norm";
  const auto [d0, d1] = matrix_dims(op, A, dim);
  if (ord == "fro") return tg::detail::norm_dims(A, 2, {d0, d1}, keepdim, op);
  if (ord != "nuc") throw ValueError(fmt::format("{}: ord must be \"fro\", \"nuc\" or a number, got \"{}\"", op, ord));
  const Tensor y = sum(svdvals_for(op, matrices_last(A, d0, d1)), {-1});
  return keepdim ? keep(y, d0, d1) : y;
}

Tensor detail::matrix_norm(const Tensor& A, double ord, const DimList& dim, bool keepdim) {
  const char* op = "linalg::matrix_norm";
  const auto [d0, d1] = matrix_dims(op, A, dim);
  const double a = std::abs(ord);
  if (a != 1 && a != 2 && !std::isinf(ord))
    throw ValueError(
        fmt::format("{}: ord must be one of 1, -1, 2, -2, inf, -inf, \"fro\" or \"nuc\", got {}", op, ord));
  // The largest (or smallest) of no values is undefined: say so under this
  // op's name and the input's shape, not amax's of an inner tensor.
  const std::int64_t candidates = a == 2 ? std::min(A.size(d0), A.size(d1)) : (a == 1 ? A.size(d1) : A.size(d0));
  if (candidates == 0)
    throw IndexError(fmt::format("{}: ord {} takes the {} over an empty dim of input {}", op, ord,
                                 ord > 0 ? "maximum" : "minimum", shape_str(A.sizes())));
  const Tensor M = matrices_last(A, d0, d1);
  Tensor y;
  if (a == 2) {
    const Tensor s = svdvals_for(op, M);
    y = ord > 0 ? amax(s, {-1}) : amin(s, {-1});
  } else {
    // 1: the largest column sum of |a_ij| (sum over rows); inf: the largest row sum.
    const Tensor sums = sum(abs(M), {a == 1 ? -2 : -1});
    y = ord > 0 ? amax(sums, {-1}) : amin(sums, {-1});
  }
  return keepdim ? keep(y, d0, d1) : y;
}

}  // namespace tg::linalg
