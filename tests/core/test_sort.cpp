// The sort, scan, flip and triangle kernels on every dtype and layout. They
// compute in float32, float64 or int64 (or move elements by size), so each
// dtype must give what its values give in float64, rounded to its dtype.
#include <cstdint>
#include <string>
#include <vector>

#include <doctest/doctest.h>

#include <tapegrad/autograd/ops.h>
#include <tapegrad/core/kernels/copy.h>
#include <tapegrad/core/kernels/sort.h>

#include "support/close.h"

namespace test_sort {

using namespace tg;

namespace {

std::vector<double> values(const TensorBase& t) { return Tensor(t).to_vector<double>(); }

// Small integers with ties (0 and 1 for bool), exact in every dtype, as a [4, 6] tensor.
Tensor small_values(DType dtype) {
  std::vector<double> v(24);
  for (std::size_t i = 0; i < v.size(); ++i)
    v[i] = dtype == kBool ? static_cast<double>(i % 3 == 1) : static_cast<double>(static_cast<int>(i * 7 % 11) - 4);
  return tensor(v, {4, 6}).to(dtype);
}

}  // namespace

TEST_CASE("every dtype sorts, scans, flips and cuts triangles like its values in float64, on every layout") {
  const std::vector<DType> dtypes = {kBool,  kUInt8,   kInt8,     kInt16,   kInt32,
                                     kInt64, kFloat16, kBFloat16, kFloat32, kFloat64};
  for (DType dtype : dtypes) {
    CAPTURE(dtype_name(dtype));
    const Tensor base = small_values(dtype);
    const std::vector<Tensor> views = {
        base,                                           // contiguous
        base.t(),                                       // transposed
        base.slice(1, 1, 6, 2),                         // strided
        base.select(1, 2).unsqueeze(1).expand({4, 5}),  // expanded
    };
    for (std::size_t k = 0; k < views.size(); ++k) {
      CAPTURE(k);
      const Tensor& x = views[k];
      const Tensor wide = x.to(kFloat64);
      const bool floating = is_floating(dtype);
      for (int d = 0; d < 2; ++d) {
        CAPTURE(d);
        for (bool descending : {false, true})  // stable: ties keep their order
          CHECK(values(kernel::sort_indices(x, d, descending)) == values(kernel::sort_indices(wide, d, descending)));
        CHECK(values(kernel::mode_index(x, d)) == values(kernel::mode_index(wide, d)));
        auto [hv, hi] = kernel::cummax(x, d);
        auto [wv, wi] = kernel::cummax(wide, d);
        CHECK(hv.dtype() == dtype);
        CHECK(values(hv) == values(wv));
        CHECK(values(hi) == values(wi));
        const Tensor s = kernel::cumsum(x, d);
        CHECK(s.dtype() == (floating ? dtype : kInt64));
        CHECK(values(s) == values(kernel::to(kernel::cumsum(wide, d), s.dtype())));
        if (floating) {
          const Tensor l = kernel::logcumsumexp(x, d);
          CHECK(l.dtype() == dtype);
          CHECK(values(l) == values(kernel::to(kernel::logcumsumexp(wide, d), dtype)));
        }
      }
      const Tensor f = kernel::flip(x, Dims{0, 1});
      CHECK(f.dtype() == dtype);
      CHECK(values(f) == values(kernel::flip(wide, Dims{0, 1})));
      for (std::int64_t diagonal : {-1, 0, 2}) {
        CHECK(values(kernel::tril(x, diagonal)) == values(kernel::tril(wide, diagonal)));
        CHECK(values(kernel::triu(x, diagonal)) == values(kernel::triu(wide, diagonal)));
      }
    }
  }
}

}  // namespace test_sort
