#pragma once
// exp, tanh and erf over arrays of float32 or float64, for the activations,
// softmax and attention: SLEEF's vector functions (Debian's libsleef), whose
// error is at most 1 ULP, as glibc's scalar ones. With AVX2 and FMA (checked
// at run time) they take 8 floats or 4 doubles at a time, else 4 floats or 2
// doubles (SSE2, which every x86-64 has). Other CPUs, or a build without
// SLEEF, use the C library's scalar functions.
//
// An element's result never depends on where it sits: the last, partial
// vector is computed in a padded copy, so a tensor's values are the same
// whatever its layout or length. `y` may be `x` (in place).
#include <cmath>
#include <cstdint>
#include <type_traits>

namespace tg::kernel::vec {

void exp(const float* x, float* y, std::int64_t n);
void exp(const double* x, double* y, std::int64_t n);
void tanh(const float* x, float* y, std::int64_t n);
void tanh(const double* x, double* y, std::int64_t n);
void erf(const float* x, float* y, std::int64_t n);
void erf(const double* x, double* y, std::int64_t n);

// The standard normal distribution of float32 x: its CDF
// Phi(x) = erfc(-x / sqrt 2) / 2 into cdf and, when pdf is not null, its
// density phi(x) = exp(-x^2 / 2) / sqrt(2 pi) into pdf (GELU and its
// gradient). Within 2 ULP of the exact values wherever they are normal
// floats, the far negative tail included, where 1 + erf(x / sqrt 2) is 0;
// NaN gives NaN. cdf or pdf may be x.
void normal_cdf(const float* x, float* cdf, float* pdf, std::int64_t n);

// out[k] = hashed_word(seed, first + k) for k < n (dropout.h: splitmix64's
// finaliser of a counter), 4 words at a time with AVX2: the fused
// attention's dropout draws.
void hashed_words(std::uint64_t seed, std::uint64_t first, std::int64_t n, std::uint64_t* out);

// out[i] = a[i] op b[i] for i < n: the same-shape float and double arithmetic
// of add, sub, mul and div (the residual adds, the products of gradients),
// 8 floats or 4 doubles at a time with AVX2. Each element is one IEEE
// operation, so every instruction set gives the same bits (NaN + NaN keeps
// a's payload, as x86 does). out may be a or b.
enum class Arith { kAdd, kSub, kMul, kDiv };
void arith(Arith op, const float* a, const float* b, float* out, std::int64_t n);
void arith(Arith op, const double* a, const double* b, double* out, std::int64_t n);

// y[i] = x[i] < 0 ? 0 : x[i] (relu), and dx[i] = y[i] > 0 ? dy[i] : 0 (its
// gradient through the output y), for float32, 8 or 16 at a time with AVX2
// or AVX-512. The tests read the bits (sign, and a magnitude in (0, inf]),
// not the floating-point unit: IEEE's answer whatever MXCSR says, where
// DAZ would read a subnormal as zero (relu(-subnormal) came out negative),
// and no compiler can turn them into max, as Clang does with the
// expression. Every instruction set gives the same bits: -0 and NaN pass
// relu unchanged, a y of ±0 or NaN gives +0.
void relu(const float* x, float* y, std::int64_t n);
void relu_backward(const float* dy, const float* y, float* dx, std::int64_t n);

// layer_norm's float32 rows (normalization.cpp) with AVX2: one row's forward
// (y, its mean and 1 / std), one row's input gradient, and one row's terms
// added into the weight and bias gradients' double sums. The same arithmetic
// in the same order as normalization.cpp's portable loops, so the same bits.
// Each returns false, doing nothing, where AVX2 is not in use: the caller's
// portable loop runs then. w and b may be null in the forward.
bool layer_norm_row(const float* x, const float* w, const float* b, std::int64_t m, double eps, float* y, float* mean,
                    float* rstd);
bool layer_norm_backward_row(const float* x, const float* g, const float* w, float mean, float rstd, std::int64_t m,
                             float* dx);
bool layer_norm_param_grads_row(const float* x, const float* g, float mean, float rstd, std::int64_t m, double* sw,
                                double* sb);

// acc[j] += x[i * stride + j] in double, for rows i < rows in order and
// columns j < len: a float32 column sum (a bias gradient) on AVX2, the same
// bits as the plain loop. Returns false, doing nothing, where AVX2 is not in
// use.
bool add_rows_to_double(const float* x, std::int64_t rows, std::int64_t stride, std::int64_t len, double* acc);

// The sum of x[0..n) in double, as 32 interleaved lanes (lane k adds the
// elements i = k mod 32 in order), folded by halves (lane k + lane k + 16,
// then + 8, + 4, + 2, + 1), plus the sum of the elements past the last 32,
// in order: a float32 row sum. Thirty-two lanes keep eight vector additions in flight, where
// eight lanes left one dependent chain per vector (a third of PyTorch's
// speed). The same bits on every instruction set.
double sum_to_double(const float* x, std::int64_t n);

// y[i] = exp(x[i] - shift), i < n: softmax's step. float and double go
// through exp above; the 16-bit floats keep the scalar expression. y may be x.
template <class T>
void exp_shifted(const T* x, T* y, std::int64_t n, T shift) {
  if constexpr (std::is_same_v<T, float> || std::is_same_v<T, double>) {
    for (std::int64_t i = 0; i < n; ++i) y[i] = x[i] - shift;
    exp(y, y, n);
  } else {
    for (std::int64_t i = 0; i < n; ++i) y[i] = static_cast<T>(std::exp(x[i] - shift));
  }
}

// The instruction sets the functions can use, best first. AVX-512 runs exp,
// tanh and erf 16 floats or 8 doubles at a time (the same bits as AVX2's);
// everything else takes its AVX2 path there.
enum class Isa { kAvx512, kAvx2, kSse2, kScalar };
// The one in use: the best this CPU and build allow, unless force_isa chose
// another.
Isa isa();
// Its name: "avx512", "avx2", "sse2" or "scalar" (docs, benchmarks, tests).
const char* isa_name(Isa isa);
// Whether the one in use has AVX2 and FMA (AVX-512 or AVX2): the functions
// and loops written for AVX2 may run.
bool uses_avx2();
// Uses `isa` from now on (tests compare the paths); one the CPU lacks is
// refused with false. Not thread-safe against running kernels.
bool force_isa(Isa isa);

// Who made this CPU: a few loops and the GEMM routing were measured to want
// different choices on Intel's and AMD's cores (optim/adam.cpp,
// core/kernels/blas.cpp). Found once; kOther off x86.
enum class Vendor { kIntel, kAmd, kOther };
Vendor cpu_vendor();

}  // namespace tg::kernel::vec
