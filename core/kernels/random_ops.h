#pragma once
// Sampling kernels for multinomial, normal, uniform_ and exponential_: each
// holds its generator's lock for the whole draw (the default generator when
// `gen` is null), so one seed gives one sequence of values.
#include <cstdint>

#include <tapegrad/core/tensor.h>

namespace tg::kernel {

// n int64 category indices per row of the weights `probs` (1-D or 2-D,
// floating, finite, >= 0, a positive sum per row). Without replacement
// (exponential-race keys, as PyTorch's CPU kernel) no index repeats in a row.
TensorBase multinomial(const TensorBase& probs, std::int64_t n, bool replacement, Generator* gen);
// mean[i] + std[i] * N(0, 1) for float64 contiguous mean and std of one shape,
// stored as `dtype` (floating); std must be >= 0. `op` names the caller.
TensorBase normal(const TensorBase& mean, const TensorBase& std, DType dtype, Generator* gen, const char* op);
// Uniform in [from, to) and Exponential(lambd), of `shape` and floating `dtype`.
TensorBase uniform(Dims shape, DType dtype, double from, double to, Generator* gen, const char* op);
TensorBase exponential(Dims shape, DType dtype, double lambd, Generator* gen, const char* op);

}  // namespace tg::kernel
