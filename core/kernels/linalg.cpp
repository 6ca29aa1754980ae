#include <tapegrad/core/kernels/linalg.h>

#include <cstring>
#include <optional>

#include <fmt/format.h>

#include <tapegrad/core/kernels/blas.h>
#include <tapegrad/core/kernels/copy.h>
#include <tapegrad/core/kernels/loop.h>
#include <tapegrad/core/kernels/wrapping.h>
#include <tapegrad/core/parallel.h>

namespace tg::kernel {

namespace {

// Below this many multiply-adds a product of a stack runs on one thread
// (batched_product): where a sleeping team's wake-up outweighs a second
// thread for one product (kPassiveParallelThreshold's 16 times).
constexpr double kSmallProduct = 16.0 * static_cast<double>(kPassiveParallelThreshold);

void check_dtypes(const char* op, const TensorBase& a, const TensorBase& b) {
  if (a.dtype() != b.dtype())
    throw DTypeError(fmt::format("{}: both operands must have the same dtype, got {} {} and {} {}", op,
                                 dtype_name(a.dtype()), shape_str(a.sizes()), dtype_name(b.dtype()),
                                 shape_str(b.sizes())));
  if (a.dtype() == kBool) throw DTypeError(fmt::format("{}: expected numeric tensors, got bool", op));
}

[[noreturn]] void throw_mismatch(const char* op, const TensorBase& a, const TensorBase& b, std::int64_t ka,
                                 std::int64_t kb) {
  throw ShapeError(
      fmt::format("{}: cannot multiply {} by {} ({} != {})", op, shape_str(a.sizes()), shape_str(b.sizes()), ka, kb));
}

bool broadcasts_to(IntArrayRef from, const Dims& to) {
  if (static_cast<int>(from.size()) > to.size()) return false;
  const int lead = to.size() - static_cast<int>(from.size());
  for (std::size_t i = 0; i < from.size(); ++i)
    if (from[i] != 1 && from[i] != to[lead + static_cast<int>(i)]) return false;
  return true;
}

std::int64_t itemsize_of(const TensorBase& t) { return static_cast<std::int64_t>(t.element_size()); }

// A tensor whose last two dims BLAS can read, and how. Views BLAS cannot
// describe are copied (and counted, so tests can tell).
struct Operand {
  TensorBase t;
  GemmLayout layout;
};

Operand matrix_operand(const TensorBase& t) {
  const int nd = t.dim();
  if (auto l = gemm_layout(t.size(nd - 2), t.size(nd - 1), t.stride(nd - 2), t.stride(nd - 1))) return {t, *l};
  count_operand_copy();
  TensorBase c = clone(t);
  return {c, *gemm_layout(c.size(nd - 2), c.size(nd - 1), c.stride(nd - 2), c.stride(nd - 1))};
}

// The stride of dims [0, end) of t seen as one dim, if their layout nests
// (each dim's stride is the next one's stride times its size). Size-1 dims
// do not count; when all are size 1 any stride serves.
std::optional<std::int64_t> merged_stride(const TensorBase& t, int end) {
  std::optional<std::int64_t> stride;
  std::int64_t span = 1;
  for (int d = end - 1; d >= 0; --d) {
    const std::int64_t size = t.size(d);
    if (size == 1) continue;
    if (!stride) {
      stride = t.stride(d);
    } else if (t.stride(d) != *stride * span) {
      return std::nullopt;
    }
    span *= size;
  }
  return stride.value_or(0);
}

// Batch dims of two matmul operands, broadcast.
Dims broadcast_batch(const char* op, const TensorBase& a, const TensorBase& b, const TensorBase& A,
                     const TensorBase& B) {
  const int na = A.dim() - 2, nb = B.dim() - 2, n = std::max(na, nb);
  Dims batch = Dims::filled(n, 1);
  for (int i = 0; i < n; ++i) {
    const std::int64_t sa = i - (n - na) >= 0 ? A.size(i - (n - na)) : 1;
    const std::int64_t sb = i - (n - nb) >= 0 ? B.size(i - (n - nb)) : 1;
    if (sa != sb && sa != 1 && sb != 1)
      throw ShapeError(fmt::format("{}: the batch dimensions of {} and {} do not broadcast ({} != {} at batch dim {})",
                                   op, shape_str(a.sizes()), shape_str(b.sizes()), sa, sb, i));
    batch[i] = sa == 1 ? sb : sa;
  }
  return batch;
}

// out (contiguous [batch..., m, n]) = A @ B, A [A..., m, k] and B [B..., k, n]
// at least 2-D, their batch dims broadcasting to `batch`.
void batched_product(const TensorBase& A, const TensorBase& B, const Dims& batch, void* out, const char* op) {
  const int na = A.dim(), nb = B.dim();
  const std::int64_t m = A.size(na - 2), k = A.size(na - 1), n = B.size(nb - 1);
  const std::int64_t nbatch = batch.product();
  if (nbatch == 0 || m == 0 || n == 0) return;
  const DType dtype = A.dtype();
  const Operand a = matrix_operand(A), b = matrix_operand(B);

  // A stack of matrices times one matrix: when the stack's rows nest, it is
  // one tall [batch * m, k] matrix and the product is a single GEMM.
  if (nb == 2 && na > 2) {
    if (auto rs = merged_stride(a.t, na - 1)) {
      const std::int64_t rows = nbatch * m;
      if (auto l = gemm_layout(rows, k, *rs, a.t.stride(na - 1))) {
        gemm(dtype, rows, n, k, 1, a.t.raw_data(), *l, b.t.raw_data(), b.layout, 0, out, n, op);
        return;
      }
    }
  }

  // One GEMM per batch, on pointers into the operands (broadcast batch dims
  // step by 0): nothing is copied.
  const int nd = batch.size();
  Dims sa = Dims::filled(nd, 0), sb = Dims::filled(nd, 0);
  for (int i = 0; i < na - 2; ++i)
    if (a.t.size(i) != 1) sa[nd - (na - 2) + i] = a.t.stride(i);
  for (int i = 0; i < nb - 2; ++i)
    if (b.t.size(i) != 1) sb[nd - (nb - 2) + i] = b.t.stride(i);
  const std::int64_t es = itemsize_of(A);
  const char* pa = static_cast<const char*>(a.t.raw_data());
  const char* pb = static_cast<const char*>(b.t.raw_data());
  char* pc = static_cast<char*>(out);
  const auto product = [&](std::int64_t i) {
    std::int64_t off_a = 0, off_b = 0;
    for (std::int64_t d = nd - 1, rest = i; d >= 0; --d) {
      const std::int64_t at = rest % batch[d];
      rest /= batch[d];
      off_a += at * sa[d];
      off_b += at * sb[d];
    }
    gemm(dtype, m, n, k, 1, pa + off_a * es, a.layout, pb + off_b * es, b.layout, 0, pc + i * m * n * es, n, op);
  };
  // A stack of small products shares the team out by product, each GEMM on
  // one thread (team_size() is 1 inside the region): the team wakes once for
  // the whole stack instead of once per product, and BLAS would run a product
  // this small on one thread under a passive wait policy (BlasTeam), or
  // split it over threads that each get a sliver. Split or not, OpenBLAS
  // gives the bits of one thread (its threads share out C's rows and
  // columns, never the sum over k). Larger products keep BLAS's own threads.
  const double each = static_cast<double>(m) * static_cast<double>(n) * static_cast<double>(k);
  const bool split = nbatch > 1 && each < kSmallProduct &&
                     each * static_cast<double>(nbatch) >= 16.0 * static_cast<double>(parallel_threshold()) &&
                     !in_parallel_region();
  parallel_for(nbatch, split ? detail::team_size() : 1, product);
}

TensorBase dot_product(const char* op, const TensorBase& a, const TensorBase& b) {
  if (a.size(0) != b.size(0)) throw_mismatch(op, a, b, a.size(0), b.size(0));
  TensorBase out = make_tensor({}, a.dtype());
  dot(a.dtype(), a.size(0), a.raw_data(), a.stride(0), b.raw_data(), b.stride(0), out.raw_data(), op);
  return out;
}

}  // namespace

TensorBase matmul(const TensorBase& a, const TensorBase& b) {
  const char* op = "matmul";
  check_dtypes(op, a, b);
  if (a.dim() == 0 || b.dim() == 0)
    throw ShapeError(fmt::format("{}: both operands need at least 1 dimension, got {} and {}", op, shape_str(a.sizes()),
                                 shape_str(b.sizes())));
  if (a.dim() == 1 && b.dim() == 1) return dot_product(op, a, b);
  // A 1-D left operand is a row [1, k], a 1-D right operand a column [k, 1].
  const TensorBase A =
      a.dim() == 1 ? make_view(a, {1, a.size(0)}, {a.size(0) * a.stride(0), a.stride(0)}, a.storage_offset()) : a;
  const TensorBase B = b.dim() == 1 ? make_view(b, {b.size(0), 1}, {b.stride(0), 1}, b.storage_offset()) : b;
  const std::int64_t k = A.size(-1), kb = B.size(-2);
  if (k != kb) throw_mismatch(op, a, b, k, kb);
  const Dims batch = broadcast_batch(op, a, b, A, B);
  Dims shape = batch;
  if (a.dim() > 1) shape.push_back(A.size(-2));
  if (b.dim() > 1) shape.push_back(B.size(-1));
  TensorBase out = make_tensor(shape, a.dtype());
  batched_product(A, B, batch, out.raw_data(), op);
  return out;
}

TensorBase mm(const TensorBase& a, const TensorBase& b) {
  const char* op = "mm";
  check_dtypes(op, a, b);
  if (a.dim() != 2 || b.dim() != 2)
    throw ShapeError(
        fmt::format("{}: expected 2-D matrices, got {} and {}", op, shape_str(a.sizes()), shape_str(b.sizes())));
  if (a.size(1) != b.size(0)) throw_mismatch(op, a, b, a.size(1), b.size(0));
  TensorBase out = make_tensor({a.size(0), b.size(1)}, a.dtype());
  batched_product(a, b, {}, out.raw_data(), op);
  return out;
}

TensorBase addmm(const TensorBase& input, const TensorBase& a, const TensorBase& b, double beta, double alpha) {
  const char* op = "addmm";
  check_dtypes(op, a, b);
  if (input.dtype() != a.dtype())
    throw DTypeError(
        fmt::format("{}: input is {} but the matrices are {}", op, dtype_name(input.dtype()), dtype_name(a.dtype())));
  if (a.dim() != 2 || b.dim() != 2)
    throw ShapeError(
        fmt::format("{}: expected 2-D matrices, got {} and {}", op, shape_str(a.sizes()), shape_str(b.sizes())));
  if (a.size(1) != b.size(0)) throw_mismatch(op, a, b, a.size(1), b.size(0));
  const std::int64_t m = a.size(0), k = a.size(1), n = b.size(1);
  const Dims shape{m, n};
  if (!broadcasts_to(input.sizes(), shape))
    throw ShapeError(fmt::format("{}: input of shape {} does not broadcast to the product's shape {} ({} @ {})", op,
                                 shape_str(input.sizes()), shape_str(shape), shape_str(a.sizes()),
                                 shape_str(b.sizes())));
  TensorBase out = make_tensor(shape, a.dtype());
  if (beta != 0 && out.numel() > 0) copy_(out, input);
  if (m == 0 || n == 0) return out;
  const Operand oa = matrix_operand(a), ob = matrix_operand(b);
  gemm(a.dtype(), m, n, k, alpha, oa.t.raw_data(), oa.layout, ob.t.raw_data(), ob.layout, beta, out.raw_data(), n, op);
  return out;
}

TensorBase linear(const TensorBase& x, const TensorBase& weight, const TensorBase& bias) {
  const char* op = "linear";
  if (weight.dim() != 2)
    throw ShapeError(
        fmt::format("{}: the weight must be 2-D [out_features, in_features], got {}", op, shape_str(weight.sizes())));
  if (x.dim() == 0)
    throw ShapeError(
        fmt::format("{}: the input needs at least 1 dimension [..., in_features], got a 0-d tensor "
                    "(weight {})",
                    op, shape_str(weight.sizes())));
  if (x.dtype() != weight.dtype())
    throw DTypeError(
        fmt::format("{}: input is {} but the weight is {}", op, dtype_name(x.dtype()), dtype_name(weight.dtype())));
  check_dtypes(op, x, weight);
  const std::int64_t out_features = weight.size(0), in_features = weight.size(1);
  if (x.size(-1) != in_features)
    throw ShapeError(fmt::format("{}: input has {} features but the weight expects {} (input {}, weight {})", op,
                                 x.size(-1), in_features, shape_str(x.sizes()), shape_str(weight.sizes())));
  if (bias.defined()) {
    if (bias.dtype() != weight.dtype())
      throw DTypeError(
          fmt::format("{}: bias is {} but the weight is {}", op, dtype_name(bias.dtype()), dtype_name(weight.dtype())));
    if (!broadcasts_to(bias.sizes(), Dims{out_features}))
      throw ShapeError(fmt::format("{}: bias has shape {} but the weight has {} output features (weight {})", op,
                                   shape_str(bias.sizes()), out_features, shape_str(weight.sizes())));
  }

  Dims shape(x.sizes());
  shape[shape.size() - 1] = out_features;
  TensorBase out = make_tensor(shape, x.dtype());
  std::int64_t n_rows = 1;
  for (int d = 0; d + 1 < x.dim(); ++d) n_rows *= x.size(d);
  if (out.numel() == 0) return out;

  // x's leading dims as the rows of one [n_rows, in] matrix.
  TensorBase xs = x;
  std::optional<GemmLayout> lx;
  if (auto rs = merged_stride(xs, xs.dim() - 1)) lx = gemm_layout(n_rows, in_features, *rs, xs.stride(-1));
  if (!lx) {
    count_operand_copy();
    xs = clone(x);
    lx = gemm_layout(n_rows, in_features, in_features, 1);
  }
  // weight^T [in, out] as BLAS sees it: a contiguous weight is read with the Trans flag.
  TensorBase w = weight;
  auto lw = gemm_layout(in_features, out_features, w.stride(1), w.stride(0));
  if (!lw) {
    count_operand_copy();
    w = clone(weight);
    lw = gemm_layout(in_features, out_features, 1, in_features);
  }
  double beta = 0;
  if (bias.defined()) {
    if (bias.numel() == out_features && bias.is_contiguous()) {
      // A row of out_features into each of the n_rows: one memcpy a row
      // (the general copy_ stepped a broadcast plan row by row, 1.2 % of the
      // char-GPT step).
      const std::size_t row_bytes = static_cast<std::size_t>(out_features) * out.element_size();
      auto* dst = static_cast<char*>(out.raw_data());
      for (std::int64_t r = 0; r < n_rows; ++r)
        std::memcpy(dst + static_cast<std::size_t>(r) * row_bytes, bias.raw_data(), row_bytes);
    } else {
      copy_(make_view(out, {n_rows, out_features}, {out_features, 1}, 0), bias);
    }
    beta = 1;
  }
  gemm(x.dtype(), n_rows, out_features, in_features, 1, xs.raw_data(), *lx, w.raw_data(), *lw, beta, out.raw_data(),
       out_features, op);
  return out;
}

TensorBase dot(const TensorBase& a, const TensorBase& b) {
  const char* op = "dot";
  check_dtypes(op, a, b);
  if (a.dim() != 1 || b.dim() != 1)
    throw ShapeError(
        fmt::format("{}: expected 1-D vectors, got {} and {}", op, shape_str(a.sizes()), shape_str(b.sizes())));
  return dot_product(op, a, b);
}

TensorBase outer(const TensorBase& a, const TensorBase& b) {
  const char* op = "outer";
  if (a.dim() != 1 || b.dim() != 1)
    throw ShapeError(
        fmt::format("{}: expected 1-D vectors, got {} and {}", op, shape_str(a.sizes()), shape_str(b.sizes())));
  // An elementwise product in PyTorch, so mixed dtypes promote (unlike mm).
  const DType dt = promote_types(a.dtype(), b.dtype());
  const std::int64_t n = a.size(0), m = b.size(0);
  TensorBase out = make_tensor({n, m}, dt);
  const TensorBase ca = to(a, dt), cb = to(b, dt);
  // a as a column and b as a row, broadcast against each other.
  const TensorBase col = make_view(ca, {n, 1}, {ca.stride(0), 0}, ca.storage_offset());
  const TensorBase row = make_view(cb, {1, m}, {0, cb.stride(0)}, cb.storage_offset());
  dispatch(dt, [&]<class T>() { map2<T, T, T>(out, col, row, [](T x, T y) -> T { return wrap_mul(x, y); }); });
  return out;
}

}  // namespace tg::kernel
