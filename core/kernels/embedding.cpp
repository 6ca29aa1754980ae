// embedding kernels (declared in embedding.h).
#include <tapegrad/core/kernels/embedding.h>

#include <algorithm>

#include <fmt/format.h>

#include <tapegrad/core/kernels/copy.h>
#include <tapegrad/core/kernels/index.h>

namespace tg::kernel {

std::optional<std::int64_t> embedding_check(const TensorBase& indices, const TensorBase& weight,
                                            std::optional<std::int64_t> padding_idx) {
  if (indices.dtype() != kInt64 && indices.dtype() != kInt32)
    throw DTypeError(fmt::format("embedding: indices must be int64 or int32, got {}", dtype_name(indices.dtype())));
  if (weight.dim() != 2)
    throw ShapeError(fmt::format("embedding: weight must be 2-D [num_embeddings, embedding_dim], got {}",
                                 shape_str(weight.sizes())));
  const std::int64_t num = weight.size(0);
  std::optional<std::int64_t> pad = padding_idx;
  if (pad) {
    if (*pad < -num || *pad >= num)
      throw ValueError(fmt::format("embedding: padding_idx {} is out of range for {} embeddings", *pad, num));
    if (*pad < 0) *pad += num;
  }
  return pad;
}

TensorBase embedding_indices(const TensorBase& indices, const TensorBase& weight) {
  const std::int64_t num = weight.size(0);
  const TensorBase idx = contiguous(indices.dtype() == kInt64 ? indices : to(indices, kInt64));
  const TensorBase flat = make_view(idx, {idx.numel()}, {1}, idx.storage_offset());
  const std::int64_t* ip = flat.data_ptr<std::int64_t>();
  for (std::int64_t i = 0; i < flat.numel(); ++i)
    if (ip[i] < 0 || ip[i] >= num)
      throw IndexError(fmt::format("embedding: index {} is out of range for {} embeddings (weight {})", ip[i], num,
                                   shape_str(weight.sizes())));
  return flat;
}

namespace {

// Zeros the rows of `rows` [numel, dim] (contiguous, not shared) whose index is `index`.
void zero_rows_at(const TensorBase& rows, const TensorBase& flat_indices, std::int64_t index) {
  const std::int64_t dim = rows.size(1);
  dispatch_floating(rows.dtype(), "embedding", [&]<class T>() {
    const std::int64_t* ip = flat_indices.data_ptr<std::int64_t>();
    T* rp = rows.data_ptr<T>();
    for (std::int64_t i = 0; i < flat_indices.numel(); ++i)
      if (ip[i] == index) std::fill(rp + i * dim, rp + (i + 1) * dim, T(0));
  });
}

}  // namespace

TensorBase embedding(const TensorBase& flat_indices, const TensorBase& weight, const Dims& shape,
                     std::optional<std::int64_t> zero_index) {
  TensorBase rows = index_select(weight, 0, flat_indices);
  if (zero_index) zero_rows_at(rows, flat_indices, *zero_index);
  Dims out_shape = shape;
  out_shape.push_back(weight.size(1));
  return make_view(rows, out_shape, contiguous_strides(out_shape), rows.storage_offset());
}

TensorBase embedding_backward(const TensorBase& dy, const TensorBase& flat_indices, std::int64_t num,
                              std::optional<std::int64_t> padding_idx) {
  const std::int64_t dim = dy.size(dy.dim() - 1);
  TensorBase rows = contiguous(dy);
  rows = make_view(rows, {flat_indices.numel(), dim}, {dim, 1}, rows.storage_offset());
  if (padding_idx) {
    // The padding row never learns: its gradient rows are left out (zeroed).
    rows = clone(rows);
    zero_rows_at(rows, flat_indices, *padding_idx);
  }
  return index_add_zeros({num, dim}, 0, flat_indices, rows);
}

}  // namespace tg::kernel
