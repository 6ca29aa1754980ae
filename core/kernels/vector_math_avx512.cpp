// exp, tanh and erf of vector_math.h with AVX-512F: SLEEF's 16-float and
// 8-double functions, the one file compiled with -mavx512f (CMakeLists.txt).
// Called only after vector_math.cpp has checked the CPU; it holds no inline
// function or template another file could share, as vector_math_avx2.cpp.
//
// The AVX-512 functions run the same algorithm as the AVX2 ones, lane by
// lane, and give the same bits: checked for every 97th float32 and three
// million float64 inputs when this path was added (docs/performance.md,
// round twelve), and by tests/core/test_vector_math.cpp, which compares the
// instruction sets. On the machine measured, tanh took 1.55 against 2.19 ns
// an element and exp 0.30 against 0.48 ns.
#include "vector_math_avx2.h"

#include <cstdint>

#if defined(TAPEGRAD_HAVE_SLEEF) && defined(__AVX512F__)
#include <immintrin.h>
#include <sleef.h>

namespace tg::kernel::vec::avx512 {

namespace {

// y = f(x), 16 floats at a time; the tail through masked loads and stores
// (the lanes past the end compute f(0) and are not written).
template <auto F>
void map_f32(const float* x, float* y, std::int64_t n) {
  std::int64_t i = 0;
  for (; i + 16 <= n; i += 16) _mm512_storeu_ps(y + i, F(_mm512_loadu_ps(x + i)));
  if (i == n) return;
  const __mmask16 m = static_cast<__mmask16>((1u << (n - i)) - 1);
  _mm512_mask_storeu_ps(y + i, m, F(_mm512_maskz_loadu_ps(m, x + i)));
}

// y = f(x), 8 doubles at a time; the tail as above.
template <auto F>
void map_f64(const double* x, double* y, std::int64_t n) {
  std::int64_t i = 0;
  for (; i + 8 <= n; i += 8) _mm512_storeu_pd(y + i, F(_mm512_loadu_pd(x + i)));
  if (i == n) return;
  const __mmask8 m = static_cast<__mmask8>((1u << (n - i)) - 1);
  _mm512_mask_storeu_pd(y + i, m, F(_mm512_maskz_loadu_pd(m, x + i)));
}

}  // namespace

void exp(const float* x, float* y, std::int64_t n) { map_f32<Sleef_expf16_u10avx512f>(x, y, n); }
void exp(const double* x, double* y, std::int64_t n) { map_f64<Sleef_expd8_u10avx512f>(x, y, n); }
void tanh(const float* x, float* y, std::int64_t n) { map_f32<Sleef_tanhf16_u10avx512f>(x, y, n); }
void tanh(const double* x, double* y, std::int64_t n) { map_f64<Sleef_tanhd8_u10avx512f>(x, y, n); }
void erf(const float* x, float* y, std::int64_t n) { map_f32<Sleef_erff16_u10avx512f>(x, y, n); }
void erf(const double* x, double* y, std::int64_t n) { map_f64<Sleef_erfd8_u10avx512f>(x, y, n); }

}  // namespace tg::kernel::vec::avx512
#endif
