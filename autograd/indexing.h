#pragma once
// Advanced indexing in LibTorch's torch::indexing shape, and the scatter
// family (autograd/ops/advanced_index.cpp):
//
//   using namespace tg::indexing;
//   x.index({Slice(1, None), 0})          // x[1:, 0]  (a view)
//   x.index({"...", None, mask})          // x[..., None, mask]  (a copy)
//   x.index_put_({idx, Slice()}, v)       // x[idx, :] = v
//
// Integers, Slice, None and Ellipsis are basic indices: they give views that
// share x's memory, so in-place writes through them are visible in x.
// int64 tensors and bool masks are advanced: they give copies. The index
// tensors (a mask counts as its nonzero() coordinates) broadcast together;
// their dims go where the first of them stood when they are adjacent in the
// index, and first otherwise (PyTorch's and NumPy's rule).
//
// index_put_ with accumulate = false and a repeated position: the value that
// comes last in the broadcast index's row-major order wins, always (PyTorch
// leaves that undefined). Each repeated value still gets the gradient
// grad[position], as PyTorch's formula gives.
#include <concepts>
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string_view>
#include <vector>

#include <tapegrad/autograd/tensor.h>

namespace tg::indexing {

struct EllipsisIndexType {
  explicit constexpr EllipsisIndexType() = default;
};
inline constexpr EllipsisIndexType Ellipsis{};
inline constexpr std::nullopt_t None = std::nullopt;

// Python's start:stop:step; a missing end is the dim's start or end, a
// negative one counts from the end, and out-of-range ends are clamped.
class Slice {
 public:
  Slice(std::optional<std::int64_t> start = std::nullopt, std::optional<std::int64_t> stop = std::nullopt,
        std::optional<std::int64_t> step = std::nullopt)
      : start_(start), stop_(stop), step_(step) {}
  std::optional<std::int64_t> start() const { return start_; }
  std::optional<std::int64_t> stop() const { return stop_; }
  std::optional<std::int64_t> step() const { return step_; }

 private:
  std::optional<std::int64_t> start_, stop_, step_;
};

class TensorIndex {
 public:
  enum class Kind { None, Ellipsis, Integer, Boolean, Slice, Tensor };
  TensorIndex(std::nullopt_t) : kind_(Kind::None) {}
  TensorIndex(EllipsisIndexType) : kind_(Kind::Ellipsis) {}
  // "..." as in LibTorch; any other string is a ValueError when used.
  TensorIndex(const char* ellipsis) : kind_(Kind::Ellipsis), text_(ellipsis) {}
  template <std::integral I>
  requires(!std::same_as<I, bool>) TensorIndex(I i) : kind_(Kind::Integer), integer_(static_cast<std::int64_t>(i)) {}
  // Only a real bool (x[True] adds a dim of size 1, x[False] one of size 0);
  // a double does not convert here.
  template <std::same_as<bool> B>
  TensorIndex(B b) : kind_(Kind::Boolean), boolean_(b) {}
  TensorIndex(Slice s) : kind_(Kind::Slice), slice_(s) {}
  TensorIndex(Tensor t) : kind_(Kind::Tensor), tensor_(std::move(t)) {}

  Kind kind() const { return kind_; }
  std::int64_t integer() const { return integer_; }
  bool boolean() const { return boolean_; }
  const Slice& slice() const { return slice_; }
  const Tensor& tensor() const { return tensor_; }
  std::string_view text() const { return text_; }

 private:
  Kind kind_;
  std::int64_t integer_ = 0;
  bool boolean_ = false;
  Slice slice_;
  Tensor tensor_;
  std::string_view text_ = "...";
};

}  // namespace tg::indexing

namespace tg {

// x[indices]; a view when every index is basic.
Tensor index(const Tensor& x, const std::vector<indexing::TensorIndex>& indices);
// x[indices] = values (or += with accumulate), in place; values broadcast to
// the shape of x[indices]. Through advanced indices values must have x's
// dtype (as PyTorch); through basic ones only, they are converted as copy_ does.
Tensor& index_put_(Tensor& x, const std::vector<indexing::TensorIndex>& indices, const Tensor& values,
                   bool accumulate = false);
Tensor& index_put_(Tensor& x, const std::vector<indexing::TensorIndex>& indices, double value);
// The same on a copy of x.
Tensor index_put(const Tensor& x, const std::vector<indexing::TensorIndex>& indices, const Tensor& values,
                 bool accumulate = false);

// x with x[..index[..i..]..] = src[..i..] along dim (the last one wins for a
// repeated target); index may be smaller than src. reduce "add" or "multiply"
// combines instead, as scatter_reduce's "sum" and "prod" with include_self.
Tensor scatter(const Tensor& x, std::int64_t dim, const Tensor& index, const Tensor& src);
Tensor scatter(const Tensor& x, std::int64_t dim, const Tensor& index, double value);
Tensor scatter(const Tensor& x, std::int64_t dim, const Tensor& index, const Tensor& src, std::string_view reduce);
Tensor scatter(const Tensor& x, std::int64_t dim, const Tensor& index, double value, std::string_view reduce);
// reduce: "sum", "prod", "mean", "amax", "amin". Gradients as PyTorch's:
// amax/amin share it evenly between the tied values; prod handles zeros
// (a single zero in a group gets the product of the others).
Tensor scatter_reduce(const Tensor& x, std::int64_t dim, const Tensor& index, const Tensor& src,
                      std::string_view reduce, StrictBool include_self = true);
// x + alpha * (src's slices added at index along dim); index 1-D or 0-d.
Tensor index_add(const Tensor& x, std::int64_t dim, const Tensor& index, const Tensor& src, double alpha = 1);
// x with the slices at index along dim replaced by src's (the last one wins).
Tensor index_copy(const Tensor& x, std::int64_t dim, const Tensor& index, const Tensor& src);
// x with the slices at index along dim set to value; negative indices count from the end.
Tensor index_fill(const Tensor& x, std::int64_t dim, const Tensor& index, double value);
// No gradient: coordinates [n, x.dim()] (int64) of x's nonzero elements; argwhere is the same.
Tensor nonzero(const Tensor& x);
Tensor argwhere(const Tensor& x);
// x's elements where mask (bool, broadcast together) is true, as a 1-D tensor.
Tensor masked_select(const Tensor& x, const Tensor& mask);
// No gradient: whether any (all) element is nonzero, in the whole tensor or along dim (bool).
Tensor any(const Tensor& x);
Tensor any(const Tensor& x, std::int64_t dim, StrictBool keepdim = false);
Tensor all(const Tensor& x);
Tensor all(const Tensor& x, std::int64_t dim, StrictBool keepdim = false);

}  // namespace tg
