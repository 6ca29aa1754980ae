#pragma once
// Loss kernels: the class-dim losses (cross-entropy on class indices or on
// probabilities, nll_loss) and the elementwise pieces of the binary losses.
// autograd/ops/loss.cpp records them as ops.
//
// Class-dim losses see their input [N, C, d1, ...] as [N, C, S] with
// S = d1 * ...; a row is one (n, s) pair and its C values sit S apart.
#include <cstdint>
#include <string>
#include <utility>

#include <tapegrad/core/args.h>
#include <tapegrad/core/tensor.h>

namespace tg::kernel {

struct ClassLayout {
  std::int64_t n = 1, c = 0, s = 1;
  Dims loss_shape;  // the input's shape without the class dim
  std::int64_t rows() const { return n * s; }
};

// The layout of a floating `input` [C], [N, C] or [N, C, d1, ...] (errors name `op`).
ClassLayout class_layout(const char* op, const TensorBase& input);

// What a class-dim loss computes, resolved from its options.
struct ClassLoss {
  ClassLayout layout;
  TensorBase weight;  // [C], contiguous, in the input's dtype; or undefined (all 1)
  std::int64_t ignore_index = -100;
  double label_smoothing = 0;
  Reduction reduction = Reduction::Mean;
  // nll_loss: the input already holds log-probabilities (no log-softmax, no smoothing).
  bool log_probabilities = false;
};

// The class weights checked against the layout, as a contiguous tensor of
// `dtype`, or undefined.
TensorBase class_weight(const char* op, const TensorBase& weight, const ClassLayout& l, DType dtype);
// int64 targets of the loss shape, each in [0, C) unless it is ignore_index;
// returned contiguous. Errors name `op`; allow_probabilities adds the
// probability form to the message.
TensorBase class_indices(const char* op, const TensorBase& input, const ClassLayout& l, const TensorBase& target,
                         std::int64_t ignore_index, bool allow_probabilities);
// Throws the error for a class target of the wrong dtype (a DTypeError, when its
// shape is one the loss takes) or the wrong shape (a ShapeError).
[[noreturn]] void throw_class_target_error(const char* op, const TensorBase& input, const ClassLayout& l,
                                           const TensorBase& target, bool allow_probabilities);

struct ClassLossResult {
  TensorBase loss;  // the loss shape (Reduction::None) or a scalar
  TensorBase lse;   // [rows]: each row's log-sum-exp (cross-entropy only)
  double denom;     // Mean's divisor
};

// Per row, with soft targets q_c:  loss = sum_c q_c (lse - x_c)  (lse = 0 for
// log-probabilities). For class index y (weights w, smoothing eps, C classes),
// as PyTorch:  q_c = (1 - eps) w_y [c == y] + (eps / C) w_c.
// Mean divides by the summed w_y of the rows that are not ignored.
ClassLossResult class_index_loss(const TensorBase& x, const TensorBase& target, const ClassLoss& spec);
// dx = g_r ((sum_c q_c) p - q), p = softmax of the row (absent for
// log-probabilities), g_r the row's share of dy. x is only read for
// cross-entropy; `input_shape` and dy's dtype give dx's.
TensorBase class_index_loss_backward(const TensorBase& dy, const TensorBase& x, const Dims& input_shape,
                                     const TensorBase& target, const TensorBase& lse, const ClassLoss& spec,
                                     double denom);
// The dense soft targets q [N, C, S] of class_index_loss and their row sums
// qsum [N, 1, S] (zero on ignored rows).
std::pair<TensorBase, TensorBase> class_target_weights(const TensorBase& target, const ClassLoss& spec, DType dtype);

// Cross-entropy against probabilities t (x's shape and dtype):
// q_c = w_c ((1 - eps) t_c + eps / C); Mean divides by the number of rows.
ClassLossResult cross_entropy_probabilities(const TensorBase& x, const TensorBase& t, const ClassLoss& spec);
// dx = g_r ((sum_c q_c) p - q),  dt = g_r (1 - eps) w_c (lse - x_c); each only when asked.
std::pair<TensorBase, TensorBase> cross_entropy_probabilities_backward(const TensorBase& dy, const TensorBase& x,
                                                                       const TensorBase& t, const TensorBase& lse,
                                                                       const ClassLoss& spec, double denom,
                                                                       bool need_dx, bool need_dt);

// ValueError naming `op` and the first element of x outside [0, 1].
void check_probabilities(const char* op, const TensorBase& x);
// -(t max(log x, -100) + (1 - t) max(log(1 - x), -100)), elementwise.
TensorBase binary_cross_entropy(const TensorBase& x, const TensorBase& t);
// dx = dy (x - t) / max(x (1 - x), 1e-12)   (PyTorch's clamp of the denominator)
// dt = dy (max(log(1 - x), -100) - max(log x, -100)); each only when asked.
std::pair<TensorBase, TensorBase> binary_cross_entropy_backward(const TensorBase& dy, const TensorBase& x,
                                                                const TensorBase& t, bool need_dx, bool need_dt);
// softplus(z) = log(1 + exp(z)) as max(z, 0) + log1p(exp(-|z|)): no exp overflows.
TensorBase softplus(const TensorBase& z);

}  // namespace tg::kernel
