#include <tapegrad/core/kernels/lapack.h>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <limits>
#include <optional>
#include <type_traits>
#include <utility>
#include <vector>

#include <omp.h>

#include <fmt/format.h>

#include <tapegrad/core/float_mode.h>
#include <tapegrad/core/kernels/copy.h>
#include <tapegrad/core/kernels/loop.h>
#include <tapegrad/core/parallel.h>

// LAPACK's Fortran routines as OpenBLAS exports them (32-bit integers, as
// Debian's libopenblas builds them; character arguments carry a hidden length).
extern "C" {
void sgetrf_(const int* m, const int* n, float* a, const int* lda, int* ipiv, int* info);
void dgetrf_(const int* m, const int* n, double* a, const int* lda, int* ipiv, int* info);
void sgetrs_(const char* trans, const int* n, const int* nrhs, const float* a, const int* lda, const int* ipiv,
             float* b, const int* ldb, int* info, std::size_t);
void dgetrs_(const char* trans, const int* n, const int* nrhs, const double* a, const int* lda, const int* ipiv,
             double* b, const int* ldb, int* info, std::size_t);
void spotrf_(const char* uplo, const int* n, float* a, const int* lda, int* info, std::size_t);
void dpotrf_(const char* uplo, const int* n, double* a, const int* lda, int* info, std::size_t);
void spotrs_(const char* uplo, const int* n, const int* nrhs, const float* a, const int* lda, float* b, const int* ldb,
             int* info, std::size_t);
void dpotrs_(const char* uplo, const int* n, const int* nrhs, const double* a, const int* lda, double* b,
             const int* ldb, int* info, std::size_t);
void ssyevd_(const char* jobz, const char* uplo, const int* n, float* a, const int* lda, float* w, float* work,
             const int* lwork, int* iwork, const int* liwork, int* info, std::size_t, std::size_t);
void dsyevd_(const char* jobz, const char* uplo, const int* n, double* a, const int* lda, double* w, double* work,
             const int* lwork, int* iwork, const int* liwork, int* info, std::size_t, std::size_t);
void sgesdd_(const char* jobz, const int* m, const int* n, float* a, const int* lda, float* s, float* u, const int* ldu,
             float* vt, const int* ldvt, float* work, const int* lwork, int* iwork, int* info, std::size_t);
void dgesdd_(const char* jobz, const int* m, const int* n, double* a, const int* lda, double* s, double* u,
             const int* ldu, double* vt, const int* ldvt, double* work, const int* lwork, int* iwork, int* info,
             std::size_t);
void sgeqrf_(const int* m, const int* n, float* a, const int* lda, float* tau, float* work, const int* lwork,
             int* info);
void dgeqrf_(const int* m, const int* n, double* a, const int* lda, double* tau, double* work, const int* lwork,
             int* info);
void sorgqr_(const int* m, const int* n, const int* k, float* a, const int* lda, const float* tau, float* work,
             const int* lwork, int* info);
void dorgqr_(const int* m, const int* n, const int* k, double* a, const int* lda, const double* tau, double* work,
             const int* lwork, int* info);
}

