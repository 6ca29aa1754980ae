// The recurrent layers' hidden products (autograd/recurrent.h says why W_hh's
// gradient is taken in the open node), and the LSTM cell.
#include <memory>
#include <span>
#include <tuple>
#include <utility>

#include <fmt/format.h>

#include <tapegrad/autograd/engine.h>
#include <tapegrad/autograd/function.h>
#include <tapegrad/autograd/grad_mode.h>
#include <tapegrad/autograd/ops.h>
#include <tapegrad/autograd/recurrent.h>
#include <tapegrad/autograd/views.h>
#include <tapegrad/core/kernels/linalg.h>
#include <tapegrad/core/kernels/recurrent.h>
#include <tapegrad/core/kernels/shape.h>
#include <tapegrad/core/profiler.h>

namespace tg::autograd {

TensorBase RecurrentSequence::gate_grad_rows(std::int64_t t, std::int64_t rows, std::int64_t cols, DType dtype) {
  const void* pass = current_backward_pass();
  const auto k = static_cast<std::size_t>(t);
  if (!pass || t < 0 || k + 1 >= offsets.size() || offsets[k + 1] - offsets[k] != rows) return {};
  std::lock_guard lock(mutex_);
  if (!gate_grads_.defined()) {
    gate_grads_ = make_tensor({offsets.back(), cols}, dtype);
    owner_ = pass;
    // Released when the pass ends if the open node did not take it (a pass
    // that stops short of the projection: tg::grad for h0 alone).
    queue_callback([weak = weak_from_this(), pass] {
      if (const auto sequence = weak.lock()) {
        std::lock_guard lock(sequence->mutex_);
        if (sequence->owner_ == pass) {
          sequence->gate_grads_ = TensorBase();
          sequence->owner_ = nullptr;
        }
      }
    });
  }
  if (owner_ != pass || gate_grads_.size(1) != cols || gate_grads_.dtype() != dtype) return {};
  return kernel::slice(gate_grads_, kernel::narrow_spec(gate_grads_, 0, offsets[k], rows));
}

TensorBase RecurrentSequence::take_gate_grads() {
  std::lock_guard lock(mutex_);
  if (!gate_grads_.defined() || owner_ != current_backward_pass()) return {};
  owner_ = nullptr;
  return std::exchange(gate_grads_, TensorBase());
}

namespace {

// Whether g is exactly `rows` rows of `slab` from row `first`: the memory a
// step's LSTM cell wrote its gradient into (RecurrentSequence::gate_grads).
bool is_slab_rows(const Tensor& g, const TensorBase& slab, std::int64_t first, std::int64_t rows) {
  if (!g.defined() || !slab.defined() || !g.is_contiguous() || g.dtype() != slab.dtype() ||
      g.shape() != Dims{rows, slab.size(1)})
    return false;
  const auto* base = static_cast<const char*>(slab.raw_data());
  return g.raw_data() == base + first * slab.size(1) * static_cast<std::int64_t>(itemsize(slab.dtype()));
}

}  // namespace

RecurrentOpen recurrent_open(const Tensor& projection, const Tensor& w_hh, const std::vector<std::int64_t>& sizes) {
  if (!needs_grad(w_hh)) return {split(projection, sizes, 0), nullptr};
  auto sequence = std::make_shared<RecurrentSequence>();
  sequence->hidden_inputs.resize(sizes.size());
  sequence->offsets.assign(1, 0);
  for (const std::int64_t rows : sizes) sequence->offsets.push_back(sequence->offsets.back() + rows);
  if (projection.dim() != 2 || sequence->offsets.back() != projection.size(0))
    throw ShapeError(fmt::format("recurrent_open: steps of {} rows in all for a projection of shape {}",
                                 sequence->offsets.back(), shape_str(projection.shape())));
  std::vector<Tensor> steps;
  steps.reserve(sizes.size());
  for (std::size_t t = 0; t < sizes.size(); ++t)
    steps.emplace_back(kernel::slice(projection, kernel::narrow_spec(projection, 0, sequence->offsets[t], sizes[t])));
  std::vector<Tensor*> outputs;
  for (Tensor& step : steps) outputs.push_back(&step);
  record("recurrent_open", {&projection, &w_hh}, std::span<Tensor* const>(outputs), [sequence](Backward& bw) {
    // y_t = projection's rows of step t;  dprojection = dG, the y_t's gradients
    // stacked, and (first order only) dW_hh = dG^T @ H_prev, H_prev [N, H] the
    // steps' hidden inputs in time order.
    const std::vector<std::int64_t>& offsets = sequence->offsets;
    const std::size_t T = offsets.size() - 1;
    const TensorBase slab = sequence->take_gate_grads();
    bool whole = slab.defined() && T > 0;
    for (std::size_t t = 0; t < T && whole; ++t)
      whole = is_slab_rows(bw.grad(t), slab, offsets[t], offsets[t + 1] - offsets[t]);
    Tensor dG;
    if (whole) {
      dG = Tensor(slab);
    } else {
      std::vector<Tensor> parts;
      Dims shape = bw.input_shape(0);
      for (std::size_t t = 0; t < T; ++t) {
        shape[0] = offsets[t + 1] - offsets[t];
        parts.push_back(bw.grad(t).defined() ? bw.grad(t) : zeros(shape, {.dtype = bw.input_dtype(0)}));
      }
      dG = parts.size() == 1 ? parts[0] : cat(parts, 0);
    }
    if (bw.needs(0)) bw.add(0, dG);
    if (!bw.needs(1) || is_grad_enabled()) return;
    std::vector<Tensor> h_prev;
    for (const SavedTensor& h : sequence->hidden_inputs) h_prev.push_back(bw.unpack(h));
    bw.add(1, matmul(transpose(dG, 0, 1), cat(h_prev, 0)));
  });
  for (Tensor& step : steps) track_view(projection, step);
  mark_multi_output_views(steps);
  return {std::move(steps), std::move(sequence)};
}

Tensor recurrent_step(const Tensor& gi, const Tensor& h, const Tensor& w_hh, RecurrentSequence* sequence,
                      std::int64_t t) {
  TG_PROFILE_OP("recurrent_step", gi, h, w_hh);
  // W^T as a view, unrecorded: the node below is W's only use here.
  const TensorBase w_t = kernel::transpose(w_hh, 0, 1);
  Tensor y = gi.defined() ? kernel::addmm(gi, h, w_t) : kernel::mm(h, w_t);
  if (sequence) sequence->hidden_inputs[static_cast<std::size_t>(t)] = SavedTensor::without_history(h);
  if (needs_grad(gi, h, w_hh)) {
    const bool gh = requires_grad_of(h), gw = requires_grad_of(w_hh);
    record("recurrent_step", {&gi, &h, &w_hh}, {&y},
           [sh = SavedTensor::input_if(gw, h), sw = SavedTensor::input_if(gh, w_hh),
            in_open = sequence != nullptr](Backward& bw) {
             // y = gi + h @ W^T (or h @ W^T without gi), gi [B, G], h [B, H], W [G, H]:
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

// (gates + hidden) + bias, each term when defined.
Tensor pre_activations(const Tensor& gates, const Tensor& hidden, const Tensor& bias) {
  Tensor pre = hidden.defined() ? gates + hidden : gates;
  return bias.defined() ? pre + bias : pre;
}

// The cell composed of ops: the forward of dtypes the kernel does not take.
std::pair<Tensor, Tensor> lstm_cell_composed(const Tensor& pre_activation, const Tensor& c) {
  const std::int64_t H = c.size(-1);
  const auto pre = split(pre_activation, {2 * H, H, H}, 1);
  const auto i_f = chunk(sigmoid(pre[0]), 2, 1);  // i and f are adjacent: one sigmoid
  const Tensor g = tanh(pre[1]);
  const Tensor o = sigmoid(pre[2]);
  Tensor c_next = i_f[1] * c + i_f[0] * g;
  return {o * tanh(c_next), c_next};
}

// The gradients of the pre-activations and of c, written with ops from the
// activated gates `act` and c as the node saved them: a backward that is
// itself recorded (create_graph) differentiates this. act is the node's own
// (hidden) third output, so the derivatives of this expression in act come
// back to the node as a gradient of that output, `dact`, which this adds
// through the activations' derivatives; that closes the loop for every
// order. dh, dc and dact may be undefined.
std::pair<Tensor, Tensor> lstm_cell_grads_composed(const Tensor& dh, const Tensor& dc, const Tensor& dact,
                                                   const Tensor& act, const Tensor& c) {
  const std::int64_t H = c.size(-1);
  const auto a = split(act, {H, H, H, H}, 1);
  const Tensor &i = a[0], &f = a[1], &g = a[2], &o = a[3];
  const Tensor tc = tanh(f * c + i * g);
  Tensor dct = dc, d_o;
  if (dh.defined()) {
    const Tensor through_h = dh * o * rsub(tc * tc, 1.0);
    dct = dct.defined() ? dct + through_h : through_h;
    d_o = dh * tc;
  } else {
    d_o = zeros_like(o);
  }
  if (!dct.defined()) dct = zeros_like(c);
  Tensor d_act = cat({dct * g, dct * c, dct * i, d_o}, 1);  // the gradient of act, through h and c'
  if (dact.defined()) d_act = d_act + dact;
  const auto d = split(d_act, {H, H, H, H}, 1);
  Tensor dpre =
      cat({d[0] * i * rsub(i, 1.0), d[1] * f * rsub(f, 1.0), d[2] * rsub(g * g, 1.0), d[3] * o * rsub(o, 1.0)}, 1);
  return {dpre, dct * f};
}

}  // namespace

std::pair<Tensor, Tensor> lstm_cell(const Tensor& gates, const Tensor& c, const Tensor& bias, const Tensor& hidden,
                                    std::shared_ptr<RecurrentSequence> sequence, std::int64_t t) {
  TG_PROFILE_OP("lstm_cell", gates, c, bias, hidden);
  kernel::check_lstm_cell(gates, c, bias, hidden);  // for every dtype, before either path
  const DType dtype = c.dtype();
  const auto other_dtype = [dtype](const Tensor& t) { return t.defined() && t.dtype() != dtype; };
  if (other_dtype(gates) || other_dtype(bias) || other_dtype(hidden) || (dtype != kFloat32 && dtype != kFloat64))
    return lstm_cell_composed(pre_activations(gates, hidden, bias), c);
  kernel::LstmCellForward fw = kernel::lstm_cell(gates, c, bias, hidden);
  Tensor h = fw.h, c_next = fw.c, act = fw.gates;
  if (needs_grad(gates, c, bias, hidden)) {
    // act, the activated gates, is a third output that no caller sees: saved
    // as an output, it carries this node's history into a recorded backward
    // (lstm_cell_grads_composed), so nothing else need be kept for one.
    // Saved once record() has made it output 2 (SavedTensor keeps the output number).
    auto saved_act = std::make_shared<SavedTensor>();
    record("lstm_cell", {&gates, &c, &bias, &hidden}, {&h, &c_next, &act},
           [saved_act, sc = SavedTensor(c, false), tc = std::move(fw.tanh_c), sequence = std::move(sequence),
            t](Backward& bw) {
             const SavedTensor& sa = *saved_act;
             if (!sa.defined()) throw AutogradError("lstm_cell: its activated gates were not saved");
             Tensor dpre, dc;
             if (is_grad_enabled() || bw.grad(2).defined()) {  // create_graph, or a higher order's gradient of act
               std::tie(dpre, dc) =
                   lstm_cell_grads_composed(bw.grad(0), bw.grad(1), bw.grad(2), bw.unpack(sa), bw.unpack(sc));
               if (bw.needs(2)) bw.add(2, dpre);  // summed over the rows
             } else {
               const Tensor act_value = bw.unpack(sa);
               const TensorBase rows =
                   sequence && bw.needs(0)
                       ? sequence->gate_grad_rows(t, act_value.size(0), act_value.size(1), act_value.dtype())
                       : TensorBase();
               kernel::LstmCellGrads grads = kernel::lstm_cell_backward(
                   bw.grad(0), bw.grad(1), act_value, bw.unpack(sc), tc, bw.needs(1), bw.needs(2), rows);
               dpre = std::move(grads.gates);
               dc = std::move(grads.c);
               if (bw.needs(2)) bw.add(2, std::move(grads.bias));
             }
             if (bw.needs(1)) bw.add(1, std::move(dc));
             if (bw.needs(3)) bw.add(3, dpre);
             if (bw.needs(0)) bw.add(0, std::move(dpre));
           });
    *saved_act = SavedTensor(act, true);
  }
  return {h, c_next};
}

}  // namespace tg::autograd
