// bmm, baddbmm, addbmm, mv, addmv, vdot, kron, tensordot and einsum, built of
// matmul (autograd/ops/linalg.cpp: one cblas GEMM per batch), permute,
// reshape, expand, diagonal, sum and mul, so that their gradients (and
// gradients of gradients) are those ops' own.
#include <algorithm>
#include <array>
#include <cmath>
#include <limits>
#include <string>

#include <fmt/format.h>

#include <tapegrad/autograd/ops.h>
#include <tapegrad/core/profiler.h>

namespace tg {

namespace {

std::string shapes_of(const Tensor& a, const Tensor& b) {
  return fmt::format("{} and {}", shape_str(a.sizes()), shape_str(b.sizes()));
}

void require_dims(const char* op, const char* what, const Tensor& t, int nd) {
  if (t.dim() != nd) throw ShapeError(fmt::format("{}: {} must be {}-D, got {}", op, what, nd, shape_str(t.sizes())));
}

void same_dtype(const char* op, const Tensor& a, const Tensor& b) {
  if (a.dtype() != b.dtype())
    throw DTypeError(fmt::format("{}: expected operands of one dtype, got {} {} and {} {}", op, dtype_name(a.dtype()),
                                 shape_str(a.sizes()), dtype_name(b.dtype()), shape_str(b.sizes())));
}

// beta * input + alpha * product, with input broadcast to the product's shape
// (only that way: the result has the product's shape, as PyTorch's).
Tensor add_scaled(const char* op, const Tensor& input, const Tensor& product, double beta, double alpha) {
  if (input.dtype() != product.dtype())
    throw DTypeError(fmt::format("{}: input is {} but the product is {}", op, dtype_name(input.dtype()),
                                 dtype_name(product.dtype())));
  // As addmm (and PyTorch): an integer product takes whole-number scales
  // within its dtype only.
  if (is_integer(product.dtype()))
    dispatch_numeric(product.dtype(), op, [&]<class T>() {
      constexpr double lo = static_cast<double>(std::numeric_limits<T>::min());
      constexpr double hi = static_cast<double>(std::numeric_limits<T>::max()) + 1.0;
      for (double s : {alpha, beta})
        if (!(std::trunc(s) == s && s >= lo && s < hi))
          throw ValueError(
              fmt::format("{}: alpha and beta must be whole numbers within {} for {} tensors, got alpha {} and beta {}",
                          op, dtype_name(product.dtype()), dtype_name(product.dtype()), alpha, beta));
    });
  const Dims& shape = product.shape();
  bool ok = input.dim() <= shape.size();
  for (int i = 0; ok && i < input.dim(); ++i) {
    const std::int64_t s = input.size(i), t = shape[shape.size() - input.dim() + i];
    ok = s == 1 || s == t;
  }
  if (!ok)
    throw ShapeError(fmt::format("{}: input of shape {} does not broadcast to the product's shape {}", op,
                                 shape_str(input.sizes()), shape_str(shape)));
  const Tensor scaled = alpha == 1 ? product : mul(product, alpha);
  // beta == 0: input's values are not read (0 * NaN would leak NaN), but an
  // input that requires grad stays in the graph with the gradient PyTorch's
  // (and addmm's) beta * dy gives it: zeros. where() with a false condition
  // reads none of its values, passes it exactly that gradient and returns
  // `scaled` itself, bit for bit (-0 too, which adding +0 would turn to +0).
  if (beta == 0) {
    if (!is_grad_enabled() || !input.requires_grad()) return scaled;
    return where(scalar_tensor(0, {.dtype = kBool}), input, scaled);
  }
  return add(scaled, beta == 1 ? input : mul(input, beta));
}

Tensor bmm_named(const char* op, const Tensor& a, const Tensor& b) {
  require_dims(op, "batch1", a, 3);
  require_dims(op, "batch2", b, 3);
  same_dtype(op, a, b);
  if (a.size(0) != b.size(0))
    throw ShapeError(
        fmt::format("{}: batch sizes differ ({} != {}) for {}", op, a.size(0), b.size(0), shapes_of(a, b)));
  if (a.size(2) != b.size(1))
    throw ShapeError(fmt::format("{}: cannot multiply {} ({} != {})", op, shapes_of(a, b), a.size(2), b.size(1)));
  return matmul(a, b);
}

Tensor mv_named(const char* op, const Tensor& mat, const Tensor& vec) {
  require_dims(op, "the matrix", mat, 2);
  require_dims(op, "the vector", vec, 1);
  same_dtype(op, mat, vec);
  if (mat.size(1) != vec.size(0))
    throw ShapeError(
        fmt::format("{}: cannot multiply {} ({} != {})", op, shapes_of(mat, vec), mat.size(1), vec.size(0)));
  return matmul(mat, vec);
}

}  // namespace

Tensor bmm(const Tensor& a, const Tensor& b) {
  TG_PROFILE_OP("bmm", a, b);
  return bmm_named("bmm", a, b);
}

Tensor baddbmm(const Tensor& input, const Tensor& batch1, const Tensor& batch2, double beta, double alpha) {
  TG_PROFILE_OP("baddbmm", input, batch1, batch2);
  return add_scaled("baddbmm", input, bmm_named("baddbmm", batch1, batch2), beta, alpha);
}

Tensor addbmm(const Tensor& input, const Tensor& batch1, const Tensor& batch2, double beta, double alpha) {
  TG_PROFILE_OP("addbmm", input, batch1, batch2);
  const char* op = "addbmm";
  require_dims(op, "batch1", batch1, 3);
  require_dims(op, "batch2", batch2, 3);
  same_dtype(op, batch1, batch2);
  const std::int64_t B = batch1.size(0), n = batch1.size(1), m = batch1.size(2), p = batch2.size(2);
  if (batch2.size(0) != B || batch2.size(1) != m)
    throw ShapeError(fmt::format("{}: cannot multiply {} batch by batch", op, shapes_of(batch1, batch2)));
  // sum_b batch1[b] @ batch2[b] = [n, B*m] @ [B*m, p]: the batches laid side
  // by side, one GEMM.
  const Tensor left = reshape(permute(batch1, {1, 0, 2}), {n, B * m});
  const Tensor right = reshape(batch2, {B * m, p});
  return add_scaled(op, input, mm(left, right), beta, alpha);
}

Tensor mv(const Tensor& mat, const Tensor& vec) {
  TG_PROFILE_OP("mv", mat, vec);
  return mv_named("mv", mat, vec);
}

Tensor addmv(const Tensor& input, const Tensor& mat, const Tensor& vec, double beta, double alpha) {
  TG_PROFILE_OP("addmv", input, mat, vec);
  return add_scaled("addmv", input, mv_named("addmv", mat, vec), beta, alpha);
}

Tensor vdot(const Tensor& a, const Tensor& b) {
  TG_PROFILE_OP("vdot", a, b);
  require_dims("vdot", "the first operand", a, 1);
  require_dims("vdot", "the second operand", b, 1);
  same_dtype("vdot", a, b);
  if (a.size(0) != b.size(0)) throw ShapeError(fmt::format("vdot: the vectors differ in length: {}", shapes_of(a, b)));
  return dot(a, b);
}

Tensor kron(const Tensor& a, const Tensor& b) {
  TG_PROFILE_OP("kron", a, b);
  // Both padded on the left to the same rank n; then a as [a0, 1, a1, 1, ...]
  // times b as [1, b0, 1, b1, ...] is the block product, and merging each
  // pair of dims gives [a0*b0, a1*b1, ...].
  const int n = std::max(a.dim(), b.dim());
  if (2 * n > kMaxDims)
    throw ShapeError(
        fmt::format("kron: operands of up to {} dims are supported, got {}", kMaxDims / 2, shapes_of(a, b)));
  Dims sa, sb, out;
  for (int i = 0; i < n; ++i) {
    const std::int64_t da = i < n - a.dim() ? 1 : a.size(i - (n - a.dim()));
    const std::int64_t db = i < n - b.dim() ? 1 : b.size(i - (n - b.dim()));
    sa.push_back(da);
    sa.push_back(1);
    sb.push_back(1);
    sb.push_back(db);
    out.push_back(da * db);
  }
  return reshape(mul(reshape(a, sa), reshape(b, sb)), out);
}

namespace {

Tensor tensordot_impl(const Tensor& a, const Tensor& b, std::vector<std::int64_t> da, std::vector<std::int64_t> db) {
  const char* op = "tensordot";
  same_dtype(op, a, b);
  if (da.size() != db.size())
    throw ValueError(fmt::format("tensordot: both dim lists must have the same length, got {} and {} ({})", da.size(),
                                 db.size(), shapes_of(a, b)));
  std::array<bool, kMaxDims> used_a{}, used_b{};
  std::int64_t k = 1;
  for (std::size_t i = 0; i < da.size(); ++i) {
    for (auto [d, t, used] : {std::tuple{&da[i], &a, &used_a}, std::tuple{&db[i], &b, &used_b}}) {
      const std::int64_t nd = t->dim();
      if (*d < -nd || *d >= nd)
        throw IndexError(fmt::format("tensordot: dim {} is out of range for {}", *d, shape_str(t->sizes())));
      if (*d < 0) *d += nd;
      if ((*used)[static_cast<std::size_t>(*d)])
        throw ValueError(fmt::format("tensordot: dim {} appears twice in a dim list ({})", *d, shapes_of(a, b)));
      (*used)[static_cast<std::size_t>(*d)] = true;
    }
    if (a.size(da[i]) != b.size(db[i]))
      throw ShapeError(
          fmt::format("tensordot: contracted dims differ in size: dim {} of a is {}, dim {} of b is {} ({})", da[i],
                      a.size(da[i]), db[i], b.size(db[i]), shapes_of(a, b)));
    k *= a.size(da[i]);
  }
  // a as [free_a, k], b as [k, free_b]: one GEMM.
  Dims perm_a, perm_b, out;
  std::int64_t fa = 1, fb = 1;
  for (int d = 0; d < a.dim(); ++d)
    if (!used_a[static_cast<std::size_t>(d)]) {
      perm_a.push_back(d);
      out.push_back(a.size(d));
      fa *= a.size(d);
    }
  for (auto d : da) perm_a.push_back(d);
  for (auto d : db) perm_b.push_back(d);
  for (int d = 0; d < b.dim(); ++d)
    if (!used_b[static_cast<std::size_t>(d)]) {
      perm_b.push_back(d);
      out.push_back(b.size(d));
      fb *= b.size(d);
    }
  const Tensor left = reshape(permute(a, perm_a), {fa, k});
  const Tensor right = reshape(permute(b, perm_b), {k, fb});
  return reshape(mm(left, right), out);
}

}  // namespace

Tensor tensordot(const Tensor& a, const Tensor& b, std::int64_t dims) {
  TG_PROFILE_OP("tensordot", a, b);
  if (dims < 0 || dims > a.dim() || dims > b.dim())
    throw ValueError(fmt::format("tensordot: cannot contract {} dims of {}", dims, shapes_of(a, b)));
  std::vector<std::int64_t> da, db;
  for (std::int64_t i = 0; i < dims; ++i) {
    da.push_back(a.dim() - dims + i);
    db.push_back(i);
  }
  return tensordot_impl(a, b, da, db);
}

Tensor tensordot(const Tensor& a, const Tensor& b, const std::vector<std::int64_t>& dims_a,
                 const std::vector<std::int64_t>& dims_b) {
  TG_PROFILE_OP("tensordot", a, b);
  return tensordot_impl(a, b, dims_a, dims_b);
}

// ---- einsum ---------------------------------------------------------------------

namespace {

// Labels: 'A'-'Z' are 0-25 and 'a'-'z' 26-51 (PyTorch's order for the
// implicit output); dim k of the (right-aligned, broadcast) ellipsis is 52 + k.
constexpr int kEllipsisLabel = 52;
constexpr int kLabels = kEllipsisLabel + kMaxDims;

struct Operand {
  Tensor t;
  std::vector<int> labels;  // one per dim of t, distinct
};

class Einsum {
 public:
  Einsum(std::string_view equation, const std::vector<Tensor>& operands) : eq_(equation), in_(operands) {}

