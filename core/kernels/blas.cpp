#include <tapegrad/core/kernels/blas.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <climits>
#include <cmath>
#include <limits>
#include <type_traits>
#include <vector>

#include <cblas.h>
#include <fmt/format.h>
#ifdef TAPEGRAD_HAVE_DNNL
#include <oneapi/dnnl/dnnl.h>
#endif

#include <tapegrad/core/float_mode.h>
#include <tapegrad/core/kernels/vector_math.h>
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

// float32 products from this many multiply-adds up go to oneDNN's sgemm when
// it is there (m * n * k, in double: the product of three sizes may pass 2^63).
constexpr double kDnnlMinProduct = 0x1p20;

#ifdef TAPEGRAD_HAVE_DNNL

// Whether the routing below follows AMD's rules: this CPU is AMD's, unless
// detail::gemm_amd_rules says otherwise.
bool amd_rules() {
  const int chosen = detail::gemm_amd_rules.load(std::memory_order_relaxed);
  return chosen < 0 ? vec::cpu_vendor() == vec::Vendor::kAmd : chosen != 0;
}

// C = alpha op(A) op(B) + beta C through oneDNN's sgemm (row-major), with its
// failures as the project's exceptions naming `shape` (the caller's m, k, n:
// for a transposed problem, not the sizes passed here).
void dnnl_gemm(bool ta, bool tb, std::int64_t m, std::int64_t n, std::int64_t k, float alpha, const float* a,
               std::int64_t lda, const float* b, std::int64_t ldb, float beta, float* c, std::int64_t ldc,
               const char* op, const std::array<std::int64_t, 3>& shape) {
  const dnnl_status_t status = dnnl_sgemm(ta ? 'T' : 'N', tb ? 'T' : 'N', m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
  if (status == dnnl_out_of_memory)
    throw OutOfMemoryError(
        fmt::format("{}: oneDNN's sgemm ran out of memory for a {}x{}x{} product", op, shape[0], shape[1], shape[2]));
  if (status != dnnl_success)
    throw ValueError(fmt::format("{}: oneDNN's sgemm refused a {}x{}x{} product (status {})", op, shape[0], shape[1],
                                 shape[2], static_cast<int>(status)));
}

// C[j][i] = T[i][j] + beta C[j][i] for T rows x cols (contiguous). beta = 0
// writes without reading C, as BLAS does, through OpenBLAS's transposing copy
// (56 us for 256 x 1024, against 144 for 16 x 16 blocks in plain C++); other
// betas (addmm's; the engine's weight gradients pass 0) in those blocks.
void add_transposed(std::int64_t rows, std::int64_t cols, const float* t, float beta, float* c, std::int64_t ldc) {
  if (beta == 0.0f) {
    cblas_somatcopy(CblasRowMajor, CblasTrans, static_cast<blasint>(rows), static_cast<blasint>(cols), 1.0f, t,
                    static_cast<blasint>(cols), c, static_cast<blasint>(ldc));
    return;
  }
  constexpr std::int64_t kBlock = 16;
  for (std::int64_t j0 = 0; j0 < cols; j0 += kBlock)
    for (std::int64_t i0 = 0; i0 < rows; i0 += kBlock) {
      const std::int64_t j1 = std::min(cols, j0 + kBlock), i1 = std::min(rows, i0 + kBlock);
      for (std::int64_t j = j0; j < j1; ++j)
        for (std::int64_t i = i0; i < i1; ++i) c[j * ldc + i] = t[i * cols + j] + beta * c[j * ldc + i];
    }
}
#endif

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

// Integer GEMM (BLAS has none), wrapping at the dtype's width as PyTorch's:
// row by row, the k loop outside the n loop so the inner loop runs along a
// row of C.
template <class T>
void gemm_integer(std::int64_t m, std::int64_t n, std::int64_t k, T alpha, const T* a, GemmLayout la, const T* b,
                  GemmLayout lb, T beta, T* c, std::int64_t ldc) {
  const bool parallel = m > 1 && m * n * k >= parallel_threshold() * 16 && !in_parallel_region();
#pragma omp parallel for if (parallel) num_threads(detail::team_size()) schedule(static)
  for (std::int64_t i = 0; i < m; ++i) {
    T* row = c + i * ldc;
    for (std::int64_t j = 0; j < n; ++j) row[j] = beta == 0 ? T(0) : wrap_mul(beta, row[j]);
    for (std::int64_t p = 0; p < k; ++p) {
      const T aip = wrap_mul(alpha, la.trans ? a[p * la.ld + i] : a[i * la.ld + p]);
      if (lb.trans)
        for (std::int64_t j = 0; j < n; ++j) row[j] = wrap_add(row[j], wrap_mul(aip, b[j * lb.ld + p]));
      else
        for (std::int64_t j = 0; j < n; ++j) row[j] = wrap_add(row[j], wrap_mul(aip, b[p * lb.ld + j]));
    }
  }
}

// An integer product takes alpha and beta in its own dtype: casting a
// fraction or an out-of-range value would be undefined behaviour or silently
// wrong.
template <class T>
T integer_scalar(double s, double alpha, double beta, const char* op) {
  constexpr double lo = static_cast<double>(std::numeric_limits<T>::min());
  constexpr double hi = static_cast<double>(std::numeric_limits<T>::max()) + 1.0;
  if (!(std::trunc(s) == s && s >= lo && s < hi))
    throw ValueError(
        fmt::format("{}: alpha and beta must be whole numbers within {} for {} tensors, got alpha {} and "
                    "beta {}",
                    op, dtype_name(dtype_of<T>()), dtype_name(dtype_of<T>()), alpha, beta));
  return static_cast<T>(s);
}

// Whether a float32 A B^T (a Linear layer's forward product) below oneDNN's
// line runs faster through OpenBLAS as A times a transposed copy of B. Its
// small-matrix kernels take A B^T only for some shapes (few rows and
// columns); elsewhere it packs B^T slowly: a grid of m = 32..256,
// n = 10..256, k = 16..512 (1 thread, OpenBLAS 0.3.21, Zen 4) gave the copy
// and A B 0.55-0.82x the time of A B^T wherever k <= 32, n >= 64 or m >= 128,
// and up to 1.69x where the small kernels run (m <= 64, n <= 32, k >= 64),
// which keep A B^T (docs/performance.md, round seventeen). The seed model's
// 32x64x32 layer: 1.87 -> 1.32 us.
bool transpose_b_first(std::int64_t m, std::int64_t n, std::int64_t k, GemmLayout la, GemmLayout lb) {
  if (la.trans || !lb.trans || m < 1 || n < 1 || k < 1) return false;
  // Only inside the measured grid, which stops at oneDNN's line (also when
  // oneDNN is not installed and larger products stay with OpenBLAS).
  if (static_cast<double>(m) * static_cast<double>(n) * static_cast<double>(k) >= kDnnlMinProduct) return false;
  return k <= 32 || n >= 64 || m >= 128;
}

void blas_gemm(DType dtype, std::int64_t m, std::int64_t n, std::int64_t k, double alpha, const void* a, GemmLayout la,
               const void* b, GemmLayout lb, double beta, void* c, std::int64_t ldc, const char* op) {
  const blasint M = to_blasint(m, op, m, n, k), N = to_blasint(n, op, m, n, k), K = to_blasint(k, op, m, n, k);
  const blasint lda = to_blasint(la.ld, op, m, n, k), ldb = to_blasint(lb.ld, op, m, n, k),
                ldcc = to_blasint(ldc, op, m, n, k);
  // OpenBLAS answers a leading dimension below a row's length by printing to
  // stderr and computing nothing, which would leave C as it was: refuse it.
  const std::int64_t need_a = la.trans ? m : k, need_b = lb.trans ? k : n;
  if (la.ld < std::max<std::int64_t>(need_a, 1) || lb.ld < std::max<std::int64_t>(need_b, 1) ||
      ldc < std::max<std::int64_t>(n, 1))
    throw ShapeError(
        fmt::format("{}: a {}x{}x{} matrix product was given leading dimensions {}, {} and {}, below "
                    "the rows' lengths {}, {} and {}",
                    op, m, k, n, la.ld, lb.ld, ldc, need_a, need_b, n));
  // The calling thread only: OpenBLAS's and oneDNN's worker threads keep
  // theirs (set_flush_denormal(true) sets them too).
  FlushDenormalGuard flush;
  const detail::BlasTeam blas_team(static_cast<double>(m) * static_cast<double>(n) * static_cast<double>(k));
  [[maybe_unused]] const int team = blas_team.size();
#ifdef TAPEGRAD_HAVE_DNNL
  // float32 products of 2^20 multiply-adds or more go to oneDNN's sgemm:
  // measured 1.4x OpenBLAS's speed on an LSTM step's h W^T (64x1024x256:
  // 0.30 against 0.41 ms), 1.2x on the char-GPT's linear layers and on
  // attention tiles, both libraries on AVX-512 kernels (docs/performance.md,
  // round eleven). Smaller ones stay with OpenBLAS: its small-matrix kernels
  // win there (the seed model's 32x32x784: 14 against 17 us), and a program
  // that never multiplies large matrices never pays oneDNN's first call
  // (about 30 ms, generating its kernels).
  if (dtype == kFloat32 &&
      static_cast<double>(m) * static_cast<double>(n) * static_cast<double>(k) >= kDnnlMinProduct) {
    // The exception: A transposed, B not, and C tall (m >= 1024 and m >= 4n),
    // where oneDNN took 1.05-1.14x OpenBLAS's time on a grid of shapes (round
    // twelve). Deep ones (k >= 1024: weight gradients over many rows, as an
    // LSTM's, 1024x256x2048) go to oneDNN as the transposed problem,
    // C^T = B^T A, whose C^T is wide, then C^T is transposed into C: 6.99
    // against OpenBLAS's 7.84 ms there, 0.39-0.99x its time on a grid of
    // m = 1024..4096, n = 1..512 and k = 1024..8192 (docs/performance.md,
    // round thirteen). Shallow ones stay with OpenBLAS.
    const bool tall_tn = la.trans && !lb.trans && m >= 1024 && m >= 4 * n;
    // And on AMD's cores with a team of two or more: B transposed (A not),
    // deep (k >= 1024), m >= 64, n >= 256 and C at most 2^18 elements, the
    // product of a Linear layer with 1024 or more inputs. oneDNN split those
    // poorly over two threads on a Zen 4 EPYC: 1.13-1.98x OpenBLAS's time on
    // all ten such shapes of a grid of m = 64..1024, n = 256..1024,
    // k = 256..2048, while one thread, the other layouts, k = 256 and C of
    // 2^20 elements stay oneDNN's (docs/performance.md, round sixteen); the
    // rule stays inside the grid. No Intel core was compared per shape at two
    // threads, so they keep oneDNN.
    const bool deep_nt_team = !la.trans && lb.trans && k >= 1024 && m >= 64 && n >= 256 &&
                              m * n <= (std::int64_t{1} << 18) && team > 1 && amd_rules();
    if (!tall_tn && !deep_nt_team) {
      dnnl_gemm(la.trans, lb.trans, m, n, k, static_cast<float>(alpha), static_cast<const float*>(a), la.ld,
                static_cast<const float*>(b), lb.ld, static_cast<float>(beta), static_cast<float*>(c), ldc, op,
                {m, k, n});
      return;
    }
    if (tall_tn && k >= 1024) {
      // C^T in a tensor of its own (the caching allocator's block, not
      // memory faulted in afresh on every call).
      const TensorBase ct = make_tensor({n, m}, kFloat32);
      dnnl_gemm(true, false, n, m, k, static_cast<float>(alpha), static_cast<const float*>(b), lb.ld,
                static_cast<const float*>(a), la.ld, 0.0f, ct.data_ptr<float>(), m, op, {m, k, n});
      add_transposed(n, m, ct.data_ptr<float>(), static_cast<float>(beta), static_cast<float*>(c), ldc);
      return;
    }
  }
#endif
  if (dtype == kFloat32 && transpose_b_first(m, n, k, la, lb)) {
    // B^T copied into a block of the caching allocator, then A B as OpenBLAS
    // multiplies fastest (its transposing copy, as add_transposed's).
    const TensorBase bt = make_tensor({k, n}, kFloat32);
    cblas_somatcopy(CblasRowMajor, CblasTrans, N, K, 1.0f, static_cast<const float*>(b), ldb, bt.data_ptr<float>(), N);
    cblas_sgemm(CblasRowMajor, flag(la), CblasNoTrans, M, N, K, static_cast<float>(alpha), static_cast<const float*>(a),
                lda, bt.data_ptr<float>(), N, static_cast<float>(beta), static_cast<float*>(c), ldcc);
    return;
  }
  if (dtype == kFloat32)
    cblas_sgemm(CblasRowMajor, flag(la), flag(lb), M, N, K, static_cast<float>(alpha), static_cast<const float*>(a),
                lda, static_cast<const float*>(b), ldb, static_cast<float>(beta), static_cast<float*>(c), ldcc);
  else
    cblas_dgemm(CblasRowMajor, flag(la), flag(lb), M, N, K, alpha, static_cast<const double*>(a), lda,
                static_cast<const double*>(b), ldb, beta, static_cast<double*>(c), ldcc);
}

// float16 and bfloat16 are storage types: the operands are widened to
// float32, multiplied by sgemm and the result rounded once on store.
template <class T>
void gemm_reduced(std::int64_t m, std::int64_t n, std::int64_t k, double alpha, const T* a, GemmLayout la, const T* b,
                  GemmLayout lb, double beta, T* c, std::int64_t ldc, const char* op) {
  std::vector<float> fa(static_cast<std::size_t>(m * k)), fb(static_cast<std::size_t>(k * n)),
      fc(static_cast<std::size_t>(m * n));
  for (std::int64_t i = 0; i < m; ++i)
    for (std::int64_t p = 0; p < k; ++p)
      fa[static_cast<std::size_t>(i * k + p)] = static_cast<float>(la.trans ? a[p * la.ld + i] : a[i * la.ld + p]);
  for (std::int64_t p = 0; p < k; ++p)
    for (std::int64_t j = 0; j < n; ++j)
      fb[static_cast<std::size_t>(p * n + j)] = static_cast<float>(lb.trans ? b[j * lb.ld + p] : b[p * lb.ld + j]);
  if (beta != 0)
    for (std::int64_t i = 0; i < m; ++i)
      for (std::int64_t j = 0; j < n; ++j) fc[static_cast<std::size_t>(i * n + j)] = static_cast<float>(c[i * ldc + j]);
  blas_gemm(kFloat32, m, n, k, alpha, fa.data(), GemmLayout{false, std::max<std::int64_t>(k, 1)}, fb.data(),
            GemmLayout{false, std::max<std::int64_t>(n, 1)}, beta, fc.data(), std::max<std::int64_t>(n, 1), op);
  for (std::int64_t i = 0; i < m; ++i)
    for (std::int64_t j = 0; j < n; ++j) c[i * ldc + j] = T(fc[static_cast<std::size_t>(i * n + j)]);
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
  dispatch_numeric(dtype, op, [&]<class T>() {
    // Checked before any early return, so a bad scalar is refused on every shape.
    T int_alpha{}, int_beta{};
    if constexpr (is_int_v<T>) {
      int_alpha = integer_scalar<T>(alpha, alpha, beta, op);
      int_beta = integer_scalar<T>(beta, alpha, beta, op);
    }
    if (m == 0 || n == 0) return;
    g_calls.fetch_add(1, std::memory_order_relaxed);
    T* out = static_cast<T*>(c);
    if (k == 0) {
      if constexpr (is_int_v<T>) scale_rows<T>(m, n, int_beta, out, ldc);
      else if constexpr (is_reduced_float_v<T>) scale_rows<T>(m, n, T(static_cast<float>(beta)), out, ldc);
      else scale_rows<T>(m, n, static_cast<T>(beta), out, ldc);
    } else if constexpr (is_int_v<T>) {
      gemm_integer<T>(m, n, k, int_alpha, static_cast<const T*>(a), la, static_cast<const T*>(b), lb, int_beta, out,
                      ldc);
    } else if constexpr (is_reduced_float_v<T>) {
      gemm_reduced<T>(m, n, k, alpha, static_cast<const T*>(a), la, static_cast<const T*>(b), lb, beta, out, ldc, op);
    } else {
      blas_gemm(dtype, m, n, k, alpha, a, la, b, lb, beta, c, ldc, op);
    }
  });
}

void dot(DType dtype, std::int64_t n, const void* a, std::int64_t inc_a, const void* b, std::int64_t inc_b, void* out,
         const char* op) {
  dispatch_numeric(dtype, op, [&]<class T>() {
    const T* x = static_cast<const T*>(a);
    const T* y = static_cast<const T*>(b);
    T* r = static_cast<T*>(out);
    if constexpr (std::is_same_v<T, float> || std::is_same_v<T, double>) {
      // BLAS does not promise anything for a zero increment (a broadcast vector).
      if (inc_a > 0 && inc_b > 0 && n <= INT_MAX && inc_a <= INT_MAX && inc_b <= INT_MAX) {
        const auto N = static_cast<blasint>(n), ia = static_cast<blasint>(inc_a), ib = static_cast<blasint>(inc_b);
        if constexpr (std::is_same_v<T, float>) *r = cblas_sdot(N, x, ia, y, ib);
        else *r = cblas_ddot(N, x, ia, y, ib);
        return;
      }
    }
    if constexpr (is_int_v<T>) {
      T acc = 0;
      for (std::int64_t i = 0; i < n; ++i) acc = wrap_add(acc, wrap_mul(x[i * inc_a], y[i * inc_b]));
      *r = acc;
    } else {
      // A 16-bit float sums in float32 and rounds once.
      using Acc = std::conditional_t<is_reduced_float_v<T>, float, T>;
      Acc acc = 0;
      for (std::int64_t i = 0; i < n; ++i) acc += static_cast<Acc>(x[i * inc_a]) * static_cast<Acc>(y[i * inc_b]);
      *r = T(acc);
    }
  });
}

void transpose(DType dtype, std::int64_t rows, std::int64_t cols, const void* x, std::int64_t ldx, void* t,
               std::int64_t ldt, const char* op) {
  if (rows == 0 || cols == 0) return;
  if (ldx < cols || ldt < rows)
    throw ShapeError(
        fmt::format("{}: transposing a {}x{} matrix needs leading dimensions of at least {} and {}, got {} "
                    "and {}",
                    op, rows, cols, cols, rows, ldx, ldt));
  const blasint R = to_blasint(rows, op, rows, cols, 1), C = to_blasint(cols, op, rows, cols, 1);
  const blasint lx = to_blasint(ldx, op, rows, cols, 1), lt = to_blasint(ldt, op, rows, cols, 1);
  if (dtype == kFloat32)
    cblas_somatcopy(CblasRowMajor, CblasTrans, R, C, 1.0f, static_cast<const float*>(x), lx, static_cast<float*>(t),
                    lt);
  else if (dtype == kFloat64)
    cblas_domatcopy(CblasRowMajor, CblasTrans, R, C, 1.0, static_cast<const double*>(x), lx, static_cast<double*>(t),
                    lt);
  else throw DTypeError(fmt::format("{}: transpose takes float32 or float64, got {}", op, dtype_name(dtype)));
}

GemmStats gemm_stats() { return {g_calls.load(std::memory_order_relaxed), g_copies.load(std::memory_order_relaxed)}; }

void count_operand_copy() { g_copies.fetch_add(1, std::memory_order_relaxed); }

}  // namespace tg::kernel
