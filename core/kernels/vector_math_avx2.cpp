// The AVX2 + FMA half of vector_math.cpp, the one file compiled with
// -mavx2 -mfma (CMakeLists.txt). vector_math.cpp calls it only after checking
// the CPU, so nothing here may run elsewhere: it holds no inline function or
// template another file could share (the linker might keep this file's AVX2
// copy of it), only internal code and hidden entry points.
#include "vector_math_avx2.h"

#include <cstdint>

#if defined(TAPEGRAD_HAVE_SLEEF) && defined(__AVX2__) && defined(__FMA__)
#include <immintrin.h>
#include <sleef.h>

namespace tg::kernel::vec::avx2 {

namespace {

// y = f(x), 8 floats at a time; the tail in a padded vector.
template <auto F>
void map_f32(const float* x, float* y, std::int64_t n) {
  std::int64_t i = 0;
  for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, F(_mm256_loadu_ps(x + i)));
  if (i == n) return;
  alignas(32) float tail[8] = {};
  for (std::int64_t k = 0; i + k < n; ++k) tail[k] = x[i + k];
  _mm256_store_ps(tail, F(_mm256_load_ps(tail)));
  for (std::int64_t k = 0; i + k < n; ++k) y[i + k] = tail[k];
}

// y = f(x), 4 doubles at a time; the tail in a padded vector.
template <auto F>
void map_f64(const double* x, double* y, std::int64_t n) {
  std::int64_t i = 0;
  for (; i + 4 <= n; i += 4) _mm256_storeu_pd(y + i, F(_mm256_loadu_pd(x + i)));
  if (i == n) return;
  alignas(32) double tail[4] = {};
  for (std::int64_t k = 0; i + k < n; ++k) tail[k] = x[i + k];
  _mm256_store_pd(tail, F(_mm256_load_pd(tail)));
  for (std::int64_t k = 0; i + k < n; ++k) y[i + k] = tail[k];
}

}  // namespace

void exp(const float* x, float* y, std::int64_t n) { map_f32<Sleef_expf8_u10avx2>(x, y, n); }
void exp(const double* x, double* y, std::int64_t n) { map_f64<Sleef_expd4_u10avx2>(x, y, n); }
void tanh(const float* x, float* y, std::int64_t n) { map_f32<Sleef_tanhf8_u10avx2>(x, y, n); }
void tanh(const double* x, double* y, std::int64_t n) { map_f64<Sleef_tanhd4_u10avx2>(x, y, n); }
void erf(const float* x, float* y, std::int64_t n) { map_f32<Sleef_erff8_u10avx2>(x, y, n); }
void erf(const double* x, double* y, std::int64_t n) { map_f64<Sleef_erfd4_u10avx2>(x, y, n); }

}  // namespace tg::kernel::vec::avx2
#endif
