#pragma once
// dropout's mask: 0 with probability p, else 1 / (1 - p), so that x * mask
// has the expected value x.
#include <cmath>
#include <cstdint>

#include <tapegrad/core/random.h>
#include <tapegrad/core/tensor.h>

namespace tg::kernel {

// p as a bound on 53-bit draws d (a uniform u = d * 2^-53): u < p exactly
// when d < dropout_threshold(p), so masks compare integers, no conversion.
inline std::uint64_t dropout_threshold(double p) {
  if (!(p > 0)) return 0;
  return p >= 1 ? std::uint64_t{1} << 53 : static_cast<std::uint64_t>(std::ceil(p * 0x1p53));
}

// A mask of x's shape and (floating) dtype, drawn in one pass under the
// generator's lock. p is checked by the caller.
TensorBase dropout_mask(const TensorBase& x, double p, Generator& generator);

}  // namespace tg::kernel
