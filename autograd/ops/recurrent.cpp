// The recurrent layers' hidden products (autograd/recurrent.h says why W_hh's
// gradient is taken in the open node), and the LSTM cell.
#include <tapegrad/autograd/function.h>
#include <tapegrad/autograd/grad_mode.h>
#include <tapegrad/autograd/ops.h>
#include <tapegrad/autograd/recurrent.h>
#include <tapegrad/core/kernels/linalg.h>
#include <tapegrad/core/kernels/recurrent.h>
#include <tapegrad/core/kernels/shape.h>
#include <tapegrad/core/profiler.h>

namespace tg::autograd {

RecurrentOpen recurrent_open(const Tensor& projection, const Tensor& w_hh, std::int64_t steps) {
  if (!needs_grad(w_hh)) return {projection, nullptr};
  auto sequence = std::make_shared<RecurrentSequence>();
  sequence->hidden_inputs.resize(static_cast<std::size_t>(steps));
  // An alias of the projection, so that the node can be its grad_fn.
  Tensor y = make_view(projection, projection.shape(), Dims(projection.strides()), projection.storage_offset());
  record("recurrent_open", {&projection, &w_hh}, {&y}, [sequence](Backward& bw) {
    // y = projection;  dprojection = dy, and (first order only)
    //   dW_hh = dy^T @ H_prev, H_prev [N, H] the steps' hidden inputs in time order.
    const Tensor& dy = bw.grad();
    if (bw.needs(0)) bw.add(0, dy);
    if (!bw.needs(1) || is_grad_enabled()) return;
    std::vector<Tensor> h_prev;
    for (const SavedTensor& h : sequence->hidden_inputs) h_prev.push_back(bw.unpack(h));
    bw.add(1, matmul(transpose(dy, 0, 1), cat(h_prev, 0)));
  });
  return {y, std::move(sequence)};
}

Tensor recurrent_step(const Tensor& gi, const Tensor& h, const Tensor& w_hh, RecurrentSequence* sequence,
                      std::int64_t t) {
  TG_PROFILE_OP("recurrent_step", gi, h, w_hh);
  // W^T as a view, unrecorded: the node below is W's only use here.
  Tensor y = kernel::addmm(gi, h, kernel::transpose(w_hh, 0, 1));
  if (sequence) sequence->hidden_inputs[static_cast<std::size_t>(t)] = SavedTensor::without_history(h);
  if (needs_grad(gi, h, w_hh)) {
    const bool gh = requires_grad_of(h), gw = requires_grad_of(w_hh);
    record("recurrent_step", {&gi, &h, &w_hh}, {&y},
           [sh = SavedTensor::input_if(gw, h), sw = SavedTensor::input_if(gh, w_hh),
            in_open = sequence != nullptr](Backward& bw) {
             // y = gi + h @ W^T, gi [B, G], h [B, H], W [G, H]:
             //   dgi = dy,   dh = dy @ W [B, H],
             //   dW = dy^T @ h [G, H], left to the open node in a first-order backward.
             const Tensor& dy = bw.grad();
             if (bw.needs(0)) bw.add(0, dy);
             if (bw.needs(1)) bw.add(1, matmul(dy, bw.unpack(sw)));
             if (bw.needs(2) && (!in_open || is_grad_enabled())) bw.add(2, matmul(transpose(dy, 0, 1), bw.unpack(sh)));
           });
  }
  return y;
}

namespace {

// The cell composed of ops: the forward of dtypes the kernel does not take.
std::pair<Tensor, Tensor> lstm_cell_composed(const Tensor& gates, const Tensor& c, const Tensor& bias) {
  const std::int64_t H = c.size(-1);
  const auto pre = split(bias.defined() ? gates + bias : gates, {2 * H, H, H}, 1);
  const auto i_f = chunk(sigmoid(pre[0]), 2, 1);  // i and f are adjacent: one sigmoid
  const Tensor g = tanh(pre[1]);
  const Tensor o = sigmoid(pre[2]);
  Tensor c_next = i_f[1] * c + i_f[0] * g;
  return {o * tanh(c_next), c_next};
}

// The kernel's backward (core/kernels/recurrent.h) written with ops, from
// the recorded inputs: a backward that is itself recorded (create_graph)
// differentiates this. dh or dc may be undefined. The bias's gradient is the
// gates' summed over the rows (Backward::add reduces the broadcast).
std::pair<Tensor, Tensor> lstm_cell_grads_composed(const Tensor& dh, const Tensor& dc, const Tensor& gates,
                                                   const Tensor& c, const Tensor& bias) {
  const std::int64_t H = c.size(-1);
  const auto pre = split(bias.defined() ? gates + bias : gates, {H, H, H, H}, 1);
  const Tensor i = sigmoid(pre[0]), f = sigmoid(pre[1]), g = tanh(pre[2]), o = sigmoid(pre[3]);
  const Tensor tc = tanh(f * c + i * g);
  Tensor dct = dc, d_o;
  if (dh.defined()) {
    const Tensor through_h = dh * o * rsub(tc * tc, 1.0);
    dct = dct.defined() ? dct + through_h : through_h;
    d_o = dh * tc * o * rsub(o, 1.0);
  } else {
    d_o = zeros_like(o);
  }
  if (!dct.defined()) dct = zeros_like(c);
  Tensor dgates = cat({dct * g * i * rsub(i, 1.0), dct * c * f * rsub(f, 1.0), dct * i * rsub(g * g, 1.0), d_o}, 1);
  return {dgates, dct * f};
}

}  // namespace

std::pair<Tensor, Tensor> lstm_cell(const Tensor& gates, const Tensor& c, const Tensor& bias) {
  TG_PROFILE_OP("lstm_cell", gates, c, bias);
  kernel::check_lstm_cell(gates, c, bias);  // for every dtype, before either path
  const DType dtype = c.dtype();
  if (gates.dtype() != dtype || (bias.defined() && bias.dtype() != dtype) || (dtype != kFloat32 && dtype != kFloat64))
    return lstm_cell_composed(gates, c, bias);
  kernel::LstmCellForward fw = kernel::lstm_cell(gates, c, bias);
  Tensor h = fw.h, c_next = fw.c;
  if (needs_grad(gates, c, bias)) {
    record(
        "lstm_cell", {&gates, &c, &bias}, {&h, &c_next},
        [sg = SavedTensor(gates, false), sc = SavedTensor(c, false), sb = SavedTensor::input_if(bias.defined(), bias),
         act = std::move(fw.gates), tc = std::move(fw.tanh_c)](Backward& bw) {
          if (is_grad_enabled()) {  // create_graph: the same gradients, recorded
            const Tensor b = sb.defined() ? bw.unpack(sb) : Tensor();
            const auto [dgates, dc] = lstm_cell_grads_composed(bw.grad(0), bw.grad(1), bw.unpack(sg), bw.unpack(sc), b);
            if (bw.needs(0)) bw.add(0, dgates);
            if (bw.needs(1)) bw.add(1, dc);
            if (bw.needs(2)) bw.add(2, dgates);
            return;
          }
          kernel::LstmCellGrads grads =
              kernel::lstm_cell_backward(bw.grad(0), bw.grad(1), act, bw.unpack(sc), tc, bw.needs(1), bw.needs(2));
          if (bw.needs(0)) bw.add(0, std::move(grads.gates));
          if (bw.needs(1)) bw.add(1, std::move(grads.c));
          if (bw.needs(2)) bw.add(2, std::move(grads.bias));
        });
  }
  return {h, c_next};
}

}  // namespace tg::autograd
