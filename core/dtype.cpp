#include <tapegrad/core/dtype.h>

#include <fmt/format.h>

namespace tg {

void throw_unrepresentable(std::string_view op, double value, DType dtype) {
  throw ValueError(
      fmt::format("{}: value {} cannot be converted to {} without overflow", op, value, dtype_name(dtype)));
}

}  // namespace tg
