#pragma once
/// @file
/// tg::TensorBase: a cheap handle (shared ownership) over a TensorImpl, which
/// is a view (sizes, strides and an offset) on a shared Storage. Copying a
/// handle aliases.
///
/// This is core's tensor: metadata and data access only, no op methods. The
/// kernels (core/kernels/), creation and random functions (tg::kernel::zeros,
/// ...) and printing take and return TensorBase, so core is a plain tensor
/// library on its own. Users' tg::Tensor (autograd/tensor.h) derives from it
/// and adds the PyTorch-like method syntax (x.relu(), x.sum(1), x.backward()),
/// each method an op that records itself on the tape; a TensorBase converts
/// to a Tensor implicitly. See docs/architecture.md.
#include <cstdint>
#include <functional>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <vector>

#include <tapegrad/core/args.h>
#include <tapegrad/core/dims.h>
#include <tapegrad/core/dtype.h>
#include <tapegrad/core/error.h>
#include <tapegrad/core/storage.h>

namespace tg {

// autograd/ attaches its per-tensor state through this interface, so core
// needs to know nothing about the tape.
class TensorBase;
/// The interface of autograd's per-tensor state, as core sees it: autograd/
/// attaches its state through it, so core needs to know nothing about the tape.
struct AutogradMetaBase {
  virtual ~AutogradMetaBase() = default;
  /// What printing shows (grad_fn=<...>, requires_grad=True). `self` is the
  /// tensor owning this state: for a view modified in place, autograd first
  /// brings its history up to date, as every other query of it does.
  virtual bool requires_grad_for(const TensorBase& self) = 0;
  /// The recording op's name ("mul"), empty for leaves.
  virtual std::string_view grad_fn_name_for(const TensorBase& self) = 0;
};

/// What a tensor handle points at: a storage and the view of it (sizes,
/// strides, offset, dtype), plus autograd's state. Shared by every handle
/// copied from one another.
struct TensorImpl {
  std::shared_ptr<Storage> storage;            ///< the data, shared with views
  Dims sizes;                                  ///< the shape
  Dims strides;                                ///< in elements, per dim
  std::int64_t offset = 0;                     ///< in elements
  std::int64_t numel = 0;                      ///< the product of sizes
  DType dtype = kFloat32;                      ///< the element type
  std::unique_ptr<AutogradMetaBase> autograd;  ///< null until autograd needs state

  /// Empty (no storage, 0-d). User-provided on purpose: make_shared value-
  /// initialises, which for an implicit constructor zeroes the whole object
  /// (a `rep stos`, a twentieth of a recorded op) before the members'
  /// initialisers run again.
  TensorImpl() noexcept {}

  /// Whether the strides are the row-major ones for sizes (size-1 dims aside).
  bool is_contiguous() const;
};

/// The dtype, requires_grad and device of a new tensor, as torch's keyword arguments.
/// Designated initializers follow the declaration order: {.dtype = ...,
/// .requires_grad = ..., .device = ...}, any subset. Every creation function
/// also takes a bare DType in its place: tg::randn({3}, tg::kFloat64).
struct TensorOptions {
  DType dtype = kFloat32;      ///< the element type
  bool requires_grad = false;  ///< make a leaf the tape tracks (floating dtypes only)
  Device device{};             ///< the CPU: the only device there is
};

/// The handle over a TensorImpl: identity, metadata and data access, with
/// no autograd (as PyTorch's at::TensorBase). Users hold tg::Tensor, which
/// adds the methods; see autograd/tensor.h.
class TensorBase {
 public:
  /// An undefined handle, or one on `impl`.
  ///@{
  TensorBase() = default;
  explicit TensorBase(std::shared_ptr<TensorImpl> impl) : impl_(std::move(impl)) {}
  ///@}

  // ---- identity and metadata -------------------------------------------
  /// The handle itself. Whether it names a tensor; dropping it; the TensorImpl
  /// behind it; whether two handles name the same one.
  ///@{
  bool defined() const { return impl_ != nullptr; }
  void reset() { impl_.reset(); }
  TensorImpl* impl() const { return impl_.get(); }
  const std::shared_ptr<TensorImpl>& impl_ptr() const { return impl_; }
  bool is_same(const TensorBase& other) const { return impl_ == other.impl_; }
  ///@}