  Tensor run() {
    if (in_.empty()) fail<ValueError>("at least one operand is required");
    parse();
    check_sizes();
    std::vector<Operand> ops;
    for (std::size_t i = 0; i < in_.size(); ++i) ops.push_back(take_diagonals(i));
    // How many operands (and the output) still need each label: a label no
    // later operand and not the output needs is summed as soon as possible.
    std::array<int, kLabels> uses{};
    for (const auto& o : ops)
      for (int l : o.labels) ++uses[static_cast<std::size_t>(l)];
    for (int l : out_) ++uses[static_cast<std::size_t>(l)];
    Operand acc = ops[0];
    for (int l : acc.labels) --uses[static_cast<std::size_t>(l)];
    for (std::size_t i = 1; i < ops.size(); ++i) {
      for (int l : ops[i].labels) --uses[static_cast<std::size_t>(l)];
      acc = contract(std::move(acc), std::move(ops[i]), uses);
    }
    acc = sum_out(std::move(acc), uses);
    // The output's order.
    Dims perm;
    for (int l : out_) {
      auto it = std::find(acc.labels.begin(), acc.labels.end(), l);
      perm.push_back(it - acc.labels.begin());
    }
    Tensor result = acc.t;
    bool identity = true;
    for (int i = 0; i < perm.size(); ++i) identity = identity && perm[i] == i;
    if (!identity) result = permute(result, perm);
    // A label of size 1 in every operand that broadcasts nowhere keeps size 1;
    // one that met a larger size was expanded: the sizes are right already.
    return result;
  }

