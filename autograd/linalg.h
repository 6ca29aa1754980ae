#pragma once
/// @file
/// torch.linalg: solvers, determinants, factorizations and norms, with
/// gradients (autograd/ops/linalg_decompositions.cpp; the LAPACK kernels are
/// core/kernels/lapack.h). Matrices are the last two dims of a tensor; any
/// leading dims are a batch, and the two operands of solve and
/// cholesky_solve broadcast their batch dims. float32 and float64 only.
///
/// At singular inputs, as PyTorch: solve, inv and cholesky throw a
/// tg::ValueError naming the op, the batch element and LAPACK's info; det is 0
/// (its gradient, the cofactor matrix, stays finite); slogdet gives sign 0
/// and logabsdet -inf. The gradients of eigh and svd are PyTorch's formulas:
/// they exist for distinct eigenvalues (singular values), and only a loss that
/// does not depend on the eigenvectors' signs has a well-defined gradient.
#include <cstdint>
#include <string_view>
#include <tuple>

#include <tapegrad/autograd/tensor.h>
#include <tapegrad/core/args.h>

namespace tg::linalg {

namespace detail {
Tensor vector_norm(const Tensor& x, double ord, const DimList& dim, bool keepdim);
Tensor matrix_norm(const Tensor& A, double ord, const DimList& dim, bool keepdim);
}  // namespace detail

/// Solves A X = B, as torch.linalg.solve.
/// X with A X = B. A [..., n, n]; B [..., n, k], or a vector [n] (also [..., n]
/// when that is A's shape without its last dim, as torch 1.13), giving X of B's form.
/// @param A [..., n, n], float32 or float64
/// @param B [..., n, k] or a vector
/// @throws tg::ValueError for a singular A, tg::ShapeError for shapes that do
///   not match, tg::DTypeError for mixed or non-floating dtypes.
Tensor solve(const Tensor& A, const Tensor& B);
/// The inverse of square matrices, as torch.linalg.inv.
/// @param A [..., n, n], float32 or float64
/// @throws tg::ValueError for a singular A.
Tensor inv(const Tensor& A);
/// The determinant of square matrices, as torch.linalg.det (0 for a singular A).
/// @param A [..., n, n], float32 or float64
Tensor det(const Tensor& A);
/// The sign and log of |det(A)|, as torch.linalg.slogdet:
/// (sign, log|det|); the gradient flows through log|det| only.
/// @param A [..., n, n], float32 or float64
std::tuple<Tensor, Tensor> slogdet(const Tensor& A);
/// The Cholesky factor of symmetric positive-definite matrices, as torch.linalg.cholesky:
/// L lower triangular with A = L L^T (upper: U with A = U^T U). Only A's lower
/// (upper) triangle is read.
/// @param A     [..., n, n] symmetric positive definite
/// @param upper return U (A = U^T U) instead of L
/// @throws tg::ValueError for an A that is not positive definite.
Tensor cholesky(const Tensor& A, StrictBool upper = false);
/// Solves with a Cholesky factor, as torch.cholesky_solve: X with (L L^T) X = B, for B [..., n, k] and the
/// Cholesky factor L [..., n, n] (U^T U with upper). Only L's lower (upper)
/// triangle is read, so the gradient of the other triangle is 0 (PyTorch
/// returns a nonzero one there, for an input it never reads).
/// @param B     [..., n, k]
/// @param L     the Cholesky factor [..., n, n]
/// @param upper L is upper triangular (U^T U = A)
/// @throws tg::ShapeError for shapes that do not match.
Tensor cholesky_solve(const Tensor& B, const Tensor& L, StrictBool upper = false);
/// The QR decomposition, as torch.linalg.qr:
/// (Q, R). mode "reduced" (Q [..., m, k], R [..., k, n], k = min(m, n)),
/// "complete" (Q [..., m, m], R [..., m, n]) or "r" (Q empty [0]); as in
/// PyTorch, only "reduced" and "complete" with m <= n are differentiable.
/// @param A    [..., m, n]
/// @param mode "reduced", "complete" or "r"
std::tuple<Tensor, Tensor> qr(const Tensor& A, std::string_view mode = "reduced");
/// The eigendecomposition of symmetric matrices, as torch.linalg.eigh:
/// (eigenvalues ascending [..., n], eigenvectors as columns [..., n, n]) of the
/// symmetric A, of which the triangle UPLO ("L" or "U") is read.
/// @param A    [..., n, n] symmetric
/// @param UPLO which triangle is read
/// @throws tg::ValueError for a UPLO other than "L" or "U".
std::tuple<Tensor, Tensor> eigh(const Tensor& A, std::string_view UPLO = "L");
/// The singular value decomposition, as torch.linalg.svd: (U, S, Vh) with
/// A = U diag(S) Vh, S descending; full_matrices gives square U and Vh.
/// @param A             [..., m, n]
/// @param full_matrices U [..., m, m] and Vh [..., n, n] (else k = min(m, n) columns and rows)
std::tuple<Tensor, Tensor, Tensor> svd(const Tensor& A, StrictBool full_matrices = true);
/// The singular values, descending, as torch.linalg.svdvals.
Tensor svdvals(const Tensor& A);
/// The Moore-Penrose pseudo-inverse through the SVD, as torch.linalg.pinv: singular values at most
/// rtol * the largest are treated as 0; rtol < 0 means PyTorch's default,
/// max(m, n) * eps of the dtype.
/// @param A    [..., m, n]
/// @param rtol the relative cutoff, or < 0 for PyTorch's default
Tensor pinv(const Tensor& A, double rtol = -1);
/// Least squares, as torch.linalg.lstsq: (solution, residuals, rank, singular_values). The
/// solution is the minimum-norm least-squares one, pinv(A) @ B, and rank is
/// the number of singular values above max(m, n) * eps * the largest
/// (int64, batch-shaped); residuals and singular_values are empty [0] as
/// PyTorch's default CPU driver "gelsy" returns them. B may be a vector as in solve.
/// @param A [..., m, n]
/// @param B [..., m, k] or a vector
/// @throws tg::ShapeError for shapes that do not match.
std::tuple<Tensor, Tensor, Tensor, Tensor> lstsq(const Tensor& A, const Tensor& B);

/// The vector norm, as torch.linalg.vector_norm.
/// ||x||_ord over dim (every dim when empty): ord 2 by default; inf, -inf, 0
/// (the count of nonzeros) and any other real as torch.linalg.vector_norm.
///@{
Tensor vector_norm(const Tensor& x);
template <Real P>
Tensor vector_norm(const Tensor& x, P ord, DimList dim = {}, StrictBool keepdim = false) {
  return detail::vector_norm(x, static_cast<double>(ord), dim, keepdim);
}
///@}
/// The matrix norm, as torch.linalg.matrix_norm.
/// Matrix norms over the two dims `dim` (the last two by default): ord "fro"
/// or "nuc", or a number: 1, -1 (max/min column sum of |a|), inf, -inf (rows),
/// 2, -2 (largest/smallest singular value).
///@{
Tensor matrix_norm(const Tensor& A, std::string_view ord = "fro", DimList dim = {-2, -1}, StrictBool keepdim = false);
template <Real P>
Tensor matrix_norm(const Tensor& A, P ord, DimList dim = {-2, -1}, StrictBool keepdim = false) {
  return detail::matrix_norm(A, static_cast<double>(ord), dim, keepdim);
}
///@}

}  // namespace tg::linalg