  /// Metadata, as torch.Tensor's methods of the same names. sizes() and shape()
  /// are the same values; size(dim) and stride(dim) take negative dims).
  /// @throws tg::Error on an undefined tensor; size and stride tg::IndexError
  ///   for a dim out of range.
  ///@{
  DType dtype() const { return checked().dtype; }
  Device device() const { return checked().storage->device(); }
  int dim() const { return checked().sizes.size(); }
  std::int64_t numel() const { return checked().numel; }
  IntArrayRef sizes() const { return checked().sizes; }
  IntArrayRef strides() const { return checked().strides; }
  const Dims& shape() const { return checked().sizes; }
  std::int64_t size(std::int64_t dim) const;
  std::int64_t stride(std::int64_t dim) const;
  std::int64_t storage_offset() const { return checked().offset; }
  bool is_contiguous() const { return checked().is_contiguous(); }
  bool is_floating_point() const { return is_floating(dtype()); }
  std::size_t element_size() const { return itemsize(dtype()); }
  const std::shared_ptr<Storage>& storage() const { return checked().storage; }
  ///@}

  /// Pointer to the first element (offset applied). T must match the dtype.
  template <class T>
  T* data_ptr() const {
    const auto& i = checked();
    if (dtype_of<T>() != i.dtype)
      throw DTypeError("data_ptr: tensor is " + std::string(dtype_name(i.dtype)) + ", asked for " +
                       std::string(dtype_name(dtype_of<T>())));
    return static_cast<T*>(i.storage->data()) + i.offset;
  }
  /// Pointer to the first element (offset applied), untyped.
  void* raw_data() const {
    const auto& i = checked();
    return static_cast<char*>(i.storage->data()) + i.offset * static_cast<std::int64_t>(itemsize(i.dtype));
  }

  /// The single value of a one-element tensor, converted to T (any type a
  /// tensor stores: float, double, Half, BFloat16, int64/32/16/8, uint8, bool).
  /// A value that T cannot hold is a ValueError, as in LibTorch: NaN, an
  /// infinity or an out-of-range value as an integer, a finite value beyond
  /// a floating T's range (see element_overflows in core/dtype.h). A fraction
  /// truncates toward zero; anything reads as bool (true unless 0).
  template <ElementType T>
  T item() const;
  /// All elements in row-major order, converted to T and checked as item's.
  template <ElementType T>
  std::vector<T> to_vector() const;

  /// The storage's version counter, which in-place ops bump (autograd checks
  /// saved tensors against it).
  std::uint32_t version() const { return storage()->version(); }

