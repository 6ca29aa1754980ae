#pragma once
// The entry points of vector_math_avx2.cpp, normalization_avx2.cpp and
// recurrent_avx2.cpp (the AVX2 halves of vector_math.h, normalization.cpp and
// recurrent.cpp) and of vector_math_avx512.cpp, declared once for all their files: hidden, and to be called
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
TG_VEC_HIDDEN void relu(const float* x, float* y, std::int64_t n);
TG_VEC_HIDDEN void relu_backward(const float* dy, const float* y, float* dx, std::int64_t n);
TG_VEC_HIDDEN void layer_norm_row(const float* x, const float* w, const float* b, std::int64_t m, double eps, float* y,
                                  float* mean, float* rstd);
TG_VEC_HIDDEN void layer_norm_backward_row(const float* x, const float* g, const float* w, float mean, float rstd,
                                           std::int64_t m, float* dx);
TG_VEC_HIDDEN void layer_norm_param_grads_row(const float* x, const float* g, float mean, float rstd, std::int64_t m,
                                              double* sw, double* sb);
TG_VEC_HIDDEN void hashed_words(std::uint64_t seed, std::uint64_t first, std::int64_t n, std::uint64_t* out);
TG_VEC_HIDDEN void add_rows_to_double(const float* x, std::int64_t rows, std::int64_t stride, std::int64_t len,
                                      double* acc);
TG_VEC_HIDDEN double sum_to_double(const float* x, std::int64_t n);
// recurrent_avx2.cpp: the LSTM cell's float32 rows (recurrent_rows.h).
TG_VEC_HIDDEN void lstm_forward_row(const float* a, const float* a2, const float* bias, const float* c, std::int64_t H,
                                    float* act, float* h, float* c_next, float* tc);
using LstmBackwardRowF32 = void (*)(const float* dh, const float* dc, const float* act, const float* c, const float* tc,
                                    std::int64_t H, float* dgates, float* dc_prev);
TG_VEC_HIDDEN LstmBackwardRowF32 lstm_backward_row(bool has_dh, bool has_dc);

}  // namespace tg::kernel::vec::avx2

// vector_math_avx512.cpp's: the same functions with AVX-512F.
namespace tg::kernel::vec::avx512 {

TG_VEC_HIDDEN void exp(const float* x, float* y, std::int64_t n);
TG_VEC_HIDDEN void exp(const double* x, double* y, std::int64_t n);
TG_VEC_HIDDEN void tanh(const float* x, float* y, std::int64_t n);
TG_VEC_HIDDEN void tanh(const double* x, double* y, std::int64_t n);
TG_VEC_HIDDEN void erf(const float* x, float* y, std::int64_t n);
TG_VEC_HIDDEN void erf(const double* x, double* y, std::int64_t n);
TG_VEC_HIDDEN void arith(Arith op, const float* a, const float* b, float* out, std::int64_t n);
TG_VEC_HIDDEN void arith(Arith op, const double* a, const double* b, double* out, std::int64_t n);
TG_VEC_HIDDEN void relu(const float* x, float* y, std::int64_t n);
TG_VEC_HIDDEN void relu_backward(const float* dy, const float* y, float* dx, std::int64_t n);

}  // namespace tg::kernel::vec::avx512

#undef TG_VEC_HIDDEN