namespace tg::kernel {

namespace {

// LAPACK has single and double precision only: float16 and bfloat16 inputs
// are refused (as torch.linalg refuses them on CPU).
template <class F>
decltype(auto) dispatch_lapack(DType d, std::string_view op, F&& fn) {
  if (d == kFloat32) return fn.template operator()<float>();
  if (d == kFloat64) return fn.template operator()<double>();
  throw DTypeError(fmt::format("{}: expected a float32 or float64 matrix, got {}", op, dtype_name(d)));
}

// One overload set per routine, so the templates below pick by T.
void getrf(int m, int n, float* a, int lda, int* ipiv, int* info) { sgetrf_(&m, &n, a, &lda, ipiv, info); }
void getrf(int m, int n, double* a, int lda, int* ipiv, int* info) { dgetrf_(&m, &n, a, &lda, ipiv, info); }
void getrs(int n, int nrhs, const float* a, int lda, const int* ipiv, float* b, int ldb, int* info) {
  sgetrs_("N", &n, &nrhs, a, &lda, ipiv, b, &ldb, info, 1);
}
void getrs(int n, int nrhs, const double* a, int lda, const int* ipiv, double* b, int ldb, int* info) {
  dgetrs_("N", &n, &nrhs, a, &lda, ipiv, b, &ldb, info, 1);
}
void potrf(char uplo, int n, float* a, int lda, int* info) { spotrf_(&uplo, &n, a, &lda, info, 1); }
void potrf(char uplo, int n, double* a, int lda, int* info) { dpotrf_(&uplo, &n, a, &lda, info, 1); }
void potrs(char uplo, int n, int nrhs, const float* a, int lda, float* b, int ldb, int* info) {
  spotrs_(&uplo, &n, &nrhs, a, &lda, b, &ldb, info, 1);
}
void potrs(char uplo, int n, int nrhs, const double* a, int lda, double* b, int ldb, int* info) {
  dpotrs_(&uplo, &n, &nrhs, a, &lda, b, &ldb, info, 1);
}
void syevd(char uplo, int n, float* a, int lda, float* w, float* work, int lwork, int* iwork, int liwork, int* info) {
  ssyevd_("V", &uplo, &n, a, &lda, w, work, &lwork, iwork, &liwork, info, 1, 1);
}
void syevd(char uplo, int n, double* a, int lda, double* w, double* work, int lwork, int* iwork, int liwork,
           int* info) {
  dsyevd_("V", &uplo, &n, a, &lda, w, work, &lwork, iwork, &liwork, info, 1, 1);
}
void gesdd(char jobz, int m, int n, float* a, int lda, float* s, float* u, int ldu, float* vt, int ldvt, float* work,
           int lwork, int* iwork, int* info) {
  sgesdd_(&jobz, &m, &n, a, &lda, s, u, &ldu, vt, &ldvt, work, &lwork, iwork, info, 1);
}
void gesdd(char jobz, int m, int n, double* a, int lda, double* s, double* u, int ldu, double* vt, int ldvt,
           double* work, int lwork, int* iwork, int* info) {
  dgesdd_(&jobz, &m, &n, a, &lda, s, u, &ldu, vt, &ldvt, work, &lwork, iwork, info, 1);
}
void geqrf(int m, int n, float* a, int lda, float* tau, float* work, int lwork, int* info) {
  sgeqrf_(&m, &n, a, &lda, tau, work, &lwork, info);
}
void geqrf(int m, int n, double* a, int lda, double* tau, double* work, int lwork, int* info) {
  dgeqrf_(&m, &n, a, &lda, tau, work, &lwork, info);
}
void orgqr(int m, int n, int k, float* a, int lda, const float* tau, float* work, int lwork, int* info) {
  sorgqr_(&m, &n, &k, a, &lda, tau, work, &lwork, info);
}
void orgqr(int m, int n, int k, double* a, int lda, const double* tau, double* work, int lwork, int* info) {
  dorgqr_(&m, &n, &k, a, &lda, tau, work, &lwork, info);
}

// The size of a workspace that a query (lwork = -1) returned.
template <class T>
int work_size(T query) {
  return std::max(1, static_cast<int>(query));
}

int lapack_dim(const char* op, std::int64_t n, const TensorBase& a) {
  if (n > std::numeric_limits<int>::max())
    throw ValueError(fmt::format("{}: a matrix dimension of {} exceeds LAPACK's 32-bit indices (input {})", op, n,
                                 shape_str(a.sizes())));
  return static_cast<int>(n);
}

Dims batch_of(const TensorBase& a) {
  Dims b;
  for (int d = 0; d + 2 < a.dim(); ++d) b.push_back(a.size(d));
  return b;
}

Dims with_matrix(Dims batch, std::int64_t rows, std::int64_t cols) {
  batch.push_back(rows);
  batch.push_back(cols);
  return batch;
}

// Row-major [m, n] <-> LAPACK's column-major [m, n] of the same matrix.
template <class T>
void to_colmajor(const T* src, std::int64_t m, std::int64_t n, T* dst, std::int64_t ld) {
  for (std::int64_t i = 0; i < m; ++i)
    for (std::int64_t j = 0; j < n; ++j) dst[i + j * ld] = src[i * n + j];
}
template <class T>
void from_colmajor(const T* src, std::int64_t m, std::int64_t n, std::int64_t ld, T* dst) {
  for (std::int64_t i = 0; i < m; ++i)
    for (std::int64_t j = 0; j < n; ++j) dst[i * n + j] = src[i + j * ld];
}

[[noreturn]] void throw_info(const char* op, const char* what, std::int64_t batch, int info, const TensorBase& a) {
  throw ValueError(fmt::format("{}: {} (batch element {}, LAPACK info {}; input {} {})", op, what, batch, info,
                               dtype_name(a.dtype()), shape_str(a.sizes())));
}

// ---- batches of small matrices ------------------------------------------------
//
// OpenBLAS 0.3.21 (Debian 12's) runs getrs on its whole team whatever the
// matrix size (its current getrs.c keeps matrices under 64 rows on one
// thread: OpenBLAS issue 4387, "Horribly slow multithreading used for small
// matrices"), so a
// batch of small solves opened one OpenMP region per matrix: 16,386 2x2
// solves took 0.005 s on one thread, 1.3 s on two and 25 s on two threads of
// a machine whose other core was busy (each region waits for a descheduled
// worker). Matrices up to kSerialLapackDim rows and columns therefore get a
// team of one inside LAPACK, and a batch of them is split over tapegrad's
// team instead (each matrix on one thread, so its bits do not depend on the
// thread count); larger ones go one after another, with the team OpenBLAS
// picks. LAPACK runs in IEEE mode either way (unless set_flush_denormal(true)
// asked for flushing everywhere), on whichever thread computes a matrix.
constexpr std::int64_t kSerialLapackDim = 64;

// For the life of one LAPACK call: the calling thread's OpenMP team size set
// to one, from which OpenBLAS's OpenMP build sizes its own team (as
// detail::BlasTeam does for products), and given back afterwards.
class OneLapackThread {
 public:
  OneLapackThread() : previous_(omp_get_max_threads()) {
    if (previous_ != 1) omp_set_num_threads(1);
  }
  ~OneLapackThread() {
    if (previous_ != 1) omp_set_num_threads(previous_);
  }
  OneLapackThread(const OneLapackThread&) = delete;
  OneLapackThread& operator=(const OneLapackThread&) = delete;

