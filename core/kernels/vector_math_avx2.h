#pragma once
// The entry points of vector_math_avx2.cpp and normalization_avx2.cpp (the
// AVX2 halves of vector_math.h) and of vector_math_avx512.cpp, declared once for all their files: hidden, and to be called
// only after vector_math.cpp has checked the CPU. Internal: not installed.
#include <cstdint>

#include "vector_math.h"

#define TG_VEC_HIDDEN __attribute__((visibility("hidden")))

namespace tg::kernel::vec::avx2 {

TG_VEC_HIDDEN void exp(const float* x, float* y, std::int64_t n);
TG_VEC_HIDDEN void exp(const double* x, double* y, std::int64_t n);
TG_VEC_HIDDEN void tanh(const float* x, float* y, std::int64_t n);
TG_VEC_HIDDEN void tanh(const double* x, double* y, std::int64_t n);
TG_VEC_HIDDEN void erf(const float* x, float* y, std::int64_t n);
TG_VEC_HIDDEN void erf(const double* x, double* y, std::int64_t n);
TG_VEC_HIDDEN void normal_cdf(const float* x, float* cdf, float* pdf, std::int64_t n);
TG_VEC_HIDDEN void arith(Arith op, const float* a, const float* b, float* out, std::int64_t n);
TG_VEC_HIDDEN void arith(Arith op, const double* a, const double* b, double* out, std::int64_t n);
TG_VEC_HIDDEN void layer_norm_row(const float* x, const float* w, const float* b, std::int64_t m, double eps, float* y,
                                  float* mean, float* rstd);
TG_VEC_HIDDEN void layer_norm_backward_row(const float* x, const float* g, const float* w, float mean, float rstd,
                                           std::int64_t m, float* dx);
TG_VEC_HIDDEN void layer_norm_param_grads_row(const float* x, const float* g, float mean, float rstd, std::int64_t m,
                                              double* sw, double* sb);
TG_VEC_HIDDEN void hashed_words(std::uint64_t seed, std::uint64_t first, std::int64_t n, std::uint64_t* out);

}  // namespace tg::kernel::vec::avx2

// vector_math_avx512.cpp's: the same functions with AVX-512F.
namespace tg::kernel::vec::avx512 {

TG_VEC_HIDDEN void exp(const float* x, float* y, std::int64_t n);
TG_VEC_HIDDEN void exp(const double* x, double* y, std::int64_t n);
TG_VEC_HIDDEN void tanh(const float* x, float* y, std::int64_t n);
TG_VEC_HIDDEN void tanh(const double* x, double* y, std::int64_t n);
TG_VEC_HIDDEN void erf(const float* x, float* y, std::int64_t n);
TG_VEC_HIDDEN void erf(const double* x, double* y, std::int64_t n);

}  // namespace tg::kernel::vec::avx512

#undef TG_VEC_HIDDEN
