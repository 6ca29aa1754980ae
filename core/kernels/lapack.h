#pragma once
// Matrix factorizations and solvers without autograd, on the LAPACK that
// OpenBLAS ships (its Fortran routines, called column-major on a copy of each
// matrix). Every function takes a batch of matrices [..., m, n] of float32 or
// float64 and returns fresh contiguous tensors of the same dtype. `op` is the
// user-facing name used in error messages ("linalg::solve").
//
// Shape and dtype errors are ShapeError / DTypeError; a singular or not
// positive-definite matrix where the op needs one is a ValueError naming the
// op, the batch element (its flat index) and LAPACK's info.
#include <cstdint>
#include <string_view>
#include <tuple>

#include <tapegrad/core/tensor.h>

namespace tg::kernel {

// Throws unless `a` is float32 or float64 with at least 2 dims, and (if
// `square`) its last two dims are equal.
void check_matrix(const char* op, const TensorBase& a, bool square);
// The broadcast of the batch dims (all but the last two) of a and b.
Dims broadcast_matrix_batch(const char* op, const TensorBase& a, const TensorBase& b);

// A X = B with A [..., n, n] and B [..., n, k] of the same batch dims
// (callers broadcast). LU with partial pivoting (getrf + getrs).
TensorBase lu_solve(const char* op, const TensorBase& A, const TensorBase& B);
// sign and log|det| of A [..., n, n] from its LU factors; a singular
// matrix gives sign 0 and log|det| -inf.
std::tuple<TensorBase, TensorBase> slogdet(const TensorBase& A);
// det of A [..., n, n] from its LU factors (0 for a singular matrix).
TensorBase det(const TensorBase& A);
// Lower (upper) Cholesky factor of A [..., n, n]; only A's lower (upper)
// triangle is read. Not positive-definite: ValueError.
TensorBase cholesky(const char* op, const TensorBase& A, bool upper);
// (L L^T)^-1 B (or (U^T U)^-1 B) with L [..., n, n] triangular and B [..., n, k]
// of the same batch dims; only L's lower (upper) triangle is read.
TensorBase cholesky_solve(const char* op, const TensorBase& B, const TensorBase& L, bool upper);
// Eigenvalues (ascending) and eigenvectors (columns) of the symmetric A [..., n, n]
// whose lower (upper) triangle is read (syevd).
std::tuple<TensorBase, TensorBase> eigh(const char* op, const TensorBase& A, bool upper);
// A = U diag(S) Vh (gesdd), S descending. full_matrices: U [..., m, m] and
// Vh [..., n, n]; otherwise U [..., m, k], Vh [..., k, n] with k = min(m, n).
// compute_uv false: U and Vh are undefined.
std::tuple<TensorBase, TensorBase, TensorBase> svd(const char* op, const TensorBase& A, bool full_matrices,
                                                   bool compute_uv);
// A = Q R (geqrf + orgqr). mode "reduced": Q [..., m, k], R [..., k, n];
// "complete": Q [..., m, m], R [..., m, n]; "r": Q undefined, R [..., k, n].
std::tuple<TensorBase, TensorBase> qr(const char* op, const TensorBase& A, std::string_view mode);

}  // namespace tg::kernel
