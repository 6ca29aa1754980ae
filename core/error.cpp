#include <tapegrad/core/error.h>

namespace tg::detail {

thread_local constinit std::string_view current_op TG_TLS_FAST;

std::string in_current_op(std::string message) {
  if (current_op.empty()) return message;
  return std::string(current_op) + ": " + message;
}

}  // namespace tg::detail
