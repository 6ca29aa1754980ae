// embedding: rows of a weight table picked by int64 indices (kernels:
// core/kernels/embedding.h). Its gradient adds each output row's gradient
// back onto the row it was read from, except for padding_idx, whose row never
// learns (it stays the padding vector). That scatter is an op too, whose
// derivative reads rows again (padding rows as zeros): gradients of any order.
//
// max_norm renormalises, in place and unrecorded (as PyTorch's
// embedding_renorm_), each looked-up row whose norm_type-norm exceeds it:
// row *= max_norm / (norm + 1e-7). scale_grad_by_freq divides the gradient of
// each output row by how often its index occurs in `indices`. That gradient
// is a convention, not the derivative of anything, so its derivatives follow
// PyTorch's: the scaled scatter's derivative with respect to dy reads rows
// unscaled (torch's embedding_dense_double_backward: "first backward takes
// care of scaling by frequency"). Recording the scaling as an op of its own
// applied it twice in second derivatives: once there, and again when the
// gradient flowed back into the weight through this same scaled embedding.
#include <map>
#include <vector>

#include <fmt/format.h>

#include <tapegrad/autograd/function.h>
#include <tapegrad/autograd/grad_mode.h>
#include <tapegrad/autograd/ops.h>
#include <tapegrad/core/kernels/embedding.h>
#include <tapegrad/core/profiler.h>

namespace tg {

using autograd::Backward;
using autograd::SavedTensor;

namespace {

Tensor embedding_backward(const Tensor& dy, const Tensor& idx, std::int64_t num, std::optional<std::int64_t> pad,
                          const Tensor& grad_scale = {});

// y [*shape, dim] = W[idx]; rows at `zero_index` (if any) read as zeros.
// grad_scale, if defined, multiplies dy in the scatter ([*shape, 1]).
Tensor embedding_rows(const Tensor& idx, const Tensor& weight, const Dims& shape, std::optional<std::int64_t> pad,
                      std::optional<std::int64_t> zero_index, const Tensor& grad_scale = {}) {
  Tensor y = kernel::embedding(idx, weight, shape, zero_index);
  if (autograd::needs_grad(weight))
    autograd::record("embedding", {&weight}, {&y},
                     [sidx = SavedTensor(idx, false), pad, num = weight.size(0), grad_scale](Backward& bw) {
                       // y[..., :] = W[idx[...], :], W [num, dim], y [*idx.shape, dim]:
                       //   dW [num, dim] = zeros with the rows of dy added at idx, rows where idx == padding_idx
                       //   left out (each row of dy first divided by its index's count with scale_grad_by_freq).
                       bw.add(0, embedding_backward(bw.grad(), bw.unpack(sidx), num, pad, grad_scale));
                     });
  return y;
}

// PyTorch's embedding_renorm_: each distinct looked-up row with a norm above
// max_norm scaled in place to max_norm (within 1e-7).
void renorm_rows(const Tensor& flat_indices, const Tensor& weight, double max_norm, double norm_type) {
  NoGradGuard no_grad;
  const std::vector<std::int64_t> rows = flat_indices.to_vector<std::int64_t>();
  std::map<std::int64_t, bool> seen;
  for (std::int64_t i : rows) {
    if (!seen.emplace(i, true).second) continue;
    Tensor row = weight.select(0, i);
    const double norm = tg::norm(row, norm_type).item<double>();
    if (norm > max_norm) row.mul_(max_norm / (norm + 1e-7));
  }
}

// 1 / (occurrences of each position's index) as [*shape, 1] in `dtype`.
Tensor inverse_frequencies(const Tensor& flat_indices, const Dims& shape, DType dtype) {
  const std::vector<std::int64_t> rows = flat_indices.to_vector<std::int64_t>();
  std::map<std::int64_t, std::int64_t> counts;
  for (std::int64_t i : rows) ++counts[i];
  std::vector<double> scale;
  scale.reserve(rows.size());
  for (std::int64_t i : rows) scale.push_back(1.0 / static_cast<double>(counts[i]));
  Dims scale_shape = shape;
  scale_shape.push_back(1);
  return tg::tensor(scale, scale_shape, {.dtype = dtype});
}

// dW [num, dim] = (dy * grad_scale)'s rows added at idx; the scaling is part
// of this op, not recorded apart (see the top of this file).
Tensor embedding_backward(const Tensor& dy, const Tensor& idx, std::int64_t num, std::optional<std::int64_t> pad,
                          const Tensor& grad_scale) {
  Tensor scaled = dy;
  if (grad_scale.defined()) {
    NoGradGuard no_grad;
    scaled = tg::mul(dy, grad_scale);
  }
  Tensor dw = kernel::embedding_backward(scaled, idx, num, pad);
  if (autograd::needs_grad(dy)) {
    Dims shape = dy.shape();
    shape.resize(shape.size() - 1);
    autograd::record("embedding_backward", {&dy}, {&dw}, [sidx = SavedTensor(idx, false), pad, shape](Backward& bw) {
      // dW [num, dim] = dy's rows (scaled by frequency, if asked) added at idx (padding_idx left out);
      //   d(dy) [*idx.shape, dim] = ddW[idx], zero where idx == padding_idx, unscaled as PyTorch
      bw.add(0, embedding_rows(bw.unpack(sidx), bw.grad(), shape, pad, pad));
    });
  }
  return dw;
}

}  // namespace

Tensor embedding(const Tensor& indices, const Tensor& weight, std::optional<std::int64_t> padding_idx,
                 std::optional<double> max_norm, double norm_type, StrictBool scale_grad_by_freq) {
  TG_PROFILE_OP("embedding", indices, weight);
  const std::optional<std::int64_t> pad = kernel::embedding_check(indices, weight, padding_idx);
  const Tensor flat = kernel::embedding_indices(indices, weight);
  if (max_norm) {
    if (!(*max_norm >= 0)) throw ValueError(fmt::format("embedding: max_norm must be non-negative, got {}", *max_norm));
    if (!(norm_type > 0)) throw ValueError(fmt::format("embedding: norm_type must be positive, got {}", norm_type));
    if (!weight.is_floating_point())
      throw DTypeError(
          fmt::format("embedding: max_norm rescales rows of the weight, which must be floating point, got {}",
                      dtype_name(weight.dtype())));
    renorm_rows(flat, weight, *max_norm, norm_type);
  }
  const bool scale = scale_grad_by_freq && autograd::needs_grad(weight);
  return embedding_rows(flat, weight, indices.shape(), pad, std::nullopt,
                        scale ? inverse_frequencies(flat, indices.shape(), weight.dtype()) : Tensor());
}

}  // namespace tg
