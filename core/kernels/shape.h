#pragma once
// Shape and view kernels: views that share storage (view, reshape, transpose,
// permute, slicing, expand, squeeze) and cat, the copy that joins tensors.
// They check their arguments and name the op in every error;
// autograd/ops/shape.cpp records them on the tape.
#include <cstdint>
#include <optional>
#include <span>

#include <tapegrad/core/tensor.h>

namespace tg::kernel {

// Whether a tensor of `shape` can be created at all: make_tensor's rule,
// the element count (zero sizes aside) times 8 bytes within int64. Ops
// check their output shape with these first, so that a size past it is an
// error naming the op and the shape asked for, not one about an internal
// tensor (an index list) the op builds on the way.
bool tensor_size_fits(std::span<const std::int64_t> shape);
// ShapeError "op: output shape [...] has more elements than a tensor can
// hold" unless tensor_size_fits(shape).
void check_output_size(const char* op, std::span<const std::int64_t> shape);

// `shape` with its one -1 replaced so that it holds `numel` elements;
// ShapeError naming `op` when that is impossible or ambiguous.
Dims infer_size(const Dims& shape, std::int64_t numel, const char* op);

// Strides that let a tensor of `sizes`/`strides` be seen as `new_sizes`
// without copying (PyTorch's rule: each run of dims merged or split must be
// contiguous among itself), or nothing when a copy is unavoidable.
std::optional<Dims> view_strides(const Dims& sizes, const Dims& strides, const Dims& new_sizes);

TensorBase view(const TensorBase& x, const Dims& shape);     // ShapeError when the layout forbids it
TensorBase reshape(const TensorBase& x, const Dims& shape);  // a view when possible, else a contiguous copy
TensorBase transpose(const TensorBase& x, std::int64_t dim0, std::int64_t dim1);
TensorBase permute(const TensorBase& x, const Dims& dims);
TensorBase expand(const TensorBase& x, const Dims& sizes);
TensorBase squeeze(const TensorBase& x);
TensorBase squeeze(const TensorBase& x, std::int64_t dim);
TensorBase unsqueeze(const TensorBase& x, std::int64_t dim);

// Elements start, start + step, ... (`length` of them) along `dim`, already
// checked and normalised.
struct SliceSpec {
  int dim = 0;
  std::int64_t start = 0;
  std::int64_t length = 0;
  std::int64_t step = 1;
};
// Python's x[start:end:step] along `dim`: negative bounds count from the end,
// out-of-range bounds are clamped, step must be positive.
SliceSpec slice_spec(const TensorBase& x, std::int64_t dim, std::int64_t start, std::int64_t end, std::int64_t step);
// `length` elements from `start` (which may be negative); no clamping.
SliceSpec narrow_spec(const TensorBase& x, std::int64_t dim, std::int64_t start, std::int64_t length);
// The single element `index` (which may be negative) along `dim`.
SliceSpec select_spec(const TensorBase& x, std::int64_t dim, std::int64_t index);

TensorBase slice(const TensorBase& x, const SliceSpec& s);   // keeps `s.dim`
TensorBase select(const TensorBase& x, const SliceSpec& s);  // drops `s.dim` (s.length must be 1)
// A zero tensor of `shape` holding `grad` in the slice `s` (the adjoint of slice).
TensorBase slice_backward(const TensorBase& grad, const Dims& shape, const SliceSpec& s);

// The dim `dim` of cat resolved against its inputs: checks dtypes and shapes.
// Legacy 1-D empty tensors (shape [0]) are skipped as PyTorch does.
struct CatPlan {
  int dim = 0;
  DType dtype = kFloat32;  // the inputs' promoted dtype
  Dims out_shape;
  std::vector<bool> skipped;
};
CatPlan cat_plan(std::span<const TensorBase> tensors, std::int64_t dim);
TensorBase cat(std::span<const TensorBase> tensors, std::int64_t dim);
TensorBase cat(std::span<const TensorBase> tensors, const CatPlan& plan);

}  // namespace tg::kernel
