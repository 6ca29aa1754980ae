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
#include <optional>

#include <tapegrad/core/tensor.h>

namespace tg::kernel {

// Result dtype of `tensor op scalar` (see above).
DType scalar_result_type(DType tensor, double scalar);
// Result dtype of `a op b` for two tensors (see above).
DType result_type(const Tensor& a, const Tensor& b);

// ---- arithmetic ------------------------------------------------------------
Tensor add(const Tensor& a, const Tensor& b, double alpha = 1);  // a + alpha * b
Tensor sub(const Tensor& a, const Tensor& b, double alpha = 1);  // a - alpha * b
Tensor mul(const Tensor& a, const Tensor& b);
Tensor div(const Tensor& a, const Tensor& b);
Tensor add(const Tensor& a, double b);
Tensor sub(const Tensor& a, double b);
Tensor rsub(const Tensor& a, double b);  // b - a
Tensor mul(const Tensor& a, double b);
Tensor div(const Tensor& a, double b);
Tensor rdiv(const Tensor& a, double b);  // b / a

// ---- unary functions ---------------------------------------------------------
Tensor neg(const Tensor& x);
Tensor abs(const Tensor& x);
Tensor sign(const Tensor& x);
Tensor relu(const Tensor& x);
Tensor leaky_relu(const Tensor& x, double negative_slope);
Tensor exp(const Tensor& x);
Tensor log(const Tensor& x);
Tensor log1p(const Tensor& x);
Tensor sqrt(const Tensor& x);
Tensor rsqrt(const Tensor& x);
Tensor sigmoid(const Tensor& x);
Tensor tanh(const Tensor& x);
Tensor gelu(const Tensor& x);  // 0.5 x (1 + erf(x / sqrt(2)))
Tensor clamp(const Tensor& x, std::optional<double> min, std::optional<double> max);
Tensor pow(const Tensor& x, double exponent);
Tensor pow(const Tensor& x, const Tensor& exponent);
Tensor pow(double base, const Tensor& exponent);

// ---- binary selections ---------------------------------------------------------
Tensor maximum(const Tensor& a, const Tensor& b);  // NaN wins, as PyTorch
Tensor minimum(const Tensor& a, const Tensor& b);
// condition must be bool; the result has result_type(a, b).
Tensor where(const Tensor& condition, const Tensor& a, const Tensor& b);
Tensor where(const Tensor& condition, const Tensor& a, double b);
Tensor where(const Tensor& condition, double a, const Tensor& b);

// ---- comparisons and logic (bool results) ---------------------------------------
Tensor eq(const Tensor& a, const Tensor& b);
Tensor ne(const Tensor& a, const Tensor& b);
Tensor lt(const Tensor& a, const Tensor& b);
Tensor le(const Tensor& a, const Tensor& b);
Tensor gt(const Tensor& a, const Tensor& b);
Tensor ge(const Tensor& a, const Tensor& b);
Tensor eq(const Tensor& a, double b);
Tensor ne(const Tensor& a, double b);
Tensor lt(const Tensor& a, double b);
Tensor le(const Tensor& a, double b);
Tensor gt(const Tensor& a, double b);
Tensor ge(const Tensor& a, double b);
Tensor logical_and(const Tensor& a, const Tensor& b);
Tensor logical_or(const Tensor& a, const Tensor& b);
Tensor logical_not(const Tensor& a);
Tensor isnan(const Tensor& x);
Tensor isfinite(const Tensor& x);
// |a - b| <= atol + rtol * |b| everywhere (a and b broadcast); NaN is never close.
bool allclose(const Tensor& a, const Tensor& b, double rtol = 1e-5, double atol = 1e-8);
// Same shape and equal values (compared in the promoted dtype).
bool equal(const Tensor& a, const Tensor& b);

// ---- fused gradient kernels (one pass instead of a chain of temporaries) ----------
// dy where y > 0, else 0 (y = relu(x)).
Tensor relu_backward(const Tensor& dy, const Tensor& y);
// dy where x > 0, else dy * slope.
Tensor leaky_relu_backward(const Tensor& dy, const Tensor& x, double negative_slope);
// dy where min <= x <= max, else 0.
Tensor clamp_backward(const Tensor& dy, const Tensor& x, std::optional<double> min, std::optional<double> max);
// dy * y * (1 - y) (y = sigmoid(x)).
Tensor sigmoid_backward(const Tensor& dy, const Tensor& y);
// dy * (1 - y^2) (y = tanh(x)).
Tensor tanh_backward(const Tensor& dy, const Tensor& y);
// dy * (Phi(x) + x phi(x)), Phi and phi the normal CDF and density.
Tensor gelu_backward(const Tensor& dy, const Tensor& x);
// Share of maximum(a, b)'s gradient that goes to a: 1 where a > b, 0.5 where
// a == b, 0 where a < b (NaN: 1, as PyTorch), in dtype `dtype`.
// minimum's share for a is max_grad_weight(b, a, ...).
Tensor max_grad_weight(const Tensor& a, const Tensor& b, DType dtype);

}  // namespace tg::kernel
