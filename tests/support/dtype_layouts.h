#pragma once
// Every dtype on every layout, for kernels that widen narrow dtypes to the
// three they compute in (core/kernels/copy.h, kernel::widen): a [4, 6] tensor
// of small integers with ties (0 and 1 for bool), exact in every dtype, seen
// contiguous, transposed, strided and expanded.
#include <cstddef>
#include <string>
#include <vector>

#include <doctest/doctest.h>

#include <tapegrad/autograd/tensor.h>

namespace tg_test {

inline const std::vector<tg::DType>& all_dtypes() {
  static const std::vector<tg::DType> dtypes = {tg::kBool,  tg::kUInt8,   tg::kInt8,     tg::kInt16,   tg::kInt32,
                                                tg::kInt64, tg::kFloat16, tg::kBFloat16, tg::kFloat32, tg::kFloat64};
  return dtypes;
}

inline std::vector<tg::Tensor> small_values_in_every_layout(tg::DType dtype) {
  std::vector<double> v(24);
  for (std::size_t i = 0; i < v.size(); ++i)
    v[i] = dtype == tg::kBool ? static_cast<double>(i % 3 == 1) : static_cast<double>(static_cast<int>(i * 7 % 11) - 4);
  const tg::Tensor base = tg::tensor(v, {4, 6}).to(dtype);
  return {
      base,                                           // contiguous
      base.t(),                                       // transposed
      base.slice(1, 1, 6, 2),                         // strided
      base.select(1, 2).unsqueeze(1).expand({4, 5}),  // expanded
  };
}

// Calls f(dtype, x, x in float64) for every dtype and each of its layouts;
// a failure names both.
template <class F>
void for_each_dtype_and_layout(F f) {
  for (tg::DType dtype : all_dtypes()) {
    const std::string name(tg::dtype_name(dtype));
    CAPTURE(name);
    const std::vector<tg::Tensor> views = small_values_in_every_layout(dtype);
    for (std::size_t layout = 0; layout < views.size(); ++layout) {
      CAPTURE(layout);  // contiguous, transposed, strided, expanded
      f(dtype, views[layout], views[layout].to(tg::kFloat64));
    }
  }
}

}  // namespace tg_test
