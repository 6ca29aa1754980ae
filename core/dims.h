#pragma once
/// @file
/// Sizes and strides: a fixed-capacity inline array, so creating a tensor never
/// allocates for its shape. Eight dimensions cover every model we know of;
/// asking for more is a ShapeError rather than a silent heap fallback.
#include <algorithm>
#include <array>
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include <tapegrad/core/error.h>

namespace tg {

/// The most dimensions a tensor may have (Dims holds them inline).
inline constexpr int kMaxDims = 8;

/// Overflow-checked int64 arithmetic for element counts, strides and offsets.
/// True when the exact result does not fit (then *out is unspecified).
///@{
inline bool mul_overflows(std::int64_t a, std::int64_t b, std::int64_t* out) {
  return __builtin_mul_overflow(a, b, out);
}
inline bool add_overflows(std::int64_t a, std::int64_t b, std::int64_t* out) {
  return __builtin_add_overflow(a, b, out);
}
///@}
/// ShapeError naming `op` and `shape`: its element count does not fit in int64.
[[noreturn]] void throw_numel_overflow(const char* op, std::span<const std::int64_t> shape);
/// The element count of `shape` (0 if any size is 0, whatever the others);
/// ShapeError naming `op` when it does not fit in int64. Negative sizes are
/// the caller's to reject.
inline std::int64_t checked_numel(std::span<const std::int64_t> shape, const char* op) {
  std::int64_t p = 1;
  bool overflow = false;
  for (auto x : shape) {
    if (x == 0) return 0;
    overflow |= mul_overflows(p, x, &p);
  }
  if (overflow) throw_numel_overflow(op, shape);
  return p;
}

/// A shape or strides: at most kMaxDims int64 values stored inline, used like
/// a small std::vector (`Dims{2, 3}`, `d.size()`, `d[0]`, range-for).
/// @throws tg::ShapeError from every member that would exceed kMaxDims.
class Dims {
 public:
  /// No dimensions (the shape of a 0-d tensor).
  Dims() = default;
  /// The given values, in order.
  ///@{
  Dims(std::initializer_list<std::int64_t> values) { assign(values.begin(), values.end()); }
  Dims(std::span<const std::int64_t> values) { assign(values.begin(), values.end()); }
  Dims(const std::vector<std::int64_t>& values) { assign(values.begin(), values.end()); }
  ///@}
  /// `n` copies of `v`.
  static Dims filled(int n, std::int64_t v) {
    Dims d;
    d.resize(n, v);
    return d;
  }

  /// std::vector-like access to the values (size() of them).
  ///@{
  int size() const { return n_; }
  bool empty() const { return n_ == 0; }
  std::int64_t* data() { return v_.data(); }
  const std::int64_t* data() const { return v_.data(); }
  std::int64_t* begin() { return v_.data(); }
  std::int64_t* end() { return v_.data() + n_; }
  const std::int64_t* begin() const { return v_.data(); }
  const std::int64_t* end() const { return v_.data() + n_; }
  std::int64_t& operator[](int i) { return v_[static_cast<std::size_t>(i)]; }
  std::int64_t operator[](int i) const { return v_[static_cast<std::size_t>(i)]; }
  std::int64_t back() const { return v_[static_cast<std::size_t>(n_ - 1)]; }
  ///@}

  /// std::vector-like changes; growing past kMaxDims is a tg::ShapeError.
  ///@{
  void push_back(std::int64_t x) {
    check_rank(n_ + 1);
    v_[static_cast<std::size_t>(n_++)] = x;
  }
  void insert(int pos, std::int64_t x) {
    check_rank(n_ + 1);
    for (int i = n_; i > pos; --i) v_[static_cast<std::size_t>(i)] = v_[static_cast<std::size_t>(i - 1)];
    v_[static_cast<std::size_t>(pos)] = x;
    ++n_;
  }
  void erase(int pos) {
    for (int i = pos; i + 1 < n_; ++i) v_[static_cast<std::size_t>(i)] = v_[static_cast<std::size_t>(i + 1)];
    --n_;
  }
  void resize(int n, std::int64_t fill = 0) {
    check_rank(n);
    for (int i = n_; i < n; ++i) v_[static_cast<std::size_t>(i)] = fill;
    n_ = n;
  }
  ///@}