 private:
  std::string_view eq_;
  const std::vector<Tensor>& in_;
  std::vector<std::vector<int>> subs_;  // per operand, per dim
  std::vector<int> out_;
  std::array<std::int64_t, kLabels> size_{};

  template <class E>
  [[noreturn]] void fail(const std::string& what) const {
    throw E(fmt::format("einsum(\"{}\"): {}", eq_, what));
  }

  static int label_of(char c) {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return 26 + (c - 'a');
    return -1;
  }

  // Reads one side's subscripts ("ab...c") into labels, -1 marking the ellipsis.
  std::vector<int> read_subscripts(std::string_view s, const std::string& where) const {
    std::vector<int> labels;
    bool ellipsis = false;
    for (std::size_t i = 0; i < s.size(); ++i) {
      const char c = s[i];
      if (c == ' ') continue;
      if (c == '.') {
        if (s.substr(i, 3) != "...")
          fail<ValueError>(fmt::format("{}: a '.' that is not part of an ellipsis \"...\"", where));
        if (ellipsis) fail<ValueError>(fmt::format("{}: more than one ellipsis", where));
        ellipsis = true;
        labels.push_back(-1);
        i += 2;
        continue;
      }
      const int l = label_of(c);
      if (l < 0)
        fail<ValueError>(fmt::format("{}: invalid subscript '{}' (subscripts are letters a-z and A-Z)", where, c));
      labels.push_back(l);
    }
    return labels;
  }

