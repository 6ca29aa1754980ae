// The in-place forms of the elementwise ops: neg_, abs_, exp_, log_, sqrt_,
// rsqrt_, sigmoid_, tanh_, sin_, cos_, reciprocal_, floor_, ceil_, round_,
// trunc_, sign_, square_, pow_, clamp_min_, clamp_max_, addcmul_, addcdiv_,
// lerp_.
//
// Each is its out-of-place op written back into self, through one path,
// detail::assign_result_ (autograd/ops/inplace.cpp): values, dtype rules,
// gradients and second derivatives are the out-of-place op's, and the
// leaf, view and alias rules are those of add_ and mul_. What each one says
// here is only which values PyTorch's backward formula reads (Reads): self
// before the op (kept as a copy: a later in-place change of self is fine) or
// the result (self itself: a later in-place change is an error at backward),
// so that modifying self again is allowed or refused exactly as in PyTorch.
#include <tapegrad/autograd/ops.h>
#include <tapegrad/autograd/tensor.h>
#include <tapegrad/core/profiler.h>

namespace tg {
namespace {

using detail::Reads;
using Operands = std::vector<Tensor>;

// self = f(self) in place.
Tensor& unary(Tensor& self, const char* op, Reads reads, Tensor (*f)(const Tensor&)) {
  return detail::assign_result_(self, op, {}, reads, [f](const Tensor& x, const Operands&) { return f(x); });
}

}  // namespace

// PyTorch's formulas (derivatives.yaml): neg, sign and the rounding ops read
// nothing; abs, log, sin, cos read self; exp, sqrt, rsqrt, sigmoid, tanh and
// reciprocal read the result.
Tensor& Tensor::neg_() {
  TG_PROFILE_OP("neg_", *this);
  return unary(*this, "neg_", Reads::nothing, [](const Tensor& x) { return tg::neg(x); });
}

Tensor& Tensor::abs_() {
  TG_PROFILE_OP("abs_", *this);
  return unary(*this, "abs_", Reads::self, [](const Tensor& x) { return tg::abs(x); });
}

Tensor& Tensor::exp_() {
  TG_PROFILE_OP("exp_", *this);
  return unary(*this, "exp_", Reads::result, [](const Tensor& x) { return tg::exp(x); });
}

Tensor& Tensor::log_() {
  TG_PROFILE_OP("log_", *this);
  return unary(*this, "log_", Reads::self, [](const Tensor& x) { return tg::log(x); });
}

Tensor& Tensor::sqrt_() {
  TG_PROFILE_OP("sqrt_", *this);
  return unary(*this, "sqrt_", Reads::result, [](const Tensor& x) { return tg::sqrt(x); });
}

Tensor& Tensor::rsqrt_() {
  TG_PROFILE_OP("rsqrt_", *this);
  return unary(*this, "rsqrt_", Reads::result, [](const Tensor& x) { return tg::rsqrt(x); });
}

Tensor& Tensor::sigmoid_() {
  TG_PROFILE_OP("sigmoid_", *this);
  return unary(*this, "sigmoid_", Reads::result, [](const Tensor& x) { return tg::sigmoid(x); });
}

Tensor& Tensor::tanh_() {
  TG_PROFILE_OP("tanh_", *this);
  return unary(*this, "tanh_", Reads::result, [](const Tensor& x) { return tg::tanh(x); });
}

Tensor& Tensor::sin_() {
  TG_PROFILE_OP("sin_", *this);
  return unary(*this, "sin_", Reads::self, [](const Tensor& x) { return tg::sin(x); });
}

Tensor& Tensor::cos_() {
  TG_PROFILE_OP("cos_", *this);
  return unary(*this, "cos_", Reads::self, [](const Tensor& x) { return tg::cos(x); });
}

Tensor& Tensor::reciprocal_() {
  TG_PROFILE_OP("reciprocal_", *this);
  return unary(*this, "reciprocal_", Reads::result, [](const Tensor& x) { return tg::reciprocal(x); });
}

Tensor& Tensor::floor_() {
  TG_PROFILE_OP("floor_", *this);
  return unary(*this, "floor_", Reads::nothing, [](const Tensor& x) { return tg::floor(x); });
}

Tensor& Tensor::ceil_() {
  TG_PROFILE_OP("ceil_", *this);
  return unary(*this, "ceil_", Reads::nothing, [](const Tensor& x) { return tg::ceil(x); });
}

Tensor& Tensor::round_() {
  TG_PROFILE_OP("round_", *this);
  return unary(*this, "round_", Reads::nothing, [](const Tensor& x) { return tg::round(x); });
}

Tensor& Tensor::trunc_() {
  TG_PROFILE_OP("trunc_", *this);
  return unary(*this, "trunc_", Reads::nothing, [](const Tensor& x) { return tg::trunc(x); });
}

Tensor& Tensor::sign_() {
  TG_PROFILE_OP("sign_", *this);
  return unary(*this, "sign_", Reads::nothing, [](const Tensor& x) { return tg::sign(x); });
}

// square is pow(x, 2), whose formula reads self.
Tensor& Tensor::square_() {
  TG_PROFILE_OP("square_", *this);
  return unary(*this, "square_", Reads::self, [](const Tensor& x) { return tg::square(x); });
}

Tensor& Tensor::pow_(double exponent) {
  TG_PROFILE_OP("pow_", *this);
  return detail::assign_result_(*this, "pow_", {}, Reads::self,
                                [exponent](const Tensor& x, const Operands&) { return tg::pow(x, exponent); });
}

// PyTorch's pow_(Tensor) keeps the result for the exponent's gradient, and
// keeps it whether or not the exponent requires grad.
Tensor& Tensor::pow_(const Tensor& exponent) {
  TG_PROFILE_OP("pow_", *this, exponent);
  return detail::assign_result_(*this, "pow_", {&exponent}, Reads::self_and_result,
                                [](const Tensor& x, const Operands& o) { return tg::pow(x, o[0]); });
}

Tensor& Tensor::clamp_min_(double min) {
  TG_PROFILE_OP("clamp_min_", *this);
  return detail::assign_result_(*this, "clamp_min_", {}, Reads::self,
                                [min](const Tensor& x, const Operands&) { return tg::clamp_min(x, min); });
}

Tensor& Tensor::clamp_max_(double max) {
  TG_PROFILE_OP("clamp_max_", *this);
  return detail::assign_result_(*this, "clamp_max_", {}, Reads::self,
                                [max](const Tensor& x, const Operands&) { return tg::clamp_max(x, max); });
}

// self's gradient is dy whatever the values: neither formula reads self.
Tensor& Tensor::addcmul_(const Tensor& tensor1, const Tensor& tensor2, double value) {
  TG_PROFILE_OP("addcmul_", *this, tensor1, tensor2);
  return detail::assign_result_(
      *this, "addcmul_", {&tensor1, &tensor2}, Reads::nothing,
      [value](const Tensor& x, const Operands& o) { return tg::addcmul(x, o[0], o[1], value); });
}

Tensor& Tensor::addcdiv_(const Tensor& tensor1, const Tensor& tensor2, double value) {
  TG_PROFILE_OP("addcdiv_", *this, tensor1, tensor2);
  return detail::assign_result_(
      *this, "addcdiv_", {&tensor1, &tensor2}, Reads::nothing,
      [value](const Tensor& x, const Operands& o) { return tg::addcdiv(x, o[0], o[1], value); });
}

// With a number weight the gradients are dy (1 - w) and dy w; a tensor
// weight's gradient, dy (end - self), reads self.
Tensor& Tensor::lerp_(const Tensor& end, double weight) {
  TG_PROFILE_OP("lerp_", *this, end);
  return detail::assign_result_(*this, "lerp_", {&end}, Reads::nothing,
                                [weight](const Tensor& x, const Operands& o) { return tg::lerp(x, o[0], weight); });
}

Tensor& Tensor::lerp_(const Tensor& end, const Tensor& weight) {
  TG_PROFILE_OP("lerp_", *this, end, weight);
  return detail::assign_result_(*this, "lerp_", {&end, &weight}, Reads::self,
                                [](const Tensor& x, const Operands& o) { return tg::lerp(x, o[0], o[1]); });
}

}  // namespace tg
