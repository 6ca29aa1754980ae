// The sort, scan, flip and triangle kernels on every dtype and layout. They
// compute in float32, float64 or int64 (or move elements by size), so each
// dtype must give what its values give in float64, rounded to its dtype.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <numeric>
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

TEST_CASE("sort's indices are the stable sort's, and a range of them comes by selection with the same ties and NaN") {
  manual_seed(11);
  const double nan = std::numeric_limits<double>::quiet_NaN();
  for (DType dtype : {kFloat64, kFloat32, kInt64}) {
    CAPTURE(dtype);
    // Few distinct values, so ties are everywhere; NaN and -0 among them.
    Tensor x = randint(-3, 4, {6, 37, 5}).to(dtype);
    if (is_floating(dtype)) {
      x = where(rand({6, 37, 5}) < 0.1, full({}, nan, {.dtype = dtype}), x);
      x = where(x == 0.0, where(rand({6, 37, 5}) < 0.5, full({}, -0.0, {.dtype = dtype}), x), x);
    }
    for (int d = 0; d < 3; ++d) {
      const std::int64_t n = x.size(d);
      for (bool descending : {false, true}) {
        CAPTURE(d);
        CAPTURE(descending);
        const Tensor all = kernel::sort_indices(x, d, descending);
        // Along the last dim, against std::stable_sort row by row.
        if (d == 2) {
          const std::vector<double> v = x.to_vector<double>(), got = values(all);
          bool same = true;
          for (std::int64_t r = 0; r < x.numel() / n; ++r) {
            std::vector<std::int64_t> order(static_cast<std::size_t>(n));
            std::iota(order.begin(), order.end(), std::int64_t{0});
            const double* row = v.data() + r * n;
            std::stable_sort(order.begin(), order.end(), [&](std::int64_t a, std::int64_t b) {
              const bool an = std::isnan(row[a]), bn = std::isnan(row[b]);
              return descending ? (an && !bn) || row[a] > row[b] : (!an && bn) || row[a] < row[b];
            });
            for (std::int64_t j = 0; j < n; ++j)
              same = same && got[static_cast<std::size_t>(r * n + j)] ==
                                 static_cast<double>(order[static_cast<std::size_t>(j)]);
          }
          CHECK(same);
        }
        // A pair, not a structured binding: Clang 14 cannot capture a binding (CAPTURE is a lambda).
        for (const auto& range : {std::pair<std::int64_t, std::int64_t>{0, n},
                                  {0, 1},
                                  {0, 3},
                                  {n - 1, n},
                                  {n / 2, n / 2 + 1},
                                  {1, n - 1},
                                  {2, 2}}) {
          const std::int64_t begin = range.first, end = range.second;
          CAPTURE(begin);
          CAPTURE(end);
          CHECK(values(kernel::sorted_range_indices(x, d, begin, end, descending)) ==
                values(kernel::contiguous(kernel::slice(all, {d, begin, end - begin, 1}))));
        }
      }
    }
  }
}

}  // namespace test_sort
