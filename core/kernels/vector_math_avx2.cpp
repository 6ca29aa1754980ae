// The AVX2 + FMA half of vector_math.cpp, the one file compiled with
// -mavx2 -mfma (CMakeLists.txt). vector_math.cpp calls it only after checking
// the CPU, so nothing here may run elsewhere: it holds no inline function or
// template another file could share (the linker might keep this file's AVX2
// copy of it), only internal code and hidden entry points.
#include "vector_math_avx2.h"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <iterator>
#include <numbers>

#include "normal_tail.h"
#include "splitmix.h"

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

// normal_cdf in blocks, each in two passes over a few kilobytes that stay in
// L1: the first splits z2 = x^2 / 2 into a float hi and a remainder lo and
// takes exp(-hi) (a call into Sleef, which saves no vector register); the
// second evaluates the tail polynomial in double and combines. One pass with
// the call in the middle of the polynomial's long chain of dependent FMAs ran
// at half this speed: every call spilled the chain's registers and each
// vector's chain had to finish before the next could start.
constexpr std::int64_t kBlock = 256;

struct Split {
  alignas(32) float clamped[kBlock];
  alignas(32) float e_hi[kBlock];  // exp(-hi)
  alignas(32) float lo[kBlock];    // z2 - hi, exactly
};

// Pass one over m floats (a multiple of 8). x^2 = h + l exactly (the FMA's
// remainder), so hi = h / 2 is z2 rounded to float and lo = l / 2 the rest,
// as in normal_cdf_scalar's double arithmetic.
void split_block(const float* x, std::int64_t m, Split& s) {
  const __m256 lowest = _mm256_set1_ps(static_cast<float>(-kNormalTailXMax));
  const __m256 highest = _mm256_set1_ps(static_cast<float>(kNormalTailXMax));
  const __m256 half = _mm256_set1_ps(0.5f);
  for (std::int64_t i = 0; i < m; i += 8) {
    const __m256 c = _mm256_min_ps(_mm256_max_ps(_mm256_loadu_ps(x + i), lowest), highest);  // NaN: -15
    const __m256 h = _mm256_mul_ps(c, c);
    _mm256_store_ps(s.clamped + i, c);
    _mm256_store_ps(s.lo + i, _mm256_mul_ps(half, _mm256_fmsub_ps(c, c, h)));
    _mm256_store_ps(s.e_hi + i, Sleef_expf8_u10avx2(_mm256_mul_ps(_mm256_set1_ps(-0.5f), h)));
  }
}

// Phi and phi of 4 K clamped floats from exp(-hi) and lo, in K chains of
// four doubles kept in lockstep. Each chain is a division and then twelve
// dependent FMAs; one chain at a time (K = 1, as this was) left the FMA units
// waiting on each result, 2.3 ns per element. Every element's arithmetic is
// the same for any K, so the bits are too.
template <int K>
inline void finish_lanes(const __m128* clamped, const __m128* e_hi, const __m128* lo, __m128* cdf, __m128* pdf) {
  __m256d d[K], t[K], g[K];
#pragma GCC unroll 4
  for (int k = 0; k < K; ++k) {
    d[k] = _mm256_cvtps_pd(clamped[k]);
    const __m256d abs_d = _mm256_andnot_pd(_mm256_set1_pd(-0.0), d[k]);
    t[k] = _mm256_div_pd(_mm256_set1_pd(1.0),
                         _mm256_fmadd_pd(abs_d, _mm256_set1_pd(0.5 * std::numbers::sqrt2 / 2), _mm256_set1_pd(1.0)));
    g[k] = _mm256_set1_pd(kNormalTail[0]);  // G(t), Horner
  }
  for (std::size_t j = 1; j < std::size(kNormalTail); ++j) {
    const __m256d c = _mm256_set1_pd(kNormalTail[j]);
#pragma GCC unroll 4
    for (int k = 0; k < K; ++k) g[k] = _mm256_fmadd_pd(g[k], t[k], c);
  }
#pragma GCC unroll 4
  for (int k = 0; k < K; ++k) {
    const __m256d e =
        _mm256_mul_pd(_mm256_cvtps_pd(e_hi[k]), _mm256_sub_pd(_mm256_set1_pd(1.0), _mm256_cvtps_pd(lo[k])));
    const __m256d tail = _mm256_mul_pd(_mm256_mul_pd(_mm256_mul_pd(_mm256_set1_pd(0.5), t[k]), g[k]), e);  // Phi(-|x|)
    const __m256d negative = _mm256_cmp_pd(d[k], _mm256_setzero_pd(), _CMP_LT_OQ);
    cdf[k] = _mm256_cvtpd_ps(_mm256_blendv_pd(_mm256_sub_pd(_mm256_set1_pd(1.0), tail), tail, negative));
    pdf[k] = _mm256_cvtpd_ps(_mm256_mul_pd(e, _mm256_set1_pd(std::numbers::inv_sqrtpi / std::numbers::sqrt2)));
  }
}

