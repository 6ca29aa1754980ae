// Comparisons and logic: bool results, never recorded (they cut the tape).
#include <tapegrad/autograd/ops.h>
#include <tapegrad/core/kernels/elementwise.h>
#include <tapegrad/core/profiler.h>

namespace tg {

Tensor eq(const Tensor& a, const Tensor& b) {
  TG_PROFILE_OP("eq", a, b);
  return kernel::eq(a, b);
}
Tensor ne(const Tensor& a, const Tensor& b) {
  TG_PROFILE_OP("ne", a, b);
  return kernel::ne(a, b);
}
Tensor lt(const Tensor& a, const Tensor& b) {
  TG_PROFILE_OP("lt", a, b);
  return kernel::lt(a, b);
}
Tensor le(const Tensor& a, const Tensor& b) {
  TG_PROFILE_OP("le", a, b);
  return kernel::le(a, b);
}
Tensor gt(const Tensor& a, const Tensor& b) {
  TG_PROFILE_OP("gt", a, b);
  return kernel::gt(a, b);
}
Tensor ge(const Tensor& a, const Tensor& b) {
  TG_PROFILE_OP("ge", a, b);
  return kernel::ge(a, b);
}
Tensor logical_and(const Tensor& a, const Tensor& b) {
  TG_PROFILE_OP("logical_and", a, b);
  return kernel::logical_and(a, b);
}
Tensor logical_or(const Tensor& a, const Tensor& b) {
  TG_PROFILE_OP("logical_or", a, b);
  return kernel::logical_or(a, b);
}
Tensor logical_not(const Tensor& a) {
  TG_PROFILE_OP("logical_not", a);
  return kernel::logical_not(a);
}
Tensor isnan(const Tensor& x) {
  TG_PROFILE_OP("isnan", x);
  return kernel::isnan(x);
}
Tensor isfinite(const Tensor& x) {
  TG_PROFILE_OP("isfinite", x);
  return kernel::isfinite(x);
}
bool allclose(const Tensor& a, const Tensor& b, double rtol, double atol) {
  TG_PROFILE_OP("allclose", a, b);
  return kernel::allclose(a, b, rtol, atol);
}
bool equal(const Tensor& a, const Tensor& b) {
  TG_PROFILE_OP("equal", a, b);
  return kernel::equal(a, b);
}

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