  void parse() {
    const std::size_t arrow = eq_.find("->");
    const std::string_view lhs = eq_.substr(0, arrow);
    if (arrow != std::string_view::npos && eq_.find("->", arrow + 2) != std::string_view::npos)
      fail<ValueError>("more than one \"->\"");
    std::vector<std::vector<int>> raw;
    std::size_t start = 0;
    while (true) {
      const std::size_t comma = lhs.find(',', start);
      raw.push_back(read_subscripts(lhs.substr(start, comma - start), fmt::format("operand {}", raw.size())));
      if (comma == std::string_view::npos) break;
      start = comma + 1;
    }
    if (raw.size() != in_.size())
      fail<ValueError>(
          fmt::format("the equation has {} operand(s) but {} tensor(s) were given", raw.size(), in_.size()));
    // The ellipsis of each operand covers the dims its letters leave; they
    // align to the right as broadcasting does.
    int ell = 0;
    for (std::size_t i = 0; i < raw.size(); ++i) {
      const int nd = in_[i].dim();
      const bool has_ell = std::find(raw[i].begin(), raw[i].end(), -1) != raw[i].end();
      const int letters = static_cast<int>(raw[i].size()) - (has_ell ? 1 : 0);
      if (has_ell ? letters > nd : letters != nd)
        fail<ShapeError>(fmt::format("operand {} has {} subscript(s) for a tensor of shape {}", i, letters,
                                     shape_str(in_[i].sizes())));
      if (has_ell) ell = std::max(ell, nd - letters);
    }
    for (std::size_t i = 0; i < raw.size(); ++i) {
      const int nd = in_[i].dim();
      const int e = nd - (static_cast<int>(raw[i].size()) - 1);
      std::vector<int> dims;
      for (int l : raw[i]) {
        if (l >= 0) {
          dims.push_back(l);
          continue;
        }
        for (int k = 0; k < e; ++k) dims.push_back(kEllipsisLabel + ell - e + k);
      }
      subs_.push_back(std::move(dims));
    }
    std::array<int, kLabels> seen{};
    for (const auto& s : subs_)
      for (int l : s) ++seen[static_cast<std::size_t>(l)];
    if (arrow == std::string_view::npos) {
      // Implicit: the ellipsis dims, then the letters seen once, in order.
      for (int k = 0; k < ell; ++k) out_.push_back(kEllipsisLabel + k);
      for (int l = 0; l < kEllipsisLabel; ++l)
        if (seen[static_cast<std::size_t>(l)] == 1) out_.push_back(l);
      return;
    }
    const std::vector<int> raw_out = read_subscripts(eq_.substr(arrow + 2), "the output");
    std::array<bool, kLabels> in_out{};
    for (int l : raw_out) {
      if (l < 0) {
        if (in_out[kLabels - 1]) fail<ValueError>("the output has more than one ellipsis");
        in_out[kLabels - 1] = true;
        for (int k = 0; k < ell; ++k) out_.push_back(kEllipsisLabel + k);
        continue;
      }
      const char c = static_cast<char>(l < 26 ? 'A' + l : 'a' + (l - 26));
      if (!seen[static_cast<std::size_t>(l)])
        fail<ValueError>(fmt::format("output subscript '{}' does not appear in any operand", c));
      if (in_out[static_cast<std::size_t>(l)])
        fail<ValueError>(fmt::format("output subscript '{}' appears more than once", c));
      in_out[static_cast<std::size_t>(l)] = true;
      out_.push_back(l);
    }
  }

