// embedding: rows of a weight table picked by int64 indices (kernels:
// core/kernels/embedding.h). Its gradient adds each output row's gradient
// back onto the row it was read from, except for padding_idx, whose row never
// learns (it stays the padding vector). That scatter is an op too, whose
// derivative reads rows again (padding rows as zeros): gradients of any order.
#include <tapegrad/autograd/function.h>
#include <tapegrad/autograd/ops.h>
#include <tapegrad/core/kernels/embedding.h>
#include <tapegrad/core/profiler.h>

namespace tg {

using autograd::Backward;
using autograd::SavedTensor;

namespace {

Tensor embedding_backward(const Tensor& dy, const Tensor& idx, std::int64_t num, std::optional<std::int64_t> pad);

// y [*shape, dim] = W[idx]; rows at `zero_index` (if any) read as zeros.
Tensor embedding_rows(const Tensor& idx, const Tensor& weight, const Dims& shape, std::optional<std::int64_t> pad,
                      std::optional<std::int64_t> zero_index) {
  Tensor y = kernel::embedding(idx, weight, shape, zero_index);
  if (autograd::needs_grad(weight))
    autograd::record("embedding", {&weight}, {&y},
                     [sidx = SavedTensor(idx, false), pad, num = weight.size(0)](Backward& bw) {
                       // y[..., :] = W[idx[...], :], W [num, dim], y [*idx.shape, dim]:
                       //   dW [num, dim] = zeros with the rows of dy added at idx, rows where idx == padding_idx
                       //   left out.
                       bw.add(0, embedding_backward(bw.grad(), bw.unpack(sidx), num, pad));
                     });
  return y;
}

Tensor embedding_backward(const Tensor& dy, const Tensor& idx, std::int64_t num, std::optional<std::int64_t> pad) {
  Tensor dw = kernel::embedding_backward(dy, idx, num, pad);
  if (autograd::needs_grad(dy)) {
    Dims shape = dy.shape();
    shape.resize(shape.size() - 1);
    autograd::record("embedding_backward", {&dy}, {&dw}, [sidx = SavedTensor(idx, false), pad, shape](Backward& bw) {
      // dW [num, dim] = dy's rows added at idx (padding_idx left out);
      //   d(dy) [*idx.shape, dim] = ddW[idx], zero where idx == padding_idx
      bw.add(0, embedding_rows(bw.unpack(sidx), bw.grad(), shape, pad, pad));
    });
  }
  return dw;
}

}  // namespace

Tensor embedding(const Tensor& indices, const Tensor& weight, std::optional<std::int64_t> padding_idx) {
  TG_PROFILE_OP("embedding", indices, weight);
  const std::optional<std::int64_t> pad = kernel::embedding_check(indices, weight, padding_idx);
  return embedding_rows(kernel::embedding_indices(indices, weight), weight, indices.shape(), pad, std::nullopt);
}

}  // namespace tg
