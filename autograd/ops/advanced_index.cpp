// Advanced indexing (index, index_put_) and the scatter family: scatter,
// scatter_reduce, index_add, index_copy, index_fill, nonzero, masked_select,
// any, all (declared in autograd/indexing.h).
//
// index and index_put_ are compositions of differentiable ops (select, slice,
// unsqueeze, permute, reshape, index_select, index_copy, index_add, copy_),
// so their gradients of every order come from those ops' and views and
// in-place writes behave exactly as theirs do. The advanced part flattens
// the indexed dims into one and works on rows of that.
#include <tapegrad/autograd/function.h>
#include <tapegrad/autograd/indexing.h>
#include <tapegrad/autograd/ops.h>
#include <tapegrad/autograd/views.h>
#include <tapegrad/core/kernels/copy.h>
#include <tapegrad/core/kernels/elementwise.h>
#include <tapegrad/core/kernels/index.h>
#include <tapegrad/core/kernels/inplace.h>
#include <tapegrad/core/profiler.h>

#include <fmt/format.h>

#include <algorithm>
#include <limits>
#include <numeric>
#include <utility>

namespace tg {

using autograd::Backward;
using autograd::SavedTensor;
using indexing::TensorIndex;

namespace {

// ---- index / index_put_ --------------------------------------------------------

// x[basic indices] as a view, and the advanced ones: for each, the dim of
// that view it indexes and its int64 index tensor (a mask gives one per dim
// it covers).
struct Resolved {
  Tensor view;
  std::vector<int> dims;
  std::vector<Tensor> indices;
};

Resolved resolve(const Tensor& x, const std::vector<TensorIndex>& in, const char* op) {
  using K = TensorIndex::Kind;
  int consumed = 0, ellipses = 0;
  for (const auto& i : in) {
    switch (i.kind()) {
      case K::Integer:
      case K::Slice:
        ++consumed;
        break;
      case K::Tensor:
        if (!i.tensor().defined()) throw ValueError(fmt::format("{}: an undefined tensor used as an index", op));
        consumed += i.tensor().dtype() == kBool ? i.tensor().dim() : 1;
        break;
      case K::Ellipsis:
        if (i.text() != "...")
          throw ValueError(fmt::format("{}: the only string index is \"...\", got \"{}\"", op, i.text()));
        if (++ellipses > 1) throw IndexError(fmt::format("{}: an index can only have a single ellipsis", op));
        break;
      default:
        break;
    }
  }
  if (consumed > x.dim())
    throw IndexError(fmt::format("{}: too many indices for tensor of shape {}: {} dims indexed, it has {}", op,
                                 shape_str(x.sizes()), consumed, x.dim()));
  Resolved r;
  Tensor v = x;
  int dim = 0;
  const auto add_bool = [&](bool b) {
    v = tg::unsqueeze(v, dim);
    r.dims.push_back(dim++);
    r.indices.push_back(b ? tg::zeros({1}, {.dtype = kInt64}) : tg::zeros({0}, {.dtype = kInt64}));
  };
  for (const auto& i : in) {
    switch (i.kind()) {
      case K::None:
        v = tg::unsqueeze(v, dim++);
        break;
      case K::Ellipsis:
        dim += x.dim() - consumed;
        break;
      case K::Integer: {
        const std::int64_t size = v.size(dim), k = i.integer();
        if (k < -size || k >= size)
          throw IndexError(
              fmt::format("{}: index {} is out of bounds for dimension {} with size {} (tensor of shape {})", op, k,
                          dim, size, shape_str(x.sizes())));
        v = tg::select(v, dim, k);
        break;
      }
      case K::Slice: {
        const auto& s = i.slice();
        const std::int64_t step = s.step().value_or(1);
        if (step <= 0) throw ValueError(fmt::format("{}: slice step must be greater than zero, got {}", op, step));
        v = tg::slice(v, dim++, s.start().value_or(0), s.stop().value_or(std::numeric_limits<std::int64_t>::max()),
                      step);
        break;
      }
      case K::Boolean:
        add_bool(i.boolean());
        break;
      case K::Tensor: {
        const Tensor& t = i.tensor();
        if (t.dtype() == kBool) {
          if (t.dim() == 0) {
            add_bool(t.item<bool>());
            break;
          }
          for (int k = 0; k < t.dim(); ++k)
            if (t.size(k) != v.size(dim + k))
              throw IndexError(fmt::format(
                  "{}: the shape of the mask {} at index {} does not match the shape of the indexed tensor {} at "
                  "index {}",
                  op, shape_str(t.sizes()), k, shape_str(v.sizes()), dim + k));
          const Tensor nz = kernel::nonzero(t);
          for (int k = 0; k < t.dim(); ++k) {
            r.dims.push_back(dim++);
            r.indices.push_back(kernel::contiguous(nz.select(1, k)));
          }
        } else if (t.dtype() == kInt64) {
          r.dims.push_back(dim++);
          r.indices.push_back(t.detach());
        } else {
          throw DTypeError(fmt::format("{}: tensors used as indices must be int64 or bool, got {} (shape {})", op,
                                       dtype_name(t.dtype()), shape_str(t.sizes())));
        }
        break;
      }
    }
  }
  r.view = v;
  return r;
}

// The advanced part of an index on `v`: the rows of v's indexed dims
// (flattened into one, row-major) that each element of the broadcast index
// picks, and where the result's index dims go.
struct Plan {
  Dims broadcast;         // the index tensors' broadcast shape
  Tensor rows;            // int64, 1-D, broadcast.product() rows of the flattened indexed dims
  std::vector<int> perm;  // indexed dims first, then the others in order
  std::int64_t flat = 1;  // product of the indexed dims' sizes
  int at = 0;             // where the index dims go in the result
};

Plan plan(const Tensor& v, const Resolved& r, const char* op) {
  Plan p;
  p.broadcast = r.indices[0].shape();
  for (std::size_t k = 1; k < r.indices.size(); ++k) {
    try {
      p.broadcast = broadcast_shapes(p.broadcast, r.indices[k].shape(), op);
    } catch (const ShapeError&) {
      std::string shapes;
      for (const auto& t : r.indices) shapes += (shapes.empty() ? "" : ", ") + shape_str(t.sizes());
      throw IndexError(fmt::format(
          "{}: shape mismatch: indexing tensors could not be broadcast together with shapes {}", op, shapes));
    }
  }
  const std::int64_t n = p.broadcast.product();
  // A tensor, not a std::vector: a broadcast too large to hold is the
  // library's OutOfMemoryError naming the op, not std::bad_alloc.
  p.rows = tg::zeros({n}, {.dtype = kInt64});
  std::int64_t* rows = p.rows.data_ptr<std::int64_t>();
  for (std::size_t k = 0; k < r.indices.size(); ++k) {
    const int d = r.dims[k];
    const std::int64_t size = v.size(d);
    const TensorBase e = kernel::contiguous(r.indices[k].expand(p.broadcast));
    const std::int64_t* ip = e.data_ptr<std::int64_t>();
    for (std::int64_t j = 0; j < n; ++j) {
      std::int64_t i = ip[j];
      if (i < -size || i >= size)
        throw IndexError(fmt::format("{}: index {} is out of bounds for dimension {} with size {}", op, i, d, size));
      if (i < 0) i += size;
      rows[j] = rows[j] * size + i;
    }
    p.flat *= size;
  }
  p.perm.assign(r.dims.begin(), r.dims.end());
  for (int d = 0; d < v.dim(); ++d)
    if (std::find(r.dims.begin(), r.dims.end(), d) == r.dims.end()) p.perm.push_back(d);
  bool adjacent = true;
  for (std::size_t k = 1; k < r.dims.size(); ++k) adjacent = adjacent && r.dims[k] == r.dims[k - 1] + 1;
  p.at = adjacent ? r.dims[0] : 0;
  return p;
}

Dims rest_shape(const Tensor& v, const Resolved& r) {
  Dims rest;
  for (int d = 0; d < v.dim(); ++d)
    if (std::find(r.dims.begin(), r.dims.end(), d) == r.dims.end()) rest.push_back(v.size(d));
  return rest;
}

Dims dim_range(int from, int count) {
  Dims out;
  for (int k = 0; k < count; ++k) out.push_back(from + k);
  return out;
}

// v's indexed dims as rows: [flat, rest...].
Tensor as_rows(const Tensor& v, const Resolved& r, const Plan& p) {
  Dims shape{p.flat};
  for (auto s : rest_shape(v, r)) shape.push_back(s);
  Dims perm;
  for (int d : p.perm) perm.push_back(d);
  return tg::reshape(tg::permute(v, perm), shape);
}

// The result's shape: the broadcast index dims at p.at among the kept dims.
Dims result_shape(const Tensor& v, const Resolved& r, const Plan& p) {
  const Dims rest = rest_shape(v, r);
  Dims out;
  for (int k = 0; k < p.at; ++k) out.push_back(rest[k]);
  for (auto s : p.broadcast) out.push_back(s);
  for (int k = p.at; k < rest.size(); ++k) out.push_back(rest[k]);
  return out;
}

Tensor gather_rows(const Tensor& v, const Resolved& r, const Plan& p) {
  if (r.dims.size() == 1) {
    // One indexed dim: index_select along it, without moving v's other dims.
    const int d = r.dims[0];
    Dims shape;
    for (int k = 0; k < d; ++k) shape.push_back(v.size(k));
    for (auto s : p.broadcast) shape.push_back(s);
    for (int k = d + 1; k < v.dim(); ++k) shape.push_back(v.size(k));
    return tg::reshape(tg::index_select(v, d, p.rows), shape);
  }
  Dims shape = p.broadcast;
  for (auto s : rest_shape(v, r)) shape.push_back(s);
  Tensor y = tg::reshape(tg::index_select(as_rows(v, r, p), 0, p.rows), shape);
  const int nb = p.broadcast.size();
  if (p.at > 0 && nb > 0) y = tg::movedim(y, dim_range(0, nb), dim_range(p.at, nb));
  return y;
}

// v with the indexed rows replaced by (or, accumulating, increased by)
// values broadcast to the result's shape.
Tensor put_rows(const Tensor& v, const Resolved& r, const Plan& p, const Tensor& values, bool accumulate,
                const char* op) {
  if (values.dtype() != v.dtype())
    throw DTypeError(fmt::format("{}: values of dtype {} must have the dtype of the indexed tensor, {}", op,
                                 dtype_name(values.dtype()), dtype_name(v.dtype())));
  const Dims target = result_shape(v, r, p);
  if (!autograd::expandable_to(values.shape(), target))
    throw ShapeError(
        fmt::format("{}: shape mismatch: value tensor of shape {} cannot be broadcast to indexing result "
                    "of shape {}",
                    op, shape_str(values.sizes()), shape_str(target)));
  Tensor vals = tg::expand(values, target);
  const int nb = p.broadcast.size();
  if (p.at > 0 && nb > 0) vals = tg::movedim(vals, dim_range(p.at, nb), dim_range(0, nb));
  Dims rows_shape{p.broadcast.product()};
  for (auto s : rest_shape(v, r)) rows_shape.push_back(s);
  vals = tg::reshape(vals, rows_shape);
  const Tensor base = as_rows(v, r, p);
  Tensor out = accumulate ? tg::index_add(base, 0, p.rows, vals) : tg::index_copy(base, 0, p.rows, vals);
  Dims permuted;
  for (int d : p.perm) permuted.push_back(v.size(d));
  std::vector<std::int64_t> inverse(p.perm.size());
  for (std::size_t k = 0; k < p.perm.size(); ++k) inverse[static_cast<std::size_t>(p.perm[k])] = k;
  return tg::permute(tg::reshape(out, permuted), Dims(inverse));
}

// ---- the scatter family ---------------------------------------------------------

// gather's result has index's shape; src may be larger (the part index does
// not reach gets no gradient).
Tensor pad_to(Tensor g, const Dims& shape) {
  for (int k = 0; k < g.dim(); ++k) {
    if (g.size(k) == shape[k]) continue;
    Dims pad = g.shape();
    pad[k] = shape[k] - g.size(k);
    g = tg::cat({g, zeros(pad, {g.dtype()})}, k);
  }
  return g;
}

// src cut down to index's extent (the elements scatter reads).
Tensor cut_to(Tensor src, const Dims& shape) {
  for (int k = 0; k < src.dim(); ++k)
    if (src.size(k) != shape[k]) src = tg::narrow(src, k, 0, shape[k]);
  return src;
}

using kernel::ScatterReduce;

// A 0-d tensor as shape [1]: the index of index_add/index_copy/index_fill
// (index_select's backward needs 1-D), and any operand of the scatters when
// kernel::zero_d_counts_as_one.
Tensor as_vector(const Tensor& t) { return t.dim() == 0 ? t.reshape({1}) : t; }

Tensor scatter_reduce_impl(const Tensor& x, std::int64_t dim, const Tensor& index, const Tensor& src,
                           ScatterReduce reduce, bool include_self, const char* op);

// PyTorch's scatter_reduce_backward (torch/csrc/autograd/FunctionsManual.cpp),
// written with differentiable ops so that it has gradients itself.
void scatter_reduce_backward(Backward& bw, int d, const Tensor& idx, const Tensor& self, const Tensor& src_full,
                             const Tensor& result, ScatterReduce reduce, bool include_self) {
  const Tensor& grad = bw.grad();
  Tensor grad_self, grad_src;
  if (idx.numel() == 0) {
    if (bw.needs(0)) bw.add(0, grad);
    if (bw.needs(1)) bw.add(1, zeros(bw.input_shape(1), {grad.dtype()}));
    return;
  }
  const Tensor src = cut_to(src_full, idx.shape());
  switch (reduce) {
    case ScatterReduce::Sum:
      grad_self = grad;
      grad_src = tg::gather(grad, d, idx);
      break;
    case ScatterReduce::Mean: {
      Tensor n = include_self ? ones_like(grad) : zeros_like(grad);
      n = tg::scatter_add(n, d, idx, ones_like(src));
      n = tg::masked_fill(n, n.eq(0.0), 1);
      grad_self = tg::div(grad, n);
      grad_src = tg::div(tg::gather(grad, d, idx), tg::gather(n, d, idx));
      break;
    }
    case ScatterReduce::Amax:
    case ScatterReduce::Amin: {
      const Tensor value = tg::gather(result, d, idx);
      const Tensor self_is = tg::eq(self, result), src_is = tg::eq(src, value);
      const Tensor share = tg::scatter_add(self_is.to(grad.dtype()), d, idx, src_is.to(grad.dtype()));
      const Tensor distributed = tg::div(grad, share);
      grad_self = tg::where(self_is, distributed, 0.0);
      grad_src = tg::where(src_is, tg::gather(distributed, d, idx), 0.0);
      break;
    }
    case ScatterReduce::Prod: {
      // Zeros as the divisions below read them (a subnormal too, while kernels flush).
      const Tensor masked_self = tg::masked_fill(self, Tensor(kernel::reads_as_zero(self)), 1);
      const Tensor masked_self_result =
          scatter_reduce_impl(masked_self, d, idx, src, reduce, include_self, "scatter_reduce_backward");
      grad_self = tg::div(tg::mul(grad, masked_self_result), masked_self);
      const Tensor src_zero = kernel::reads_as_zero(src);
      const Tensor zeros_there =
          tg::gather(tg::scatter_add(zeros_like(self), d, idx, src_zero.to(self.dtype())), d, idx);
      const Tensor single_zero = tg::logical_and(src_zero, zeros_there.eq(1.0));
      const Tensor masked_src = tg::masked_fill(src, single_zero, 1);
      const Tensor masked_src_result =
          scatter_reduce_impl(self, d, idx, masked_src, reduce, include_self, "scatter_reduce_backward");
      grad_src = tg::where(single_zero, tg::gather(tg::mul(grad, masked_src_result), d, idx),
                           tg::div(tg::gather(tg::mul(grad, result), d, idx), tg::masked_fill(src, src_zero, 1)));
      break;
    }
    case ScatterReduce::Assign:
      break;
  }
  if (bw.needs(0)) bw.add(0, include_self ? grad_self : tg::scatter(grad_self, d, idx, 0.0));
  if (bw.needs(1)) bw.add(1, pad_to(grad_src, bw.input_shape(1)));
}

Tensor scatter_reduce_impl(const Tensor& x, std::int64_t dim, const Tensor& index, const Tensor& src,
                           ScatterReduce reduce, bool include_self, const char* op) {
  if (kernel::zero_d_counts_as_one({&x, &index, &src}))
    return scatter_reduce_impl(as_vector(x), dim, as_vector(index), as_vector(src), reduce, include_self, op)
        .reshape(x.shape());
  Tensor y = kernel::scatter_reduce(x, dim, index, src, reduce, include_self, op);
  if (autograd::needs_grad(x, src)) {
    const int d = wrap_dim(dim, x.dim(), op);
    const bool reads_values =
        reduce == ScatterReduce::Prod || reduce == ScatterReduce::Amax || reduce == ScatterReduce::Amin;
    autograd::record(op, {&x, &src}, {&y},
                     [d, reduce, include_self, reads_values, index = SavedTensor(index, false),
                      self = reads_values ? SavedTensor(x, false) : SavedTensor(),
                      source = reads_values ? SavedTensor(src, false) : SavedTensor(),
                      result = reads_values ? SavedTensor(y, true) : SavedTensor()](Backward& bw) {
                       // y = x with src's values combined into y[..index[..i..]..] along d (see the formulas above)
                       const Tensor idx = bw.unpack(index);
                       if (reduce == ScatterReduce::Assign) {
                         // dx = dy with the written elements zeroed;  dsrc = gather(dy, d, index)
                         if (bw.needs(0)) bw.add(0, tg::scatter(bw.grad(), d, idx, 0.0));
                         if (bw.needs(1))
                           bw.add(1, idx.numel() == 0 ? zeros(bw.input_shape(1), {bw.grad().dtype()})
                                                      : pad_to(tg::gather(bw.grad(), d, idx), bw.input_shape(1)));
                         return;
                       }
                       Tensor s, sv, r;
                       if (reads_values) {
                         s = bw.unpack(self);
                         sv = bw.unpack(source);
                         r = bw.unpack(result);
                       } else {
                         sv = zeros(bw.input_shape(1), {bw.grad().dtype()});
                       }
                       scatter_reduce_backward(bw, d, idx, s, sv, r, reduce, include_self);
                     });
  }
  return y;
}

ScatterReduce scatter_kind(std::string_view reduce) {
  if (reduce == "add") return ScatterReduce::Sum;
  if (reduce == "multiply") return ScatterReduce::Prod;
  throw ValueError(fmt::format("scatter: reduce must be \"add\" or \"multiply\", got \"{}\"", reduce));
}

// A tensor of `shape` holding `value` in `dtype`; a value the dtype cannot
// hold is refused naming `op` (tg::full's check would name full).
Tensor filled(const Dims& shape, double value, DType dtype, const char* op) {
  Tensor t = tg::empty(shape, {.dtype = dtype});
  kernel::fill_(t, value, op);
  return t;
}

// The in-place writes that go through a copy_ of a computed result
// (index_put_ and the write_back forms) refuse a leaf that requires grad
// under their own name, with grad mode on, before the work.
void refuse_leaf(const Tensor& self, const char* op) {
  if (is_grad_enabled() && self.is_leaf() && self.requires_grad())
    throw AutogradError(fmt::format(
        "{}: a leaf tensor that requires grad (shape {}) cannot be modified in place while grad mode is on; "
        "modify it under tg::NoGradGuard or work on a clone()",
        op, shape_str(self.sizes())));
}

}  // namespace

Tensor index(const Tensor& x, const std::vector<TensorIndex>& indices) {
  TG_PROFILE_OP("index", x);
  const Resolved r = resolve(x, indices, "index");
  if (r.indices.empty()) return r.view;
  return gather_rows(r.view, r, plan(r.view, r, "index"));
}

Tensor& index_put_(Tensor& x, const std::vector<TensorIndex>& indices, const Tensor& values, bool accumulate) {
  const char* op = "index_put_";
  if (!values.defined()) throw ValueError("index_put_: values is an undefined tensor");
  // As x[...] = v in PyTorch (LibTorch's index_put_ with indices): the
  // value's leading dims of size 1 are dropped first, so ones({1, 4}) fills
  // a row of 4 and ones({1, 1}) any selection. Accumulating is ATen's
  // index_put_(accumulate=True), which drops nothing.
  int lead = 0;
  while (!accumulate && lead < values.dim() && values.size(lead) == 1) ++lead;
  Dims kept;
  for (int d = lead; d < values.dim(); ++d) kept.push_back(values.size(d));
  const Tensor vals = lead > 0 ? tg::reshape(values, kept) : values;
  refuse_leaf(x, op);
  // A view that may not be written (of a leaf that requires grad) is refused
  // under this op's name, not as the copy_ below.
  if (is_grad_enabled()) autograd::check_inplace_on_view(x, op, false);
  const Resolved r = resolve(x, indices, op);
  Tensor w = r.view;
  if (r.indices.empty()) {
    if (!autograd::expandable_to(vals.shape(), w.shape()))
      throw ShapeError(
          fmt::format("{}: shape mismatch: value tensor of shape {} cannot be broadcast to indexing "
                      "result of shape {}",
                      op, shape_str(values.sizes()), shape_str(w.sizes())));
    kernel::check_writable(w, op);
    if (accumulate) w.add_(vals);
    else w.copy_(vals);
    return x;
  }
  kernel::check_writable(w, op);  // as write_back: the op's name, before the work
  const Plan p = plan(w, r, op);
  // The new value of the indexed region is computed apart (a fresh tensor)
  // and copied in, so copy_ rewrites the history of a view's base.
  w.copy_(put_rows(w, r, p, vals, accumulate, op));
  return x;
}

Tensor& index_put_(Tensor& x, const std::vector<TensorIndex>& indices, double value) {
  return index_put_(x, indices, filled({}, value, x.dtype(), "index_put_"), false);
}

Tensor index_put(const Tensor& x, const std::vector<TensorIndex>& indices, const Tensor& values, bool accumulate) {
  TG_PROFILE_OP("index_put", x, values);
  Tensor y = tg::clone(x);
  index_put_(y, indices, values, accumulate);
  return y;
}

Tensor scatter(const Tensor& x, std::int64_t dim, const Tensor& index, const Tensor& src) {
  TG_PROFILE_OP("scatter", x, index, src);
  return scatter_reduce_impl(x, dim, index, src, ScatterReduce::Assign, true, "scatter");
}

Tensor scatter(const Tensor& x, std::int64_t dim, const Tensor& index, double value) {
  TG_PROFILE_OP("scatter", x, index);
  const Tensor src = filled(index.shape(), value, x.dtype(), "scatter");
  return scatter_reduce_impl(x, dim, index, src, ScatterReduce::Assign, true, "scatter");
}

Tensor scatter(const Tensor& x, std::int64_t dim, const Tensor& index, const Tensor& src, std::string_view reduce) {
  TG_PROFILE_OP("scatter", x, index, src);
  return scatter_reduce_impl(x, dim, index, src, scatter_kind(reduce), true, "scatter");
}

Tensor scatter(const Tensor& x, std::int64_t dim, const Tensor& index, double value, std::string_view reduce) {
  TG_PROFILE_OP("scatter", x, index);
  const ScatterReduce kind = scatter_kind(reduce);
  const Tensor src = filled(index.shape(), value, x.dtype(), "scatter");
  return scatter_reduce_impl(x, dim, index, src, kind, true, "scatter");
}

Tensor scatter_reduce(const Tensor& x, std::int64_t dim, const Tensor& index, const Tensor& src,
                      std::string_view reduce, StrictBool include_self) {
  TG_PROFILE_OP("scatter_reduce", x, index, src);
  return scatter_reduce_impl(x, dim, index, src, kernel::scatter_reduce_kind(reduce, "scatter_reduce"), include_self,
                             "scatter_reduce");
}

Tensor index_add(const Tensor& x, std::int64_t dim, const Tensor& index, const Tensor& src, double alpha) {
  TG_PROFILE_OP("index_add", x, index, src);
  Tensor y = kernel::index_add(x, dim, index, src, alpha);
  if (autograd::needs_grad(x, src)) {
    const int d = wrap_dim(dim, x.dim(), "index_add");
    autograd::record("index_add", {&x, &src}, {&y},
                     [d, alpha, index = SavedTensor(as_vector(index), false)](Backward& bw) {
                       // y = x;  y[index[j]] += alpha * src[j] along d;  dx = dy,  dsrc = alpha * dy[index] along d
                       if (bw.needs(0)) bw.add(0, bw.grad());
                       if (!bw.needs(1)) return;
                       Tensor g = tg::index_select(bw.grad(), d, bw.unpack(index));
                       if (bw.input_shape(1).empty()) g = g.reshape({});
                       bw.add(1, alpha == 1 ? g : tg::mul(g, alpha));
                     });
  }
  return y;
}

Tensor index_copy(const Tensor& x, std::int64_t dim, const Tensor& index, const Tensor& src) {
  TG_PROFILE_OP("index_copy", x, index, src);
  Tensor y = kernel::index_copy(x, dim, index, src);
  if (autograd::needs_grad(x, src)) {
    const int d = wrap_dim(dim, x.dim(), "index_copy");
    autograd::record("index_copy", {&x, &src}, {&y}, [d, index = SavedTensor(as_vector(index), false)](Backward& bw) {
      // y = x;  y[index[j]] = src[j] along d;  dx = dy with those slices zeroed,  dsrc = dy[index] along d
      const Tensor idx = bw.unpack(index);
      if (bw.needs(0)) bw.add(0, tg::index_fill(bw.grad(), d, idx, 0));
      if (!bw.needs(1)) return;
      Tensor g = tg::index_select(bw.grad(), d, idx);
      if (bw.input_shape(1).empty()) g = g.reshape({});
      bw.add(1, g);
    });
  }
  return y;
}

Tensor index_fill(const Tensor& x, std::int64_t dim, const Tensor& index, double value) {
  TG_PROFILE_OP("index_fill", x, index);
  Tensor y = kernel::index_fill(x, dim, index, value);
  if (autograd::needs_grad(x)) {
    const int d = wrap_dim(dim, x.dim(), "index_fill");
    autograd::record("index_fill", {&x}, {&y}, [d, index = SavedTensor(as_vector(index), false)](Backward& bw) {
      // y = x;  y[index[j]] = value along d;  dx = dy with those slices zeroed
      bw.add(0, tg::index_fill(bw.grad(), d, bw.unpack(index), 0));
    });
  }
  return y;
}

Tensor nonzero(const Tensor& x) {
  TG_PROFILE_OP("nonzero", x);
  return kernel::nonzero(x);
}
Tensor argwhere(const Tensor& x) {
  TG_PROFILE_OP("argwhere", x);
  return kernel::nonzero(x);
}

Tensor masked_select(const Tensor& x, const Tensor& mask) {
  TG_PROFILE_OP("masked_select", x, mask);
  if (mask.dtype() != kBool)
    throw DTypeError(fmt::format("masked_select: mask must be bool, got {}", dtype_name(mask.dtype())));
  const Dims shape = broadcast_shapes(x.shape(), mask.shape(), "masked_select");
  const Tensor rows = Tensor(kernel::nonzero(mask.detach().expand(shape).reshape({-1}))).reshape({-1});
  return tg::index_select(tg::reshape(tg::expand(x, shape), {-1}), 0, rows);
}

// Counting nonzero (zero) elements: NaN counts as nonzero, as in PyTorch.
// A uint8 x gives uint8 0 and 1, as PyTorch's any and all (its legacy rule).
namespace {
Tensor logical_result(const Tensor& x, const Tensor& result) {
  return x.dtype() == kUInt8 ? result.to(kUInt8) : result;
}
}  // namespace
// Built on ne/eq and sum: the scope names any/all in an error far below
// (out of memory for sum's int64 copy), not the inner op.
Tensor any(const Tensor& x) {
  TG_PROFILE_OP("any", x);
  const detail::CurrentOpScope op("any");
  return logical_result(x, x.detach().ne(0.0).sum().gt(0.0));
}
Tensor any(const Tensor& x, std::int64_t dim, StrictBool keepdim) {
  TG_PROFILE_OP("any", x);
  const detail::CurrentOpScope op("any");
  wrap_dim(dim, x.dim(), "any");
  return logical_result(x, x.detach().ne(0.0).sum(dim, keepdim).gt(0.0));
}
Tensor all(const Tensor& x) {
  TG_PROFILE_OP("all", x);
  const detail::CurrentOpScope op("all");
  return logical_result(x, x.detach().eq(0.0).sum().eq(0.0));
}
Tensor all(const Tensor& x, std::int64_t dim, StrictBool keepdim) {
  TG_PROFILE_OP("all", x);
  const detail::CurrentOpScope op("all");
  wrap_dim(dim, x.dim(), "all");
  return logical_result(x, x.detach().eq(0.0).sum(dim, keepdim).eq(0.0));
}

// ---- Tensor methods ---------------------------------------------------------------

namespace {

// The in-place forms: the out-of-place op's result copied into self. With
// grad mode on the op reads a copy of self, so what its backward saved is
// not the tensor copy_ then overwrites.
template <class F>
Tensor& write_back(Tensor& self, const char* op, F f) {
  refuse_leaf(self, op);
  // Refused here, under the op's own name and before the work, what the
  // copy_ below would refuse as copy_'s (an expanded self, a view of a leaf
  // that requires grad).
  kernel::check_writable(self, op);
  if (is_grad_enabled()) autograd::check_inplace_on_view(self, op, false);
  const Tensor before = is_grad_enabled() ? tg::clone(self) : self;
  self.copy_(f(before));
  return self;
}

}  // namespace

Tensor Tensor::index(std::initializer_list<TensorIndex> indices) const {
  return tg::index(*this, std::vector<TensorIndex>(indices));
}
Tensor Tensor::index(const std::vector<TensorIndex>& indices) const { return tg::index(*this, indices); }
Tensor& Tensor::index_put_(std::initializer_list<TensorIndex> indices, const Tensor& values, bool accumulate) {
  TG_PROFILE_OP("index_put_", *this, values);
  return tg::index_put_(*this, std::vector<TensorIndex>(indices), values, accumulate);
}
Tensor& Tensor::index_put_(const std::vector<TensorIndex>& indices, const Tensor& values, bool accumulate) {
  TG_PROFILE_OP("index_put_", *this, values);
  return tg::index_put_(*this, indices, values, accumulate);
}
Tensor& Tensor::index_put_(std::initializer_list<TensorIndex> indices, double value) {
  TG_PROFILE_OP("index_put_", *this);
  return tg::index_put_(*this, std::vector<TensorIndex>(indices), value);
}
Tensor& Tensor::index_put_(const std::vector<TensorIndex>& indices, double value) {
  TG_PROFILE_OP("index_put_", *this);
  return tg::index_put_(*this, indices, value);
}
Tensor Tensor::index_put(std::initializer_list<TensorIndex> indices, const Tensor& values, bool accumulate) const {
  return tg::index_put(*this, std::vector<TensorIndex>(indices), values, accumulate);
}
Tensor Tensor::index_put(const std::vector<TensorIndex>& indices, const Tensor& values, bool accumulate) const {
  return tg::index_put(*this, indices, values, accumulate);
}
Tensor Tensor::scatter(std::int64_t dim, const Tensor& index, const Tensor& src) const {
  return tg::scatter(*this, dim, index, src);
}
Tensor Tensor::scatter(std::int64_t dim, const Tensor& index, double value) const {
  return tg::scatter(*this, dim, index, value);
}
Tensor Tensor::scatter(std::int64_t dim, const Tensor& index, const Tensor& src, std::string_view reduce) const {
  return tg::scatter(*this, dim, index, src, reduce);
}
Tensor Tensor::scatter(std::int64_t dim, const Tensor& index, double value, std::string_view reduce) const {
  return tg::scatter(*this, dim, index, value, reduce);
}
Tensor& Tensor::scatter_(std::int64_t dim, const Tensor& index, const Tensor& src) {
  TG_PROFILE_OP("scatter_", *this, index, src);
  return write_back(*this, "scatter_", [&](const Tensor& s) { return tg::scatter(s, dim, index, src); });
}
Tensor& Tensor::scatter_(std::int64_t dim, const Tensor& index, double value) {
  TG_PROFILE_OP("scatter_", *this, index);
  return write_back(*this, "scatter_", [&](const Tensor& s) { return tg::scatter(s, dim, index, value); });
}
Tensor& Tensor::scatter_(std::int64_t dim, const Tensor& index, const Tensor& src, std::string_view reduce) {
  TG_PROFILE_OP("scatter_", *this, index, src);
  return write_back(*this, "scatter_", [&](const Tensor& s) { return tg::scatter(s, dim, index, src, reduce); });
}
Tensor& Tensor::scatter_(std::int64_t dim, const Tensor& index, double value, std::string_view reduce) {
  TG_PROFILE_OP("scatter_", *this, index);
  return write_back(*this, "scatter_", [&](const Tensor& s) { return tg::scatter(s, dim, index, value, reduce); });
}
Tensor& Tensor::scatter_add_(std::int64_t dim, const Tensor& index, const Tensor& src) {
  TG_PROFILE_OP("scatter_add_", *this, index, src);
  return write_back(*this, "scatter_add_", [&](const Tensor& s) { return tg::scatter_add(s, dim, index, src); });
}
Tensor Tensor::scatter_reduce(std::int64_t dim, const Tensor& index, const Tensor& src, std::string_view reduce,
                              StrictBool include_self) const {
  return tg::scatter_reduce(*this, dim, index, src, reduce, include_self);
}
Tensor& Tensor::scatter_reduce_(std::int64_t dim, const Tensor& index, const Tensor& src, std::string_view reduce,
                                StrictBool include_self) {
  TG_PROFILE_OP("scatter_reduce_", *this, index, src);
  return write_back(*this, "scatter_reduce_",
                    [&](const Tensor& s) { return tg::scatter_reduce(s, dim, index, src, reduce, include_self); });
}
Tensor Tensor::index_add(std::int64_t dim, const Tensor& index, const Tensor& src, double alpha) const {
  return tg::index_add(*this, dim, index, src, alpha);
}
Tensor& Tensor::index_add_(std::int64_t dim, const Tensor& index, const Tensor& src, double alpha) {
  TG_PROFILE_OP("index_add_", *this, index, src);
  return write_back(*this, "index_add_", [&](const Tensor& s) { return tg::index_add(s, dim, index, src, alpha); });
}
Tensor Tensor::index_copy(std::int64_t dim, const Tensor& index, const Tensor& src) const {
  return tg::index_copy(*this, dim, index, src);
}
Tensor& Tensor::index_copy_(std::int64_t dim, const Tensor& index, const Tensor& src) {
  TG_PROFILE_OP("index_copy_", *this, index, src);
  return write_back(*this, "index_copy_", [&](const Tensor& s) { return tg::index_copy(s, dim, index, src); });
}
Tensor Tensor::index_fill(std::int64_t dim, const Tensor& index, double value) const {
  return tg::index_fill(*this, dim, index, value);
}
Tensor& Tensor::index_fill_(std::int64_t dim, const Tensor& index, double value) {
  TG_PROFILE_OP("index_fill_", *this, index);
  return write_back(*this, "index_fill_", [&](const Tensor& s) { return tg::index_fill(s, dim, index, value); });
}
Tensor Tensor::nonzero() const { return tg::nonzero(*this); }
Tensor Tensor::argwhere() const { return tg::argwhere(*this); }
Tensor Tensor::masked_select(const Tensor& mask) const { return tg::masked_select(*this, mask); }
Tensor Tensor::any() const { return tg::any(*this); }
Tensor Tensor::any(std::int64_t dim, StrictBool keepdim) const { return tg::any(*this, dim, keepdim); }
Tensor Tensor::all() const { return tg::all(*this); }
Tensor Tensor::all(std::int64_t dim, StrictBool keepdim) const { return tg::all(*this, dim, keepdim); }

}  // namespace tg
