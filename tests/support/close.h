#pragma once
// The one comparison of computed values with expected ones that the tests use
// (tests/support/reference.h adds PyTorch's reference files on top of it).
#include <doctest/doctest.h>

#include <cmath>
#include <vector>

#include <tapegrad/autograd/tensor.h>

namespace tg_test {

// Element by element, got[i] == doctest::Approx(want[i]).epsilon(tol): equal
// to `tol` relative to the larger magnitude, with an absolute floor of `tol`
// near zero; tol 0 asks for equality. A NaN must meet a NaN, an infinity the
// same infinity.
inline void check_close(const std::vector<double>& got, const std::vector<double>& want, double tol = 1e-12) {
  REQUIRE(got.size() == want.size());
  for (std::size_t i = 0; i < got.size(); ++i) {
    CAPTURE(i);
    CAPTURE(got[i]);
    CAPTURE(want[i]);
    if (std::isnan(want[i])) CHECK(std::isnan(got[i]));
    else if (std::isinf(want[i])) CHECK(got[i] == want[i]);
    else if (tol == 0) CHECK(got[i] == want[i]);  // Approx's test is strict: it would fail equal values
    else CHECK(got[i] == doctest::Approx(want[i]).epsilon(tol));
  }
}

// A tensor's values in row-major order, whatever its layout and dtype.
inline void check_close(const tg::Tensor& got, const std::vector<double>& want, double tol = 1e-12) {
  REQUIRE(got.defined());
  check_close(got.to_vector<double>(), want, tol);
}

// The same, and the shape first.
inline void check_close(const tg::Tensor& got, const tg::Dims& shape, const std::vector<double>& want,
                        double tol = 1e-12) {
  REQUIRE(got.defined());
  CHECK(got.shape() == shape);
  check_close(got.to_vector<double>(), want, tol);
}

// `got` has `want`'s shape and values.
inline void check_close(const tg::Tensor& got, const tg::Tensor& want, double tol = 1e-12) {
  REQUIRE(want.defined());
  check_close(got, want.shape(), want.to_vector<double>(), tol);
}

}  // namespace tg_test