// Pass two over V vectors of 8 from i: x is read again only for its NaNs (cdf
// may be x itself; each vector is read before it is written).
template <int V>
inline void finish_vectors(const float* x, const Split& s, std::int64_t i, float* cdf, float* pdf) {
  __m128 c[2 * V], e[2 * V], lo[2 * V], out_c[2 * V], out_p[2 * V];
#pragma GCC unroll 2
  for (int v = 0; v < V; ++v) {
    const __m256 cv = _mm256_load_ps(s.clamped + i + 8 * v), ev = _mm256_load_ps(s.e_hi + i + 8 * v),
                 lv = _mm256_load_ps(s.lo + i + 8 * v);
    c[2 * v] = _mm256_castps256_ps128(cv), c[2 * v + 1] = _mm256_extractf128_ps(cv, 1);
    e[2 * v] = _mm256_castps256_ps128(ev), e[2 * v + 1] = _mm256_extractf128_ps(ev, 1);
    lo[2 * v] = _mm256_castps256_ps128(lv), lo[2 * v + 1] = _mm256_extractf128_ps(lv, 1);
  }
  finish_lanes<2 * V>(c, e, lo, out_c, out_p);
#pragma GCC unroll 2
  for (int v = 0; v < V; ++v) {
    const __m256 xv = _mm256_loadu_ps(x + i + 8 * v);
    const __m256 nan = _mm256_cmp_ps(xv, xv, _CMP_UNORD_Q);
    _mm256_storeu_ps(cdf + i + 8 * v, _mm256_blendv_ps(_mm256_set_m128(out_c[2 * v + 1], out_c[2 * v]), xv, nan));
    if (pdf)
      _mm256_storeu_ps(pdf + i + 8 * v, _mm256_blendv_ps(_mm256_set_m128(out_p[2 * v + 1], out_p[2 * v]), xv, nan));
  }
}

// Pass two over m floats (a multiple of 8), two vectors at a time.
void finish_block(const float* x, const Split& s, std::int64_t m, float* cdf, float* pdf) {
  std::int64_t i = 0;
  for (; i + 16 <= m; i += 16) finish_vectors<2>(x, s, i, cdf, pdf);
  if (i < m) finish_vectors<1>(x, s, i, cdf, pdf);
}

}  // namespace

void normal_cdf(const float* x, float* cdf, float* pdf, std::int64_t n) {
  Split s;
  const std::int64_t whole = n & ~std::int64_t{7};  // in whole vectors
  for (std::int64_t i = 0; i < whole; i += kBlock) {
    const std::int64_t m = std::min(kBlock, whole - i);
    split_block(x + i, m, s);
    finish_block(x + i, s, m, cdf + i, pdf ? pdf + i : nullptr);
  }
  const std::int64_t i = whole;
  if (i == n) return;
  alignas(32) float tail[8] = {}, out_c[8], out_p[8];  // the last few, padded
  for (std::int64_t k = 0; i + k < n; ++k) tail[k] = x[i + k];
  split_block(tail, 8, s);
  finish_block(tail, s, 8, out_c, out_p);
  for (std::int64_t k = 0; i + k < n; ++k) {
    cdf[i + k] = out_c[k];
    if (pdf) pdf[i + k] = out_p[k];
  }
}

namespace {

// a * b mod 2^64 in each lane (AVX2 has no 64-bit multiply): the low halves'
// full product plus the cross products shifted up.
inline __m256i mul64(__m256i a, __m256i b) {
  const __m256i low = _mm256_mul_epu32(a, b);
  const __m256i cross =
      _mm256_add_epi64(_mm256_mul_epu32(_mm256_srli_epi64(a, 32), b), _mm256_mul_epu32(a, _mm256_srli_epi64(b, 32)));
  return _mm256_add_epi64(low, _mm256_slli_epi64(cross, 32));
}

inline __m256i finalise(__m256i z) {
  z = mul64(_mm256_xor_si256(z, _mm256_srli_epi64(z, splitmix::kShift1)),
            _mm256_set1_epi64x(static_cast<long long>(splitmix::kMul1)));
  z = mul64(_mm256_xor_si256(z, _mm256_srli_epi64(z, splitmix::kShift2)),
            _mm256_set1_epi64x(static_cast<long long>(splitmix::kMul2)));
  return _mm256_xor_si256(z, _mm256_srli_epi64(z, splitmix::kShift3));
}

}  // namespace