  // Each label's size; sizes of one label must agree, or be 1 (broadcast).
  void check_sizes() {
    std::array<int, kLabels> from{};
    for (auto& s : size_) s = -1;
    if (in_[0].dtype() == kBool) fail<DTypeError>("expected numeric operands (a product through GEMM), got bool");
    for (std::size_t i = 0; i < in_.size(); ++i) {
      if (i > 0 && in_[i].dtype() != in_[0].dtype())
        fail<DTypeError>(fmt::format("operand {} is {} but operand 0 is {}", i, dtype_name(in_[i].dtype()),
                                     dtype_name(in_[0].dtype())));
      for (std::size_t d = 0; d < subs_[i].size(); ++d) {
        const auto l = static_cast<std::size_t>(subs_[i][d]);
        const std::int64_t s = in_[i].size(static_cast<std::int64_t>(d));
        if (size_[l] == -1 || size_[l] == 1) {
          if (size_[l] == -1 || s != 1) {
            size_[l] = s;
            from[l] = static_cast<int>(i);
          }
        } else if (s != 1 && s != size_[l]) {
          const std::string name =
              subs_[i][d] >= kEllipsisLabel
                  ? fmt::format("ellipsis dim {}", subs_[i][d] - kEllipsisLabel)
                  : fmt::format("subscript '{}'",
                                static_cast<char>(subs_[i][d] < 26 ? 'A' + subs_[i][d] : 'a' + subs_[i][d] - 26));
          fail<ShapeError>(fmt::format("{} has size {} in operand {} ({}) but size {} in operand {} ({})", name, s, i,
                                       shape_str(in_[i].sizes()), size_[l], from[l],
                                       shape_str(in_[static_cast<std::size_t>(from[l])].sizes())));
        }
      }
    }
  }

