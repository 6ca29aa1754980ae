#pragma once
// Copies, fills and dtype conversions: the plain kernels under clone(),
// contiguous(), to(), copy_() and fill_().
#include <type_traits>

#include <tapegrad/core/tensor.h>

namespace tg::kernel {

// dst[i] = src[i], converting dtype; src broadcasts to dst's shape.
void copy_(const TensorBase& dst, const TensorBase& src);
// The value is checked as checked_scalar does (ValueError naming `op`).
void fill_(const TensorBase& dst, double value, const char* op = "fill_");
TensorBase contiguous(const TensorBase& x);       // x itself when already contiguous
TensorBase clone(const TensorBase& x);            // always a fresh contiguous copy
TensorBase to(const TensorBase& x, DType dtype);  // x itself when the dtype matches

// The kernels that sort, scan and reduce are compiled for three dtypes only:
// float32, float64 and int64 (a tenth of the code of all ten, see
// docs/architecture.md). The other dtypes widen exactly (float16 and bfloat16
// to float32; the integers and bool to int64) and the results round back.
bool is_compute_dtype(DType d);
// x in its compute dtype, in no more elements than x has and x holds in
// storage: an expanded or transposed x keeps its strides over a converted
// copy of what its elements span; a sparser x is copied out contiguous. x
// itself when it is in a compute dtype already.
TensorBase widen(const TensorBase& x);

// x's elements as T* (x.data_ptr<T>()); an unsigned T from dispatch_bits
// (dtype.h) sees any dtype of its size.
template <class T>
T* elements(const TensorBase& x) {
  if constexpr (std::is_unsigned_v<T> && !std::is_same_v<T, bool>) return static_cast<T*>(x.raw_data());
  else return x.data_ptr<T>();
}

}  // namespace tg::kernel
