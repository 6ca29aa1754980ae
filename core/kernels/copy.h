#pragma once
// Copies, fills and dtype conversions: the plain kernels under clone(),
// contiguous(), to(), copy_() and fill_().
#include <tapegrad/core/tensor.h>

namespace tg::kernel {

// dst[i] = src[i], converting dtype; src broadcasts to dst's shape.
void copy_(const TensorBase& dst, const TensorBase& src);
// The value is checked as checked_scalar does (ValueError naming `op`).
void fill_(const TensorBase& dst, double value, const char* op = "fill_");
TensorBase contiguous(const TensorBase& x);       // x itself when already contiguous
TensorBase clone(const TensorBase& x);            // always a fresh contiguous copy
TensorBase to(const TensorBase& x, DType dtype);  // x itself when the dtype matches

}  // namespace tg::kernel
