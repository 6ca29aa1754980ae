// layer_norm's float32 rows with AVX2 (vector_math.h's layer_norm_* entry
// points): the same arithmetic, in the same order, as the portable loops of
// normalization.cpp, which compile to SSE2's two doubles per instruction
// where these take four. Built like vector_math_avx2.cpp (-mavx2, run only
// after the CPU check, no inline code shared with other files) and with
// -ffp-contract=off, so no a * b + c becomes an FMA that rounds once where the
// portable loop rounds twice: both give the same bits (test_normalization's
// instruction-set tests compare them).
//
// The sums reproduce lane_sum (loop.h) exactly: eight partial sums, element
// j + k into lane k, the tail into lane 0, then lanes k and k + 4, k and k + 2,
// 0 and 1 added. Here lanes 0-3 and 4-7 are the two accumulators lo and hi.
#include "vector_math_avx2.h"

#include <cmath>
#include <cstdint>

#if defined(TAPEGRAD_HAVE_SLEEF) && defined(__AVX2__)
#include <immintrin.h>

namespace tg::kernel::vec::avx2 {

namespace {

// lane_sum's reduction of lanes lo (0-3) and hi (4-7), after `tail` (the
// terms past the last whole group of eight, in order) went into lane 0.
template <class Tail>
double finish_sum(__m256d lo, __m256d hi, Tail tail) {
  alignas(32) double lanes[4];
  _mm256_store_pd(lanes, lo);
  lanes[0] = tail(lanes[0]);
  const __m256d four = _mm256_add_pd(_mm256_load_pd(lanes), hi);  // lanes k += k + 4
  _mm256_store_pd(lanes, four);
  const double l0 = lanes[0] + lanes[2], l1 = lanes[1] + lanes[3];
  return l0 + l1;
}

// The eight float32 values at p as two vectors of four doubles.
inline void widen8(const float* p, __m256d& lo, __m256d& hi) {
  const __m256 v = _mm256_loadu_ps(p);
  lo = _mm256_cvtps_pd(_mm256_castps256_ps128(v));
  hi = _mm256_cvtps_pd(_mm256_extractf128_ps(v, 1));
}

}  // namespace

void layer_norm_row(const float* x, const float* w, const float* b, std::int64_t m, double eps, float* y,
                    float* mean_out, float* rstd_out) {
  const std::int64_t whole = m & ~std::int64_t{7};
  __m256d lo = _mm256_setzero_pd(), hi = _mm256_setzero_pd();
  for (std::int64_t j = 0; j < whole; j += 8) {
    __m256d a, c;
    widen8(x + j, a, c);
    lo = _mm256_add_pd(lo, a);
    hi = _mm256_add_pd(hi, c);
  }
  const double mean = finish_sum(lo, hi,
                                 [&](double s) {
                                   for (std::int64_t j = whole; j < m; ++j) s += static_cast<double>(x[j]);
                                   return s;
                                 }) /
                      static_cast<double>(m);
  const __m256d mean_v = _mm256_set1_pd(mean);
  lo = _mm256_setzero_pd(), hi = _mm256_setzero_pd();
  for (std::int64_t j = 0; j < whole; j += 8) {
    __m256d a, c;
    widen8(x + j, a, c);
    a = _mm256_sub_pd(a, mean_v);
    c = _mm256_sub_pd(c, mean_v);
    lo = _mm256_add_pd(lo, _mm256_mul_pd(a, a));
    hi = _mm256_add_pd(hi, _mm256_mul_pd(c, c));
  }
  const double squares = finish_sum(lo, hi, [&](double s) {
    for (std::int64_t j = whole; j < m; ++j) {
      const double d = x[j] - mean;
      s += d * d;
    }
    return s;
  });
  const double rstd = 1.0 / std::sqrt(squares / static_cast<double>(m) + eps);
  const __m256d rstd_v = _mm256_set1_pd(rstd);
  // y = xhat * w + b, xhat rounded to float first; without a bias, + 0 (as
  // the portable loop: -0 becomes +0).
  const auto out8 = [&](std::int64_t j, __m256 xhat) {
    if (w) xhat = _mm256_mul_ps(xhat, _mm256_loadu_ps(w + j));
    _mm256_storeu_ps(y + j, _mm256_add_ps(xhat, b ? _mm256_loadu_ps(b + j) : _mm256_setzero_ps()));
  };
  for (std::int64_t j = 0; j < whole; j += 8) {
    __m256d a, c;
    widen8(x + j, a, c);
    const __m128 xl = _mm256_cvtpd_ps(_mm256_mul_pd(_mm256_sub_pd(a, mean_v), rstd_v));
    const __m128 xh = _mm256_cvtpd_ps(_mm256_mul_pd(_mm256_sub_pd(c, mean_v), rstd_v));
    out8(j, _mm256_set_m128(xh, xl));
  }
  for (std::int64_t j = whole; j < m; ++j) {
    const float xhat = static_cast<float>((x[j] - mean) * rstd);
    y[j] = (w ? static_cast<float>(xhat * w[j]) : xhat) + (b ? b[j] : 0.0f);
  }
  *mean_out = static_cast<float>(mean);
  *rstd_out = static_cast<float>(rstd);
}

void layer_norm_backward_row(const float* x, const float* g, const float* w, float mean, float rstd, std::int64_t m,
                             float* dx) {
  const std::int64_t whole = m & ~std::int64_t{7};
  const __m256 mean_f = _mm256_set1_ps(mean), rstd_f = _mm256_set1_ps(rstd);
  const __m256d rstd_d = _mm256_set1_pd(static_cast<double>(rstd));
  // g_j = g[j] * w[j] rounded to float, then widened; c_j = (x[j] - mean) in float.
  __m256d lo = _mm256_setzero_pd(), hi = _mm256_setzero_pd();
  __m256d lo2 = _mm256_setzero_pd(), hi2 = _mm256_setzero_pd();
  for (std::int64_t j = 0; j < whole; j += 8) {
    const __m256 gw = _mm256_mul_ps(_mm256_loadu_ps(g + j), _mm256_loadu_ps(w + j));
    const __m256 c = _mm256_sub_ps(_mm256_loadu_ps(x + j), mean_f);
    const __m256d gl = _mm256_cvtps_pd(_mm256_castps256_ps128(gw)), gh = _mm256_cvtps_pd(_mm256_extractf128_ps(gw, 1));
    const __m256d cl = _mm256_cvtps_pd(_mm256_castps256_ps128(c)), ch = _mm256_cvtps_pd(_mm256_extractf128_ps(c, 1));
    lo = _mm256_add_pd(lo, gl);
    hi = _mm256_add_pd(hi, gh);
    lo2 = _mm256_add_pd(lo2, _mm256_mul_pd(_mm256_mul_pd(gl, cl), rstd_d));
    hi2 = _mm256_add_pd(hi2, _mm256_mul_pd(_mm256_mul_pd(gh, ch), rstd_d));
  }
  const auto g_at = [&](std::int64_t j) { return static_cast<double>(g[j] * w[j]); };
  const double mean_g = finish_sum(lo, hi,
                                   [&](double s) {
                                     for (std::int64_t j = whole; j < m; ++j) s += g_at(j);
                                     return s;
                                   }) /
                        static_cast<double>(m);
  const double mean_gx = finish_sum(lo2, hi2,
                                    [&](double s) {
                                      for (std::int64_t j = whole; j < m; ++j) s += g_at(j) * (x[j] - mean) * rstd;
                                      return s;
                                    }) /
                         static_cast<double>(m);
  const __m256d mean_g_v = _mm256_set1_pd(mean_g), mean_gx_v = _mm256_set1_pd(mean_gx);
  // dx = rstd * ((g_j - mean_g) - xhat * mean_gx), xhat = (x[j] - mean) * rstd in float.
  const auto dx4 = [&](__m128 gw, __m128 xhat) {
    const __m256d t =
        _mm256_sub_pd(_mm256_sub_pd(_mm256_cvtps_pd(gw), mean_g_v), _mm256_mul_pd(_mm256_cvtps_pd(xhat), mean_gx_v));
    return _mm256_cvtpd_ps(_mm256_mul_pd(rstd_d, t));
  };
  for (std::int64_t j = 0; j < whole; j += 8) {
    const __m256 gw = _mm256_mul_ps(_mm256_loadu_ps(g + j), _mm256_loadu_ps(w + j));
    const __m256 xhat = _mm256_mul_ps(_mm256_sub_ps(_mm256_loadu_ps(x + j), mean_f), rstd_f);
    const __m128 l = dx4(_mm256_castps256_ps128(gw), _mm256_castps256_ps128(xhat));
    const __m128 h = dx4(_mm256_extractf128_ps(gw, 1), _mm256_extractf128_ps(xhat, 1));
    _mm256_storeu_ps(dx + j, _mm256_set_m128(h, l));
  }
  for (std::int64_t j = whole; j < m; ++j) {
    const double xhat = (x[j] - mean) * rstd;
    dx[j] = static_cast<float>(rstd * (g_at(j) - mean_g - xhat * mean_gx));
  }
}

void layer_norm_param_grads_row(const float* x, const float* g, float mean, float rstd, std::int64_t m, double* sw,
                                double* sb) {
  const std::int64_t whole = m & ~std::int64_t{3};
  const __m128 mean_f = _mm_set1_ps(mean);
  const __m256d rstd_d = _mm256_set1_pd(static_cast<double>(rstd));
  for (std::int64_t j = 0; j < whole; j += 4) {
    const __m256d gd = _mm256_cvtps_pd(_mm_loadu_ps(g + j));
    const __m256d c = _mm256_cvtps_pd(_mm_sub_ps(_mm_loadu_ps(x + j), mean_f));
    _mm256_storeu_pd(sw + j, _mm256_add_pd(_mm256_loadu_pd(sw + j), _mm256_mul_pd(_mm256_mul_pd(gd, c), rstd_d)));
    _mm256_storeu_pd(sb + j, _mm256_add_pd(_mm256_loadu_pd(sb + j), gd));
  }
  for (std::int64_t j = whole; j < m; ++j) {
    const double gj = g[j];
    sw[j] += gj * (x[j] - mean) * rstd;
    sb[j] += gj;
  }
}

}  // namespace tg::kernel::vec::avx2

#endif
