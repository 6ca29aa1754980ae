// The fused LSTM cell (recurrent.h). Each product and sum here rounds on its
// own, as the separate mul and add ops do: the library is never built to fuse
// a * b + c into an FMA (CMakeLists.txt: -ffp-contract=off with -march=native).
#include <tapegrad/core/kernels/recurrent.h>

#include <string>

#include <tapegrad/core/error.h>
#include <tapegrad/core/kernels/copy.h>
#include <tapegrad/core/kernels/loop.h>
#include <tapegrad/core/kernels/vector_math.h>
#include <tapegrad/core/parallel.h>

namespace tg::kernel {

namespace {

// Runs body(r) for the rows r in [0, rows), on the team when the gates are
// big enough to pay for it. parallel_for sets flush-to-zero in every thread.
template <class Body>
void for_each_row(std::int64_t rows, std::int64_t numel, const Body& body) {
  const bool parallel = rows > 1 && numel >= kParallelThreshold && !in_parallel_region();
  parallel_for(rows, parallel ? detail::team_size() : 1, body);
}

// sigmoid's arithmetic (unary.cpp): 1 / (1 + exp(-x)).
template <class T>
void sigmoid_row(const T* x, T* y, std::int64_t n) {
  for (std::int64_t j = 0; j < n; ++j) y[j] = -x[j];
  vec::exp(y, y, n);
  for (std::int64_t j = 0; j < n; ++j) y[j] = T(1) / (T(1) + y[j]);
}

// One row of the backward. The order of every operation is the composed
// ops': mul's backward (dct g, dct c, dct i, dct f, dh tc, dh o),
// tanh_backward's g (1 - t t), sigmoid_backward's g s (1 - s), and the
// engine's sum of c''s two gradients.
template <class T, bool kHasDh, bool kHasDc>
void backward_row(const T* __restrict dh, const T* __restrict dc, const T* __restrict act, const T* __restrict c,
                  const T* __restrict tc, std::int64_t H, T* __restrict dgates, T* __restrict dc_prev) {
  const T *__restrict i = act, *__restrict f = act + H, *__restrict g = act + 2 * H, *__restrict o = act + 3 * H;
  T *__restrict di = dgates, *__restrict df = dgates + H, *__restrict dg = dgates + 2 * H,
                *__restrict d_o = dgates + 3 * H;
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

void check_shapes(const char* op, const TensorBase& gates, const TensorBase& c) {
  if (gates.dim() != 2 || c.dim() != 2 || c.size(0) != gates.size(0) || gates.size(1) != 4 * c.size(1))
    throw ShapeError(std::string(op) + ": expected gates [B, 4H] and c [B, H], got " + shape_str(gates.shape()) +
                     " and " + shape_str(c.shape()));
  if (gates.dtype() != c.dtype())
    throw DTypeError(std::string(op) + ": gates and c must have one dtype, got " + std::string(dtype_name(gates.dtype())) +
                     " and " + std::string(dtype_name(c.dtype())));
}

}  // namespace

LstmCellForward lstm_cell(const TensorBase& gates_in, const TensorBase& c_in) {
  check_shapes("lstm_cell", gates_in, c_in);
  const TensorBase a = contiguous(gates_in), c = contiguous(c_in);
  const std::int64_t B = c.size(0), H = c.size(1);
  LstmCellForward out{make_tensor({B, H}, c.dtype()), make_tensor({B, H}, c.dtype()),
                      make_tensor({B, 4 * H}, c.dtype()), make_tensor({B, H}, c.dtype())};
  dispatch_compute_floating(c.dtype(), "lstm_cell", [&]<class T>() {
    const T* ap = a.data_ptr<T>();
    const T* cp = c.data_ptr<T>();
    T* act = out.gates.data_ptr<T>();
    T* hp = out.h.data_ptr<T>();
    T* c1 = out.c.data_ptr<T>();
    T* tc = out.tanh_c.data_ptr<T>();
    for_each_row(B, 4 * B * H, [=](std::int64_t r) {
      const T* ar = ap + r * 4 * H;
      T* s = act + r * 4 * H;
      sigmoid_row(ar, s, 2 * H);  // i and f, adjacent
      vec::tanh(ar + 2 * H, s + 2 * H, H);
      sigmoid_row(ar + 3 * H, s + 3 * H, H);
      const T *i = s, *f = s + H, *g = s + 2 * H, *o = s + 3 * H, *cr = cp + r * H;
      T* c1r = c1 + r * H;
      for (std::int64_t j = 0; j < H; ++j) c1r[j] = f[j] * cr[j] + i[j] * g[j];
      vec::tanh(c1r, tc + r * H, H);
      for (std::int64_t j = 0; j < H; ++j) hp[r * H + j] = o[j] * tc[r * H + j];
    });
  });
  return out;
}

std::pair<TensorBase, TensorBase> lstm_cell_backward(const TensorBase& dh_in, const TensorBase& dc_in,
                                                     const TensorBase& gates, const TensorBase& c_in,
                                                     const TensorBase& tanh_c, bool need_dc) {
  const std::int64_t B = c_in.size(0), H = c_in.size(1);
  const TensorBase dh = dh_in.defined() ? contiguous(dh_in) : dh_in, dc = dc_in.defined() ? contiguous(dc_in) : dc_in;
  const TensorBase c = contiguous(c_in);
  for (const TensorBase* g : {&dh, &dc})
    if (g->defined() && (g->shape() != c.shape() || g->dtype() != c.dtype()))
      throw ShapeError("lstm_cell_backward: a gradient of shape " + shape_str(g->shape()) + " and dtype " +
                       std::string(dtype_name(g->dtype())) + " for an output of shape " + shape_str(c.shape()) +
                       " and dtype " + std::string(dtype_name(c.dtype())));
  TensorBase dgates = make_tensor({B, 4 * H}, c.dtype());
  // c's gradient costs one product per element: computed always, kept when asked for.
  TensorBase dc_prev = make_tensor({B, H}, c.dtype());
  dispatch_compute_floating(c.dtype(), "lstm_cell_backward", [&]<class T>() {
    const T* dhp = dh.defined() ? dh.data_ptr<T>() : nullptr;
    const T* dcp = dc.defined() ? dc.data_ptr<T>() : nullptr;
    const T* act = gates.data_ptr<T>();
    const T* cp = c.data_ptr<T>();
    const T* tc = tanh_c.data_ptr<T>();
    T* dg = dgates.data_ptr<T>();
    T* dcv = dc_prev.data_ptr<T>();
    const auto row = dhp ? (dcp ? backward_row<T, true, true> : backward_row<T, true, false>)
                         : (dcp ? backward_row<T, false, true> : backward_row<T, false, false>);
    for_each_row(B, 4 * B * H, [=](std::int64_t r) {
      row(dhp ? dhp + r * H : nullptr, dcp ? dcp + r * H : nullptr, act + r * 4 * H, cp + r * H, tc + r * H, H,
          dg + r * 4 * H, dcv + r * H);
    });
  });
  return {dgates, need_dc ? dc_prev : TensorBase()};
}

}  // namespace tg::kernel
