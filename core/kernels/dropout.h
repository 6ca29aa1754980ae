#pragma once
// dropout's mask: 0 with probability p, else 1 / (1 - p), so that x * mask
// has the expected value x.
#include <tapegrad/core/random.h>
#include <tapegrad/core/tensor.h>

namespace tg::kernel {

// A mask of x's shape and (floating) dtype, drawn in one pass under the
// generator's lock. p is checked by the caller.
TensorBase dropout_mask(const TensorBase& x, double p, Generator& generator);

}  // namespace tg::kernel
