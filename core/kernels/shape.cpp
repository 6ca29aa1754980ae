#include <tapegrad/core/kernels/shape.h>

#include <algorithm>
#include <array>
#include <limits>

#include <fmt/format.h>

#include <tapegrad/core/kernels/copy.h>

namespace tg::kernel {

bool tensor_size_fits(std::span<const std::int64_t> shape) {
  std::int64_t extent = 1;
  for (auto s : shape) {
    if (s == 0) continue;
    if (mul_overflows(extent, s, &extent) || extent > std::numeric_limits<std::int64_t>::max() / 8) return false;
  }
  return true;
}

void check_output_size(const char* op, std::span<const std::int64_t> shape) {
  if (!tensor_size_fits(shape))
    throw ShapeError(fmt::format("{}: output shape {} has more elements than a tensor can hold", op, shape_str(shape)));
}

Dims infer_size(const Dims& shape, std::int64_t numel, const char* op) {
  Dims out = shape;
  int inferred = -1;
  std::int64_t known = 1;
  bool overflow = false;
  for (int d = 0; d < shape.size(); ++d) {
    if (shape[d] == -1) {
      if (inferred >= 0)
        throw ShapeError(
            fmt::format("{}: only one dimension can be inferred (-1), got shape {}", op, shape_str(shape)));
      inferred = d;
    } else if (shape[d] < 0) {
      throw ShapeError(
          fmt::format("{}: invalid size {} at dimension {} of shape {}", op, shape[d], d, shape_str(shape)));
    } else {
      overflow |= mul_overflows(known, shape[d], &known);
    }
  }
  // A wrapped product could match numel ([INT64_MAX, INT64_MAX] wraps to 1).
  // A zero size makes the count an honest 0, but the other sizes must still
  // be ones a tensor can have (make_tensor's bound, INT64_MAX / 8 elements),
  // wherever the zero is: else the view is fine until .to() or clone().
  const bool has_zero = std::find(shape.begin(), shape.end(), 0) != shape.end();
  // The -1 is not a negative size (what throw_numel_overflow would call it).
  const auto throw_overflow = [&] {
    if (inferred < 0) throw_numel_overflow(op, shape);
    throw ShapeError(
        fmt::format("{}: the sizes of shape {} other than the -1 have more elements than an int64 can count", op,
                    shape_str(shape)));
  };
  if (has_zero) {
    std::int64_t others = 1;
    bool too_many = false;
    for (auto size : shape)
      if (size > 0) too_many |= mul_overflows(others, size, &others);
    if (too_many || others > std::numeric_limits<std::int64_t>::max() / 8) throw_overflow();
  }
  if (overflow && !has_zero) throw_overflow();
  if (overflow) known = 0;
  if (inferred >= 0) {
    if (known == 0 && numel == 0)
      throw ShapeError(fmt::format("{}: cannot infer the -1 in shape {} for a tensor of 0 elements: any size would fit",
                                   op, shape_str(shape)));
    if (known != 0 && numel % known == 0) {
      out[inferred] = numel / known;
      return out;
    }
  } else if (known == numel) {
    return out;
  }
  throw ShapeError(fmt::format("{}: shape {} is invalid for input of size {}", op, shape_str(shape), numel));
}

std::optional<Dims> view_strides(const Dims& sizes, const Dims& strides, const Dims& new_sizes) {
  Dims out = Dims::filled(new_sizes.size(), 1);
  if (sizes.empty()) return out;  // a scalar: every new dim has size 1
  if (sizes.product() == 0) return sizes == new_sizes ? strides : contiguous_strides(new_sizes, "view");
  // Walk both shapes from the innermost dim. The old dims split into chunks,
  // each contiguous among itself (size-1 dims join any chunk); every chunk
  // must be covered exactly by a run of new dims, which then get strides
  // counted from the chunk's innermost stride.
  int v = new_sizes.size() - 1;
  std::int64_t base = strides[sizes.size() - 1];
  std::int64_t chunk_numel = 1, view_numel = 1;
  for (int d = sizes.size() - 1; d >= 0; --d) {
    chunk_numel *= sizes[d];
    // Products that overflow cannot equal a stride of a view in bounds: such
    // a chunk ends (and the caller copies).
    std::int64_t chunk_extent = 0;
    const bool chunk_ends =
        d == 0 ||
        (sizes[d - 1] != 1 && (mul_overflows(chunk_numel, base, &chunk_extent) || strides[d - 1] != chunk_extent));
    if (!chunk_ends) continue;
    while (v >= 0 && (view_numel < chunk_numel || new_sizes[v] == 1)) {
      if (mul_overflows(view_numel, base, &out[v])) return std::nullopt;
      view_numel *= new_sizes[v];
      --v;
    }
    if (view_numel != chunk_numel) return std::nullopt;
    if (d > 0) {
      base = strides[d - 1];
      chunk_numel = 1;
      view_numel = 1;
    }
  }
  if (v != -1) return std::nullopt;
  return out;
}

TensorBase view(const TensorBase& x, const Dims& shape) {
  const Dims sizes = infer_size(shape, x.numel(), "view");
  auto strides = view_strides(x.shape(), Dims(x.strides()), sizes);
  if (!strides)
    throw ShapeError(fmt::format(
        "view: shape {} is not compatible with input size {} and stride {} (a dimension to merge or split spans "
        "memory that is not contiguous); use reshape, which copies when it must",
        shape_str(shape), shape_str(x.sizes()), shape_str(x.strides())));
  return make_view(x, sizes, *strides, x.storage_offset());
}

TensorBase reshape(const TensorBase& x, const Dims& shape) {
  const Dims sizes = infer_size(shape, x.numel(), "reshape");
  if (auto strides = view_strides(x.shape(), Dims(x.strides()), sizes))
    return make_view(x, sizes, *strides, x.storage_offset());
  TensorBase copy = clone(x);
  return make_view(copy, sizes, contiguous_strides(sizes, "reshape"), 0);
}

TensorBase transpose(const TensorBase& x, std::int64_t dim0, std::int64_t dim1) {
  const int a = wrap_dim(dim0, x.dim(), "transpose"), b = wrap_dim(dim1, x.dim(), "transpose");
  Dims sizes = x.shape(), strides(x.strides());
  if (x.dim() > 0) {
    std::swap(sizes[a], sizes[b]);
    std::swap(strides[a], strides[b]);
  }
  return make_view(x, sizes, strides, x.storage_offset());
}

TensorBase permute(const TensorBase& x, const Dims& dims) {
  const int n = x.dim();
  if (dims.size() != n)
    throw ShapeError(fmt::format("permute: got {} dims {} for a tensor of shape {} with {} dimensions", dims.size(),
                                 shape_str(dims), shape_str(x.sizes()), n));
  Dims sizes = Dims::filled(n, 0), strides = Dims::filled(n, 0);
  std::array<bool, kMaxDims> seen{};
  for (int i = 0; i < n; ++i) {
    const int d = wrap_dim(dims[i], n, "permute");
    if (seen[static_cast<std::size_t>(d)])
      throw ShapeError(fmt::format("permute: dimension {} appears twice in {}; expected a permutation of 0..{}", d,
                                   shape_str(dims), n - 1));
    seen[static_cast<std::size_t>(d)] = true;
    sizes[i] = x.size(d);
    strides[i] = x.stride(d);
  }
  return make_view(x, sizes, strides, x.storage_offset());
}

TensorBase expand(const TensorBase& x, const Dims& sizes) {
  const int n = sizes.size(), xn = x.dim();
  if (n < xn)
    throw ShapeError(fmt::format("expand: cannot expand a tensor of shape {} to {}: the target has fewer dimensions",
                                 shape_str(x.sizes()), shape_str(sizes)));
  Dims out_sizes = sizes, out_strides = Dims::filled(n, 0);
  for (int i = 0; i < n; ++i) {
    const int j = i - (n - xn);
    if (j < 0) {
      if (sizes[i] < 0)
        throw ShapeError(fmt::format("expand: size {} is not allowed for the new leading dimension {} (target {})",
                                     sizes[i], i, shape_str(sizes)));
      continue;  // a new leading dim: every index reads the same data
    }
    const std::int64_t have = x.size(j);
    const std::int64_t want = sizes[i] == -1 ? have : sizes[i];
    if (want < 0)
      throw ShapeError(
          fmt::format("expand: invalid size {} at dimension {} of target {}", sizes[i], i, shape_str(sizes)));
    if (want == have) {
      out_strides[i] = x.stride(j);
    } else if (have != 1) {
      throw ShapeError(fmt::format(
          "expand: dimension {} of size {} cannot become {} (only size-1 dimensions can grow); tensor shape {}, "
          "target {}",
          j, have, want, shape_str(x.sizes()), shape_str(sizes)));
    }
    out_sizes[i] = want;
  }
  checked_numel(out_sizes, "expand");
  return make_view(x, out_sizes, out_strides, x.storage_offset());
}

TensorBase squeeze(const TensorBase& x) {
  Dims sizes, strides;
  for (int d = 0; d < x.dim(); ++d) {
    if (x.size(d) == 1) continue;
    sizes.push_back(x.size(d));
    strides.push_back(x.stride(d));
  }
  return make_view(x, sizes, strides, x.storage_offset());
}

TensorBase squeeze(const TensorBase& x, std::int64_t dim) {
  const int d = wrap_dim(dim, x.dim(), "squeeze");
  Dims sizes = x.shape(), strides(x.strides());
  if (x.dim() > 0 && sizes[d] == 1) {
    sizes.erase(d);
    strides.erase(d);
  }
  return make_view(x, sizes, strides, x.storage_offset());
}

TensorBase unsqueeze(const TensorBase& x, std::int64_t dim) {
  const int d = wrap_dim(dim, x.dim() + 1, "unsqueeze");
  Dims sizes = x.shape(), strides(x.strides());
  // Any stride works for a size-1 dim; this one keeps a contiguous tensor contiguous.
  // (A size-1 dim may carry any stride, so the product can overflow: then 1.)
  std::int64_t stride = 1;
  if (d < x.dim() && mul_overflows(sizes[d], strides[d], &stride)) stride = 1;
  sizes.insert(d, 1);
  strides.insert(d, stride);
  return make_view(x, sizes, strides, x.storage_offset());
}

SliceSpec slice_spec(const TensorBase& x, std::int64_t dim, std::int64_t start, std::int64_t end, std::int64_t step) {
  if (x.dim() == 0) throw ShapeError("slice: cannot slice a 0-d tensor");
  const int d = wrap_dim(dim, x.dim(), "slice");
  if (step <= 0) throw ValueError(fmt::format("slice: step must be positive, got {}", step));
  const std::int64_t size = x.size(d);
  auto bound = [size](std::int64_t v) {
    if (v < 0) v += size;
    return std::clamp<std::int64_t>(v, 0, size);
  };
  const std::int64_t s = bound(start), e = std::max(bound(end), s);
  // Written so that a huge step cannot overflow.
  const std::int64_t length = e == s ? 0 : (e - s - 1) / step + 1;
  return {d, s, length, step};
}

SliceSpec narrow_spec(const TensorBase& x, std::int64_t dim, std::int64_t start, std::int64_t length) {
  if (x.dim() == 0) throw ShapeError("narrow: cannot narrow a 0-d tensor");
  const int d = wrap_dim(dim, x.dim(), "narrow");
  const std::int64_t size = x.size(d);
  if (length < 0) throw ValueError(fmt::format("narrow: length must be non-negative, got {}", length));
  if (start < -size || start > size)
    throw IndexError(fmt::format("narrow: start {} is out of range for dimension {} with size {}", start, d, size));
  const std::int64_t s = start < 0 ? start + size : start;
  if (length > size - s)
    throw IndexError(
        fmt::format("narrow: start {} + length {} exceeds the size {} of dimension {}", s, length, size, d));
  return {d, s, length, 1};
}

SliceSpec select_spec(const TensorBase& x, std::int64_t dim, std::int64_t index) {
  if (x.dim() == 0) throw IndexError("select: cannot select from a 0-d tensor");
  const int d = wrap_dim(dim, x.dim(), "select");
  const std::int64_t size = x.size(d);
  if (index < -size || index >= size)
    throw IndexError(fmt::format("select: index {} is out of range for dimension {} with size {}", index, d, size));
  return {d, index < 0 ? index + size : index, 1, 1};
}

TensorBase slice(const TensorBase& x, const SliceSpec& s) {
  Dims sizes = x.shape(), strides(x.strides());
  const std::int64_t offset = x.storage_offset() + s.start * strides[s.dim];
  sizes[s.dim] = s.length;
  strides[s.dim] *= s.step;
  return make_view(x, sizes, strides, offset);
}

TensorBase select(const TensorBase& x, const SliceSpec& s) {
  Dims sizes = x.shape(), strides(x.strides());
  const std::int64_t offset = x.storage_offset() + s.start * strides[s.dim];
  sizes.erase(s.dim);
  strides.erase(s.dim);
  return make_view(x, sizes, strides, offset);
}

TensorBase slice_backward(const TensorBase& grad, const Dims& shape, const SliceSpec& s) {
  TensorBase out = make_tensor(shape, grad.dtype());
  fill_(out, 0);
  TensorBase part = slice(out, s);
  if (part.shape() != grad.shape())
    throw ShapeError(fmt::format("slice_backward: gradient of shape {} does not fit the slice of shape {}",
                                 shape_str(grad.sizes()), shape_str(part.sizes())));
  copy_(part, grad);
  return out;
}

CatPlan cat_plan(std::span<const TensorBase> tensors, std::int64_t dim) {
  if (tensors.empty()) throw ValueError("cat: expected a non-empty list of tensors");
  // As PyTorch, mixed dtypes promote (skipped empty tensors count too).
  DType dtype = kBool;
  for (std::size_t i = 0; i < tensors.size(); ++i) {
    if (!tensors[i].defined()) throw ValueError(fmt::format("cat: tensor {} is undefined", i));
    dtype = i == 0 ? tensors[0].dtype() : promote_types(dtype, tensors[i].dtype());
  }
  // As PyTorch, 1-D empty tensors are skipped whatever the others' shapes
  // (code that grows a tensor by cat often starts from one).
  auto legacy_empty = [](const TensorBase& t) { return t.dim() == 1 && t.numel() == 0; };
  const auto first =
      std::find_if(tensors.begin(), tensors.end(), [&](const TensorBase& t) { return !legacy_empty(t); });
  const std::size_t ref = first == tensors.end() ? 0 : static_cast<std::size_t>(first - tensors.begin());
  const TensorBase& r = tensors[ref];
  if (r.dim() == 0)
    throw ShapeError(
        fmt::format("cat: tensor {} is 0-d; zero-dimensional tensors cannot be concatenated "
                    "(unsqueeze them first, or use stack)",
                    ref));
  CatPlan plan;
  plan.dtype = dtype;
  plan.dim = wrap_dim(dim, r.dim(), "cat");
  plan.out_shape = r.shape();
  plan.out_shape[plan.dim] = 0;
  plan.skipped.resize(tensors.size(), false);
  for (std::size_t i = 0; i < tensors.size(); ++i) {
    const TensorBase& t = tensors[i];
    if (first != tensors.end() && legacy_empty(t)) {
      plan.skipped[i] = true;
      continue;
    }
    bool match = t.dim() == r.dim();
    for (int k = 0; k < r.dim() && match; ++k) match = k == plan.dim || t.size(k) == r.size(k);
    if (!match)
      throw ShapeError(fmt::format(
          "cat: tensor {} has shape {} but tensor {} has shape {}; all dimensions but {} (the cat dimension) must "
          "match",
          i, shape_str(t.sizes()), ref, shape_str(r.sizes()), plan.dim));
    if (add_overflows(plan.out_shape[plan.dim], t.size(plan.dim), &plan.out_shape[plan.dim]))
      throw ShapeError(
          fmt::format("cat: the sizes along dimension {} add up to more than an int64 can count "
                      "(tensor {} has shape {})",
                      plan.dim, i, shape_str(t.sizes())));
  }
  return plan;
}

TensorBase cat(std::span<const TensorBase> tensors, std::int64_t dim) { return cat(tensors, cat_plan(tensors, dim)); }

TensorBase cat(std::span<const TensorBase> tensors, const CatPlan& plan) {
  TensorBase out = make_tensor(plan.out_shape, plan.dtype);
  std::int64_t offset = 0;
  for (std::size_t i = 0; i < tensors.size(); ++i) {
    if (plan.skipped[i]) continue;
    const std::int64_t n = tensors[i].size(plan.dim);
    if (n > 0) copy_(slice(out, {plan.dim, offset, n, 1}), tensors[i]);
    offset += n;
  }
  return out;
}

}  // namespace tg::kernel
