#pragma once
/// @file
/// Parameter types that decide which overload a call reaches. A braced list
/// converts to almost anything (`double p = {1}` is valid C++), so an overload
/// set that mixes a dims list with numbers or bools silently picks the number:
/// `x.var({1})` used to be var(correction = 1) over every element. The rules,
/// and what each public call reaches, are in docs/overloads.md:
///   - dims are a DimList: one integer, a braced list, a Dims, a vector, or
///     std::nullopt for every dim;
///   - numbers that share an overload set with dims (var's correction, norm's
///     p) are deduced templates constrained by Real, which a braced list can
///     never bind, and which a bool does not satisfy. They have no default
///     template argument: with one, `{0}` would fall back to it and bind;
///   - keepdim-like flags are StrictBool, which only a bool initialises.
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <span>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include <tapegrad/core/dims.h>

namespace tg {

/// A number given as itself (not a bool, not a braced list: template argument
/// deduction never looks inside braces).
template <class T>
concept Real = std::is_arithmetic_v<T> && !std::same_as<T, bool>;

/// A flag only a bool initialises: `x.sum(0, 1)` (dims 0 and 1?) must not
/// compile as keepdim = true, and `{}` must not quietly mean false.
class StrictBool {
 public:
  /// From a bool only (implicit).
  template <class B>
  requires std::same_as<B, bool>
  constexpr StrictBool(B value) : value_(value) {}    // NOLINT: implicit on purpose, a bool is a StrictBool
  constexpr operator bool() const { return value_; }  ///< the flag

 private:
  bool value_;
};

/// The dims a reduction folds, as LibTorch's OptionalIntArrayRef: `1`, `{0, 1}`,
/// a Dims, a vector, or std::nullopt (and `{}`) for every dim. Floating-point
/// numbers and bools are not dims.
class DimList {
 public:
  DimList() = default;  ///< every dim
  /// std::nullopt: every dim.
  DimList(std::nullopt_t) {}  // NOLINT: implicit on purpose
  /// One dim (an integer, not a bool).
  template <class I>
  requires std::integral<I> &&(!std::same_as<I, bool>)DimList(I dim)
      : dims_{static_cast<std::int64_t>(dim)} {}  // NOLINT: implicit on purpose, as x.sum(1)
  /// A list of dims (negative ones count from the end); an empty one is every dim.
  ///@{
  DimList(std::initializer_list<std::int64_t> dims) : dims_(dims) {}
  DimList(const Dims& dims) : dims_(dims) {}                       // NOLINT
  DimList(const std::vector<std::int64_t>& dims) : dims_(dims) {}  // NOLINT
  DimList(std::span<const std::int64_t> dims) : dims_(dims) {}     // NOLINT
  ///@}

  const Dims& dims() const { return dims_; }  ///< the dims as given (empty: every dim)
  /// The dims as a span, for the kernels.
  operator IntArrayRef() const { return dims_; }  // NOLINT: kernels take spans
  bool empty() const { return dims_.empty(); }    ///< whether no dim was given (every dim)

 private:
  Dims dims_;
};

}  // namespace tg

