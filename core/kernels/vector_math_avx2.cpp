// The AVX2 + FMA half of vector_math.cpp, the one file compiled with
// -mavx2 -mfma (CMakeLists.txt). vector_math.cpp calls it only after checking
// the CPU, so nothing here may run elsewhere: it holds no inline function or
// template another file could share (the linker might keep this file's AVX2
// copy of it), only internal code and hidden entry points.
#include "vector_math_avx2.h"

#include <cstddef>
#include <cstdint>
#include <iterator>
#include <numbers>

#include "normal_tail.h"

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

// Phi(-|x|) and exp(-x^2 / 2) of four doubles (normal_tail.h), in the order
// of normal_cdf_scalar's steps; `hi` gets x^2 / 2 rounded to float, whose exp
// the caller takes for eight elements at once and passes back as e_hi.
struct TailHalf {
  __m256d d, t_g, lo;
  __m128 hi;
};

inline TailHalf tail_half(__m128 v) {
  TailHalf h;
  h.d = _mm256_cvtps_pd(v);
  const __m256d z2 = _mm256_mul_pd(_mm256_set1_pd(0.5), _mm256_mul_pd(h.d, h.d));  // exact
  const __m256d abs_d = _mm256_andnot_pd(_mm256_set1_pd(-0.0), h.d);
  const __m256d t = _mm256_div_pd(
      _mm256_set1_pd(1.0), _mm256_fmadd_pd(abs_d, _mm256_set1_pd(0.5 * std::numbers::sqrt2 / 2), _mm256_set1_pd(1.0)));
  __m256d g = _mm256_set1_pd(kNormalTail[0]);  // G(t), Horner
  for (std::size_t k = 1; k < std::size(kNormalTail); ++k) g = _mm256_fmadd_pd(g, t, _mm256_set1_pd(kNormalTail[k]));
  h.t_g = _mm256_mul_pd(_mm256_mul_pd(_mm256_set1_pd(0.5), t), g);
  h.hi = _mm256_cvtpd_ps(z2);
  h.lo = _mm256_sub_pd(z2, _mm256_cvtps_pd(h.hi));
  return h;
}

// Phi (cdf) and phi (pdf) of one half, from exp(-hi) as four floats.
void finish_half(const TailHalf& h, __m128 e_hi, __m128& cdf, __m128& pdf) {
  const __m256d e = _mm256_mul_pd(_mm256_cvtps_pd(e_hi), _mm256_sub_pd(_mm256_set1_pd(1.0), h.lo));
  const __m256d tail = _mm256_mul_pd(h.t_g, e);
  const __m256d negative = _mm256_cmp_pd(h.d, _mm256_setzero_pd(), _CMP_LT_OQ);
  cdf = _mm256_cvtpd_ps(_mm256_blendv_pd(_mm256_sub_pd(_mm256_set1_pd(1.0), tail), tail, negative));
  pdf = _mm256_cvtpd_ps(_mm256_mul_pd(e, _mm256_set1_pd(std::numbers::inv_sqrtpi / std::numbers::sqrt2)));
}

void normal_cdf8(__m256 v, __m256& cdf, __m256& pdf) {
  const __m256 nan = _mm256_cmp_ps(v, v, _CMP_UNORD_Q);
  const __m256 c = _mm256_min_ps(_mm256_max_ps(v, _mm256_set1_ps(static_cast<float>(-kNormalTailXMax))),
                                 _mm256_set1_ps(static_cast<float>(kNormalTailXMax)));
  const TailHalf low = tail_half(_mm256_castps256_ps128(c)), high = tail_half(_mm256_extractf128_ps(c, 1));
  const __m256 neg_hi = _mm256_xor_ps(_mm256_set_m128(high.hi, low.hi), _mm256_set1_ps(-0.0f));
  const __m256 e_hi = Sleef_expf8_u10avx2(neg_hi);
  __m128 cdf_low, cdf_high, pdf_low, pdf_high;
  finish_half(low, _mm256_castps256_ps128(e_hi), cdf_low, pdf_low);
  finish_half(high, _mm256_extractf128_ps(e_hi, 1), cdf_high, pdf_high);
  cdf = _mm256_blendv_ps(_mm256_set_m128(cdf_high, cdf_low), v, nan);
  pdf = _mm256_blendv_ps(_mm256_set_m128(pdf_high, pdf_low), v, nan);
}

}  // namespace

void normal_cdf(const float* x, float* cdf, float* pdf, std::int64_t n) {
  std::int64_t i = 0;
  __m256 c, p;
  for (; i + 8 <= n; i += 8) {
    normal_cdf8(_mm256_loadu_ps(x + i), c, p);
    _mm256_storeu_ps(cdf + i, c);
    if (pdf) _mm256_storeu_ps(pdf + i, p);
  }
  if (i == n) return;
  alignas(32) float tail[8] = {};
  for (std::int64_t k = 0; i + k < n; ++k) tail[k] = x[i + k];
  normal_cdf8(_mm256_load_ps(tail), c, p);
  alignas(32) float out_c[8], out_p[8];
  _mm256_store_ps(out_c, c);
  _mm256_store_ps(out_p, p);
  for (std::int64_t k = 0; i + k < n; ++k) {
    cdf[i + k] = out_c[k];
    if (pdf) pdf[i + k] = out_p[k];
  }
}

void exp(const float* x, float* y, std::int64_t n) { map_f32<Sleef_expf8_u10avx2>(x, y, n); }
void exp(const double* x, double* y, std::int64_t n) { map_f64<Sleef_expd4_u10avx2>(x, y, n); }
void tanh(const float* x, float* y, std::int64_t n) { map_f32<Sleef_tanhf8_u10avx2>(x, y, n); }
void tanh(const double* x, double* y, std::int64_t n) { map_f64<Sleef_tanhd4_u10avx2>(x, y, n); }
void erf(const float* x, float* y, std::int64_t n) { map_f32<Sleef_erff8_u10avx2>(x, y, n); }
void erf(const double* x, double* y, std::int64_t n) { map_f64<Sleef_erfd4_u10avx2>(x, y, n); }

}  // namespace tg::kernel::vec::avx2
#endif