  // Operand i with each repeated label reduced to its diagonal (a view).
  Operand take_diagonals(std::size_t i) const {
    Operand o{in_[i], subs_[i]};
    while (true) {
      std::size_t a = 0, b = 0;
      for (std::size_t x = 0; x < o.labels.size() && b == 0; ++x)
        for (std::size_t y = x + 1; y < o.labels.size() && b == 0; ++y)
          if (o.labels[x] == o.labels[y]) {
            a = x;
            b = y;
          }
      if (b == 0) return o;
      const auto da = static_cast<std::int64_t>(a), db = static_cast<std::int64_t>(b);
      if (o.t.size(da) != o.t.size(db))
        fail<ShapeError>(fmt::format("a subscript repeated in operand {} ({}) stands for dims of sizes {} and {}", i,
                                     shape_str(in_[i].sizes()), o.t.size(da), o.t.size(db)));
      // diagonal drops both dims and appends the diagonal last.
      const int l = o.labels[a];
      o.t = diagonal(o.t, 0, da, db);
      o.labels.erase(o.labels.begin() + static_cast<std::ptrdiff_t>(b));
      o.labels.erase(o.labels.begin() + static_cast<std::ptrdiff_t>(a));
      o.labels.push_back(l);
    }
  }

  // Sums the labels of o that nothing needs any more.
  static Operand sum_out(Operand o, const std::array<int, kLabels>& uses, const Operand* other = nullptr) {
    Dims dims;
    std::vector<int> kept;
    for (std::size_t d = 0; d < o.labels.size(); ++d) {
      const int l = o.labels[d];
      const bool in_other = other && std::find(other->labels.begin(), other->labels.end(), l) != other->labels.end();
      if (uses[static_cast<std::size_t>(l)] == 0 && !in_other) dims.push_back(static_cast<std::int64_t>(d));
      else kept.push_back(l);
    }
    if (dims.empty()) return o;
    return {sum(o.t, dims), kept};
  }

  Tensor expand_to(const Operand& o, std::size_t d) const {
    Dims shape = o.t.shape();
    shape[static_cast<int>(d)] = size_[static_cast<std::size_t>(o.labels[d])];
    return expand(o.t, shape);
  }

