// The recurrent layers' hidden products (autograd/recurrent.h says why W_hh's
// gradient is taken in the open node).
#include <tapegrad/autograd/function.h>
#include <tapegrad/autograd/grad_mode.h>
#include <tapegrad/autograd/ops.h>
#include <tapegrad/autograd/recurrent.h>
#include <tapegrad/core/kernels/linalg.h>
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

}  // namespace tg::autograd
