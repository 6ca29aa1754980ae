// Comparisons and logic: bool results, never recorded (they cut the tape).
#include <tapegrad/autograd/ops.h>
#include <tapegrad/core/kernels/elementwise.h>

namespace tg {

Tensor eq(const Tensor& a, const Tensor& b) { return kernel::eq(a, b); }
Tensor ne(const Tensor& a, const Tensor& b) { return kernel::ne(a, b); }
Tensor lt(const Tensor& a, const Tensor& b) { return kernel::lt(a, b); }
Tensor le(const Tensor& a, const Tensor& b) { return kernel::le(a, b); }
Tensor gt(const Tensor& a, const Tensor& b) { return kernel::gt(a, b); }
Tensor ge(const Tensor& a, const Tensor& b) { return kernel::ge(a, b); }
Tensor logical_and(const Tensor& a, const Tensor& b) { return kernel::logical_and(a, b); }
Tensor logical_or(const Tensor& a, const Tensor& b) { return kernel::logical_or(a, b); }
Tensor logical_not(const Tensor& a) { return kernel::logical_not(a); }
Tensor isnan(const Tensor& x) { return kernel::isnan(x); }
Tensor isfinite(const Tensor& x) { return kernel::isfinite(x); }
bool allclose(const Tensor& a, const Tensor& b, double rtol, double atol) { return kernel::allclose(a, b, rtol, atol); }
bool equal(const Tensor& a, const Tensor& b) { return kernel::equal(a, b); }

Tensor operator==(const Tensor& a, const Tensor& b) { return kernel::eq(a, b); }
Tensor operator!=(const Tensor& a, const Tensor& b) { return kernel::ne(a, b); }
Tensor operator<(const Tensor& a, const Tensor& b) { return kernel::lt(a, b); }
Tensor operator<=(const Tensor& a, const Tensor& b) { return kernel::le(a, b); }
Tensor operator>(const Tensor& a, const Tensor& b) { return kernel::gt(a, b); }
Tensor operator>=(const Tensor& a, const Tensor& b) { return kernel::ge(a, b); }
Tensor operator==(const Tensor& a, double b) { return kernel::eq(a, b); }
Tensor operator!=(const Tensor& a, double b) { return kernel::ne(a, b); }
Tensor operator<(const Tensor& a, double b) { return kernel::lt(a, b); }
Tensor operator<=(const Tensor& a, double b) { return kernel::le(a, b); }
Tensor operator>(const Tensor& a, double b) { return kernel::gt(a, b); }
Tensor operator>=(const Tensor& a, double b) { return kernel::ge(a, b); }

}  // namespace tg
