// The fused LSTM cell (recurrent.h): shapes, dtypes and threads; the rows'
// arithmetic is recurrent_rows.h's, float32's compiled for AVX2 as well
// (recurrent_avx2.cpp).
#include <tapegrad/core/kernels/recurrent.h>

#include <string>
#include <vector>

#include <fmt/format.h>

#include <tapegrad/core/dtype_check.h>
#include <tapegrad/core/error.h>
#include <tapegrad/core/kernels/copy.h>
#include <tapegrad/core/kernels/loop.h>
#include <tapegrad/core/kernels/vector_math.h>

#include "recurrent_rows.h"
#if defined(TAPEGRAD_HAVE_SLEEF) && defined(__x86_64__)
#include "vector_math_avx2.h"
#define TG_LSTM_AVX2 1
#endif

namespace tg::kernel {

namespace {

// The row functions for T: float32's from recurrent_avx2.cpp where AVX2 is in use.
template <class T>
auto lstm_forward_row_for() {
#if TG_LSTM_AVX2
  if constexpr (std::is_same_v<T, float>)
    if (vec::uses_avx2()) return &vec::avx2::lstm_forward_row;
#endif
  return &rows::lstm_forward_row<T>;
}
template <class T>
auto lstm_backward_row_for(bool has_dh, bool has_dc) {
#if TG_LSTM_AVX2
  if constexpr (std::is_same_v<T, float>)
    if (vec::uses_avx2()) return vec::avx2::lstm_backward_row(has_dh, has_dc);
#endif
  return rows::lstm_backward_row<T>(has_dh, has_dc);
}

}  // namespace

void check_lstm_cell(const TensorBase& gates, const TensorBase& c, const TensorBase& bias, const TensorBase& hidden) {
  if (!gates.defined() || !c.defined()) throw ValueError("lstm_cell: gates and c must be defined tensors");
  if (hidden.defined() && hidden.shape() != gates.shape())
    throw ShapeError(fmt::format("lstm_cell: the hidden gates {} must have the shape of the gates {}",
                                 shape_str(hidden.shape()), shape_str(gates.shape())));
  for (const TensorBase* t : {&gates, &c, &bias, &hidden})
    if (t->defined()) check_dtype(*t, "lstm_cell", DTypeClass::Floating);
  // gates.size(1) == 4 * c.size(1), without the product (an empty view's sizes may be huge).
  if (gates.dim() != 2 || c.dim() != 2 || c.size(0) != gates.size(0) || gates.size(1) % 4 != 0 ||
      gates.size(1) / 4 != c.size(1) || (bias.defined() && (bias.dim() != 1 || bias.size(0) != gates.size(1))))
    throw ShapeError(fmt::format("lstm_cell: expected gates [B, 4H], c [B, H] and bias [4H], got {}, {} and {}",
                                 shape_str(gates.shape()), shape_str(c.shape()),
                                 bias.defined() ? shape_str(bias.shape()) : std::string("none")));
}

LstmCellForward lstm_cell(const TensorBase& gates_in, const TensorBase& c_in, const TensorBase& bias_in,
                          const TensorBase& hidden_in) {
  check_lstm_cell(gates_in, c_in, bias_in, hidden_in);
  for (const TensorBase* t : {&gates_in, &bias_in, &hidden_in})
    if (t->defined() && t->dtype() != c_in.dtype())
      throw DTypeError(fmt::format("lstm_cell: the fused kernel takes its tensors in one dtype, got {} and c's {}",
                                   dtype_name(t->dtype()), dtype_name(c_in.dtype())));
  const auto contiguous_if_defined = [](const TensorBase& t) { return t.defined() ? contiguous(t) : t; };
  const TensorBase a = contiguous(gates_in), c = contiguous(c_in), bias = contiguous_if_defined(bias_in),
                   a2 = contiguous_if_defined(hidden_in);
  const std::int64_t B = c.size(0), H = c.size(1);
  LstmCellForward out{make_tensor({B, H}, c.dtype()), make_tensor({B, H}, c.dtype()),
                      make_tensor({B, 4 * H}, c.dtype()), make_tensor({B, H}, c.dtype())};
  dispatch_compute_floating(c.dtype(), "lstm_cell", [&]<class T>() {
    const T* ap = a.data_ptr<T>();
    const T* cp = c.data_ptr<T>();
    const T* bp = bias.defined() ? bias.data_ptr<T>() : nullptr;
    const T* a2p = a2.defined() ? a2.data_ptr<T>() : nullptr;
    T* act = out.gates.data_ptr<T>();
    T* hp = out.h.data_ptr<T>();
    T* c1 = out.c.data_ptr<T>();
    T* tc = out.tanh_c.data_ptr<T>();
    const auto row = lstm_forward_row_for<T>();
    for_each_group(B, 4 * B * H, [=](std::int64_t r) {
      row(ap + r * 4 * H, a2p ? a2p + r * 4 * H : nullptr, bp, cp + r * H, H, act + r * 4 * H, hp + r * H, c1 + r * H,
          tc + r * H);
    });
  });
  return out;
}

LstmCellGrads lstm_cell_backward(const TensorBase& dh_in, const TensorBase& dc_in, const TensorBase& gates,
                                 const TensorBase& c_in, const TensorBase& tanh_c, bool need_dc, bool need_dbias,
                                 const TensorBase& dgates_out) {
  const std::int64_t B = c_in.size(0), H = c_in.size(1);
  const TensorBase dh = dh_in.defined() ? contiguous(dh_in) : dh_in, dc = dc_in.defined() ? contiguous(dc_in) : dc_in;
  const TensorBase c = contiguous(c_in);
  for (const TensorBase* g : {&dh, &dc})
    if (g->defined() && g->shape() != c.shape())
      throw ShapeError(fmt::format("lstm_cell_backward: a gradient of shape {} for an output of shape {}",
                                   shape_str(g->shape()), shape_str(c.shape())));
    else if (g->defined() && g->dtype() != c.dtype())
      throw DTypeError(fmt::format("lstm_cell_backward: a gradient of dtype {} for an output of dtype {}",
                                   dtype_name(g->dtype()), dtype_name(c.dtype())));
  const bool into_out = dgates_out.defined() && dgates_out.is_contiguous() && dgates_out.dtype() == c.dtype() &&
                        dgates_out.shape() == Dims{B, 4 * H};
  TensorBase dgates = into_out ? dgates_out : make_tensor({B, 4 * H}, c.dtype());
  // c's gradient costs one product per element: computed always, kept when asked for.
  TensorBase dc_prev = make_tensor({B, H}, c.dtype());
  TensorBase dbias;
  dispatch_compute_floating(c.dtype(), "lstm_cell_backward", [&]<class T>() {
    const T* dhp = dh.defined() ? dh.data_ptr<T>() : nullptr;
    const T* dcp = dc.defined() ? dc.data_ptr<T>() : nullptr;
    const T* act = gates.data_ptr<T>();
    const T* cp = c.data_ptr<T>();
    const T* tc = tanh_c.data_ptr<T>();
    T* dg = dgates.data_ptr<T>();
    T* dcv = dc_prev.data_ptr<T>();
    const auto row = lstm_backward_row_for<T>(dhp != nullptr, dcp != nullptr);
    for_each_group(B, 4 * B * H, [=](std::int64_t r) {
      row(dhp ? dhp + r * H : nullptr, dcp ? dcp + r * H : nullptr, act + r * 4 * H, cp + r * H, tc + r * H, H,
          dg + r * 4 * H, dcv + r * H);
    });
    if (need_dbias) {  // column sums of dgates, which is still in cache: in double, row by row
      dbias = make_tensor({4 * H}, c.dtype());
      std::vector<double> sums(static_cast<std::size_t>(4 * H), 0.0);
      bool done = false;
      if constexpr (std::is_same_v<T, float>) done = vec::add_rows_to_double(dg, B, 4 * H, 4 * H, sums.data());
      if (!done)
        for (std::int64_t r = 0; r < B; ++r)
          for (std::int64_t j = 0; j < 4 * H; ++j) sums[static_cast<std::size_t>(j)] += dg[r * 4 * H + j];
      T* db = dbias.data_ptr<T>();
      for (std::int64_t j = 0; j < 4 * H; ++j) db[j] = static_cast<T>(sums[static_cast<std::size_t>(j)]);
    }
  });
  return {dgates, need_dc ? dc_prev : TensorBase(), dbias};
}

}  // namespace tg::kernel
