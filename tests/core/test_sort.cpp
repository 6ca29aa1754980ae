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

#include "support/dtype_layouts.h"

namespace test_sort {

using namespace tg;

namespace {

std::vector<double> values(const TensorBase& t) { return Tensor(t).to_vector<double>(); }

}  // namespace

TEST_CASE("every dtype sorts, scans, flips and cuts triangles like its values in float64, on every layout") {
  tg_test::for_each_dtype_and_layout([](DType dtype, const Tensor& x, const Tensor& wide) {
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
  });
}

}  // namespace test_sort
