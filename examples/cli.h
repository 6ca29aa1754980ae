#pragma once
// Command-line parsing shared by the example programs: numbers are checked
// for range (strtol saturates silently, and a cast to int wraps), and a flag
// left without a value is reported as unknown unless the usage text lists it.
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <string>

#include <fmt/format.h>
#include <tapegrad/core/error.h>

namespace examples {

// The integer `value` of `flag`, in [min, max].
inline long parse_int(const std::string& flag, const std::string& value, long min = std::numeric_limits<long>::min(),
                      long max = std::numeric_limits<long>::max()) {
  char* end = nullptr;
  errno = 0;
  const long v = std::strtol(value.c_str(), &end, 10);
  if (value.empty() || *end) throw tg::ValueError(fmt::format("{} expects an integer, got '{}'", flag, value));
  if (errno == ERANGE) throw tg::ValueError(fmt::format("{} is out of range: '{}'", flag, value));
  if (v < min) throw tg::ValueError(fmt::format("{} must be at least {}, got {}", flag, min, v));
  if (v > max) throw tg::ValueError(fmt::format("{} must be at most {}, got {}", flag, max, v));
  return v;
}

// The most threads tg::set_num_threads takes (core/parallel.h documents the
// bound; the library does not export it as a constant). The parser refuses
// more itself, so a --threads the library would reject never gets that far.
constexpr long kMaxThreads = 1024;

// A thread count: positive and at most the library's bound.
inline int parse_threads(const std::string& flag, const std::string& value) {
  return static_cast<int>(parse_int(flag, value, 1, kMaxThreads));
}

// a * b, where a is `flag_a`'s value and b `flag_b`'s: a ValueError naming
// both flags where the product does not fit a long. (An overflowing product
// of command-line counts is undefined behaviour; lstm_text's number of
// validation windows once wrapped negative, and a vector sized by it stayed
// empty while the loop over its batches read past its end.)
inline long checked_product(const std::string& flag_a, long a, const std::string& flag_b, long b) {
  long product = 0;
  if (__builtin_mul_overflow(a, b, &product))
    throw tg::ValueError(
        fmt::format("{} {} times {} {} is too large a count (it overflows 64 bits)", flag_a, a, flag_b, b));
  return product;
}

// The finite number `value` of `flag`.
inline double parse_double(const std::string& flag, const std::string& value) {
  char* end = nullptr;
  const double v = std::strtod(value.c_str(), &end);
  if (value.empty() || *end) throw tg::ValueError(fmt::format("{} expects a number, got '{}'", flag, value));
  if (!std::isfinite(v)) throw tg::ValueError(fmt::format("{} must be a finite number, got '{}'", flag, value));
  return v;
}

// Flushes stdout and throws a tg::Error naming `what` if anything written to
// it failed: std::fputc's failures (a full disk, > /dev/full) only set the
// stream's error flag, and a program that ignored it exited 0 having written
// nothing.
inline void check_stdout(const std::string& what) {
  errno = 0;
  const bool flushed = std::fflush(stdout) == 0;
  const int error_number = errno;
  if (flushed && !std::ferror(stdout)) return;
  throw tg::Error(fmt::format("cannot write {} to stdout{}{}", what, error_number ? ": " : "",
                              error_number ? std::strerror(error_number) : ""));
}

// The error for `flag` given last, with no value after it.
inline tg::ValueError missing_value(const std::string& flag, const std::string& usage) {
  if (usage.find("  " + flag + " ") == std::string::npos)
    return tg::ValueError(fmt::format("unknown option '{}'\n{}", flag, usage));
  return tg::ValueError(fmt::format("{} needs a value\n{}", flag, usage));
}

}  // namespace examples