  // left and right contracted over their shared labels nothing else needs,
  // keeping the others: one bmm over [batch, left-only, summed] x [batch,
  // summed, right-only], or a broadcast mul when nothing is summed.
  Operand contract(Operand left, Operand right, const std::array<int, kLabels>& uses) const {
    left = sum_out(std::move(left), uses, &right);
    right = sum_out(std::move(right), uses, &left);
    std::vector<int> batch, lo, ro, summed;
    for (int l : left.labels) {
      const bool shared = std::find(right.labels.begin(), right.labels.end(), l) != right.labels.end();
      if (!shared) lo.push_back(l);
      else if (uses[static_cast<std::size_t>(l)] > 0) batch.push_back(l);
      else summed.push_back(l);
    }
    for (int l : right.labels)
      if (std::find(left.labels.begin(), left.labels.end(), l) == left.labels.end()) ro.push_back(l);
    // A label of size 1 on one side and n on the other: kept, it broadcasts
    // (expanded, a view); summed, sum_l a_l b_l = a_0 * sum_l b_l, so each
    // side sums it on its own first.
    std::vector<int> summed_kept;
    for (int l : summed) {
      const auto dl =
          static_cast<std::int64_t>(std::find(left.labels.begin(), left.labels.end(), l) - left.labels.begin());
      const auto dr =
          static_cast<std::int64_t>(std::find(right.labels.begin(), right.labels.end(), l) - right.labels.begin());
      if (left.t.size(dl) == right.t.size(dr)) summed_kept.push_back(l);
    }
    if (summed_kept.size() != summed.size()) {
      auto sum_mismatched = [&](const Operand& o) {
        Dims dims;
        std::vector<int> kept;
        for (std::size_t d = 0; d < o.labels.size(); ++d) {
          const int l = o.labels[d];
          const bool mismatched = std::find(summed.begin(), summed.end(), l) != summed.end() &&
                                  std::find(summed_kept.begin(), summed_kept.end(), l) == summed_kept.end();
          if (mismatched) dims.push_back(static_cast<std::int64_t>(d));
          else kept.push_back(l);
        }
        return Operand{sum(o.t, dims), kept};
      };
      return contract(sum_mismatched(left), sum_mismatched(right), uses);
    }
    // Kept labels shared with different sizes (1 against n): expand the 1.
    for (int l : batch) {
      for (Operand* o : {&left, &right}) {
        const auto d = static_cast<std::size_t>(std::find(o->labels.begin(), o->labels.end(), l) - o->labels.begin());
        if (o->t.size(static_cast<std::int64_t>(d)) != size_[static_cast<std::size_t>(l)]) o->t = expand_to(*o, d);
      }
    }
    auto position = [](const Operand& o, int l) {
      return static_cast<std::int64_t>(std::find(o.labels.begin(), o.labels.end(), l) - o.labels.begin());
    };
    auto arrange = [&](const Operand& o, std::initializer_list<const std::vector<int>*> groups) {
      Dims perm;
      bool identity = true;
      for (const auto* g : groups)
        for (int l : *g) {
          identity = identity && position(o, l) == perm.size();
          perm.push_back(position(o, l));
        }
      return identity ? o.t : permute(o.t, perm);
    };
    auto sizes_of = [&](const Operand& o, const std::vector<int>& g) {
      Dims s;
      for (int l : g) s.push_back(o.t.size(position(o, l)));
      return s;
    };
    const Dims batch_sizes = sizes_of(left, batch), lo_sizes = sizes_of(left, lo), ro_sizes = sizes_of(right, ro);
    std::vector<int> labels = batch;
    labels.insert(labels.end(), lo.begin(), lo.end());
    labels.insert(labels.end(), ro.begin(), ro.end());
    Dims out_shape = batch_sizes;
    for (auto s : lo_sizes) out_shape.push_back(s);
    for (auto s : ro_sizes) out_shape.push_back(s);
    if (summed.empty()) {
      // An elementwise product: [batch, lo, 1...] * [batch, 1..., ro].
      Dims ls = batch_sizes, rs = batch_sizes;
      for (auto s : lo_sizes) {
        ls.push_back(s);
        rs.push_back(1);
      }
      for (auto s : ro_sizes) {
        ls.push_back(1);
        rs.push_back(s);
      }
      return {mul(reshape(arrange(left, {&batch, &lo}), ls), reshape(arrange(right, {&batch, &ro}), rs)), labels};
    }
    const std::int64_t B = batch_sizes.product(), L = lo_sizes.product(), R = ro_sizes.product(),
                       S = sizes_of(left, summed).product();
    const Tensor a = reshape(arrange(left, {&batch, &lo, &summed}), {B, L, S});
    const Tensor b = reshape(arrange(right, {&batch, &summed, &ro}), {B, S, R});
    return {reshape(bmm(a, b), out_shape), labels};
  }
};

}  // namespace

Tensor einsum(std::string_view equation, const std::vector<Tensor>& operands) {
  TG_PROFILE_OP("einsum", operands);
  return Einsum(equation, operands).run();
}

}  // namespace tg