void hashed_words(std::uint64_t seed, std::uint64_t first, std::int64_t n, std::uint64_t* out) {
  // Lane j holds seed + (first + k + j + 1) gamma, stepped by 4 gamma (all
  // mod 2^64, as the scalar arithmetic).
  const auto lane = [&](std::uint64_t j) { return static_cast<long long>(seed + (first + j + 1) * splitmix::kGamma); };
  __m256i z = _mm256_set_epi64x(lane(3), lane(2), lane(1), lane(0));
  const __m256i step = _mm256_set1_epi64x(static_cast<long long>(4 * splitmix::kGamma));
  std::int64_t k = 0;
  for (; k + 4 <= n; k += 4, z = _mm256_add_epi64(z, step))
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + k), finalise(z));
  if (k == n) return;
  alignas(32) std::uint64_t tail[4];
  _mm256_store_si256(reinterpret_cast<__m256i*>(tail), finalise(z));
  for (std::int64_t j = 0; k + j < n; ++j) out[k + j] = tail[j];
}

namespace {

// One IEEE operation per element, 8 floats or 4 doubles at a time, two
// vectors per turn; the last few elements one by one (a padded vector would
// divide by the padding and raise exception flags the caller could see).
__m256 load(const float* p) { return _mm256_loadu_ps(p); }
__m256d load(const double* p) { return _mm256_loadu_pd(p); }
void store(float* p, __m256 v) { _mm256_storeu_ps(p, v); }
void store(double* p, __m256d v) { _mm256_storeu_pd(p, v); }

template <Arith kOp, class T>
void arith_loop(const T* a, const T* b, T* out, std::int64_t n) {
  constexpr std::int64_t kWidth = 32 / sizeof(T);
  const auto op = [](auto x, auto y) {
    if constexpr (kOp == Arith::kAdd) return x + y;
    else if constexpr (kOp == Arith::kSub) return x - y;
    else if constexpr (kOp == Arith::kMul) return x * y;
    else return x / y;
  };
  std::int64_t i = 0;
  for (; i + 2 * kWidth <= n; i += 2 * kWidth) {
    const auto x0 = load(a + i), x1 = load(a + i + kWidth);
    const auto y0 = load(b + i), y1 = load(b + i + kWidth);
    store(out + i, op(x0, y0));
    store(out + i + kWidth, op(x1, y1));
  }
  for (; i + kWidth <= n; i += kWidth) store(out + i, op(load(a + i), load(b + i)));
  for (; i < n; ++i) out[i] = op(a[i], b[i]);
}

template <class T>
void arith_any(Arith op, const T* a, const T* b, T* out, std::int64_t n) {
  switch (op) {
    case Arith::kAdd:
      return arith_loop<Arith::kAdd>(a, b, out, n);
    case Arith::kSub:
      return arith_loop<Arith::kSub>(a, b, out, n);
    case Arith::kMul:
      return arith_loop<Arith::kMul>(a, b, out, n);
    case Arith::kDiv:
      return arith_loop<Arith::kDiv>(a, b, out, n);
  }
}

}  // namespace

void arith(Arith op, const float* a, const float* b, float* out, std::int64_t n) { arith_any(op, a, b, out, n); }
void arith(Arith op, const double* a, const double* b, double* out, std::int64_t n) { arith_any(op, a, b, out, n); }

namespace {

// relu on the bits (vector_math.h): |v| in (0, inf] for 8 lanes, and the
// lanes of a tail of `left` < 8 elements (masked loads read zeros past them,
// which are neither below nor above zero; masked stores skip them).
__m256i magnitude_in_range(__m256i bits) {
  const __m256i magnitude = _mm256_and_si256(bits, _mm256_set1_epi32(0x7fffffff));
  return _mm256_and_si256(_mm256_cmpgt_epi32(magnitude, _mm256_setzero_si256()),
                          _mm256_cmpgt_epi32(_mm256_set1_epi32(0x7f800001), magnitude));
}
__m256i first_lanes(std::int64_t left) {
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(left)), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}
const int* as_ints(const float* p) { return reinterpret_cast<const int*>(p); }
int* as_ints(float* p) { return reinterpret_cast<int*>(p); }

// relu: the lanes below zero cleared. Whole vectors, then the tail masked.
__m256i relu_lanes(__m256i v) {
  return _mm256_andnot_si256(_mm256_and_si256(_mm256_srai_epi32(v, 31), magnitude_in_range(v)), v);
}
// relu's gradient: dy where y is above zero, else +0.
__m256i relu_backward_lanes(__m256i g, __m256i v) {
  return _mm256_and_si256(_mm256_andnot_si256(_mm256_srai_epi32(v, 31), magnitude_in_range(v)), g);
}

}  // namespace

