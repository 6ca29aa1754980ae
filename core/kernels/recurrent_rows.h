#pragma once
// The LSTM cell's rows (recurrent.h), for recurrent.cpp and, compiled for
// AVX2, recurrent_avx2.cpp. Internal (not installed). Everything here has
// internal linkage: each of the two files keeps its own copy, so the linker
// can never give the portable file's callers the AVX2 one.
//
// The order of every operation is the composed ops': sigmoid as
// 1 / (1 + exp(-x)) (unary.cpp), c' = f c + i g and h' = o tanh(c'), and in
// the backward mul's products (dct g, dct c, dct i, dct f, dh tc, dh o),
// tanh_backward's g (1 - t t), sigmoid_backward's g s (1 - s), and the
// engine's sum of c''s two gradients. Both files are built without
// contracting a * b + c into an FMA (CMakeLists.txt), so each product and sum
// rounds on its own, as in the separate ops.
#include <cstdint>

#include "vector_math.h"

namespace tg::kernel {
namespace {
namespace rows {

template <class T>
void sigmoid(const T* x, T* y, std::int64_t n) {
  for (std::int64_t j = 0; j < n; ++j) y[j] = -x[j];
  vec::exp(y, y, n);
  for (std::int64_t j = 0; j < n; ++j) y[j] = T(1) / (T(1) + y[j]);
}

// One row: pre-activations a [4H] (plus a2 [4H], then bias [4H], each when
// not null, summed in act in that order as the add ops would) and c [H] give
// the activated gates act [4H], h' [H], c' [H] and tanh(c') [H].
template <class T>
void lstm_forward_row(const T* a, const T* a2, const T* bias, const T* c, std::int64_t H, T* act, T* h, T* c_next,
                      T* tc) {
  if (a2 && bias)
    for (std::int64_t j = 0; j < 4 * H; ++j) act[j] = (a[j] + a2[j]) + bias[j];
  else if (a2)
    for (std::int64_t j = 0; j < 4 * H; ++j) act[j] = a[j] + a2[j];
  else if (bias)
    for (std::int64_t j = 0; j < 4 * H; ++j) act[j] = a[j] + bias[j];
  const T* pre = a2 || bias ? act : a;
  sigmoid(pre, act, 2 * H);  // i and f, adjacent
  vec::tanh(pre + 2 * H, act + 2 * H, H);
  sigmoid(pre + 3 * H, act + 3 * H, H);
  const T* __restrict i = act, * __restrict f = act + H, * __restrict g = act + 2 * H, * __restrict o = act + 3 * H;
  for (std::int64_t j = 0; j < H; ++j) c_next[j] = f[j] * c[j] + i[j] * g[j];
  vec::tanh(c_next, tc, H);
  for (std::int64_t j = 0; j < H; ++j) h[j] = o[j] * tc[j];
}

// One row of the backward: dgates [4H] and dc_prev [H] from dh and dc (each
// only when kHasDh / kHasDc: no gradient reached that output otherwise).
template <class T, bool kHasDh, bool kHasDc>
void lstm_backward_row(const T* __restrict dh, const T* __restrict dc, const T* __restrict act, const T* __restrict c,
                       const T* __restrict tc, std::int64_t H, T* __restrict dgates, T* __restrict dc_prev) {
  const T* __restrict i = act, * __restrict f = act + H, * __restrict g = act + 2 * H, * __restrict o = act + 3 * H;
  T* __restrict di = dgates, * __restrict df = dgates + H, * __restrict dg = dgates + 2 * H, * __restrict d_o = dgates + 3 * H;
  for (std::int64_t j = 0; j < H; ++j) {
    T dct = T(0);
    if constexpr (kHasDh) {
      const T through_h = dh[j] * o[j] * (T(1) - tc[j] * tc[j]);
      if constexpr (kHasDc) dct = dc[j] + through_h;
      else dct = through_h;
    } else if constexpr (kHasDc) {
      dct = dc[j];
    }
    di[j] = dct * g[j] * i[j] * (T(1) - i[j]);
    df[j] = dct * c[j] * f[j] * (T(1) - f[j]);
    dg[j] = dct * i[j] * (T(1) - g[j] * g[j]);
    d_o[j] = kHasDh ? dh[j] * tc[j] * o[j] * (T(1) - o[j]) : T(0);
    dc_prev[j] = dct * f[j];
  }
}

template <class T>
using LstmBackwardRow = void (*)(const T*, const T*, const T*, const T*, const T*, std::int64_t, T*, T*);

// lstm_backward_row for the gradients present.
template <class T>
LstmBackwardRow<T> lstm_backward_row(bool has_dh, bool has_dc) {
  return has_dh ? (has_dc ? lstm_backward_row<T, true, true> : lstm_backward_row<T, true, false>)
                : (has_dc ? lstm_backward_row<T, false, true> : lstm_backward_row<T, false, false>);
}

}  // namespace rows
}  // namespace
}  // namespace tg::kernel
