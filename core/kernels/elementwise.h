#pragma once
// Elementwise kernels without autograd: arithmetic, float functions,
// comparisons and logic, with NumPy broadcasting and PyTorch's dtype rules.
// Each checks its arguments and throws ShapeError/DTypeError naming the op.
//
// Dtype rules (as PyTorch, for our four dtypes):
// - tensor op tensor computes in result_type(a, b): promote_types(a, b),
//   except that a 0-d tensor beside a dimensioned one counts only when its
//   category (bool < integer < floating) is higher;
// - tensor op scalar keeps a floating tensor's dtype; an int64 or bool tensor
//   with a whole-number scalar gives int64, with a fractional (or non-finite)
//   one float32. C++ has no separate integer literal type here, so `x + 1`
//   and `x + 1.0` both count as whole numbers.
// - div is true division: integer inputs give float32;
// - float functions (exp, log, sqrt, sigmoid, tanh, gelu, ...) give float32 on
//   int64/bool inputs; neg, abs, sign, relu, clamp, maximum keep int64;
// - sub and neg reject bool, as PyTorch (use logical_not instead).
#include <initializer_list>
#include <optional>
#include <utility>

#include <tapegrad/core/tensor.h>

namespace tg::kernel {

// Result dtype of `tensor op scalar` (see above).
DType scalar_result_type(DType tensor, double scalar);
// Result dtype of `a op b` for two tensors (see above).
DType result_type(const TensorBase& a, const TensorBase& b);
// The same rule for several operands (undefined ones are skipped; at least
// one must be defined): clamp's x, min and max.
DType result_type(std::initializer_list<const TensorBase*> operands);

// ---- arithmetic ------------------------------------------------------------
TensorBase add(const TensorBase& a, const TensorBase& b, double alpha = 1);  // a + alpha * b
TensorBase sub(const TensorBase& a, const TensorBase& b, double alpha = 1);  // a - alpha * b
TensorBase mul(const TensorBase& a, const TensorBase& b);
TensorBase div(const TensorBase& a, const TensorBase& b);
TensorBase add(const TensorBase& a, double b);
TensorBase sub(const TensorBase& a, double b);
TensorBase rsub(const TensorBase& a, double b);  // b - a
TensorBase mul(const TensorBase& a, double b);
TensorBase div(const TensorBase& a, double b);
TensorBase rdiv(const TensorBase& a, double b);  // b / a

// ---- unary functions ---------------------------------------------------------
TensorBase neg(const TensorBase& x);
TensorBase abs(const TensorBase& x);
TensorBase sign(const TensorBase& x);
TensorBase relu(const TensorBase& x);
TensorBase leaky_relu(const TensorBase& x, double negative_slope);
TensorBase exp(const TensorBase& x);
TensorBase log(const TensorBase& x);
TensorBase log1p(const TensorBase& x);
TensorBase sqrt(const TensorBase& x);
TensorBase rsqrt(const TensorBase& x);
TensorBase sigmoid(const TensorBase& x);
TensorBase tanh(const TensorBase& x);
TensorBase gelu(const TensorBase& x);  // 0.5 x (1 + erf(x / sqrt(2)))
// gelu(x) and its derivative Phi(x) + x phi(x) from one pass, for a float32
// or float64 x (nullopt otherwise); dy * derivative has gelu_backward's bits.
std::optional<std::pair<TensorBase, TensorBase>> gelu_with_derivative(const TensorBase& x);
TensorBase clamp(const TensorBase& x, std::optional<double> min, std::optional<double> max);
TensorBase pow(const TensorBase& x, double exponent);
TensorBase pow(const TensorBase& x, const TensorBase& exponent);
TensorBase pow(double base, const TensorBase& exponent);

// ---- binary selections ---------------------------------------------------------
TensorBase maximum(const TensorBase& a, const TensorBase& b);  // NaN wins, as PyTorch
TensorBase minimum(const TensorBase& a, const TensorBase& b);
// condition must be bool; the result has result_type(a, b).
TensorBase where(const TensorBase& condition, const TensorBase& a, const TensorBase& b);
TensorBase where(const TensorBase& condition, const TensorBase& a, double b);
TensorBase where(const TensorBase& condition, double a, const TensorBase& b);

// ---- comparisons and logic (bool results) ---------------------------------------
TensorBase eq(const TensorBase& a, const TensorBase& b);
TensorBase ne(const TensorBase& a, const TensorBase& b);
TensorBase lt(const TensorBase& a, const TensorBase& b);
TensorBase le(const TensorBase& a, const TensorBase& b);
TensorBase gt(const TensorBase& a, const TensorBase& b);
TensorBase ge(const TensorBase& a, const TensorBase& b);
TensorBase eq(const TensorBase& a, double b);
TensorBase ne(const TensorBase& a, double b);
TensorBase lt(const TensorBase& a, double b);
TensorBase le(const TensorBase& a, double b);
TensorBase gt(const TensorBase& a, double b);
TensorBase ge(const TensorBase& a, double b);
TensorBase logical_and(const TensorBase& a, const TensorBase& b);
TensorBase logical_or(const TensorBase& a, const TensorBase& b);
TensorBase logical_not(const TensorBase& a);
TensorBase isnan(const TensorBase& x);
TensorBase isfinite(const TensorBase& x);
// x == 0 as the kernels' arithmetic on this thread reads x: a subnormal too
// where it runs with denormals-are-zero (tapegrad's flushing, on by default,
// or the caller's own mode), else only +-0. eq keeps subnormals, as a
// comparison: guard arithmetic with this instead (x / x_i where x_i != 0),
// so that the test and the division read x_i alike.
TensorBase reads_as_zero(const TensorBase& x);
// |a - b| <= atol + rtol * |b| everywhere (a and b broadcast); NaN is never close.
bool allclose(const TensorBase& a, const TensorBase& b, double rtol = 1e-5, double atol = 1e-8);
// Same shape and equal values (compared in the promoted dtype).
bool equal(const TensorBase& a, const TensorBase& b);

// ---- fused gradient kernels (one pass instead of a chain of temporaries) ----------
// dy where y > 0, else 0 (y = relu(x)).
TensorBase relu_backward(const TensorBase& dy, const TensorBase& y);
// dy where x > 0, else dy * slope.
TensorBase leaky_relu_backward(const TensorBase& dy, const TensorBase& x, double negative_slope);
// dy where min <= x <= max, else 0.
TensorBase clamp_backward(const TensorBase& dy, const TensorBase& x, std::optional<double> min,
                          std::optional<double> max);
// dy * y * (1 - y) (y = sigmoid(x)).
TensorBase sigmoid_backward(const TensorBase& dy, const TensorBase& y);
// dy * (1 - y^2) (y = tanh(x)).
TensorBase tanh_backward(const TensorBase& dy, const TensorBase& y);
// dy * (Phi(x) + x phi(x)), Phi and phi the normal CDF and density.
TensorBase gelu_backward(const TensorBase& dy, const TensorBase& x);
// Share of maximum(a, b)'s gradient that goes to a: 1 where a > b, 0.5 where
// a == b, 0 where a < b (NaN: 1, as PyTorch), in dtype `dtype`.
// minimum's share for a is max_grad_weight(b, a, ...).
TensorBase max_grad_weight(const TensorBase& a, const TensorBase& b, DType dtype);

}  // namespace tg::kernel
