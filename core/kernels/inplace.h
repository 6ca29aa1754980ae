#pragma once
// The plain kernels under the in-place Tensor members (add_, mul_, clamp_,
// ...): they write into `self` through its strides, with `other` broadcast
// to self's shape. They check shapes and dtypes and bump nothing: the version
// counter and the tape are autograd/ops/inplace.cpp's business.
//
// Dtype rule, as PyTorch's: self (op) other is computed in the type the
// out-of-place op would give (promotion, 0-d and scalar rules included) and
// stored in self's dtype, which must be able to hold it: a floating result
// cannot go into an int64 or bool tensor, nor an int64 one into a bool tensor
// ("result type float32 can't be cast to the desired output type int64").
#include <optional>

#include <tapegrad/core/tensor.h>

namespace tg::kernel {

// ValueError if several elements of `self` share one memory location (an
// expanded tensor): writing them would race and lose updates.
void check_writable(const TensorBase& self, const char* op);
// DTypeError unless a result of dtype `result` can be stored in `self`
// (PyTorch's canCast, the rule above).
void check_result(const TensorBase& self, DType result, const char* op);

void add_(const TensorBase& self, const TensorBase& other, double alpha, const char* op);  // self += alpha * other
void add_(const TensorBase& self, double other, const char* op);                           // self += other
void mul_(const TensorBase& self, const TensorBase& other, const char* op);
void mul_(const TensorBase& self, double other, const char* op);
void div_(const TensorBase& self, const TensorBase& other, const char* op);
void div_(const TensorBase& self, double other, const char* op);
void clamp_(const TensorBase& self, std::optional<double> min, std::optional<double> max, const char* op);
void relu_(const TensorBase& self, const char* op);
void masked_fill_(const TensorBase& self, const TensorBase& mask, double value, const char* op);

// `other` itself, or a copy of it when it overlaps `self` in memory with a
// different layout (reading it while writing self would see new values).
TensorBase unaliased(const TensorBase& self, const TensorBase& other);

// Masks for the backward of clamp_ and relu_, in x's (floating) dtype:
// 1 where min <= x <= max (a missing bound is no bound), 0 elsewhere and at NaN.
TensorBase clamp_mask(const TensorBase& x, std::optional<double> min, std::optional<double> max);
// 1 where x > 0 (relu's gradient is 0 at 0).
TensorBase positive_mask(const TensorBase& x);

}  // namespace tg::kernel
