// Indexing ops: index_select, gather, scatter_add, masked_fill, one_hot.
// Kernels and checks: core/kernels/index.h. Index and mask tensors never
// carry a gradient; they are saved for backward (so modifying them in place
// afterwards is caught) but are not inputs of the node.
#include <tapegrad/autograd/function.h>
#include <tapegrad/autograd/ops.h>
#include <tapegrad/core/kernels/index.h>
#include <tapegrad/core/profiler.h>

namespace tg {

using autograd::Backward;
using autograd::SavedTensor;

namespace {

// index_select and index_add_zeros are each other's adjoint, so each one's
// backward is the other: gradients of any order flow through embeddings.
Tensor index_add_zeros(const Dims& shape, int dim, const Tensor& index, const Tensor& src) {
  Tensor y = kernel::index_add_zeros(shape, dim, index, src);
  if (autograd::needs_grad(src))
    autograd::record("index_select_backward", {&src}, {&y}, [dim, index = SavedTensor(index, false)](Backward& bw) {
      // y = zeros(shape) with src's slices added at index along dim;  dsrc = index_select(dy, dim, index)
      bw.add(0, tg::index_select(bw.grad(), dim, bw.unpack(index)));
    });
  return y;
}

// A 0-d operand as shape [1] (kernel::zero_d_counts_as_one).
Tensor as_1d(const Tensor& t) { return t.dim() == 0 ? t.reshape({1}) : t; }

Tensor gather_equal_ranks(const Tensor& x, std::int64_t dim, const Tensor& index) {
  Tensor y = kernel::gather(x, dim, index);
  if (autograd::needs_grad(x)) {
    const int d = wrap_dim(dim, x.dim(), "gather");
    autograd::record("gather", {&x}, {&y}, [d, index = SavedTensor(index, false)](Backward& bw) {
      // y[..i..] = x[..index[..i..]..] along d (y has index's shape);
      // dx = scatter_add(zeros(x.shape), d, index, dy): repeats accumulate
      const Tensor& dy = bw.grad();
      bw.add(0, tg::scatter_add(zeros(bw.input_shape(0), {dy.dtype()}), d, bw.unpack(index), dy));
    });
  }
  return y;
}

Tensor scatter_add_equal_ranks(const Tensor& x, std::int64_t dim, const Tensor& index, const Tensor& src) {
  Tensor y = kernel::scatter_add(x, dim, index, src);
  if (autograd::needs_grad(x, src)) {
    const int d = wrap_dim(dim, x.dim(), "scatter_add");
    autograd::record("scatter_add", {&x, &src}, {&y}, [d, index = SavedTensor(index, false)](Backward& bw) {
      // y = x;  y[..index[..i..]..] += src[..i..] along d
      // dx = dy;  dsrc = gather(dy, d, index) [index's shape], zero in the part of src that index does not reach
      const Tensor& dy = bw.grad();
      if (bw.needs(0)) bw.add(0, dy);
      if (!bw.needs(1)) return;
      const Dims& src_shape = bw.input_shape(1);
      const Tensor idx = bw.unpack(index);
      if (idx.numel() == 0) {
        bw.add(1, zeros(src_shape, {dy.dtype()}));
        return;
      }
      Tensor g = tg::gather(dy, d, idx);
      for (int k = 0; k < g.dim(); ++k) {
        if (g.size(k) == src_shape[k]) continue;
        Dims pad = g.shape();
        pad[k] = src_shape[k] - g.size(k);
        g = tg::cat({g, zeros(pad, {dy.dtype()})}, k);
      }
      bw.add(1, g);
    });
  }
  return y;
}

}  // namespace

Tensor index_select(const Tensor& x, std::int64_t dim, const Tensor& index) {
  TG_PROFILE_OP("index_select", x, index);
  Tensor y = kernel::index_select(x, dim, index);
  if (autograd::needs_grad(x)) {
    const int d = wrap_dim(dim, x.dim(), "index_select");
    autograd::record("index_select", {&x}, {&y}, [d, index = SavedTensor(index, false)](Backward& bw) {
      // y = x[index] along d;  dx = zeros(x.shape) with dy's slices added at index (repeats accumulate)
      bw.add(0, index_add_zeros(bw.input_shape(0), d, bw.unpack(index), bw.grad()));
    });
  }
  return y;
}

Tensor gather(const Tensor& x, std::int64_t dim, const Tensor& index) {
  TG_PROFILE_OP("gather", x, index);
  if (kernel::zero_d_counts_as_one({&x, &index}))
    return gather_equal_ranks(as_1d(x), dim, as_1d(index)).reshape(index.shape());
  return gather_equal_ranks(x, dim, index);
}

Tensor scatter_add(const Tensor& x, std::int64_t dim, const Tensor& index, const Tensor& src) {
  TG_PROFILE_OP("scatter_add", x, index, src);
  if (kernel::zero_d_counts_as_one({&x, &index, &src}))
    return scatter_add_equal_ranks(as_1d(x), dim, as_1d(index), as_1d(src)).reshape(x.shape());
  return scatter_add_equal_ranks(x, dim, index, src);
}

Tensor masked_fill(const Tensor& x, const Tensor& mask, double value) {
  TG_PROFILE_OP("masked_fill", x, mask);
  Tensor y = kernel::masked_fill(x, mask, value);
  if (autograd::needs_grad(x))
    autograd::record("masked_fill", {&x}, {&y}, [mask = SavedTensor(mask, false)](Backward& bw) {
      // y = mask ? value : x (broadcast);  dx = mask ? 0 : dy, summed back to x's shape by Backward::add
      bw.add(0, tg::masked_fill(bw.grad(), bw.unpack(mask), 0));
    });
  return y;
}

Tensor one_hot(const Tensor& labels, std::int64_t num_classes) {
  TG_PROFILE_OP("one_hot", labels);
  return kernel::one_hot(labels, num_classes);
}

}  // namespace tg
