#pragma once
// The everyday math functions and the activations beyond relu/sigmoid/tanh/gelu,
// without autograd (autograd/ops/math_functions.cpp and
// activation_functions.cpp record them). Dtype rules, as PyTorch 1.13:
// - the real functions (sin ... atanh, erf, erfc, erfinv, expm1, log2, log10,
//   exp2, reciprocal, atan2) give float32 on int64/bool inputs;
// - floor, ceil, round, trunc keep int64 (a copy) and refuse bool; frac,
//   hypot, lerp and the activations (but hardtanh and softsign) refuse
//   integer and bool inputs;
// - fmod and remainder keep int64 (a zero divisor is a ValueError) and refuse
//   bool tensors; their scalar forms follow `tensor op scalar`;
// - lerp wants start, end and a tensor weight of one dtype, isclose both
//   inputs of one dtype (DTypeError otherwise).
#include <cstdint>
#include <optional>

#include <tapegrad/core/tensor.h>

namespace tg::kernel {

// ---- real functions ---------------------------------------------------------------
TensorBase sin(const TensorBase& x);
TensorBase cos(const TensorBase& x);
TensorBase tan(const TensorBase& x);
TensorBase asin(const TensorBase& x);
TensorBase acos(const TensorBase& x);
TensorBase atan(const TensorBase& x);
TensorBase sinh(const TensorBase& x);
TensorBase cosh(const TensorBase& x);
TensorBase asinh(const TensorBase& x);
TensorBase acosh(const TensorBase& x);
TensorBase atanh(const TensorBase& x);
TensorBase erf(const TensorBase& x);
TensorBase erfc(const TensorBase& x);
TensorBase erfinv(const TensorBase& x);  // +-inf at +-1, NaN outside [-1, 1]
TensorBase expm1(const TensorBase& x);
TensorBase log2(const TensorBase& x);
TensorBase log10(const TensorBase& x);
TensorBase exp2(const TensorBase& x);
TensorBase reciprocal(const TensorBase& x);

// ---- rounding ------------------------------------------------------------------------
TensorBase floor(const TensorBase& x);
TensorBase ceil(const TensorBase& x);
TensorBase round(const TensorBase& x);  // halves to even, as PyTorch
// To `decimals` decimal places (negative: to tens, hundreds, ...), as
// torch.round(x, decimals=d); floating tensors only unless decimals is 0.
TensorBase round(const TensorBase& x, std::int64_t decimals);
TensorBase trunc(const TensorBase& x);
TensorBase frac(const TensorBase& x);  // x - trunc(x)

// ---- binary functions ------------------------------------------------------------------
TensorBase atan2(const TensorBase& a, const TensorBase& b);
TensorBase hypot(const TensorBase& a, const TensorBase& b);
TensorBase fmod(const TensorBase& a, const TensorBase& b);       // sign of a (C's fmod)
TensorBase remainder(const TensorBase& a, const TensorBase& b);  // sign of b (Python's %)
TensorBase fmod(const TensorBase& a, double b);
// floor(a / b) as PyTorch's div(rounding_mode="floor") computes it, through fmod
// (so a non-finite a gives NaN, as there): remainder's gradient needs it.
TensorBase div_floor(const TensorBase& a, const TensorBase& b);
TensorBase remainder(const TensorBase& a, double b);
// start + weight (end - start), in PyTorch's two-sided form (exact at weight 1).
TensorBase lerp(const TensorBase& start, const TensorBase& end, double weight);
TensorBase lerp(const TensorBase& start, const TensorBase& end, const TensorBase& weight);
// An undefined bound is absent; at least one must be given. NaN in x or a
// bound gives NaN; min > max gives max.
TensorBase clamp_tensors(const TensorBase& x, const TensorBase& min, const TensorBase& max);

// ---- non-finite values ----------------------------------------------------------------
// NaN -> nan, +inf -> posinf (default: the dtype's largest finite value),
// -inf -> neginf (default: its lowest); integer and bool tensors are copied.
TensorBase nan_to_num(const TensorBase& x, double nan, std::optional<double> posinf, std::optional<double> neginf);
TensorBase isinf(const TensorBase& x);
TensorBase isposinf(const TensorBase& x);
TensorBase isneginf(const TensorBase& x);
// |a - b| <= atol + rtol |b| or a == b; NaNs are close to each other only with equal_nan.
TensorBase isclose(const TensorBase& a, const TensorBase& b, double rtol, double atol, bool equal_nan);

// ---- activations ------------------------------------------------------------------------
// x when beta x > threshold, else log(1 + exp(beta x)) / beta.
TensorBase softplus(const TensorBase& x, double beta, double threshold);
TensorBase silu(const TensorBase& x);
// x > 0 ? scale x : scale alpha (exp(input_scale x) - 1): elu, selu and celu;
// `op` names the caller in errors.
TensorBase elu(const TensorBase& x, double alpha, double scale, double input_scale, const char* op = "elu");
TensorBase mish(const TensorBase& x);
TensorBase hardtanh(const TensorBase& x, double min, double max);
TensorBase hardswish(const TensorBase& x);
TensorBase hardsigmoid(const TensorBase& x);
TensorBase logsigmoid(const TensorBase& x);
TensorBase softsign(const TensorBase& x);

}  // namespace tg::kernel
