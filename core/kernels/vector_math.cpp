// Dispatch of vector_math.h: AVX-512 (vector_math_avx512.cpp) for exp, tanh,
// erf, arith and relu, and AVX2 (vector_math_avx2.cpp) for the rest when the CPU has them,
// else SSE2 through SLEEF's 4-float / 2-double functions, else scalar libm.
#include <tapegrad/core/kernels/vector_math.h>

#include <algorithm>
#include <atomic>
#include <bit>
#include <cmath>
#include <cstdint>
#include <iterator>
#include <numbers>

#include <tapegrad/core/kernels/dropout.h>  // hashed_word, the scalar path of hashed_words

#include "normal_tail.h"

#if defined(TAPEGRAD_HAVE_SLEEF) && defined(__x86_64__)
#include <immintrin.h>
#include <sleef.h>
#define TG_VEC_X86 1

#include "vector_math_avx2.h"
#endif

namespace tg::kernel::vec {

namespace {

Isa best_isa() {
#if TG_VEC_X86
  __builtin_cpu_init();
  // GCC's check covers the operating system's support too (XCR0 saves the
  // registers), so a kernel without AVX-512 state is not picked.
  const bool avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  if (avx2 && __builtin_cpu_supports("avx512f")) return Isa::kAvx512;
  if (avx2) return Isa::kAvx2;
  return Isa::kSse2;
#else
  return Isa::kScalar;
#endif
}

Vendor find_vendor() {
#if TG_VEC_X86
  __builtin_cpu_init();
  if (__builtin_cpu_is("intel")) return Vendor::kIntel;
  if (__builtin_cpu_is("amd")) return Vendor::kAmd;
#endif
  return Vendor::kOther;
}

// The best instruction set, found on first use. Not a namespace-scope
// constant: a vector function called while static objects are constructed
// would read it before its dynamic initialisation, as zero, which is
// kAvx512.
Isa best() {
  static const Isa found = best_isa();
  return found;
}
// What isa() answers: -1 until the first call, then an Isa (force_isa may change it).
constinit std::atomic<int> current{-1};

#if TG_VEC_X86
// y = f(x), 4 floats at a time (SSE2); the tail in a padded vector.
template <auto F>
void sse2_f32(const float* x, float* y, std::int64_t n) {
  std::int64_t i = 0;
  for (; i + 4 <= n; i += 4) _mm_storeu_ps(y + i, F(_mm_loadu_ps(x + i)));
  if (i == n) return;
  alignas(16) float tail[4] = {};
  for (std::int64_t k = 0; i + k < n; ++k) tail[k] = x[i + k];
  _mm_store_ps(tail, F(_mm_load_ps(tail)));
  for (std::int64_t k = 0; i + k < n; ++k) y[i + k] = tail[k];
}

// y = f(x), 2 doubles at a time (SSE2); the tail in a padded vector.
template <auto F>
void sse2_f64(const double* x, double* y, std::int64_t n) {
  std::int64_t i = 0;
  for (; i + 2 <= n; i += 2) _mm_storeu_pd(y + i, F(_mm_loadu_pd(x + i)));
  if (i == n) return;
  alignas(16) double tail[2] = {};
  tail[0] = x[i];
  _mm_store_pd(tail, F(_mm_load_pd(tail)));
  y[i] = tail[0];
}
#endif

template <class T, class Scalar>
void scalar(const T* x, T* y, std::int64_t n, Scalar f) {
  for (std::int64_t i = 0; i < n; ++i) y[i] = f(x[i]);
}

// normal_cdf one element at a time (normal_tail.h): the path without AVX2,
// which the AVX2 one follows step for step.
void normal_cdf_scalar(const float* x, float* cdf, float* pdf, std::int64_t n) {
  for (std::int64_t i = 0; i < n; ++i) {
    const float v = x[i];
    if (std::isnan(v)) {
      cdf[i] = v;
      if (pdf) pdf[i] = v;
      continue;
    }
    const double d = std::clamp(static_cast<double>(v), -kNormalTailXMax, kNormalTailXMax);
    const double z2 = 0.5 * d * d;  // exact: a float's square fits a double
    const double t = 1 / (1 + std::abs(d) * (0.5 * std::numbers::sqrt2 / 2));
    double g = kNormalTail[0];  // G(t), Horner
    for (std::size_t k = 1; k < std::size(kNormalTail); ++k) g = g * t + kNormalTail[k];
    const float hi = static_cast<float>(z2);
    const double lo = z2 - static_cast<double>(hi);
    const double e = static_cast<double>(std::exp(-hi)) * (1 - lo);  // exp(-z2), as exp(-hi) exp(-lo)
    const double tail = 0.5 * t * g * e;                             // Phi(-|x|)
    const float phi = static_cast<float>(d < 0 ? tail : 1 - tail);
    if (pdf) pdf[i] = static_cast<float>(e * (std::numbers::inv_sqrtpi / std::numbers::sqrt2));
    cdf[i] = phi;
  }
}

}  // namespace

Isa isa() {
  const int v = current.load(std::memory_order_relaxed);
  if (v >= 0) [[likely]]
    return static_cast<Isa>(v);
  int unset = -1;
  current.compare_exchange_strong(unset, static_cast<int>(best()), std::memory_order_relaxed);
  return static_cast<Isa>(current.load(std::memory_order_relaxed));
}

const char* isa_name(Isa isa) {
  switch (isa) {
    case Isa::kAvx512:
      return "avx512";
    case Isa::kAvx2:
      return "avx2";
    case Isa::kSse2:
      return "sse2";
    default:
      return "scalar";
  }
}

bool uses_avx2() { return static_cast<int>(isa()) <= static_cast<int>(Isa::kAvx2); }

bool force_isa(Isa isa) {
  if (static_cast<int>(isa) < static_cast<int>(best())) return false;
  current.store(static_cast<int>(isa), std::memory_order_relaxed);
  return true;
}

Vendor cpu_vendor() {
  static const Vendor vendor = find_vendor();
  return vendor;
}

#if TG_VEC_X86
#define TG_VEC_DISPATCH(name, T, sse2_map, sleef_sse2, std_fn) \
  void name(const T* x, T* y, std::int64_t n) {                \
    switch (isa()) {                                           \
      case Isa::kAvx512:                                       \
        return avx512::name(x, y, n);                          \
      case Isa::kAvx2:                                         \
        return avx2::name(x, y, n);                            \
      case Isa::kSse2:                                         \
        return sse2_map<sleef_sse2>(x, y, n);                  \
      default:                                                 \
        return scalar(x, y, n, [](T v) { return std_fn(v); }); \
    }                                                          \
  }
#else
#define TG_VEC_DISPATCH(name, T, sse2_map, sleef_sse2, std_fn) \
  void name(const T* x, T* y, std::int64_t n) {                \
    scalar(x, y, n, [](T v) { return std_fn(v); });            \
  }
#endif

TG_VEC_DISPATCH(exp, float, sse2_f32, Sleef_expf4_u10, std::exp)
TG_VEC_DISPATCH(exp, double, sse2_f64, Sleef_expd2_u10, std::exp)
TG_VEC_DISPATCH(tanh, float, sse2_f32, Sleef_tanhf4_u10, std::tanh)
TG_VEC_DISPATCH(tanh, double, sse2_f64, Sleef_tanhd2_u10, std::tanh)
TG_VEC_DISPATCH(erf, float, sse2_f32, Sleef_erff4_u10, std::erf)
TG_VEC_DISPATCH(erf, double, sse2_f64, Sleef_erfd2_u10, std::erf)

namespace {

template <class T>
void arith_baseline(Arith op, const T* a, const T* b, T* out, std::int64_t n) {
  switch (op) {
    case Arith::kAdd:
      for (std::int64_t i = 0; i < n; ++i) out[i] = a[i] + b[i];
      return;
    case Arith::kSub:
      for (std::int64_t i = 0; i < n; ++i) out[i] = a[i] - b[i];
      return;
    case Arith::kMul:
      for (std::int64_t i = 0; i < n; ++i) out[i] = a[i] * b[i];
      return;
    case Arith::kDiv:
      for (std::int64_t i = 0; i < n; ++i) out[i] = a[i] / b[i];
      return;
  }
}

}  // namespace

void arith(Arith op, const float* a, const float* b, float* out, std::int64_t n) {
#if TG_VEC_X86
  if (isa() == Isa::kAvx512) return avx512::arith(op, a, b, out, n);
  if (uses_avx2()) return avx2::arith(op, a, b, out, n);
#endif
  arith_baseline(op, a, b, out, n);
}

void arith(Arith op, const double* a, const double* b, double* out, std::int64_t n) {
#if TG_VEC_X86
  if (isa() == Isa::kAvx512) return avx512::arith(op, a, b, out, n);
  if (uses_avx2()) return avx2::arith(op, a, b, out, n);
#endif
  arith_baseline(op, a, b, out, n);
}

namespace {

// relu's tests on the bits (vector_math.h): below zero is the sign set and
// a magnitude in (0, inf]; above zero, the sign clear and the same.
bool below_zero(float v) {
  const auto b = std::bit_cast<std::uint32_t>(v);
  return (b >> 31) != 0 && (b & 0x7fffffffu) - 1u < 0x7f800000u;
}
bool above_zero(float v) {
  const auto b = std::bit_cast<std::uint32_t>(v);
  return (b >> 31) == 0 && b - 1u < 0x7f800000u;
}

}  // namespace

void relu(const float* x, float* y, std::int64_t n) {
#if TG_VEC_X86
  if (isa() == Isa::kAvx512) return avx512::relu(x, y, n);
  if (uses_avx2()) return avx2::relu(x, y, n);
#endif
  for (std::int64_t i = 0; i < n; ++i) y[i] = below_zero(x[i]) ? 0.0f : x[i];
}

void relu_backward(const float* dy, const float* y, float* dx, std::int64_t n) {
#if TG_VEC_X86
  if (isa() == Isa::kAvx512) return avx512::relu_backward(dy, y, dx, n);
  if (uses_avx2()) return avx2::relu_backward(dy, y, dx, n);
#endif
  for (std::int64_t i = 0; i < n; ++i) dx[i] = above_zero(y[i]) ? dy[i] : 0.0f;
}

void hashed_words(std::uint64_t seed, std::uint64_t first, std::int64_t n, std::uint64_t* out) {
#if TG_VEC_X86
  if (uses_avx2()) return avx2::hashed_words(seed, first, n, out);
#endif
  for (std::int64_t k = 0; k < n; ++k) out[k] = hashed_word(seed, first + static_cast<std::uint64_t>(k));
}

bool add_rows_to_double(const float* x, std::int64_t rows, std::int64_t stride, std::int64_t len, double* acc) {
#if TG_VEC_X86
  if (uses_avx2()) {
    avx2::add_rows_to_double(x, rows, stride, len, acc);
    return true;
  }
#endif
  return false;
}

double sum_to_double(const float* x, std::int64_t n) {
#if TG_VEC_X86
  if (uses_avx2()) return avx2::sum_to_double(x, n);
#endif
  constexpr int kLanes = 32;
  double lanes[kLanes] = {};
  std::int64_t i = 0;
  for (; i + kLanes <= n; i += kLanes)
    for (int k = 0; k < kLanes; ++k) lanes[k] += static_cast<double>(x[i + k]);
  double tail = 0;
  for (; i < n; ++i) tail += static_cast<double>(x[i]);
  for (int half = kLanes / 2; half > 0; half /= 2)
    for (int k = 0; k < half; ++k) lanes[k] += lanes[k + half];
  return lanes[0] + tail;
}

bool layer_norm_row(const float* x, const float* w, const float* b, std::int64_t m, double eps, float* y, float* mean,
                    float* rstd) {
#if TG_VEC_X86
  if (uses_avx2()) {
    avx2::layer_norm_row(x, w, b, m, eps, y, mean, rstd);
    return true;
  }
#endif
  return false;
}

bool layer_norm_backward_row(const float* x, const float* g, const float* w, float mean, float rstd, std::int64_t m,
                             float* dx) {
#if TG_VEC_X86
  if (uses_avx2()) {
    avx2::layer_norm_backward_row(x, g, w, mean, rstd, m, dx);
    return true;
  }
#endif
  return false;
}

bool layer_norm_param_grads_row(const float* x, const float* g, float mean, float rstd, std::int64_t m, double* sw,
                                double* sb) {
#if TG_VEC_X86
  if (uses_avx2()) {
    avx2::layer_norm_param_grads_row(x, g, mean, rstd, m, sw, sb);
    return true;
  }
#endif
  return false;
}

void normal_cdf(const float* x, float* cdf, float* pdf, std::int64_t n) {
#if TG_VEC_X86
  if (uses_avx2()) return avx2::normal_cdf(x, cdf, pdf, n);
#endif
  normal_cdf_scalar(x, cdf, pdf, n);
}

}  // namespace tg::kernel::vec