  /// The values as a span (what IntArrayRef parameters take).
  operator std::span<const std::int64_t>() const { return {v_.data(), static_cast<std::size_t>(n_)}; }
  /// The values as a std::vector.
  std::vector<std::int64_t> vec() const { return {begin(), end()}; }

  // A loop rather than std::equal, which calls memcmp: every binary op
  // compares its operands' shapes, and the call cost more than the few values.
  friend bool operator==(const Dims& a, const Dims& b) {
    if (a.n_ != b.n_) return false;
    for (int i = 0; i < a.n_; ++i)
      if (a.v_[static_cast<std::size_t>(i)] != b.v_[static_cast<std::size_t>(i)]) return false;
    return true;
  }

  /// ShapeError when the product does not fit in int64.
  std::int64_t product() const { return checked_numel(*this, "shape"); }

 private:
  template <class It>
  void assign(It first, It last) {
    auto n = static_cast<int>(last - first);
    check_rank(n);
    std::copy(first, last, v_.begin());
    n_ = n;
  }
  static void check_rank(int n) {
    if (n > kMaxDims)
      throw ShapeError(detail::in_current_op("tensors have at most " + std::to_string(kMaxDims) +
                                             " dimensions, asked for " + std::to_string(n)));
  }

  std::array<std::int64_t, kMaxDims> v_{};
  int n_ = 0;
};

/// A read-only view of sizes or strides (LibTorch's IntArrayRef).
using IntArrayRef = std::span<const std::int64_t>;

/// A shape that may be left out (LibTorch's OptionalIntArrayRef), for
/// tg::tensor: none gives a 1-D tensor of the values, a shape given is used
/// as it is, an empty one too (0-d). Braces give a shape (`{2, 3}`), empty
/// braces none, as a default argument reads them; a Dims, even an empty
/// one, is a shape (`tg::tensor(v, x.shape())` keeps a 0-d x's 0 dims).
class OptionalDims {
 public:
  /// No shape (also what `{}` gives).
  ///@{
  OptionalDims() = default;
  OptionalDims(std::nullopt_t) {}
  ///@}
  /// A shape, used as it is (0-d where empty).
  ///@{
  OptionalDims(std::initializer_list<std::int64_t> values) : dims_(Dims(values)) {}
  OptionalDims(const Dims& dims) : dims_(dims) {}
  OptionalDims(IntArrayRef dims) : dims_(Dims(dims)) {}
  OptionalDims(const std::vector<std::int64_t>& dims) : dims_(Dims(dims)) {}
  ///@}
  /// Whether a shape was given.
  bool has_value() const { return dims_.has_value(); }
  /// The shape given, or a 1-D shape of `n` where none was.
  Dims value_or_1d(std::int64_t n) const { return dims_ ? *dims_ : Dims{n}; }

 private:
  std::optional<Dims> dims_;
};

/// "[32, 784]"
std::string shape_str(IntArrayRef dims);

/// Contiguous (row-major) strides for `sizes`; ShapeError naming `op` if they
/// do not fit in int64 (possible even for an empty shape such as [0, 2^40, 2^40]).
Dims contiguous_strides(const Dims& sizes, const char* op = "contiguous_strides");

/// Wraps a possibly negative dim into [0, ndim); IndexError naming `op` otherwise.
int wrap_dim(std::int64_t dim, int ndim, const char* op);

/// The NumPy broadcast of two shapes; ShapeError naming `op` and both shapes otherwise.
Dims broadcast_shapes(const Dims& a, const Dims& b, const char* op);

}  // namespace tg
