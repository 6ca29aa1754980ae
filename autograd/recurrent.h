#pragma once
/// @file
/// Internal (not installed; nn/rnn.cpp's): the hidden products of a recurrent
/// layer, h_{t-1} @ W_hh^T per step, with the gradient of W_hh over the whole
/// sequence taken as one GEMM; and the LSTM cell, fused (at the end).
///
/// Recorded as T addmm ops, W_hh's gradient is T products of K = batch rows
/// (each zeroing its output first) that the engine then adds together: at
/// T 32, batch 64, hidden 256 that is 32 thin GEMMs and 31 adds of a
/// [1024, 256] matrix. But the gradient of every step's gates is also the
/// gradient of that step's rows of the input projection (gates = gi_t +
/// h_{t-1} W_hh^T), and the projection's split gathers those rows into one
/// [N, G] tensor dG anyway. So recurrent_open() puts a node between the
/// projection and its split that passes dG through and adds
///     dW_hh = dG^T @ [h_{t-1} of every step, in time order]   (one GEMM, K = N)
/// while each recurrent_step() node gives only dgi and dh. A backward that is
/// recorded (create_graph) takes the ordinary route instead: every step adds
/// its own dG_t^T @ h_{t-1}, with h_{t-1} unpacked with its history, and the
/// open node adds nothing to W_hh, so gradients of any order are those of T
/// addmm ops. Both nodes read the grad mode of the one backward that runs
/// them (the engine sets it to create_graph), so they always agree. The LSTM
/// cells of a first-order backward write their gates' gradients straight into
/// rows of one [N, G] slab, which the open node then takes as dG, where the
/// steps' separate gradients would need a concatenation (an 8 MB copy per
/// step of issue 15's LSTM at batch 64); anything else (a recorded backward,
/// a hook, the RNN's steps) falls back to it.
///
/// The pair is not an op on its own: recurrent_step's W_hh gradient is
/// missing without its open node. It is checked as a whole, through the LSTM
/// and RNN layers (gradcheck and gradgradcheck in tests/nn/test_rnn.cpp).
/// GRU cannot use it: its hidden product's gradient is not the gates'.
#include <cstdint>
#include <memory>
#include <mutex>
#include <utility>
#include <vector>

#include <tapegrad/autograd/node.h>
#include <tapegrad/autograd/tensor.h>
#include <tapegrad/core/export.h>

namespace tg::autograd {

/// What one run of one recurrent layer direction shares between its open
/// node and its steps: each step's hidden input, by time step, and the slab
/// the LSTM cells write their gates' gradients into.
struct RecurrentSequence : std::enable_shared_from_this<RecurrentSequence> {
  /// h_{t-1} of step t, once step t has run: saved without history (with it
  /// they would lead back to the open node), so an in-place change before
  /// the backward is still an error there, as for any saved tensor.
  std::vector<SavedTensor> hidden_inputs;
  /// Step t's first row in the projection: offsets[t], t <= steps (the last is N).
  std::vector<std::int64_t> offsets;
  /// Step t's rows of the slab (`cols` columns of `dtype`), allocating it on
  /// the current backward pass's first call; undefined outside a pass, when
  /// another pass owns the slab (passes over a retained graph may run at
  /// once, on two threads or nested), or when the rows would not fit it.
  TensorBase gate_grad_rows(std::int64_t t, std::int64_t rows, std::int64_t cols, DType dtype);
  /// The slab, taken away, when the current backward pass owns it; else undefined.
  TensorBase take_gate_grads();

 private:
  std::mutex mutex_;
  /// [N, G], the gates' gradient of every step, filled in place by the LSTM
  /// cells of one first-order backward pass, so that the open node finds dG
  /// whole instead of concatenating T pieces. Owned by that pass
  /// (engine.h's current_backward_pass) until the open node takes it or the
  /// pass ends.
  TensorBase gate_grads_;
  const void* owner_ = nullptr;
};

/// The steps' slices of the input projection, and the sequence they record into.
struct RecurrentOpen {
  std::vector<Tensor> steps;                    ///< step t's rows of the projection (views, the open node's outputs)
  std::shared_ptr<RecurrentSequence> sequence;  ///< null when W_hh gets no gradient: the steps are plain addmm
};

/// Opens a recurrent sequence over `projection` [N, G], every step's input
/// projection stacked in time order (step t's sizes[t] rows follow step
/// t-1's), whose hidden weight is `w_hh` [G, H]: cuts it into the steps (as
/// split(projection, sizes, 0) would, one node).
TG_API RecurrentOpen recurrent_open(const Tensor& projection, const Tensor& w_hh,
                                    const std::vector<std::int64_t>& sizes);

/// Step t's gates: gi + h @ w_hh^T, gi [B_t, G] (step t's rows of the opened
/// projection), h [B_t, H]; h @ w_hh^T alone when gi is undefined (the LSTM
/// adds gi in its cell). With a null `sequence` it is addmm(gi, h, w_hh^T).
TG_API Tensor recurrent_step(const Tensor& gi, const Tensor& h, const Tensor& w_hh, RecurrentSequence* sequence,
                             std::int64_t t);

/// One LSTM step's states from its gates: the pre-activations
/// (gates + hidden) + bias, stacked i|f|g|o as PyTorch's, and c [B, H] give
/// {h', c'} with c' = sigmoid(f) c + sigmoid(i) tanh(g), h' = sigmoid(o) tanh(c').
/// gates [B, 4H]; hidden [B, 4H] (a layer's h W_hh^T: added here, its step's
/// product needs no copy of the input projection) and bias [4H] (the layers'
/// b_ih + b_hh: added here, the projection needs no pass to broadcast it, and
/// its gradient is summed while the gates' is in cache) may be undefined. One
/// node: float32 and float64 run core/kernels/recurrent.h's fused kernel,
/// whose backward writes the gates' gradient in one piece; a recorded
/// backward (create_graph) gives the same gradients through ops, so
/// gradients of any order exist. Other dtypes, or mixed ones, compose the ops.
/// With a `sequence` (the layer's, gates being step t's rows of its
/// projection), a first-order backward writes the gates' gradient into the
/// sequence's slab.
TG_API std::pair<Tensor, Tensor> lstm_cell(const Tensor& gates, const Tensor& c, const Tensor& bias = {},
                                           const Tensor& hidden = {},
                                           std::shared_ptr<RecurrentSequence> sequence = nullptr, std::int64_t t = 0);

}  // namespace tg::autograd