void relu(const float* x, float* y, std::int64_t n) {
  std::int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(y + i),
                        relu_lanes(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(x + i))));
  if (i == n) return;
  const __m256i lanes = first_lanes(n - i);
  _mm256_maskstore_epi32(as_ints(y + i), lanes, relu_lanes(_mm256_maskload_epi32(as_ints(x + i), lanes)));
}

void relu_backward(const float* dy, const float* y, float* dx, std::int64_t n) {
  std::int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(dx + i),
                        relu_backward_lanes(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(dy + i)),
                                            _mm256_loadu_si256(reinterpret_cast<const __m256i*>(y + i))));
  if (i == n) return;
  const __m256i lanes = first_lanes(n - i);
  _mm256_maskstore_epi32(
      as_ints(dx + i), lanes,
      relu_backward_lanes(_mm256_maskload_epi32(as_ints(dy + i), lanes), _mm256_maskload_epi32(as_ints(y + i), lanes)));
}

// Four rows at a time, each column's additions still one row after another
// (the portable loop's order), so the accumulators are loaded and stored once
// per four rows.
void add_rows_to_double(const float* x, std::int64_t rows, std::int64_t stride, std::int64_t len, double* acc) {
  std::int64_t i = 0;
  for (; i + 4 <= rows; i += 4) {
    const float* r0 = x + i * stride;
    const float *r1 = r0 + stride, *r2 = r1 + stride, *r3 = r2 + stride;
    std::int64_t j = 0;
    for (; j + 4 <= len; j += 4) {
      __m256d a = _mm256_loadu_pd(acc + j);
      a = _mm256_add_pd(a, _mm256_cvtps_pd(_mm_loadu_ps(r0 + j)));
      a = _mm256_add_pd(a, _mm256_cvtps_pd(_mm_loadu_ps(r1 + j)));
      a = _mm256_add_pd(a, _mm256_cvtps_pd(_mm_loadu_ps(r2 + j)));
      a = _mm256_add_pd(a, _mm256_cvtps_pd(_mm_loadu_ps(r3 + j)));
      _mm256_storeu_pd(acc + j, a);
    }
    for (; j < len; ++j)
      acc[j] = (((acc[j] + static_cast<double>(r0[j])) + static_cast<double>(r1[j])) + static_cast<double>(r2[j])) +
               static_cast<double>(r3[j]);
  }
  for (; i < rows; ++i) {
    const float* r = x + i * stride;
    for (std::int64_t j = 0; j < len; ++j) acc[j] += static_cast<double>(r[j]);
  }
}

// vec::sum_to_double on AVX2: the 32 lanes as eight accumulators of four
// doubles (eight additions in flight), folded in registers by the same
// halves as the portable loop, then the tail's sum added.
double sum_to_double(const float* x, std::int64_t n) {
  __m256d a[8];
  for (auto& v : a) v = _mm256_setzero_pd();
  std::int64_t i = 0;
  for (; i + 32 <= n; i += 32)
    for (int k = 0; k < 8; ++k) a[k] = _mm256_add_pd(a[k], _mm256_cvtps_pd(_mm_loadu_ps(x + i + 4 * k)));
  double tail = 0;
  for (; i < n; ++i) tail += static_cast<double>(x[i]);
  // Lanes 4k..4k+3 are in a[k]: + 16 pairs a[k] with a[k + 4], + 8 a[k]
  // with a[k + 2], + 4 a[0] with a[1]; then + 2 and + 1 inside the register.
  for (int k = 0; k < 4; ++k) a[k] = _mm256_add_pd(a[k], a[k + 4]);
  for (int k = 0; k < 2; ++k) a[k] = _mm256_add_pd(a[k], a[k + 2]);
  const __m256d v = _mm256_add_pd(a[0], a[1]);
  const __m128d h = _mm_add_pd(_mm256_castpd256_pd128(v), _mm256_extractf128_pd(v, 1));
  return _mm_cvtsd_f64(_mm_add_sd(h, _mm_unpackhi_pd(h, h))) + tail;
}

void exp(const float* x, float* y, std::int64_t n) { map_f32<Sleef_expf8_u10avx2>(x, y, n); }
void exp(const double* x, double* y, std::int64_t n) { map_f64<Sleef_expd4_u10avx2>(x, y, n); }
void tanh(const float* x, float* y, std::int64_t n) { map_f32<Sleef_tanhf8_u10avx2>(x, y, n); }
void tanh(const double* x, double* y, std::int64_t n) { map_f64<Sleef_tanhd4_u10avx2>(x, y, n); }
void erf(const float* x, float* y, std::int64_t n) { map_f32<Sleef_erff8_u10avx2>(x, y, n); }
void erf(const double* x, double* y, std::int64_t n) { map_f64<Sleef_erfd4_u10avx2>(x, y, n); }

}  // namespace tg::kernel::vec::avx2
#endif
