// The recurrent layers' hidden products (autograd/recurrent.h says why W_hh's
// gradient is taken in the open node).
#include <fmt/format.h>

#include <tapegrad/autograd/function.h>
#include <tapegrad/autograd/grad_mode.h>
#include <tapegrad/autograd/ops.h>
#include <tapegrad/autograd/recurrent.h>
#include <tapegrad/core/kernels/linalg.h>
#include <tapegrad/core/profiler.h>

namespace tg::autograd {

namespace {

// w [G, H] as the [H, G] view w^T, without recording a transpose.
TensorBase transposed(const Tensor& w) {
  return make_view(w, Dims{w.size(1), w.size(0)}, Dims{w.stride(1), w.stride(0)}, w.storage_offset());
}

}  // namespace

RecurrentOpen recurrent_open(const Tensor& projection, const Tensor& w_hh, std::int64_t steps) {
  if (!needs_grad(w_hh)) return {projection, nullptr};
  auto sequence = std::make_shared<RecurrentSequence>();
  sequence->hidden_inputs.resize(static_cast<std::size_t>(steps));
  sequence->versions.resize(static_cast<std::size_t>(steps));
  // An alias of the projection, so that the node can be its grad_fn.
  Tensor y = make_view(projection, projection.shape(), Dims(projection.strides()), projection.storage_offset());
  record("recurrent_open", {&projection, &w_hh}, {&y}, [sequence](Backward& bw) {
    // y = projection;  dprojection = dy, and (first order only)
    //   dW_hh = dy^T @ H_prev, H_prev [N, H] the steps' hidden inputs in time order.
    const Tensor& dy = bw.grad();
    if (bw.needs(0)) bw.add(0, dy);
    if (!bw.needs(1) || is_grad_enabled()) return;
    const auto& h = sequence->hidden_inputs;
    for (std::size_t t = 0; t < h.size(); ++t)
      if (h[t].version() != sequence->versions[t])
        throw AutogradError(fmt::format(
            "recurrent_open: the hidden state step {} read was modified by an in-place operation (version {} at "
            "save, {} now); clone it before modifying it in place",
            t, sequence->versions[t], h[t].version()));
    bw.add(1, matmul(transpose(dy, 0, 1), cat(h, 0)));
  });
  return {y, std::move(sequence)};
}

Tensor recurrent_step(const Tensor& gi, const Tensor& h, const Tensor& w_hh, RecurrentSequence* sequence,
                      std::int64_t t) {
  TG_PROFILE_OP("recurrent_step", gi, h, w_hh);
  Tensor y = kernel::addmm(gi, h, transposed(w_hh));
  if (sequence) {
    sequence->hidden_inputs[static_cast<std::size_t>(t)] = h.detach();
    sequence->versions[static_cast<std::size_t>(t)] = h.version();
  }
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
