#pragma once
/// @file
/// Advanced indexing in LibTorch's torch::indexing shape, and the scatter
/// family (autograd/ops/advanced_index.cpp).
///
/// @code
/// using namespace tg::indexing;
/// x.index({Slice(1, None), 0})          // x[1:, 0]  (a view)
/// x.index({"...", None, mask})          // x[..., None, mask]  (a copy)
/// x.index_put_({idx, Slice()}, v)       // x[idx, :] = v
/// @endcode
///
/// Integers, Slice, None and Ellipsis are basic indices: they give views that
/// share x's memory, so in-place writes through them are visible in x.
/// int64 tensors and bool masks are advanced: they give copies. The index
/// tensors (a mask counts as its nonzero() coordinates) broadcast together;
/// their dims go where the first of them stood when they are adjacent in the
/// index, and first otherwise (PyTorch's and NumPy's rule).
///
/// index_put_ with accumulate = false and a repeated position: the value that
/// comes last in the broadcast index's row-major order wins, always (PyTorch
/// leaves that undefined). Each repeated value still gets the gradient
/// grad[position], as PyTorch's formula gives.
#include <concepts>
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string_view>
#include <vector>

#include <tapegrad/autograd/tensor.h>

// TensorIndex::Kind names its alternatives as PyTorch does (None, Ellipsis),
// as do the tg::indexing constants: GCC's -Wshadow would flag them in a
// user's build.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wshadow"

namespace tg::indexing {

/// The type of Ellipsis (Python's `...`).
struct EllipsisIndexType {
  explicit constexpr EllipsisIndexType() = default;  ///< only Ellipsis is made
};
inline constexpr EllipsisIndexType Ellipsis{};        ///< Python's `...`: as many full slices as needed
inline constexpr std::nullopt_t None = std::nullopt;  ///< Python's None: a new dim of size 1 (or an open Slice end)

/// A slice, Python's start:stop:step; a missing end is the dim's start or end, a
/// negative one counts from the end, and out-of-range ends are clamped.
class Slice {
 public:
  /// A slice from start to stop (exclusive) by step (default 1, must be positive).
  Slice(std::optional<std::int64_t> start = std::nullopt, std::optional<std::int64_t> stop = std::nullopt,
        std::optional<std::int64_t> step = std::nullopt)
      : start_(start), stop_(stop), step_(step) {}
  std::optional<std::int64_t> start() const { return start_; }  ///< the first position, if given
  std::optional<std::int64_t> stop() const { return stop_; }    ///< the end (exclusive), if given
  std::optional<std::int64_t> step() const { return step_; }    ///< the step, if given

 private:
  std::optional<std::int64_t> start_, stop_, step_;
};

/// One entry of an index list, as LibTorch's torch::indexing::TensorIndex:
/// None, Ellipsis ("..."), an integer, a bool, a Slice or a tensor (int64
/// indices or a bool mask). Converts implicitly from each.
class TensorIndex {
 public:
  /// Which alternative the index holds.
  enum class Kind { None, Ellipsis, Integer, Boolean, Slice, Tensor };
  TensorIndex(std::nullopt_t) : kind_(Kind::None) {}         ///< None: a new dim of size 1
  TensorIndex(EllipsisIndexType) : kind_(Kind::Ellipsis) {}  ///< Ellipsis
  /// The string "..." (Ellipsis), as in LibTorch; any other string is a ValueError when used.
  TensorIndex(const char* ellipsis) : kind_(Kind::Ellipsis), text_(ellipsis) {}
  /// An integer: selects one position and removes the dim (negative counts from the end).
  template <std::integral I>
  requires(!std::same_as<I, bool>) TensorIndex(I i) : kind_(Kind::Integer), integer_(static_cast<std::int64_t>(i)) {}
  /// Only a real bool (x[True] adds a dim of size 1, x[False] one of size 0);
  /// a double does not convert here.
  template <std::same_as<bool> B>
  TensorIndex(B b) : kind_(Kind::Boolean), boolean_(b) {}
  TensorIndex(Slice s) : kind_(Kind::Slice), slice_(s) {}                ///< a slice (a view)
  TensorIndex(Tensor t) : kind_(Kind::Tensor), tensor_(std::move(t)) {}  ///< int64 indices or a bool mask (a copy)