 private:
  int previous_;
};

// Calls body(b, scratch) for every matrix b in [0, nbatch), whose largest
// dimension is `dim` and which holds `elements` elements with its results;
// `scratch` is what make_scratch() returns, made once per thread. Small
// matrices go on the team when the batch holds parallel_threshold()
// elements or more. The body must not throw (errors are recorded per
// matrix and raised by the caller for the first failing one, so the same
// batch element is named on any thread count).
template <class MakeScratch, class Body>
void for_each_matrix(std::int64_t nbatch, std::int64_t dim, std::int64_t elements, const MakeScratch& make_scratch,
                     const Body& body) {
  using Scratch = std::invoke_result_t<const MakeScratch&>;
  if (nbatch <= 0) return;
  const KeepDenormalsGuard ieee;  // also on parallel_for's workers
  if (dim > kSerialLapackDim) {
    Scratch scratch = make_scratch();
    for (std::int64_t b = 0; b < nbatch; ++b) body(b, scratch);
    return;
  }
  const int threads =
      nbatch > 1 && nbatch * std::max<std::int64_t>(elements, 1) >= parallel_threshold() && !in_parallel_region()
          ? detail::team_size()
          : 1;
  std::vector<std::optional<Scratch>> scratch(static_cast<std::size_t>(std::max(threads, 1)));
  parallel_for(nbatch, threads, [&](std::int64_t b, int thread) {
    auto& s = scratch[static_cast<std::size_t>(thread)];
    if (!s) s.emplace(make_scratch());
    const OneLapackThread one;
    body(b, *s);
  });
}

// The first batch element whose code is nonzero, or -1.
std::int64_t first_failure(const std::vector<int>& codes) {
  for (std::size_t i = 0; i < codes.size(); ++i)
    if (codes[i] != 0) return static_cast<std::int64_t>(i);
  return -1;
}

// ---- LU with tiny pivots ---------------------------------------------------------
//
// OpenBLAS's getrf scales a column by the reciprocal of its pivot, which
// overflows for a pivot below 1 / max (about 2.9e-39 in float32, 5.6e-309
// in float64): diag(1e-39, 1) factored to NaN. Its triangular solves do the
// same with U's diagonal. Reference LAPACK's getf2 divides instead where
// |pivot| < sfmin (the smallest normal number, whose reciprocal does not
// overflow). A factor with such a pivot is computed again here as getf2
// does, and solved with divisions as the reference trsm does.

// Whether U (n x n, column-major, in place of the LU factors) has a nonzero
// pivot below the smallest normal number (never under denormals-are-zero,
// where a subnormal reads as 0).
template <class T>
bool has_tiny_pivot(const T* lu, int n) {
  for (int j = 0; j < n; ++j) {
    const T d = lu[j + static_cast<std::size_t>(j) * n];
    if (d != T(0) && std::abs(d) < std::numeric_limits<T>::min()) return true;
  }
  return false;
}

// Reference LAPACK's getf2 on an n x n column-major matrix: partial
// pivoting (the first largest |a_ij|), the column below a pivot scaled by
// its reciprocal, or divided by it where |pivot| < sfmin, then the rank-one
// update (ger, which skips zero entries of the pivot row). Returns info.
template <class T>
int getf2_dividing(int n, T* a, int* ipiv) {
  const T sfmin = std::numeric_limits<T>::min();
  const auto at = [a, n](int i, int j) -> T& { return a[i + static_cast<std::size_t>(j) * n]; };
  int info = 0;
  for (int j = 0; j < n; ++j) {
    int p = j;
    T best = std::abs(at(j, j));
    for (int i = j + 1; i < n; ++i)
      if (std::abs(at(i, j)) > best) {
        best = std::abs(at(i, j));
        p = i;
      }
    ipiv[j] = p + 1;
    if (at(p, j) != T(0)) {
      if (p != j)
        for (int c = 0; c < n; ++c) std::swap(at(j, c), at(p, c));
      const T pivot = at(j, j);
      if (std::abs(pivot) >= sfmin) {
        const T r = T(1) / pivot;
        for (int i = j + 1; i < n; ++i) at(i, j) *= r;
      } else {
        for (int i = j + 1; i < n; ++i) at(i, j) /= pivot;
      }
    } else if (info == 0) {
      info = j + 1;
    }
    for (int c = j + 1; c < n; ++c) {
      const T u = at(j, c);
      if (u == T(0)) continue;
      for (int i = j + 1; i < n; ++i) at(i, c) -= at(i, j) * u;
    }
  }
  return info;
}

// getrs ("N") on getf2_dividing's factors: the row interchanges, L's unit
// lower solve, then U's upper solve dividing by its diagonal (reference
// trsm's order). b is n x k column-major.
template <class T>
void getrs_dividing(int n, int k, const T* lu, const int* ipiv, T* b) {
  const auto L = [lu, n](int i, int j) { return lu[i + static_cast<std::size_t>(j) * n]; };
  for (int c = 0; c < k; ++c) {
    T* x = b + static_cast<std::size_t>(c) * n;
    for (int j = 0; j < n; ++j)
      if (ipiv[j] - 1 != j) std::swap(x[j], x[ipiv[j] - 1]);
    for (int j = 0; j < n; ++j) {
      if (x[j] == T(0)) continue;
      for (int i = j + 1; i < n; ++i) x[i] -= x[j] * L(i, j);
    }
    for (int j = n - 1; j >= 0; --j) {
      if (x[j] == T(0)) continue;
      x[j] /= L(j, j);
      for (int i = 0; i < j; ++i) x[i] -= x[j] * L(i, j);
    }
  }
}

// LU with partial pivoting of the row-major n x n matrix `src` into `lu`
// (column-major): getrf, or getf2_dividing where getrf met a tiny pivot
// (`divided` says which). Returns LAPACK's info.
template <class T>
int lu_factor(const T* src, int n, T* lu, int* ipiv, bool& divided) {
  to_colmajor(src, n, n, lu, n);
  int info = 0;
  getrf(n, n, lu, std::max(1, n), ipiv, &info);
  divided = has_tiny_pivot(lu, n);
  if (divided) {
    to_colmajor(src, n, n, lu, n);
    info = getf2_dividing(n, lu, ipiv);
  }
  return info;
}

// One thread's buffers for the LU factors of an n x n matrix.
template <class T>
struct LuScratch {
  explicit LuScratch(int n) : lu(static_cast<std::size_t>(n) * n), ipiv(static_cast<std::size_t>(n)) {}
  std::vector<T> lu;
  std::vector<int> ipiv;
};

// sign and log|det| of one n x n matrix from its LU factors; sign 0 when singular.
template <class T>
void lu_slogdet(const T* src, std::vector<T>& a, std::vector<int>& ipiv, int n, T& sign, T& logabs) {
  bool divided = false;
  const int info = lu_factor(src, n, a.data(), ipiv.data(), divided);
  if (info > 0) {
    sign = 0;
    logabs = -std::numeric_limits<T>::infinity();
    return;
  }
  T s = 1, l = 0;
  for (int i = 0; i < n; ++i) {
    const T d = a[static_cast<std::size_t>(i) * n + i];
    if (ipiv[i] != i + 1) s = -s;
    if (d < 0) s = -s;
    l += std::log(std::abs(d));
  }
  // NaN inputs give NaN, not a sign of +-1 with a NaN log.
  sign = std::isnan(l) ? l : s;
  logabs = l;
}

// Iterative eigen and singular value solvers on NaN or Inf can fail to
// converge or take unbounded time; PyTorch refuses such inputs to svd too.
template <class T>
void check_finite(const char* op, const T* p, std::int64_t per_matrix, std::int64_t nbatch, const TensorBase& a) {
  for (std::int64_t b = 0; b < nbatch; ++b)
    for (std::int64_t i = 0; i < per_matrix; ++i)
      if (!std::isfinite(p[b * per_matrix + i]))
        throw ValueError(fmt::format("{}: the input holds NaN or Inf (batch element {}; input {} {})", op, b,
                                     dtype_name(a.dtype()), shape_str(a.sizes())));
}

// check_finite over one triangle of each n x n row-major matrix (i <= j when
// upper), the only one eigh reads: the other may hold anything, as in PyTorch.
template <class T>
void check_finite_triangle(const char* op, const T* p, std::int64_t n, std::int64_t nbatch, bool upper,
                           const TensorBase& a) {
  for (std::int64_t b = 0; b < nbatch; ++b)
    for (std::int64_t i = 0; i < n; ++i)
      for (std::int64_t j = upper ? i : 0; j < (upper ? n : i + 1); ++j)
        if (!std::isfinite(p[(b * n + i) * n + j]))
          throw ValueError(fmt::format("{}: the {} triangle it reads holds NaN or Inf (batch element {}; input {} {})",
                                       op, upper ? "upper" : "lower", b, dtype_name(a.dtype()), shape_str(a.sizes())));
}

}  // namespace

void check_matrix(const char* op, const TensorBase& a, bool square) {
  if (a.dtype() != kFloat32 && a.dtype() != kFloat64)
    throw DTypeError(fmt::format("{}: expected a float32 or float64 tensor, got {} {}", op, dtype_name(a.dtype()),
                                 shape_str(a.sizes())));
  if (a.dim() < 2)
    throw ShapeError(fmt::format("{}: expected a matrix or a batch of matrices (at least 2 dims), got {}", op,
                                 shape_str(a.sizes())));
  if (square && a.size(-1) != a.size(-2))
    throw ShapeError(fmt::format("{}: expected a batch of square matrices, got {} ({} != {})", op, shape_str(a.sizes()),
                                 a.size(-2), a.size(-1)));
}

Dims broadcast_matrix_batch(const char* op, const TensorBase& a, const TensorBase& b) {
  const int na = a.dim() - 2, nb = b.dim() - 2, n = std::max(na, nb);
  Dims batch = Dims::filled(n, 1);
  for (int i = 0; i < n; ++i) {
    const std::int64_t sa = i - (n - na) >= 0 ? a.size(i - (n - na)) : 1;
    const std::int64_t sb = i - (n - nb) >= 0 ? b.size(i - (n - nb)) : 1;
    if (sa != sb && sa != 1 && sb != 1)
      throw ShapeError(fmt::format("{}: the batch dimensions of {} and {} do not broadcast ({} != {} at batch dim {})",
                                   op, shape_str(a.sizes()), shape_str(b.sizes()), sa, sb, i));
    batch[i] = sa == 1 ? sb : sa;
  }
  return batch;
}

TensorBase lu_solve(const char* op, const TensorBase& A, const TensorBase& B) {
  check_matrix(op, A, true);
  check_matrix(op, B, false);
  const int n = lapack_dim(op, A.size(-1), A), k = lapack_dim(op, B.size(-1), B);
  TensorBase out = make_tensor(B.shape(), B.dtype());
  const std::int64_t nbatch = batch_of(A).product();
  if (nbatch == 0 || n == 0 || k == 0) return out;
  const TensorBase a = contiguous(A), b = contiguous(B);
  dispatch_lapack(A.dtype(), op, [&]<class T>() {
    struct Scratch {
      std::vector<T> lu, x;
      std::vector<int> ipiv;
    };
    // 1: singular (getrf's info), 2: getrs failed.
    std::vector<int> code(static_cast<std::size_t>(nbatch), 0), info_of(static_cast<std::size_t>(nbatch), 0);
    for_each_matrix(
        nbatch, std::max(n, k), static_cast<std::int64_t>(n) * (n + 2 * static_cast<std::int64_t>(k)),
        [&] {
          return Scratch{std::vector<T>(static_cast<std::size_t>(n) * n),
                         std::vector<T>(static_cast<std::size_t>(n) * k),
                         std::vector<int>(static_cast<std::size_t>(n))};
        },
        [&](std::int64_t i, Scratch& s) {
          bool divided = false;
          int info = lu_factor(a.data_ptr<T>() + i * n * n, n, s.lu.data(), s.ipiv.data(), divided);
          if (info > 0) {
            code[i] = 1;
            info_of[i] = info;
            return;
          }
          to_colmajor(b.data_ptr<T>() + i * n * k, n, k, s.x.data(), n);
          if (divided) {
            getrs_dividing(n, k, s.lu.data(), s.ipiv.data(), s.x.data());
          } else {
            getrs(n, k, s.lu.data(), n, s.ipiv.data(), s.x.data(), n, &info);
            if (info != 0) {
              code[i] = 2;
              info_of[i] = info;
              return;
            }
          }
          from_colmajor(s.x.data(), n, k, n, out.data_ptr<T>() + i * n * k);
        });
    const std::int64_t bad = first_failure(code);
    if (bad >= 0)
      throw_info(op, code[bad] == 1 ? "the matrix is singular (U has a zero on its diagonal)" : "the solver failed",
                 bad, info_of[bad], A);
  });
  return out;
}

std::tuple<TensorBase, TensorBase> slogdet(const TensorBase& A) {
  const char* op = "linalg::slogdet";
  check_matrix(op, A, true);
  const int n = lapack_dim(op, A.size(-1), A);
  const Dims batch = batch_of(A);
  TensorBase sign = make_tensor(batch, A.dtype()), logabs = make_tensor(batch, A.dtype());
  const std::int64_t nbatch = batch.product();
  const TensorBase a = contiguous(A);
  dispatch_lapack(A.dtype(), op, [&]<class T>() {
    for_each_matrix(
        nbatch, n, static_cast<std::int64_t>(n) * n, [&] { return LuScratch<T>(n); },
        [&](std::int64_t i, LuScratch<T>& s) {
          lu_slogdet(a.data_ptr<T>() + i * n * n, s.lu, s.ipiv, n, sign.data_ptr<T>()[i], logabs.data_ptr<T>()[i]);
        });
  });
  return {sign, logabs};
}

TensorBase det(const TensorBase& A) {
  const char* op = "linalg::det";
  check_matrix(op, A, true);
  const int n = lapack_dim(op, A.size(-1), A);
  const Dims batch = batch_of(A);
  TensorBase out = make_tensor(batch, A.dtype());
  const std::int64_t nbatch = batch.product();
  const TensorBase a = contiguous(A);
  dispatch_lapack(A.dtype(), op, [&]<class T>() {
    for_each_matrix(
        nbatch, n, static_cast<std::int64_t>(n) * n, [&] { return LuScratch<T>(n); },
        [&](std::int64_t i, LuScratch<T>& s) {
          bool divided = false;
          lu_factor(a.data_ptr<T>() + i * n * n, n, s.lu.data(), s.ipiv.data(), divided);
          // The product of U's diagonal (a zero one included) and the pivots' sign:
          // no logarithm, so that det keeps its full range and exact zeros.
          T d = 1;
          for (int j = 0; j < n; ++j) {
            d *= s.lu[static_cast<std::size_t>(j) * n + j];
            if (s.ipiv[j] != j + 1) d = -d;
          }
          out.data_ptr<T>()[i] = d;
        });
  });
  return out;
}

TensorBase cholesky(const char* op, const TensorBase& A, bool upper) {
  check_matrix(op, A, true);
  const int n = lapack_dim(op, A.size(-1), A);
  TensorBase out = make_tensor(A.shape(), A.dtype());
  const std::int64_t nbatch = batch_of(A).product();
  if (nbatch == 0 || n == 0) return out;
  const TensorBase a = contiguous(A);
  dispatch_lapack(A.dtype(), op, [&]<class T>() {
    std::vector<int> infos(static_cast<std::size_t>(nbatch), 0);
    for_each_matrix(
        nbatch, n, 2 * static_cast<std::int64_t>(n) * n,
        [&] { return std::vector<T>(static_cast<std::size_t>(n) * n); },
        [&](std::int64_t b, std::vector<T>& buf) {
          to_colmajor(a.data_ptr<T>() + b * n * n, n, n, buf.data(), n);
          int info = 0;
          potrf(upper ? 'U' : 'L', n, buf.data(), n, &info);
          if (info > 0) {
            infos[b] = info;
            return;
          }
          T* o = out.data_ptr<T>() + b * n * n;
          for (int i = 0; i < n; ++i)
            for (int j = 0; j < n; ++j)
              o[i * n + j] = (upper ? j >= i : i >= j) ? buf[i + static_cast<std::size_t>(j) * n] : T(0);
        });
    const std::int64_t bad = first_failure(infos);
    if (bad >= 0)
      throw_info(
          op,
          fmt::format("the matrix is not positive-definite (the leading minor of order {} is not positive)", infos[bad])
              .c_str(),
          bad, infos[bad], A);
  });
  return out;
}

TensorBase cholesky_solve(const char* op, const TensorBase& B, const TensorBase& L, bool upper) {
  check_matrix(op, L, true);
  check_matrix(op, B, false);
  const int n = lapack_dim(op, L.size(-1), L), k = lapack_dim(op, B.size(-1), B);
  TensorBase out = make_tensor(B.shape(), B.dtype());
  const std::int64_t nbatch = batch_of(L).product();
  if (nbatch == 0 || n == 0 || k == 0) return out;
  const TensorBase l = contiguous(L), b = contiguous(B);
  dispatch_lapack(L.dtype(), op, [&]<class T>() {
    struct Scratch {
      std::vector<T> f, x;
    };
    std::vector<int> infos(static_cast<std::size_t>(nbatch), 0);
    for_each_matrix(
        nbatch, std::max(n, k), static_cast<std::int64_t>(n) * (n + 2 * static_cast<std::int64_t>(k)),
        [&] {
          return Scratch{std::vector<T>(static_cast<std::size_t>(n) * n),
                         std::vector<T>(static_cast<std::size_t>(n) * k)};
        },
        [&](std::int64_t i, Scratch& s) {
          to_colmajor(l.data_ptr<T>() + i * n * n, n, n, s.f.data(), n);
          to_colmajor(b.data_ptr<T>() + i * n * k, n, k, s.x.data(), n);
          int info = 0;
          potrs(upper ? 'U' : 'L', n, k, s.f.data(), n, s.x.data(), n, &info);
          if (info != 0) {
            infos[i] = info;
            return;
          }
          from_colmajor(s.x.data(), n, k, n, out.data_ptr<T>() + i * n * k);
        });
    const std::int64_t bad = first_failure(infos);
    if (bad >= 0) throw_info(op, "the solver failed", bad, infos[bad], L);
  });
  return out;
}

std::tuple<TensorBase, TensorBase> eigh(const char* op, const TensorBase& A, bool upper) {
  check_matrix(op, A, true);
  const int n = lapack_dim(op, A.size(-1), A);
  const Dims batch = batch_of(A);
  Dims wshape = batch;
  wshape.push_back(n);
  TensorBase w = make_tensor(wshape, A.dtype()), v = make_tensor(A.shape(), A.dtype());
  const std::int64_t nbatch = batch.product();
  if (nbatch == 0 || n == 0) return {w, v};
  const TensorBase a = contiguous(A);
  dispatch_lapack(A.dtype(), op, [&]<class T>() {
    check_finite_triangle(op, a.data_ptr<T>(), n, nbatch, upper, A);
    std::vector<T> buf(static_cast<std::size_t>(n) * n);
    T query = 0;
    int iquery = 0, info = 0;
    syevd(upper ? 'U' : 'L', n, buf.data(), n, w.data_ptr<T>(), &query, -1, &iquery, -1, &info);
    struct Scratch {
      std::vector<T> buf, work;
      std::vector<int> iwork;
    };
    std::vector<int> infos(static_cast<std::size_t>(nbatch), 0);
    for_each_matrix(
        nbatch, n, 2 * static_cast<std::int64_t>(n) * n + n,
        [&] {
          return Scratch{std::vector<T>(static_cast<std::size_t>(n) * n),
                         std::vector<T>(static_cast<std::size_t>(work_size(query))),
                         std::vector<int>(static_cast<std::size_t>(std::max(1, iquery)))};
        },
        [&](std::int64_t b, Scratch& s) {
          int status = 0;
          to_colmajor(a.data_ptr<T>() + b * n * n, n, n, s.buf.data(), n);
          syevd(upper ? 'U' : 'L', n, s.buf.data(), n, w.data_ptr<T>() + b * n, s.work.data(),
                static_cast<int>(s.work.size()), s.iwork.data(), static_cast<int>(s.iwork.size()), &status);
          if (status != 0) {
            infos[b] = status;
            return;
          }
          from_colmajor(s.buf.data(), n, n, n, v.data_ptr<T>() + b * n * n);
        });
    const std::int64_t bad = first_failure(infos);
    if (bad >= 0) throw_info(op, "the eigenvalue algorithm did not converge", bad, infos[bad], A);
  });
  return {w, v};
}

std::tuple<TensorBase, TensorBase, TensorBase> svd(const char* op, const TensorBase& A, bool full_matrices,
                                                   bool compute_uv) {
  check_matrix(op, A, false);
  const int m = lapack_dim(op, A.size(-2), A), n = lapack_dim(op, A.size(-1), A), k = std::min(m, n);
  const Dims batch = batch_of(A);
  Dims sshape = batch;
  sshape.push_back(k);
  const int ucols = full_matrices ? m : k, vrows = full_matrices ? n : k;
  TensorBase s = make_tensor(sshape, A.dtype()), u, vh;
  if (compute_uv) {
    u = make_tensor(with_matrix(batch, m, ucols), A.dtype());
    vh = make_tensor(with_matrix(batch, vrows, n), A.dtype());
  }
  const std::int64_t nbatch = batch.product();
  if (nbatch == 0) return {u, s, vh};
  if (k == 0) {
    // No singular values; a full basis is the identity.
    if (compute_uv) {
      fill_(u, 0);
      fill_(vh, 0);
      dispatch_lapack(A.dtype(), op, [&]<class T>() {
        for (std::int64_t b = 0; b < nbatch; ++b) {
          for (int i = 0; i < std::min(m, ucols); ++i) u.data_ptr<T>()[b * m * ucols + i * ucols + i] = 1;
          for (int i = 0; i < std::min(vrows, n); ++i) vh.data_ptr<T>()[b * vrows * n + i * n + i] = 1;
        }
      });
    }
    return {u, s, vh};
  }
  const TensorBase a = contiguous(A);
  const char jobz = !compute_uv ? 'N' : full_matrices ? 'A' : 'S';
  dispatch_lapack(A.dtype(), op, [&]<class T>() {
    check_finite(op, a.data_ptr<T>(), static_cast<std::int64_t>(m) * n, nbatch, A);
    std::vector<T> buf(static_cast<std::size_t>(m) * n), ub(static_cast<std::size_t>(m) * ucols),
        vb(static_cast<std::size_t>(vrows) * n);
    std::vector<int> iwork(8 * static_cast<std::size_t>(k));
    const int ldvt = std::max(1, vrows);
    T query = 0;
    int info = 0;
    gesdd(jobz, m, n, buf.data(), m, s.data_ptr<T>(), ub.data(), m, vb.data(), ldvt, &query, -1, iwork.data(), &info);
    struct Scratch {
      std::vector<T> buf, ub, vb, work;
      std::vector<int> iwork;
    };
    std::vector<int> infos(static_cast<std::size_t>(nbatch), 0);
    for_each_matrix(
        nbatch, std::max(m, n),
        static_cast<std::int64_t>(m) * n + k +
            (compute_uv ? static_cast<std::int64_t>(m) * ucols + static_cast<std::int64_t>(vrows) * n : 0),
        [&] {
          return Scratch{buf, ub, vb, std::vector<T>(static_cast<std::size_t>(work_size(query))), iwork};
        },
        [&](std::int64_t b, Scratch& sc) {
          int status = 0;
          to_colmajor(a.data_ptr<T>() + b * m * n, m, n, sc.buf.data(), m);
          gesdd(jobz, m, n, sc.buf.data(), m, s.data_ptr<T>() + b * k, sc.ub.data(), m, sc.vb.data(), ldvt,
                sc.work.data(), static_cast<int>(sc.work.size()), sc.iwork.data(), &status);
          if (status != 0) {
            infos[b] = status;
            return;
          }
          if (compute_uv) {
            from_colmajor(sc.ub.data(), m, ucols, m, u.data_ptr<T>() + b * m * ucols);
            from_colmajor(sc.vb.data(), vrows, n, ldvt, vh.data_ptr<T>() + b * vrows * n);
          }
        });
    const std::int64_t bad = first_failure(infos);
    if (bad >= 0) throw_info(op, "the SVD did not converge", bad, infos[bad], A);
  });
  return {u, s, vh};
}

std::tuple<TensorBase, TensorBase> qr(const char* op, const TensorBase& A, std::string_view mode) {
  check_matrix(op, A, false);
  if (mode != "reduced" && mode != "complete" && mode != "r")
    throw ValueError(fmt::format("{}: mode must be \"reduced\", \"complete\" or \"r\", got \"{}\" (input {})", op, mode,
                                 shape_str(A.sizes())));
  const int m = lapack_dim(op, A.size(-2), A), n = lapack_dim(op, A.size(-1), A), k = std::min(m, n);
  const bool complete = mode == "complete";
  const int qcols = complete ? m : k, rrows = complete ? m : k;
  const Dims batch = batch_of(A);
  TensorBase q, r = make_tensor(with_matrix(batch, rrows, n), A.dtype());
  if (mode != "r") q = make_tensor(with_matrix(batch, m, qcols), A.dtype());
  const std::int64_t nbatch = batch.product();
  if (nbatch == 0) return {q, r};
  const TensorBase a = contiguous(A);
  dispatch_lapack(A.dtype(), op, [&]<class T>() {
    const int cols = std::max(n, qcols), lda = std::max(1, m);
    std::vector<T> buf(static_cast<std::size_t>(lda) * std::max(1, cols)),
        tau(static_cast<std::size_t>(std::max(1, k)));
    T q1 = 0, q2 = 0;
    int info = 0;
    geqrf(m, n, buf.data(), lda, tau.data(), &q1, -1, &info);
    orgqr(m, qcols, k, buf.data(), lda, tau.data(), &q2, -1, &info);
    struct Scratch {
      std::vector<T> buf, tau, work;
    };
    const std::size_t work_elements = static_cast<std::size_t>(std::max(work_size(q1), work_size(q2)));
    // 1: geqrf failed, 2: orgqr failed.
    std::vector<int> code(static_cast<std::size_t>(nbatch), 0), infos(static_cast<std::size_t>(nbatch), 0);
    for_each_matrix(
        nbatch, std::max(m, n),
        static_cast<std::int64_t>(m) * n + static_cast<std::int64_t>(rrows) * n + static_cast<std::int64_t>(m) * qcols,
        [&] {
          return Scratch{buf, tau, std::vector<T>(work_elements)};
        },
        [&](std::int64_t b, Scratch& sc) {
          int status = 0;
          std::fill(sc.buf.begin(), sc.buf.end(), T(0));
          to_colmajor(a.data_ptr<T>() + b * m * n, m, n, sc.buf.data(), lda);
          if (k > 0) {
            geqrf(m, n, sc.buf.data(), lda, sc.tau.data(), sc.work.data(), static_cast<int>(sc.work.size()), &status);
            if (status != 0) {
              code[b] = 1;
              infos[b] = status;
              return;
            }
          }
          T* ro = r.data_ptr<T>() + b * rrows * n;
          for (int i = 0; i < rrows; ++i)
            for (int j = 0; j < n; ++j)
              ro[i * n + j] = j >= i && i < m ? sc.buf[i + static_cast<std::size_t>(j) * lda] : T(0);
          if (mode == "r") return;
          if (qcols > 0 && m > 0) {
            orgqr(m, qcols, k, sc.buf.data(), lda, sc.tau.data(), sc.work.data(), static_cast<int>(sc.work.size()),
                  &status);
            if (status != 0) {
              code[b] = 2;
              infos[b] = status;
              return;
            }
          }
          from_colmajor(sc.buf.data(), m, qcols, lda, q.data_ptr<T>() + b * m * qcols);
        });
    const std::int64_t bad = first_failure(code);
    if (bad >= 0) throw_info(op, code[bad] == 1 ? "geqrf failed" : "orgqr failed", bad, infos[bad], A);
  });
  return {q, r};
}

}  // namespace tg::kernel
