#pragma once
/// @file
/// Printing tensors the way PyTorch's print(t) does.
///
/// @code
/// tensor([[1., 2.],
///         [3., 4.]], requires_grad=True)
/// @endcode
///
/// `fmt::format("{}", t)`, `std::cout << t` and `tg::repr(t)` give the same
/// text. The rules follow torch/_tensor_str.py with its default options
/// (precision 4, threshold 1000, edgeitems 3, linewidth 80):
/// - floats: all values integral -> "1.", "-3."; else fixed with 4 decimals;
///   scientific ("1.0000e-05") when the nonzero finite values span more than
///   1000x, exceed 1e8, or (non-integral only) go below 1e-4. One width for
///   every element, right-aligned; nan and inf print as nan, inf, -inf.
/// - int64 and bool print plainly ("True"/"False", aligned to one width).
/// - dtype=float64, dtype=uint8, ... is shown for every dtype but float32,
///   int64 and bool (PyTorch's "dtype=torch.float64" without the "torch."
///   prefix), and on empty tensors for every non-float32 dtype. float16 and
///   bfloat16 values are formatted from their float value, as PyTorch does.
/// - an undefined (default-constructed) handle prints "tensor(undefined)":
///   Python has no such tensor, and this keeps the tensor(...) shape a
///   PyTorch user reads (LibTorch itself prints "[ Tensor (undefined) ]").
/// - empty: "tensor([])", with ", size=(0, 3)" when not 1-D.
/// - over 1000 elements: each dim shows its first and last 3 entries with
///   "..." between.
/// - grad_fn=&lt;MatmulBackward&gt; for results of recorded ops (the op's recorded
///   name in CamelCase plus "Backward"; PyTorch's "MmBackward0" has an
///   extra version digit), requires_grad=True for leaves that require grad.
/// Printing reads the data directly and never records on the tape.
#include <iosfwd>
#include <string>
#include <string_view>
#include <type_traits>

#include <fmt/format.h>

#include <tapegrad/core/tensor.h>

namespace tg {

/// The text print(t) shows in PyTorch (see the description of print.h).
std::string repr(const TensorBase& t);
/// Writes repr(t).
std::ostream& operator<<(std::ostream& os, const TensorBase& t);
/// Writes the dtype's name ("float32").
std::ostream& operator<<(std::ostream& os, DType dtype);

}  // namespace tg

/// @cond FMT_SPECIALIZATIONS
// fmt's formatters for tapegrad's types (Doxygen cannot place them in fmt).
template <>
struct fmt::formatter<tg::DType> : fmt::formatter<std::string_view> {
  template <class FormatContext>
  auto format(tg::DType dtype, FormatContext& ctx) const {
    return fmt::formatter<std::string_view>::format(tg::dtype_name(dtype), ctx);
  }
};

/// Any handle type: TensorBase and autograd's Tensor print alike.
template <class T>
requires std::is_base_of_v<tg::TensorBase, T>
struct fmt::formatter<T> : fmt::formatter<std::string_view> {
  template <class FormatContext>
  auto format(const tg::TensorBase& t, FormatContext& ctx) const {
    return fmt::formatter<std::string_view>::format(tg::repr(t), ctx);
  }
};
/// @endcond
