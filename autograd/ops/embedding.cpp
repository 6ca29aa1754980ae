// embedding: rows of a weight table picked by int64 indices. Its gradient
// adds each output row's gradient back onto the row it was read from, except
// for padding_idx, whose row never learns (it stays the padding vector).
#include <fmt/format.h>

#include <tapegrad/autograd/function.h>
#include <tapegrad/core/kernels/copy.h>
#include <tapegrad/core/kernels/index.h>
#include <tapegrad/nn/functional.h>

namespace tg::nn::functional {

using autograd::Backward;
using autograd::SavedTensor;

Tensor embedding(const Tensor& indices, const Tensor& weight, std::optional<std::int64_t> padding_idx) {
  if (indices.dtype() != kInt64)
    throw DTypeError(fmt::format("embedding: indices must be int64, got {}", dtype_name(indices.dtype())));
  if (weight.dim() != 2)
    throw ShapeError(fmt::format("embedding: weight must be 2-D [num_embeddings, embedding_dim], got {}",
                                 shape_str(weight.sizes())));
  const std::int64_t num = weight.size(0), dim = weight.size(1);
  std::optional<std::int64_t> pad = padding_idx;
  if (pad) {
    if (*pad < -num || *pad >= num)
      throw ValueError(fmt::format("embedding: padding_idx {} is out of range for {} embeddings", *pad, num));
    if (*pad < 0) *pad += num;
  }
  const Tensor idx = kernel::contiguous(indices);
  const Tensor flat = make_view(idx, {idx.numel()}, {1}, idx.storage_offset());
  const std::int64_t* ip = flat.data_ptr<std::int64_t>();
  for (std::int64_t i = 0; i < flat.numel(); ++i)
    if (ip[i] < 0 || ip[i] >= num)
      throw IndexError(fmt::format("embedding: index {} is out of range for {} embeddings (weight {})", ip[i], num,
                                   shape_str(weight.sizes())));
  Tensor rows = kernel::index_select(weight, 0, flat);
  Dims out_shape = indices.shape();
  out_shape.push_back(dim);
  Tensor y = make_view(rows, out_shape, contiguous_strides(out_shape), rows.storage_offset());
  if (autograd::needs_grad(weight))
    autograd::record("embedding", {&weight}, {&y}, [sidx = SavedTensor(flat, false), pad, num, dim](Backward& bw) {
      // y[..., :] = W[idx[...], :], W [num, dim], y [*idx.shape, dim]:
      //   dW [num, dim] = zeros with the rows of dy added at idx, rows where idx == padding_idx left out.
      const Tensor idx = bw.unpack(sidx);
      Tensor dy = tg::reshape(bw.grad(), {idx.numel(), dim});
      if (pad) dy = tg::masked_fill(dy, tg::unsqueeze(idx.eq(static_cast<double>(*pad)), 1), 0.0);
      if (!is_grad_enabled()) {
        bw.add(0, kernel::index_add_zeros({num, dim}, 0, idx, dy));
        return;
      }
      bw.add(0, tg::scatter_add(zeros({num, dim}, {dy.dtype()}), 0, tg::expand(tg::unsqueeze(idx, 1), {idx.numel(), dim}), dy));
    });
  return y;
}

}  // namespace tg::nn::functional
