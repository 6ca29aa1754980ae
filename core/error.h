#pragma once
/// @file
/// The exception hierarchy. Every user-facing failure throws one of these with
/// a message naming the op and the values involved.
#include <stdexcept>
#include <string>

namespace tg {

struct Error : std::runtime_error {
  using std::runtime_error::runtime_error;
};
struct ShapeError : Error {
  using Error::Error;
};
struct DTypeError : Error {
  using Error::Error;
};
struct IndexError : Error {
  using Error::Error;
};
struct FormatError : Error {
  using Error::Error;
};
struct AutogradError : Error {
  using Error::Error;
};
/// Bad argument values that are neither shape, dtype nor index problems
/// (a negative learning rate, an unknown option).
struct ValueError : Error {
  using Error::Error;
};
/// An allocation that cannot be satisfied (a tensor, or a list sized by the
/// caller, larger than the machine can hold). The message names the op and
/// the byte count.
struct OutOfMemoryError : Error {
  using Error::Error;
};

}  // namespace tg
