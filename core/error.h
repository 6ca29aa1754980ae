#pragma once
/// @file
/// The exception hierarchy. Every user-facing failure throws one of these with
/// a message naming the op and the values involved.
#include <stdexcept>
#include <string>
#include <string_view>

#include <tapegrad/core/export.h>

namespace tg {

/// The base of every tapegrad exception: catch tg::Error for all of them.
struct Error : std::runtime_error {
  using std::runtime_error::runtime_error;
};
/// Shapes that do not fit the op: operands that do not broadcast, a negative size, a tensor with
/// more or fewer dims than the op takes.
struct ShapeError : Error {
  using Error::Error;
};
/// A dtype the op does not take, or operands whose dtypes do not go together.
struct DTypeError : Error {
  using Error::Error;
};
/// An index or a dim out of range.
struct IndexError : Error {
  using Error::Error;
};
/// A file or a saved state that cannot be read: not the expected format, or missing or mistyped entries.
struct FormatError : Error {
  using Error::Error;
};
/// A misuse of the tape: backward on a tensor that does not require grad or through a freed graph,
/// a saved tensor changed in place, an in-place op on a leaf that requires grad.
struct AutogradError : Error {
  using Error::Error;
};
/// Bad argument values that are neither shape, dtype nor index problems
/// (a negative learning rate, an unknown option).
struct ValueError : Error {
  using Error::Error;
};
/// An allocation that cannot be satisfied (a tensor, or a list sized by the
/// caller, larger than the machine can hold). The message names the op the
/// user called (when it runs under TG_PROFILE_OP) and the byte count.
struct OutOfMemoryError : Error {
  using Error::Error;
};

/// Refuses an empty std::function that `op` was given as `what` ("the hook"):
/// calling it would throw std::bad_function_call, which names neither.
/// @throws ErrorType "op: what is empty"
template <class ErrorType = ValueError, class Function>
void require_function(const Function& function, std::string_view op, std::string_view what) {
  if (!function) throw ErrorType(std::string(op) + ": " + std::string(what) + " is empty");
}

namespace detail {
/// The outermost op running on this thread, as TG_PROFILE_OP names it; empty
/// outside ops. Errors raised far below an op (an allocation, a shape past
/// kMaxDims) name it through in_current_op.
/// (constinit: read as one load from the thread pointer, no init-function check.)
TG_API extern thread_local constinit std::string_view current_op TG_TLS_FAST;
/// "op: message" while an op runs on this thread, else `message`.
std::string in_current_op(std::string message);
/// Names `name` as current_op for its lifetime, unless an outer op already is
/// (the one the user called is named). TG_PROFILE_OP makes one; ops without a
/// profiler event make their own. `name` must outlive the scope (a string
/// literal): a pointer, so that a temporary std::string cannot bind.
class CurrentOpScope {
 public:
  explicit CurrentOpScope(const char* name) noexcept : sets_(current_op.empty()) {
    if (sets_) current_op = name;
  }
  ~CurrentOpScope() {
    if (sets_) current_op = {};
  }
  CurrentOpScope(const CurrentOpScope&) = delete;
  CurrentOpScope& operator=(const CurrentOpScope&) = delete;

 private:
  bool sets_;
};
}  // namespace detail

}  // namespace tg
