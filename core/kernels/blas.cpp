#include <tapegrad/core/kernels/blas.h>

#include <algorithm>
#include <atomic>
#include <climits>
#include <cmath>
#include <type_traits>

#include <cblas.h>
#include <fmt/format.h>

#include <tapegrad/core/float_mode.h>
#include <tapegrad/core/kernels/wrapping.h>
#include <tapegrad/core/parallel.h>

namespace tg::kernel {

namespace {

std::atomic<std::uint64_t> g_calls{0};
std::atomic<std::uint64_t> g_copies{0};

// OpenBLAS is built with 32-bit integers (blasint = int).
blasint to_blasint(std::int64_t v, const char* op, std::int64_t m, std::int64_t n, std::int64_t k) {
  if (v > INT_MAX)
    throw ShapeError(
        fmt::format("{}: a matrix product of size {}x{}x{} (or its strides) exceeds the 32-bit "
                    "dimensions BLAS accepts",
                    op, m, k, n));
  return static_cast<blasint>(v);
}

CBLAS_TRANSPOSE flag(GemmLayout l) { return l.trans ? CblasTrans : CblasNoTrans; }

// C = beta * C, with beta == 0 writing zeros (BLAS semantics: C is not read).
template <class T>
void scale_rows(std::int64_t m, std::int64_t n, T beta, T* c, std::int64_t ldc) {
  for (std::int64_t i = 0; i < m; ++i) {
    T* row = c + i * ldc;
    if (beta == T(0)) std::fill(row, row + n, T(0));
    else if (beta != T(1))
      for (std::int64_t j = 0; j < n; ++j) row[j] *= beta;
  }
}

// Integer GEMM (BLAS has none): row by row, the k loop outside the n loop so
// the inner loop runs along a row of C.

void gemm_int64(std::int64_t m, std::int64_t n, std::int64_t k, std::int64_t alpha, const std::int64_t* a,
                GemmLayout la, const std::int64_t* b, GemmLayout lb, std::int64_t beta, std::int64_t* c,
                std::int64_t ldc) {
  const bool parallel = m > 1 && m * n * k >= kParallelThreshold * 16 && !in_parallel_region();
#pragma omp parallel for if (parallel) num_threads(detail::team_size()) schedule(static)
  for (std::int64_t i = 0; i < m; ++i) {
    std::int64_t* row = c + i * ldc;
    for (std::int64_t j = 0; j < n; ++j) row[j] = beta == 0 ? 0 : wrap_mul(beta, row[j]);
    for (std::int64_t p = 0; p < k; ++p) {
      const std::int64_t aip = wrap_mul(alpha, la.trans ? a[p * la.ld + i] : a[i * la.ld + p]);
      if (lb.trans)
        for (std::int64_t j = 0; j < n; ++j) row[j] = wrap_add(row[j], wrap_mul(aip, b[j * lb.ld + p]));
      else
        for (std::int64_t j = 0; j < n; ++j) row[j] = wrap_add(row[j], wrap_mul(aip, b[p * lb.ld + j]));
    }
  }
}

}  // namespace

std::optional<GemmLayout> gemm_layout(std::int64_t rows, std::int64_t cols, std::int64_t row_stride,
                                      std::int64_t col_stride) {
  // Row-major: columns adjacent, rows ld apart (ld >= cols, or the rows overlap).
  if (cols <= 1 || col_stride == 1) {
    const std::int64_t ld = rows <= 1 ? std::max<std::int64_t>(cols, 1) : row_stride;
    if (ld >= std::max<std::int64_t>(cols, 1)) return GemmLayout{false, ld};
  }
  // Column-major (a transposed view): rows adjacent, columns ld apart.
  if (rows <= 1 || row_stride == 1) {
    const std::int64_t ld = cols <= 1 ? std::max<std::int64_t>(rows, 1) : col_stride;
    if (ld >= std::max<std::int64_t>(rows, 1)) return GemmLayout{true, ld};
  }
  return std::nullopt;
}

void gemm(DType dtype, std::int64_t m, std::int64_t n, std::int64_t k, double alpha, const void* a, GemmLayout la,
          const void* b, GemmLayout lb, double beta, void* c, std::int64_t ldc, const char* op) {
  if (dtype != kFloat32 && dtype != kFloat64 && dtype != kInt64)
    throw DTypeError(fmt::format("{}: expected float32, float64 or int64 tensors, got {}", op, dtype_name(dtype)));
  if (m == 0 || n == 0) return;
  // An int64 product takes alpha and beta as int64: casting a fraction out of
  // range, an infinity or NaN would be undefined behaviour.
  if (dtype == kInt64)
    for (double s : {alpha, beta})
      if (!(std::trunc(s) == s && s >= -0x1p63 && s < 0x1p63))
        throw ValueError(
            fmt::format("{}: alpha and beta must be whole numbers within int64 for int64 tensors, got "
                        "alpha {} and beta {}",
                        op, alpha, beta));
  g_calls.fetch_add(1, std::memory_order_relaxed);
  if (k == 0) {
    dispatch_numeric(dtype, op, [&]<class T>() { scale_rows<T>(m, n, static_cast<T>(beta), static_cast<T*>(c), ldc); });
    return;
  }
  if (dtype == kInt64) {
    gemm_int64(m, n, k, static_cast<std::int64_t>(alpha), static_cast<const std::int64_t*>(a), la,
               static_cast<const std::int64_t*>(b), lb, static_cast<std::int64_t>(beta), static_cast<std::int64_t*>(c),
               ldc);
    return;
  }
  const blasint M = to_blasint(m, op, m, n, k), N = to_blasint(n, op, m, n, k), K = to_blasint(k, op, m, n, k);
  const blasint lda = to_blasint(la.ld, op, m, n, k), ldb = to_blasint(lb.ld, op, m, n, k),
                ldcc = to_blasint(ldc, op, m, n, k);
  // The calling thread only: OpenBLAS's own worker threads keep theirs
  // (set_flush_denormal(true) sets them too).
  FlushDenormalGuard flush;
  detail::prepare_blas_team();
  if (dtype == kFloat32) {
    cblas_sgemm(CblasRowMajor, flag(la), flag(lb), M, N, K, static_cast<float>(alpha), static_cast<const float*>(a),
                lda, static_cast<const float*>(b), ldb, static_cast<float>(beta), static_cast<float*>(c), ldcc);
  } else if (dtype == kFloat64) {
    cblas_dgemm(CblasRowMajor, flag(la), flag(lb), M, N, K, alpha, static_cast<const double*>(a), lda,
                static_cast<const double*>(b), ldb, beta, static_cast<double*>(c), ldcc);
  } else {
    throw DTypeError(fmt::format("{}: expected float32, float64 or int64 tensors, got {}", op, dtype_name(dtype)));
  }
}

void dot(DType dtype, std::int64_t n, const void* a, std::int64_t inc_a, const void* b, std::int64_t inc_b, void* out,
         const char* op) {
  // As gemm: BLAS types and int64 only (the narrower dtypes are refused by the callers' checks too).
  if (dtype != kFloat32 && dtype != kFloat64 && dtype != kInt64)
    throw DTypeError(fmt::format("{}: expected float32, float64 or int64 tensors, got {}", op, dtype_name(dtype)));
  dispatch_numeric(dtype, op, [&]<class T>() {
    if constexpr (std::is_same_v<T, float> || std::is_same_v<T, double> || std::is_same_v<T, std::int64_t>) {
      const T* x = static_cast<const T*>(a);
      const T* y = static_cast<const T*>(b);
      T* r = static_cast<T*>(out);
      // BLAS does not promise anything for a zero increment (a broadcast vector).
      if constexpr (!std::is_same_v<T, std::int64_t>) {
        if (inc_a > 0 && inc_b > 0 && n <= INT_MAX && inc_a <= INT_MAX && inc_b <= INT_MAX) {
          const auto N = static_cast<blasint>(n), ia = static_cast<blasint>(inc_a), ib = static_cast<blasint>(inc_b);
          if constexpr (std::is_same_v<T, float>) *r = cblas_sdot(N, x, ia, y, ib);
          else *r = cblas_ddot(N, x, ia, y, ib);
          return;
        }
      }
      T acc = 0;
      if constexpr (std::is_same_v<T, std::int64_t>)
        for (std::int64_t i = 0; i < n; ++i) acc = wrap_add(acc, wrap_mul(x[i * inc_a], y[i * inc_b]));
      else
        for (std::int64_t i = 0; i < n; ++i) acc += x[i * inc_a] * y[i * inc_b];
      *r = acc;
    }
  });
}

GemmStats gemm_stats() { return {g_calls.load(std::memory_order_relaxed), g_copies.load(std::memory_order_relaxed)}; }

void count_operand_copy() { g_copies.fetch_add(1, std::memory_order_relaxed); }

}  // namespace tg::kernel
