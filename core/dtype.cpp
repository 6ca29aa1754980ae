#include <tapegrad/core/dtype.h>

#include <fmt/format.h>

namespace tg {

void throw_unrepresentable(std::string_view op, double value, DType dtype) {
  throw ValueError(
      fmt::format("{}: value {} cannot be converted to {} without overflow", op, value, dtype_name(dtype)));
}

void throw_not_floating(std::string_view op, DType d) {
  throw DTypeError(
      fmt::format("{}: expected a floating-point tensor ({}), got {}", op, kFloatingDTypeNames, dtype_name(d)));
}

}  // namespace tg