namespace tg {

/// A height and width: `3` means {3, 3}, `{3, 5}` means height 3, width 5
/// (conv and pooling sizes, as PyTorch's int-or-tuple).
struct Size2 {
  std::int64_t h = 0;  ///< the height
  std::int64_t w = 0;  ///< the width
  /// The same size for both (implicit, as PyTorch's `kernel_size=3`).
  Size2(std::int64_t both) : h(both), w(both) {}  // NOLINT: implicit on purpose, as PyTorch's int-or-tuple
  Size2(std::int64_t height, std::int64_t width) : h(height), w(width) {}  ///< a height and a width
  friend bool operator==(const Size2&, const Size2&) = default;
};

/// An optional Size2 that braces initialise as PyTorch's int-or-tuple-or-None:
/// `{}` or std::nullopt (none), `2`, `{1, 2}`, or a Size2. A plain
/// std::optional<Size2> takes no `{1, 2}` (its converting constructor cannot
/// deduce from a braced list), so `max_pool2d(x, 3, {1, 2})` failed to compile.
struct OptionalSize2 : std::optional<Size2> {
  /// Implicit, as PyTorch's stride=None, stride=2 and stride=(1, 2).
  ///@{
  OptionalSize2() = default;
  OptionalSize2(std::nullopt_t) {}                                         // NOLINT
  OptionalSize2(std::int64_t both) : std::optional<Size2>(Size2(both)) {}  // NOLINT
  OptionalSize2(std::int64_t height, std::int64_t width) : std::optional<Size2>(Size2(height, width)) {}
  OptionalSize2(Size2 size) : std::optional<Size2>(size) {}                 // NOLINT
  OptionalSize2(std::optional<Size2> size) : std::optional<Size2>(size) {}  // NOLINT
  OptionalSize2(std::optional<std::int64_t> both)                           // NOLINT
      : std::optional<Size2>(both ? std::optional<Size2>(Size2(*both)) : std::nullopt) {}
  ///@}
};

/// A 2-D convolution's padding as PyTorch's int-or-tuple-or-string: `1`,
/// `{1, 2}` or a Size2 (zeros added on each side), or "same" (the output as
/// large as the input: stride 1 only; an odd total puts the extra zero after)
/// or "valid" (none). The op checks the name, so that its error names the op.
struct ConvPadding2 {
  Size2 size = 0;      ///< the zeros on each side (unless `named`)
  std::string name;    ///< the name given (checked by the op: "same" or "valid"), when `named`
  bool named = false;  ///< whether a name was given, not numbers (an empty name is refused, as PyTorch)
  /// Numbers, as PyTorch's padding=1 and padding=(1, 2) (implicit).
  ///@{
  ConvPadding2(std::int64_t both) : size(both) {}  // NOLINT: implicit on purpose, as PyTorch's int-or-tuple
  ConvPadding2(std::int64_t height, std::int64_t width) : size(height, width) {}
  ConvPadding2(Size2 sizes) : size(sizes) {}  // NOLINT
  ///@}
  /// A name, as PyTorch's padding="same" (implicit; a literal 0 stays a number).
  ///@{
  template <std::size_t N>
  ConvPadding2(const char (&text)[N]) : name(text), named(true) {}        // NOLINT
  ConvPadding2(std::string text) : name(std::move(text)), named(true) {}  // NOLINT
  /// A `const char*` variable (a template, so a literal 0 stays a number).
  template <class Text>
  requires std::is_same_v<Text, const char*> || std::is_same_v<Text, char*> ConvPadding2(Text text)
      : name(text == nullptr ? "" : text), named(true) {}  // NOLINT
  ///@}
};

/// A 1-D convolution's padding: a number (zeros on each side), or "same" or
/// "valid" as ConvPadding2.
struct ConvPadding1 {
  std::int64_t size = 0;  ///< the zeros on each side (unless `named`)
  std::string name;       ///< the name given (checked by the op: "same" or "valid"), when `named`
  bool named = false;     ///< whether a name was given, not a number
  /// A number, as PyTorch's padding=1 (implicit).
  ConvPadding1(std::int64_t zeros) : size(zeros) {}  // NOLINT: implicit on purpose
  /// A name, as PyTorch's padding="same" (implicit; a literal 0 stays a number).
  ///@{
  template <std::size_t N>
  ConvPadding1(const char (&text)[N]) : name(text), named(true) {}        // NOLINT
  ConvPadding1(std::string text) : name(std::move(text)), named(true) {}  // NOLINT
  /// A `const char*` variable (a template, so a literal 0 stays a number).
  template <class Text>
  requires std::is_same_v<Text, const char*> || std::is_same_v<Text, char*> ConvPadding1(Text text)
      : name(text == nullptr ? "" : text), named(true) {}  // NOLINT
  ///@}
};

/// How per-element losses become the result: kept as they are, averaged, or
/// summed (PyTorch's reduction='none' | 'mean' | 'sum').
enum class Reduction { None, Mean, Sum };

/// PyTorch's spelling of a Reduction: "none", "mean" or "sum".
constexpr const char* reduction_name(Reduction reduction) {  // "none", "mean", "sum"
  switch (reduction) {
    case Reduction::None:
      return "none";
    case Reduction::Mean:
      return "mean";
    case Reduction::Sum:
      return "sum";
  }
  return "?";
}

}  // namespace tg