  Kind kind() const { return kind_; }                ///< which alternative this is
  std::int64_t integer() const { return integer_; }  ///< the integer (Kind::Integer)
  bool boolean() const { return boolean_; }          ///< the bool (Kind::Boolean)
  const Slice& slice() const { return slice_; }      ///< the slice (Kind::Slice)
  const Tensor& tensor() const { return tensor_; }   ///< the tensor (Kind::Tensor)
  std::string_view text() const { return text_; }    ///< the string given for Kind::Ellipsis ("..." unless a bad one)

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

/// x[indices], as LibTorch's Tensor::index; a view when every index is basic.
/// @param x       the tensor indexed
/// @param indices the index list, one entry per dim (Ellipsis and None aside)
/// @throws tg::IndexError for an index out of range or too many indices,
///   tg::ValueError for a string other than "...".
Tensor index(const Tensor& x, const std::vector<indexing::TensorIndex>& indices);
/// x[indices] = values (or += with accumulate), in place, as LibTorch's index_put_. Values broadcast to
/// the shape of x[indices]. Through advanced indices values must have x's
/// dtype (as PyTorch); through basic ones only, they are converted as copy_ does.
/// @throws tg::IndexError for an index out of range, tg::ShapeError for values
///   that do not broadcast, tg::DTypeError for values of another dtype through
///   advanced indices, tg::AutogradError for a leaf that requires grad (grad mode on).
///@{
Tensor& index_put_(Tensor& x, const std::vector<indexing::TensorIndex>& indices, const Tensor& values,
                   bool accumulate = false);
Tensor& index_put_(Tensor& x, const std::vector<indexing::TensorIndex>& indices, double value);
///@}
/// index_put_ on a copy of x, as torch.index_put (differentiable in x and values).
/// @param x          the tensor (not modified)
/// @param indices    where to write
/// @param values     broadcast to the shape of x[indices]
/// @param accumulate add instead of overwriting
Tensor index_put(const Tensor& x, const std::vector<indexing::TensorIndex>& indices, const Tensor& values,
                 bool accumulate = false);

/// Scatter along dim, as torch.scatter. The result is x with x[..index[..i..]..] = src[..i..] (or value) along dim
/// (the last one wins for a repeated target); index may be smaller than src. reduce "add" or "multiply"
/// combines instead, as scatter_reduce's "sum" and "prod" with include_self.
///@{
Tensor scatter(const Tensor& x, std::int64_t dim, const Tensor& index, const Tensor& src);
Tensor scatter(const Tensor& x, std::int64_t dim, const Tensor& index, double value);
Tensor scatter(const Tensor& x, std::int64_t dim, const Tensor& index, const Tensor& src, std::string_view reduce);
Tensor scatter(const Tensor& x, std::int64_t dim, const Tensor& index, double value, std::string_view reduce);
///@}
/// Scatter with a reduction, as torch.scatter_reduce;
/// reduce: "sum", "prod", "mean", "amax", "amin". Gradients as PyTorch's:
/// amax/amin share it evenly between the tied values; prod handles zeros
/// (a single zero in a group gets the product of the others).
/// @param x            the input (not modified)
/// @param dim          the dim indexed
/// @param index        int64, of x's rank
/// @param src          the values, at least index's size in each dim
/// @param reduce       "sum", "prod", "mean", "amax" or "amin"
/// @param include_self whether x's own values join each reduction
/// @throws tg::ValueError for another reduce, tg::IndexError for an index out of range,
///   tg::ShapeError for a rank mismatch or an index larger than src.
Tensor scatter_reduce(const Tensor& x, std::int64_t dim, const Tensor& index, const Tensor& src,
                      std::string_view reduce, StrictBool include_self = true);
/// As torch.index_add: x + alpha * (src's slices added at index along dim); index 1-D or 0-d.
/// @param x     the input (not modified)
/// @param dim   the dim indexed
/// @param index int64 (or int32) positions along dim
/// @param src   the slices added, index.numel() of them along dim
/// @param alpha the factor of src
/// @throws tg::IndexError for an index out of range, tg::ShapeError for a src of the wrong shape.
Tensor index_add(const Tensor& x, std::int64_t dim, const Tensor& index, const Tensor& src, double alpha = 1);
/// As torch.index_copy: x with the slices at index along dim replaced by src's (the last one wins).
/// @param x     the input (not modified)
/// @param dim   the dim indexed
/// @param index int64 (or int32) positions along dim
/// @param src   the slices written, index.numel() of them along dim
Tensor index_copy(const Tensor& x, std::int64_t dim, const Tensor& index, const Tensor& src);
/// As torch.index_fill: x with the slices at index along dim set to value; negative indices count from the end.
/// @param x     the input (not modified)
/// @param dim   the dim indexed
/// @param index int64 (or int32) positions along dim
/// @param value the fill value
Tensor index_fill(const Tensor& x, std::int64_t dim, const Tensor& index, double value);
/// The coordinates [n, x.dim()] (int64) of x's nonzero elements, as
/// torch.nonzero / argwhere (the same); no gradient.
///@{
Tensor nonzero(const Tensor& x);
Tensor argwhere(const Tensor& x);
///@}
/// As torch.masked_select: x's elements where mask (bool, broadcast together) is true, as a 1-D tensor.
/// @param x    the input
/// @param mask bool, broadcast with x
/// @throws tg::DTypeError for a mask that is not bool, tg::ShapeError for shapes that do not broadcast.
Tensor masked_select(const Tensor& x, const Tensor& mask);
/// Whether any (all) element is nonzero, in the whole tensor or along dim, as
/// torch.any / all: a bool tensor (uint8 for a uint8 x, as torch), no gradient.
///@{
Tensor any(const Tensor& x);
Tensor any(const Tensor& x, std::int64_t dim, StrictBool keepdim = false);
Tensor all(const Tensor& x);
Tensor all(const Tensor& x, std::int64_t dim, StrictBool keepdim = false);
///@}

}  // namespace tg

#pragma GCC diagnostic pop
