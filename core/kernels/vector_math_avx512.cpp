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

#include <algorithm>

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

// Full and masked (first `left` lanes) loads and stores of 16 floats or 8
// doubles, overloaded so that arith_loop reads as vector_math_avx2.cpp's.
__m512 load(const float* p) { return _mm512_loadu_ps(p); }
__m512d load(const double* p) { return _mm512_loadu_pd(p); }
void store(float* p, __m512 v) { _mm512_storeu_ps(p, v); }
void store(double* p, __m512d v) { _mm512_storeu_pd(p, v); }
__m512 load(const float* p, unsigned left) {
  return _mm512_maskz_loadu_ps(static_cast<__mmask16>((1u << left) - 1), p);
}
__m512 load_or_one(const float* p, unsigned left) {
  return _mm512_mask_loadu_ps(_mm512_set1_ps(1.0f), static_cast<__mmask16>((1u << left) - 1), p);
}
__m512d load_or_one(const double* p, unsigned left) {
  return _mm512_mask_loadu_pd(_mm512_set1_pd(1.0), static_cast<__mmask8>((1u << left) - 1), p);
}
void store(float* p, __m512 v, unsigned left) { _mm512_mask_storeu_ps(p, static_cast<__mmask16>((1u << left) - 1), v); }
void store(double* p, __m512d v, unsigned left) {
  _mm512_mask_storeu_pd(p, static_cast<__mmask8>((1u << left) - 1), v);
}

// out = a op b, two vectors an iteration and the tail through masked loads
// and stores. A 512-bit store a cycle moves what two 256-bit stores did at
// best, which bounded the AVX2 loop: it was 40 % of a 32x32 add.
template <Arith kOp, class T>
void arith_loop(const T* a, const T* b, T* out, std::int64_t n) {
  constexpr std::int64_t kWidth = 64 / sizeof(T);
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
  // The lanes past n hold 1 (1 op 1 raises no flag: zeros would make 0 / 0
  // set the invalid flag the caller can see) and are not written.
  for (; i < n; i += kWidth) {
    const auto left = static_cast<unsigned>(std::min(kWidth, n - i));
    store(out + i, op(load_or_one(a + i, left), load_or_one(b + i, left)), left);
  }
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

// |v| in (0, inf] for 16 lanes of float bits (relu, below).
__mmask16 magnitude_in_range(__m512i bits) {
  const __m512i magnitude = _mm512_and_si512(bits, _mm512_set1_epi32(0x7fffffff));
  return _mm512_cmpgt_epi32_mask(magnitude, _mm512_setzero_si512()) &
         _mm512_cmplt_epi32_mask(magnitude, _mm512_set1_epi32(0x7f800001));
}

// relu on the bits (vector_math.h): the lanes below zero cleared.
__m512i relu_lanes(__m512i v) {
  const __mmask16 below = _mm512_cmplt_epi32_mask(v, _mm512_setzero_si512()) & magnitude_in_range(v);
  return _mm512_maskz_mov_epi32(static_cast<__mmask16>(~below), v);
}
// relu's gradient: dy where y is above zero, else +0.
__m512 relu_backward_lanes(__m512 g, __m512i v) {
  const __mmask16 above = _mm512_cmpge_epi32_mask(v, _mm512_setzero_si512()) & magnitude_in_range(v);
  return _mm512_maskz_mov_ps(above, g);
}

}  // namespace

void arith(Arith op, const float* a, const float* b, float* out, std::int64_t n) { arith_any(op, a, b, out, n); }
void arith(Arith op, const double* a, const double* b, double* out, std::int64_t n) { arith_any(op, a, b, out, n); }

// relu and its gradient: whole vectors with plain loads and stores, then the
// tail masked: its masked loads read zeros past n, which are neither below
// nor above zero, and the masked store skips them. A masked load and store
// in every iteration instead took 1.25 times as long on AMD's Zen 4 (2,048
// floats: 221 against 177 ns in a throwaway loop; kernel::relu_backward on
// 32x64 floats: 241-254 against 190 ns), where masked stores are slow.

void relu(const float* x, float* y, std::int64_t n) {
  std::int64_t i = 0;
  for (; i + 16 <= n; i += 16) store(y + i, _mm512_castsi512_ps(relu_lanes(_mm512_castps_si512(load(x + i)))));
  if (i == n) return;
  const auto left = static_cast<unsigned>(n - i);
  store(y + i, _mm512_castsi512_ps(relu_lanes(_mm512_castps_si512(load(x + i, left)))), left);
}

void relu_backward(const float* dy, const float* y, float* dx, std::int64_t n) {
  std::int64_t i = 0;
  for (; i + 16 <= n; i += 16) store(dx + i, relu_backward_lanes(load(dy + i), _mm512_castps_si512(load(y + i))));
  if (i == n) return;
  const auto left = static_cast<unsigned>(n - i);
  store(dx + i, relu_backward_lanes(load(dy + i, left), _mm512_castps_si512(load(y + i, left))), left);
}

void exp(const float* x, float* y, std::int64_t n) { map_f32<Sleef_expf16_u10avx512f>(x, y, n); }
void exp(const double* x, double* y, std::int64_t n) { map_f64<Sleef_expd8_u10avx512f>(x, y, n); }
void tanh(const float* x, float* y, std::int64_t n) { map_f32<Sleef_tanhf16_u10avx512f>(x, y, n); }
void tanh(const double* x, double* y, std::int64_t n) { map_f64<Sleef_tanhd8_u10avx512f>(x, y, n); }
void erf(const float* x, float* y, std::int64_t n) { map_f32<Sleef_erff16_u10avx512f>(x, y, n); }
void erf(const double* x, double* y, std::int64_t n) { map_f64<Sleef_erfd8_u10avx512f>(x, y, n); }

}  // namespace tg::kernel::vec::avx512
#endif