 private:
  const TensorImpl& checked() const {
    if (!impl_) throw Error(detail::in_current_op("tensor is undefined (default-constructed or reset)"));
    return *impl_;
  }
  std::shared_ptr<TensorImpl> impl_;
};

// ---- creation and random numbers, core's versions ------------------------
// Users call tg::zeros, tg::randn, ... (autograd/tensor.h), which return a
// tg::Tensor and honour TensorOptions::requires_grad. These plain versions
// are for core itself and core-only users; they ignore requires_grad (a
// TensorBase has no tape to join).
namespace kernel {
TensorBase empty(Dims shape, TensorOptions options = {});
TensorBase zeros(Dims shape, TensorOptions options = {});
TensorBase ones(Dims shape, TensorOptions options = {});
TensorBase full(Dims shape, double value, TensorOptions options = {});
TensorBase zeros_like(const TensorBase& t, std::optional<DType> dtype = {});
TensorBase ones_like(const TensorBase& t, std::optional<DType> dtype = {});
TensorBase empty_like(const TensorBase& t, std::optional<DType> dtype = {});
TensorBase full_like(const TensorBase& t, double value, std::optional<DType> dtype = {});
TensorBase scalar_tensor(double value, TensorOptions options = {});
TensorBase arange_range(double start, double end, double step, TensorOptions options);
/// arange of integer start, end and step, counted and stepped in int64 as
/// PyTorch does (exact past 2^53, where doubles are not).
TensorBase arange_integers(std::int64_t start, std::int64_t end, std::int64_t step, TensorOptions options);
/// An integer argument of arange as int64, refusing an unsigned one past INT64_MAX.
template <class T>
std::int64_t arange_integer(T v) {
  if constexpr (std::is_unsigned_v<T>)
    if (v > static_cast<std::make_unsigned_t<std::int64_t>>(std::numeric_limits<std::int64_t>::max()))
      throw_unrepresentable("arange", static_cast<double>(v), kInt64);
  return static_cast<std::int64_t>(v);
}
/// arange on either path: integers exactly, anything else in double.
template <class S, class E, class P>
TensorBase arange_any(S start, E end, P step, TensorOptions options) {
  if constexpr (std::is_integral_v<S> && std::is_integral_v<E> && std::is_integral_v<P>)
    return arange_integers(arange_integer(start), arange_integer(end), arange_integer(step), options);
  else return arange_range(static_cast<double>(start), static_cast<double>(end), static_cast<double>(step), options);
}
/// As PyTorch: integer start, end and step give int64, any floating one the
/// default float32; options given explicitly decide. The numbers are deduced
/// so that `arange(5, {})` cannot read `{}` as end = 0.
template <Real E>
TensorBase arange(E end, TensorOptions options = {.dtype = std::is_integral_v<E> ? kInt64 : kFloat32}) {
  return arange_any(E{0}, end, E{1}, options);
}
template <Real S, Real E, Real P = int>
TensorBase arange(S start, E end, P step = 1,
                  TensorOptions options = {
                      .dtype = std::is_integral_v<S> && std::is_integral_v<E> && std::is_integral_v<P> ? kInt64
                                                                                                       : kFloat32}) {
  return arange_any(start, end, step, options);
}
TensorBase linspace(double start, double end, std::int64_t steps, TensorOptions options = {});
TensorBase eye(std::int64_t n, std::optional<std::int64_t> m = {}, TensorOptions options = {});
/// From values in row-major order. Without a shape (std::nullopt, or a
/// literal `{}`, which reads as none) it is 1-D; a shape given as a Dims is
/// used as it is, an empty one too: `tensor(v, x.shape())` of a 0-d x holds
/// one value in 0 dims. A list of floating numbers gives float32 and a list
/// of integers int64, as torch.tensor([1.5]) and torch.tensor([1, 2]) (a list
/// of bools: bool).
TensorBase tensor(std::initializer_list<double> values, OptionalDims shape = {}, TensorOptions options = {});

/// The dtype a std::vector<T> becomes: its own where tapegrad has it (as
/// torch.from_numpy: int32 stays int32, uint8 uint8), int64 for the other
/// integer types and float64 for long double.
template <class T>
using stored_type_t =
    std::conditional_t<std::is_same_v<T, bool> || std::is_same_v<T, float> || std::is_same_v<T, double> ||
                           std::is_same_v<T, std::int8_t> || std::is_same_v<T, std::uint8_t> ||
                           std::is_same_v<T, std::int16_t> || std::is_same_v<T, std::int32_t> ||
                           std::is_same_v<T, std::int64_t> || std::is_same_v<T, Half> || std::is_same_v<T, BFloat16>,
                       T, std::conditional_t<std::is_floating_point_v<T>, double, std::int64_t>>;

/// `values` of a type tapegrad stores (explicitly instantiated in creation.cpp).
template <class S>
TensorBase tensor_stored(const std::vector<S>& values, OptionalDims shape, DType dtype);

/// Any arithmetic T (and Half, BFloat16). An integer that int64 cannot hold
/// (a uint64 above 2^63 - 1) is a ValueError.
template <class T>
requires std::is_arithmetic_v<T> || is_reduced_float_v<T> TensorBase
tensor(const std::vector<T>& values, OptionalDims shape = {},
       TensorOptions options = {.dtype = dtype_of<stored_type_t<T>>()}) {
  using S = stored_type_t<T>;
  if constexpr (std::is_same_v<S, T>) {
    return tensor_stored<S>(values, std::move(shape), options.dtype);
  } else {
    std::vector<S> converted;
    converted.reserve(values.size());
    for (T v : values) {
      if constexpr (std::is_unsigned_v<T>)
        if (v > static_cast<T>(std::numeric_limits<std::int64_t>::max()))
          throw_unrepresentable("tensor", static_cast<double>(v), kInt64);
      converted.push_back(static_cast<S>(v));
    }
    return tensor_stored<S>(converted, std::move(shape), options.dtype);
  }
}
template <class T>
requires std::is_arithmetic_v<T> || is_reduced_float_v<T> TensorBase tensor(const std::vector<T>& values,
                                                                            OptionalDims shape, DType dtype) {
  return tensor(values, std::move(shape), TensorOptions{.dtype = dtype});
}
/// Checked as stored scalars (full, fill_): a value the dtype cannot hold is a ValueError.
TensorBase tensor_values(std::span<const double> values, OptionalDims shape, TensorOptions options);
template <Real T>
requires(!std::same_as<T, double>) TensorBase
    tensor(std::initializer_list<T> values, OptionalDims shape = {},
           TensorOptions options = {.dtype = std::is_integral_v<T> ? kInt64 : kFloat32}) {
  if constexpr (std::is_integral_v<T>) {
    // Exact for every int64 (a double holds integers only up to 2^53).
    if (options.dtype == kInt64) return tensor(std::vector<std::int64_t>(values.begin(), values.end()), shape, options);
  }
  std::vector<double> as_double(values.begin(), values.end());
  return tensor_values(as_double, std::move(shape), options);
}
/// A template, so that a list of numbers never reaches it through a conversion to bool.
template <std::same_as<bool> B>
TensorBase tensor(std::initializer_list<B> values, OptionalDims shape = {}, TensorOptions options = {.dtype = kBool}) {
  return tensor(std::vector<bool>(values), std::move(shape), options);
}
}  // namespace kernel

// ---- random numbers (core/random.cpp) ----------------------------------------
class Generator;
/// Reseeds the default generator, as torch.manual_seed.
void manual_seed(std::uint64_t seed);
namespace kernel {
TensorBase rand(Dims shape, TensorOptions options = {}, Generator* gen = nullptr);
TensorBase randn(Dims shape, TensorOptions options = {}, Generator* gen = nullptr);
TensorBase randint(std::int64_t low, std::int64_t high, Dims shape, TensorOptions options = {.dtype = kInt64},
                   Generator* gen = nullptr);
// Tensor::random_: uniform integers in [from, to), or [from, the largest
// integer `dtype` holds exactly] without `to`; both ends must be exact in dtype.
TensorBase random_integers(Dims shape, DType dtype, std::int64_t from, std::optional<std::int64_t> to, Generator* gen,
                           const char* op);
TensorBase bernoulli(const TensorBase& probabilities, Generator* gen = nullptr);
TensorBase bernoulli(Dims shape, double p, TensorOptions options = {}, Generator* gen = nullptr);
TensorBase randperm(std::int64_t n, Generator* gen = nullptr);
}  // namespace kernel

/// Makes a tensor with a fresh contiguous storage (core internals and kernels).
TensorBase make_tensor(Dims shape, DType dtype);

/// For the ops PyTorch refuses bool for (argmax, topk, trace, ...): the same as
/// check_dtype(x, op, DTypeClass::Numeric) (core/dtype_check.h, which has the
///   floating-only check too).
void refuse_bool(const TensorBase& x, const char* op);
/// A new TensorImpl viewing `base`'s storage (core internals and kernels).
/// Autograd does not know the result aliases `base`: it has no grad_fn, and
/// writing through it in place does not reach base's history, so gradients
/// through base would silently ignore the write. Model code uses the
/// recorded views (view, reshape, narrow, select, transpose, expand, ...).
TensorBase make_view(const TensorBase& base, Dims sizes, Dims strides, std::int64_t offset);

}  // namespace tg
