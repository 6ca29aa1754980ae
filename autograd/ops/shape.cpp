// Shape ops: views (no copy; the output is a new TensorImpl on the same
// storage, recorded like any op), the copies that join and split tensors, and
// dtype conversion. Kernels and checks: core/kernels/shape.h.
#include <fmt/format.h>

#include <tapegrad/autograd/function.h>
#include <tapegrad/autograd/ops.h>
#include <tapegrad/autograd/views.h>
#include <tapegrad/core/kernels/copy.h>
#include <tapegrad/core/kernels/shape.h>
#include <tapegrad/core/profiler.h>

namespace tg {

using autograd::Backward;
using kernel::SliceSpec;

namespace {

Tensor slice_by(const Tensor& x, const SliceSpec& s, const char* name);
Tensor unslice(const Tensor& grad, const Dims& shape, const SliceSpec& s);

// Slicing and unslicing (slice_backward) are each other's adjoint, so each
// one's backward is the other: gradients of any order flow through slices.
Tensor slice_by(const Tensor& x, const SliceSpec& s, const char* name) {
  Tensor y = kernel::slice(x, s);
  if (autograd::needs_grad(x))
    autograd::record(name, {&x}, {&y}, [s](Backward& bw) {
      // y = x[start : start + length*step : step] along s.dim;  dx = zeros(x.shape) with dy written there
      bw.add(0, unslice(bw.grad(), bw.input_shape(0), s));
    });
  autograd::track_view(x, y);
  return y;
}

Tensor unslice(const Tensor& grad, const Dims& shape, const SliceSpec& s) {
  Tensor y = kernel::slice_backward(grad, shape, s);
  if (autograd::needs_grad(grad))
    autograd::record("slice_backward", {&grad}, {&y}, [s](Backward& bw) {
      // y = zeros(shape) with grad written at slice s;  dgrad = dy[s]
      bw.add(0, slice_by(bw.grad(), s, "slice"));
    });
  return y;
}

// Ops whose gradient is the output gradient reshaped back to the input's
// shape (view, reshape, squeeze, unsqueeze).
void record_reshape_back(const char* name, const Tensor& x, Tensor& y) {
  autograd::record(name, {&x}, {&y}, [](Backward& bw) {
    // y = x with another shape (same elements, same order);  dx = reshape(dy, x.shape)
    bw.add(0, tg::reshape(bw.grad(), bw.input_shape(0)));
  });
}

// dx = dy: ops that copy values unchanged (clone, contiguous, dtype casts,
// whose cast back is done by Backward::add).
void record_identity(const char* name, const Tensor& x, Tensor& y) {
  autograd::record(name, {&x}, {&y}, [](Backward& bw) {
    // y = x (copied);  dx = dy
    bw.add(0, bw.grad());
  });
}

// Each piece is a handle and a TensorImpl: a count no machine can hold is
// an error up front, not std::bad_alloc from a vector.
void check_piece_count(std::int64_t pieces, const char* op) {
  check_allocation(static_cast<std::size_t>(pieces), sizeof(Tensor) + sizeof(TensorImpl), op);
}

// split, chunk and unbind: the pieces of x along dim d, `lengths[k]`
// elements each, one after another (unbind: `drop_dim`, one element each, d
// removed). Each piece is a view of x, and all are the outputs of one node,
// as in PyTorch. Its backward joins the pieces' gradients with one cat (zeros
// for a piece that got none), so a loop over T pieces costs one pass over x in
// backward. T narrow or select nodes would each write a zero gradient of x's
// whole shape, and the engine would add T of them: an LSTM over T steps would
// be quadratic in T.
std::vector<Tensor> split_views(const Tensor& x, int d, std::vector<std::int64_t> lengths, bool drop_dim,
                                const char* name) {
  std::vector<Tensor> out;
  out.reserve(lengths.size());
  std::int64_t start = 0;
  for (const std::int64_t length : lengths) {
    const SliceSpec s = drop_dim ? kernel::select_spec(x, d, start) : kernel::narrow_spec(x, d, start, length);
    out.emplace_back(drop_dim ? kernel::select(x, s) : kernel::slice(x, s));
    start += length;
  }
  if (autograd::needs_grad(x)) {
    std::vector<Tensor*> outputs(out.size());
    for (std::size_t k = 0; k < out.size(); ++k) outputs[k] = &out[k];
    autograd::record(name, {&x}, std::span<Tensor* const>(outputs),
                     [d, drop_dim, lengths = std::move(lengths)](Backward& bw) {
                       // y_k = x[start_k : start_k + lengths[k]] along d (unbind: y_k = x[k], d dropped);
                       // dx = cat(dy_k, d), with zeros for a y_k that got no gradient
                       std::vector<Tensor> parts;
                       parts.reserve(lengths.size());
                       Dims shape = bw.input_shape(0);
                       for (std::size_t k = 0; k < lengths.size(); ++k) {
                         const Tensor& g = bw.grad(k);
                         shape[d] = lengths[k];
                         parts.push_back(!g.defined() ? tg::zeros(shape, {.dtype = bw.input_dtype(0)})
                                         : drop_dim   ? tg::unsqueeze(g, d)
                                                      : g);
                       }
                       bw.add(0, parts.size() == 1 ? parts[0] : tg::cat(parts, d));
                     });
  }
  for (auto& piece : out) autograd::track_view(x, piece);
  autograd::mark_multi_output_views(out);
  return out;
}

}  // namespace

Tensor view(const Tensor& x, Dims shape) {
  TG_PROFILE_OP("view", x);
  Tensor y = kernel::view(x, shape);
  if (autograd::needs_grad(x)) record_reshape_back("view", x, y);
  autograd::track_view(x, y);
  return y;
}

Tensor reshape(const Tensor& x, Dims shape) {
  TG_PROFILE_OP("reshape", x);
  Tensor y = kernel::reshape(x, shape);
  if (autograd::needs_grad(x)) record_reshape_back("reshape", x, y);
  autograd::track_view(x, y);
  return y;
}

Tensor transpose(const Tensor& x, std::int64_t dim0, std::int64_t dim1) {
  TG_PROFILE_OP("transpose", x);
  Tensor y = kernel::transpose(x, dim0, dim1);
  if (autograd::needs_grad(x)) {
    const int a = wrap_dim(dim0, x.dim(), "transpose"), b = wrap_dim(dim1, x.dim(), "transpose");
    autograd::record("transpose", {&x}, {&y}, [a, b](Backward& bw) {
      // y = x with dims a and b swapped;  dx = dy with them swapped back
      bw.add(0, tg::transpose(bw.grad(), a, b));
    });
  }
  autograd::track_view(x, y);
  return y;
}

Tensor permute(const Tensor& x, Dims dims) {
  TG_PROFILE_OP("permute", x);
  Tensor y = kernel::permute(x, dims);
  if (autograd::needs_grad(x)) {
    // kernel::permute has checked that dims is a permutation.
    Dims inverse = Dims::filled(dims.size(), 0);
    for (int i = 0; i < dims.size(); ++i) inverse[wrap_dim(dims[i], x.dim(), "permute")] = i;
    autograd::record("permute", {&x}, {&y}, [inverse](Backward& bw) {
      // y.dim(i) = x.dim(dims[i]);  dx = permute(dy, inverse) with inverse[dims[i]] = i
      bw.add(0, tg::permute(bw.grad(), inverse));
    });
  }
  autograd::track_view(x, y);
  return y;
}

Tensor narrow(const Tensor& x, std::int64_t dim, std::int64_t start, std::int64_t length) {
  TG_PROFILE_OP("narrow", x);
  return slice_by(x, kernel::narrow_spec(x, dim, start, length), "narrow");
}

Tensor slice(const Tensor& x, std::int64_t dim, std::int64_t start, std::int64_t end, std::int64_t step) {
  TG_PROFILE_OP("slice", x);
  return slice_by(x, kernel::slice_spec(x, dim, start, end, step), "slice");
}

Tensor select(const Tensor& x, std::int64_t dim, std::int64_t index) {
  TG_PROFILE_OP("select", x);
  const SliceSpec s = kernel::select_spec(x, dim, index);
  Tensor y = kernel::select(x, s);
  if (autograd::needs_grad(x))
    autograd::record("select", {&x}, {&y}, [s](Backward& bw) {
      // y = x[index] along s.dim (that dim dropped);  dx = zeros(x.shape) with dy written at index
      bw.add(0, unslice(tg::unsqueeze(bw.grad(), s.dim), bw.input_shape(0), s));
    });
  autograd::track_view(x, y);
  return y;
}

Tensor expand(const Tensor& x, Dims sizes) {
  TG_PROFILE_OP("expand", x);
  Tensor y = kernel::expand(x, sizes);
  if (autograd::needs_grad(x))
    autograd::record("expand", {&x}, {&y}, [](Backward& bw) {
      // y = x broadcast to sizes;  dx = dy summed over the broadcast dims (Backward::add does it)
      bw.add(0, bw.grad());
    });
  autograd::track_view(x, y);
  return y;
}

Tensor squeeze(const Tensor& x) {
  TG_PROFILE_OP("squeeze", x);
  Tensor y = kernel::squeeze(x);
  if (autograd::needs_grad(x)) record_reshape_back("squeeze", x, y);
  autograd::track_view(x, y);
  return y;
}

Tensor squeeze(const Tensor& x, std::int64_t dim) {
  TG_PROFILE_OP("squeeze", x);
  Tensor y = kernel::squeeze(x, dim);
  if (autograd::needs_grad(x)) record_reshape_back("squeeze", x, y);
  autograd::track_view(x, y);
  return y;
}

Tensor unsqueeze(const Tensor& x, std::int64_t dim) {
  TG_PROFILE_OP("unsqueeze", x);
  Tensor y = kernel::unsqueeze(x, dim);
  if (autograd::needs_grad(x)) record_reshape_back("unsqueeze", x, y);
  autograd::track_view(x, y);
  return y;
}

Tensor flatten(const Tensor& x, std::int64_t start_dim, std::int64_t end_dim) {
  TG_PROFILE_OP("flatten", x);
  const int s = wrap_dim(start_dim, x.dim(), "flatten"), e = wrap_dim(end_dim, x.dim(), "flatten");
  if (x.dim() == 0) return reshape(x, {1});  // its dims checked first: 0 and -1 only, as PyTorch
  if (s > e)
    throw ShapeError(fmt::format("flatten: start_dim {} comes after end_dim {} for a tensor of shape {}", s, e,
                                 shape_str(x.sizes())));
  if (s == e) return x;
  Dims shape;
  for (int d = 0; d < s; ++d) shape.push_back(x.size(d));
  shape.push_back(
      checked_numel(x.sizes().subspan(static_cast<std::size_t>(s), static_cast<std::size_t>(e - s + 1)), "flatten"));
  for (int d = e + 1; d < x.dim(); ++d) shape.push_back(x.size(d));
  return reshape(x, shape);
}

Tensor cat(const std::vector<Tensor>& tensors, std::int64_t dim) {
  TG_PROFILE_OP("cat", tensors);
  const std::vector<TensorBase> bases = as_bases(tensors);
  const kernel::CatPlan plan = kernel::cat_plan(bases, dim);
  Tensor y = kernel::cat(bases, plan);
  if (autograd::needs_grad_list(tensors))
    autograd::record("cat", std::span<const Tensor>(tensors), {&y},
                     [d = plan.dim, skipped = plan.skipped](Backward& bw) {
                       // y = [x_0, x_1, ...] along d;  dx_i = dy[offset_i : offset_i + x_i.size(d)] along d
                       std::int64_t offset = 0;
                       for (std::size_t i = 0; i < skipped.size(); ++i) {
                         if (skipped[i]) {  // a skipped [0] input
                           if (bw.needs(i)) bw.add(i, zeros(bw.input_shape(i), {bw.grad().dtype()}));
                           continue;
                         }
                         const std::int64_t n = bw.input_shape(i)[d];
                         if (bw.needs(i)) bw.add(i, slice_by(bw.grad(), {d, offset, n, 1}, "narrow"));
                         offset += n;
                       }
                     });
  return y;
}

Tensor stack(const std::vector<Tensor>& tensors, std::int64_t dim) {
  TG_PROFILE_OP("stack", tensors);
  if (tensors.empty()) throw ValueError("stack: expected a non-empty list of tensors");
  const Dims& shape = tensors[0].shape();
  for (std::size_t i = 1; i < tensors.size(); ++i)
    if (tensors[i].shape() != shape)
      throw ShapeError(fmt::format("stack: tensor {} has shape {} but tensor 0 has shape {}; all must be equal", i,
                                   shape_str(tensors[i].sizes()), shape_str(shape)));
  const int d = wrap_dim(dim, shape.size() + 1, "stack");
  std::vector<Tensor> parts;
  parts.reserve(tensors.size());
  for (const auto& t : tensors) parts.push_back(unsqueeze(t, d));
  return cat(parts, d);
}

std::vector<Tensor> split(const Tensor& x, std::int64_t split_size, std::int64_t dim) {
  TG_PROFILE_OP("split", x);
  if (x.dim() == 0) throw ShapeError("split: cannot split a 0-d tensor");
  const int d = wrap_dim(dim, x.dim(), "split");
  const std::int64_t size = x.size(d);
  if (split_size < 0) throw ValueError(fmt::format("split: split_size must be non-negative, got {}", split_size));
  if (split_size == 0 && size != 0)
    throw ValueError(
        fmt::format("split: split_size can be 0 only when dimension {} is empty, but it has size {}", d, size));
  // (Not (size + split_size - 1) / split_size, which overflows for a huge split_size.)
  const std::int64_t pieces =
      split_size == 0 ? 1 : std::max<std::int64_t>(size / split_size + (size % split_size != 0), 1);
  check_piece_count(pieces, "split");
  std::vector<std::int64_t> lengths(static_cast<std::size_t>(pieces));
  for (std::int64_t k = 0; k < pieces; ++k)
    lengths[static_cast<std::size_t>(k)] = std::min(split_size, size - k * split_size);
  return split_views(x, d, std::move(lengths), false, "split");
}

std::vector<Tensor> split(const Tensor& x, const std::vector<std::int64_t>& split_sizes, std::int64_t dim) {
  TG_PROFILE_OP("split", x);
  if (x.dim() == 0) throw ShapeError("split: cannot split a 0-d tensor");
  const int d = wrap_dim(dim, x.dim(), "split");
  std::int64_t total = 0;
  for (const std::int64_t s : split_sizes) {
    if (s < 0)
      throw ValueError(fmt::format("split: split_sizes {} hold the negative size {}",
                                   shape_str(Dims(std::span<const std::int64_t>(
                                       split_sizes.data(), std::min<std::size_t>(split_sizes.size(), kMaxDims)))),
                                   s));
    if (add_overflows(total, s, &total)) total = -1;
    if (total < 0) break;
  }
  if (total != x.size(d))
    throw ShapeError(fmt::format(
        "split: split_sizes ({} of them) sum to {} but dimension {} of shape {} has size {}", split_sizes.size(),
        total < 0 ? std::string("more than int64 holds") : std::to_string(total), d, shape_str(x.sizes()), x.size(d)));
  return split_views(x, d, split_sizes, false, "split");
}

std::vector<Tensor> chunk(const Tensor& x, std::int64_t chunks, std::int64_t dim) {
  TG_PROFILE_OP("chunk", x);
  if (chunks <= 0) throw ValueError(fmt::format("chunk: the number of chunks must be positive, got {}", chunks));
  if (x.dim() == 0) throw ShapeError("chunk: cannot chunk a 0-d tensor");
  const int d = wrap_dim(dim, x.dim(), "chunk");
  const std::int64_t size = x.size(d);
  if (size == 0) {
    // PyTorch gives `chunks` empty pieces here.
    check_piece_count(chunks, "chunk");
    return split_views(x, d, std::vector<std::int64_t>(static_cast<std::size_t>(chunks), 0), false, "chunk");
  }
  return split(x, size / chunks + (size % chunks != 0), d);
}

std::vector<Tensor> unbind(const Tensor& x, std::int64_t dim) {
  TG_PROFILE_OP("unbind", x);
  if (x.dim() == 0) throw ShapeError("unbind: cannot unbind a 0-d tensor");
  const int d = wrap_dim(dim, x.dim(), "unbind");
  check_piece_count(x.size(d), "unbind");
  return split_views(x, d, std::vector<std::int64_t>(static_cast<std::size_t>(x.size(d)), 1), true, "unbind");
}

Tensor contiguous(const Tensor& x) {
  TG_PROFILE_OP("contiguous", x);
  if (x.is_contiguous()) return x;
  Tensor y = kernel::clone(x);
  if (autograd::needs_grad(x)) record_identity("contiguous", x, y);
  return y;
}

Tensor clone(const Tensor& x) {
  TG_PROFILE_OP("clone", x);
  Tensor y = kernel::clone(x);
  if (autograd::needs_grad(x)) record_identity("clone", x, y);
  return y;
}

Tensor to_dtype(const Tensor& x, DType dtype) {
  TG_PROFILE_OP("to_dtype", x);
  if (x.dtype() == dtype) return x;
  Tensor y = kernel::to(x, dtype);
  // Only floating results carry a gradient: a cast to int64 or bool cuts the tape.
  if (is_floating(dtype) && autograd::needs_grad(x)) record_identity("to_dtype", x, y);
  return y;
}

}  // namespace tg
