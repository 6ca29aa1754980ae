#pragma once
// Copies, fills and dtype conversions: the plain kernels under clone(),
// contiguous(), to(), copy_() and fill_().
#include <tapegrad/core/tensor.h>

namespace tg::kernel {

// dst[i] = src[i], converting dtype; src broadcasts to dst's shape.
void copy_(const Tensor& dst, const Tensor& src);
// The value is checked as checked_scalar does (ValueError naming `op`).
void fill_(const Tensor& dst, double value, const char* op = "fill_");
Tensor contiguous(const Tensor& x);  // x itself when already contiguous
Tensor clone(const Tensor& x);       // always a fresh contiguous copy
Tensor to(const Tensor& x, DType dtype);  // x itself when the dtype matches

}  // namespace tg::kernel
