// The LSTM cell's float32 rows (recurrent_rows.h) compiled for AVX2 and FMA
// (without contracting: CMakeLists.txt), which recurrent.cpp calls where
// vec::uses_avx2(). The portable build's loops run 4 floats at a time (SSE2);
// these 8, and the forward's divisions and the backward's dozen products per
// element are most of the cell's time besides exp and tanh.
#include "vector_math_avx2.h"

#include "recurrent_rows.h"

namespace tg::kernel::vec::avx2 {

void lstm_forward_row(const float* a, const float* a2, const float* bias, const float* c, std::int64_t H, float* act,
                      float* h, float* c_next, float* tc) {
  rows::lstm_forward_row(a, a2, bias, c, H, act, h, c_next, tc);
}

LstmBackwardRowF32 lstm_backward_row(bool has_dh, bool has_dc) {
  return rows::lstm_backward_row<float>(has_dh, has_dc);
}

}  // namespace tg::kernel::vec::avx2
