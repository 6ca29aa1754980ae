// Arithmetic: add, sub, mul, div (tensors or a scalar on either side), neg,
// pow, addcmul, addcdiv, and their operators. Kernels and dtype rules: core/kernels/elementwise.h.
// Broadcast inputs get their gradients summed back by Backward::add.
#include <cmath>
#include <limits>

#include <fmt/format.h>

#include <tapegrad/autograd/function.h>
#include <tapegrad/autograd/grad_mode.h>
#include <tapegrad/autograd/ops.h>
#include <tapegrad/core/kernels/elementwise.h>
#include <tapegrad/core/profiler.h>

namespace tg {

using autograd::Backward;
using autograd::requires_grad_of;
using autograd::SavedTensor;

namespace {}  // namespace

Tensor add(const Tensor& a, const Tensor& b, double alpha) {
  TG_PROFILE_OP("add", a, b);
  Tensor y = kernel::add(a, b, alpha);
  if (autograd::needs_grad(a, b))
    autograd::record("add", {&a, &b}, {&y}, [alpha](Backward& bw) {
      // y = a + alpha b;  da = dy,  db = alpha dy
      bw.add(0, bw.grad());
      if (bw.needs(1)) bw.add(1, alpha == 1 ? bw.grad() : mul(bw.grad(), alpha));
    });
  return y;
}

Tensor sub(const Tensor& a, const Tensor& b, double alpha) {
  TG_PROFILE_OP("sub", a, b);
  Tensor y = kernel::sub(a, b, alpha);
  if (autograd::needs_grad(a, b))
    autograd::record("sub", {&a, &b}, {&y}, [alpha](Backward& bw) {
      // y = a - alpha b;  da = dy,  db = -alpha dy
      bw.add(0, bw.grad());
      if (bw.needs(1)) bw.add(1, alpha == 1 ? neg(bw.grad()) : mul(bw.grad(), -alpha));
    });
  return y;
}

Tensor mul(const Tensor& a, const Tensor& b) {
  TG_PROFILE_OP("mul", a, b);
  Tensor y = kernel::mul(a, b);
  if (autograd::needs_grad(a, b))
    autograd::record("mul", {&a, &b}, {&y},
                     [sa = SavedTensor::input_if(requires_grad_of(b), a),
                      sb = SavedTensor::input_if(requires_grad_of(a), b)](Backward& bw) {
                       // y = a b;  da = dy b,  db = dy a
                       if (bw.needs(0)) bw.add(0, mul(bw.grad(), bw.unpack(sb)));
                       if (bw.needs(1)) bw.add(1, mul(bw.grad(), bw.unpack(sa)));
                     });
  return y;
}

Tensor div(const Tensor& a, const Tensor& b) {
  TG_PROFILE_OP("div", a, b);
  Tensor y = kernel::div(a, b);
  if (autograd::needs_grad(a, b))
    autograd::record("div", {&a, &b}, {&y},
                     [sa = SavedTensor::input_if(requires_grad_of(b), a), sb = SavedTensor(b, false)](Backward& bw) {
                       // y = a / b;  da = dy / b,  db = -dy a / b^2
                       const Tensor b = bw.unpack(sb);
                       const Tensor da = div(bw.grad(), b);
                       if (bw.needs(1)) bw.add(1, neg(div(mul(da, bw.unpack(sa)), b)));
                       bw.add(0, da);
                     });
  return y;
}

Tensor add(const Tensor& a, double b) {
  TG_PROFILE_OP("add", a);
  Tensor y = kernel::add(a, b);
  if (autograd::needs_grad(a))
    autograd::record("add", {&a}, {&y}, [](Backward& bw) {
      // y = a + b;  da = dy
      bw.add(0, bw.grad());
    });
  return y;
}

Tensor sub(const Tensor& a, double b) {
  TG_PROFILE_OP("sub", a);
  Tensor y = kernel::sub(a, b);
  if (autograd::needs_grad(a))
    autograd::record("sub", {&a}, {&y}, [](Backward& bw) {
      // y = a - b;  da = dy
      bw.add(0, bw.grad());
    });
  return y;
}

Tensor rsub(const Tensor& a, double b) {
  TG_PROFILE_OP("rsub", a);
  Tensor y = kernel::rsub(a, b);
  if (autograd::needs_grad(a))
    autograd::record("rsub", {&a}, {&y}, [](Backward& bw) {
      // y = b - a;  da = -dy
      bw.add(0, neg(bw.grad()));
    });
  return y;
}

Tensor mul(const Tensor& a, double b) {
  TG_PROFILE_OP("mul", a);
  Tensor y = kernel::mul(a, b);
  if (autograd::needs_grad(a))
    autograd::record("mul", {&a}, {&y}, [b](Backward& bw) {
      // y = a b;  da = dy b
      bw.add(0, mul(bw.grad(), b));
    });
  return y;
}

Tensor div(const Tensor& a, double b) {
  TG_PROFILE_OP("div", a);
  Tensor y = kernel::div(a, b);
  if (autograd::needs_grad(a))
    autograd::record("div", {&a}, {&y}, [b](Backward& bw) {
      // y = a / b;  da = dy / b
      bw.add(0, div(bw.grad(), b));
    });
  return y;
}

Tensor rdiv(const Tensor& a, double b) {
  TG_PROFILE_OP("rdiv", a);
  Tensor y = kernel::rdiv(a, b);
  if (autograd::needs_grad(a))
    autograd::record("rdiv", {&a}, {&y}, [sa = SavedTensor(a, false), b](Backward& bw) {
      // y = b / a;  da = -b dy / a^2, written -dy (b / a) / a: its own
      // derivative is then inf at a = 0 and 0 at a = inf (2 b / a^3), where
      // that of -b dy / a^2 is 0/0 and inf/inf (as PyTorch's reciprocal(a) * b).
      // b / a is computed again rather than saved, so that an in-place
      // change to y leaves this backward valid, as in PyTorch.
      const Tensor a = bw.unpack(sa);
      bw.add(0, neg(div(mul(bw.grad(), rdiv(a, b)), a)));
    });
  return y;
}

Tensor neg(const Tensor& x) {
  TG_PROFILE_OP("neg", x);
  Tensor y = kernel::neg(x);
  if (autograd::needs_grad(x))
    autograd::record("neg", {&x}, {&y}, [](Backward& bw) {
      // y = -x;  dx = -dy
      bw.add(0, neg(bw.grad()));
    });
  return y;
}

Tensor pow(const Tensor& x, double exponent) {
  TG_PROFILE_OP("pow", x);
  Tensor y = kernel::pow(x, exponent);
  if (autograd::needs_grad(x))
    autograd::record("pow", {&x}, {&y}, [sx = SavedTensor(x, false), exponent](Backward& bw) {
      // y = x^p;  dx = dy p x^(p-1)  (0 for p = 0, even at x = 0; p as the
      // product below reads it in x's dtype: a subnormal p is 0 while kernels flush)
      const Tensor& dy = bw.grad();
      const auto tiny_reads_as_zero = [&] {
        if (!(std::abs(exponent) < std::numeric_limits<float>::min())) return false;
        const Tensor p = scalar_tensor(exponent, dy.dtype() == kFloat64 ? kFloat64 : kFloat32);
        return Tensor(kernel::reads_as_zero(p)).item<bool>();
      };
      if (exponent == 0 || tiny_reads_as_zero()) return bw.add(0, zeros_like(dy));
      if (exponent == 1) return bw.add(0, dy);
      const Tensor x = bw.unpack(sx);
      bw.add(0, mul(dy, exponent == 2 ? mul(x, 2.0) : mul(pow(x, exponent - 1), exponent)));
    });
  return y;
}

Tensor square(const Tensor& x) { return pow(x, 2.0); }

Tensor pow(const Tensor& x, const Tensor& exponent) {
  TG_PROFILE_OP("pow", x, exponent);
  Tensor y = kernel::pow(x, exponent);
  if (autograd::needs_grad(x, exponent))
    autograd::record("pow", {&x, &exponent}, {&y},
                     [sx = SavedTensor(x, false), se = SavedTensor(exponent, false),
                      sy = requires_grad_of(exponent) ? SavedTensor(y, true) : SavedTensor()](Backward& bw) {
                       // y = x^e;  dx = dy e x^(e-1)  (0 where e = 0),
                       //           de = dy y log(x)   (0 where x = 0 and e >= 0, the limit)
                       const Tensor x = bw.unpack(sx), e = bw.unpack(se);
                       const Tensor& dy = bw.grad();
                       // e = 0 as mul reads e: a subnormal e is 0 there, and
                       // pow(x, e - 1) may be inf (0 * inf).
                       if (bw.needs(0))
                         bw.add(0, where(kernel::reads_as_zero(e), 0.0, mul(dy, mul(e, pow(x, sub(e, 1.0))))));
                       if (bw.needs(1)) {
                         const Tensor at_zero = kernel::logical_and(kernel::eq(x, 0.0), kernel::ge(e, 0.0));
                         bw.add(1, where(at_zero, 0.0, mul(mul(dy, bw.unpack(sy)), log(x))));
                       }
                     });
  return y;
}

Tensor pow(double base, const Tensor& exponent) {
  TG_PROFILE_OP("pow", exponent);
  Tensor y = kernel::pow(base, exponent);
  if (autograd::needs_grad(exponent))
    autograd::record(
        "pow", {&exponent}, {&y},
        [se = base == 0 ? SavedTensor(exponent, false) : SavedTensor(), sy = SavedTensor(y, true), base](Backward& bw) {
          // y = base^e;  de = dy y log(base)  (0 where base = 0 and e >= 0)
          const Tensor de = mul(mul(bw.grad(), bw.unpack(sy)), std::log(base));
          bw.add(0, base == 0 ? where(kernel::ge(bw.unpack(se), 0.0), 0.0, de) : de);
        });
  return y;
}

// ---- addcmul, addcdiv -------------------------------------------------------------

namespace {

// The three operands broadcast together. A bool operand counts as 0 or 1
// (a mask), as in PyTorch, but a bool result is refused (PyTorch has no
// addcmul on bool), and so is a fractional value for an integer result,
// which PyTorch silently truncates (addcmul(i, i, i, value=0.5) adds 0).
// The result's dtype, by the three tensors' promotion (a 0-d tensor of the
// same category promotes no dimensioned one, as PyTorch's TensorIterator).
DType check_addc(const Tensor& input, const Tensor& t1, const Tensor& t2, double value, const char* op) {
  broadcast_shapes(input.shape(), broadcast_shapes(t1.shape(), t2.shape(), op), op);
  const DType result = kernel::result_type({&input, &t1, &t2});
  if (result == kBool)
    throw DTypeError(fmt::format("{}: not supported when all three tensors are bool (the result would be bool)", op));
  if (!is_floating(result) && std::trunc(value) != value)
    throw DTypeError(
        fmt::format("{}: value {} is not a whole number, and the result's dtype is {}", op, value, dtype_name(result)));
  return result;
}

// value * t, without the multiplication when value is 1.
Tensor scaled(const Tensor& t, double value) { return value == 1 ? t : mul(t, value); }

// input + value * (t1 combine t2), every operand first converted to the
// dtype the result is computed in: the result's, or float32 for 16-bit
// floats, rounded once at the end. Converting first matters: int8 100 * 100
// wrapped to 16 before a float32 input promoted it, float16 300 * 300
// overflowed, and float32 1 / 3 was rounded before a float64 add.
template <class Combine>
Tensor addc_forward(const Tensor& input, const Tensor& t1, const Tensor& t2, double value, DType result,
                    Combine combine) {
  NoGradGuard no_grad;  // one node, recorded by the caller
  const DType compute = is_reduced_float(result) ? kFloat32 : result;
  Tensor y = add(input.to(compute), scaled(combine(t1.to(compute), t2.to(compute)), value));
  return y.to(result);
}

}  // namespace

Tensor addcmul(const Tensor& input, const Tensor& tensor1, const Tensor& tensor2, double value) {
  TG_PROFILE_OP("addcmul", input, tensor1, tensor2);
  const DType result = check_addc(input, tensor1, tensor2, value, "addcmul");
  Tensor y =
      addc_forward(input, tensor1, tensor2, value, result, [](const Tensor& a, const Tensor& b) { return mul(a, b); });
  if (autograd::needs_grad(input, tensor1, tensor2))
    autograd::record("addcmul", {&input, &tensor1, &tensor2}, {&y},
                     [value, s1 = SavedTensor::input_if(requires_grad_of(tensor2), tensor1),
                      s2 = SavedTensor::input_if(requires_grad_of(tensor1), tensor2)](Backward& bw) {
                       // y = input + v t1 t2;  dinput = dy,  dt1 = v dy t2,  dt2 = v dy t1
                       if (bw.needs(0)) bw.add(0, bw.grad());
                       if (bw.needs(1)) bw.add(1, scaled(mul(bw.grad(), bw.unpack(s2)), value));
                       if (bw.needs(2)) bw.add(2, scaled(mul(bw.grad(), bw.unpack(s1)), value));
                     });
  return y;
}

Tensor addcdiv(const Tensor& input, const Tensor& tensor1, const Tensor& tensor2, double value) {
  TG_PROFILE_OP("addcdiv", input, tensor1, tensor2);
  const DType result = check_addc(input, tensor1, tensor2, value, "addcdiv");
  // As PyTorch: t1 / t2 of two integer tensors was once a floor division.
  if (!is_floating(tensor1.dtype()) && !is_floating(tensor2.dtype()))
    throw DTypeError(
        fmt::format("addcdiv: integer division of tensor1 ({}) by tensor2 ({}) is not supported; "
                    "convert one of them to a floating dtype",
                    dtype_name(tensor1.dtype()), dtype_name(tensor2.dtype())));
  Tensor y =
      addc_forward(input, tensor1, tensor2, value, result, [](const Tensor& a, const Tensor& b) { return div(a, b); });
  if (autograd::needs_grad(input, tensor1, tensor2))
    autograd::record(
        "addcdiv", {&input, &tensor1, &tensor2}, {&y},
        [value, s1 = SavedTensor::input_if(requires_grad_of(tensor2), tensor1),
         s2 = SavedTensor::input_if(requires_grad_of(tensor1) || requires_grad_of(tensor2), tensor2)](Backward& bw) {
          // y = input + v t1 / t2;  dinput = dy,  dt1 = v dy / t2,  dt2 = -v (dy / t2) t1 / t2
          // (as div's: t2^2 would underflow or overflow where the quotients do not).
          if (bw.needs(0)) bw.add(0, bw.grad());
          if (!bw.needs(1) && !bw.needs(2)) return;  // t2 is saved only for these
          const Tensor t2 = bw.unpack(s2);
          const Tensor dy_t2 = div(bw.grad(), t2);
          if (bw.needs(1)) bw.add(1, scaled(dy_t2, value));
          if (bw.needs(2)) bw.add(2, scaled(div(mul(dy_t2, bw.unpack(s1)), t2), -value));
        });
  return y;
}

// ---- operators ------------------------------------------------------------------

Tensor operator+(const Tensor& a, const Tensor& b) { return add(a, b); }
Tensor operator-(const Tensor& a, const Tensor& b) { return sub(a, b); }
Tensor operator*(const Tensor& a, const Tensor& b) { return mul(a, b); }
Tensor operator/(const Tensor& a, const Tensor& b) { return div(a, b); }
Tensor operator+(const Tensor& a, double b) { return add(a, b); }
Tensor operator-(const Tensor& a, double b) { return sub(a, b); }
Tensor operator*(const Tensor& a, double b) { return mul(a, b); }
Tensor operator/(const Tensor& a, double b) { return div(a, b); }
Tensor operator+(double a, const Tensor& b) { return add(b, a); }
Tensor operator-(double a, const Tensor& b) { return rsub(b, a); }
Tensor operator*(double a, const Tensor& b) { return mul(b, a); }
Tensor operator/(double a, const Tensor& b) { return rdiv(b, a); }
Tensor operator-(const Tensor& x) { return neg(x); }

// In place on the left operand (autograd/ops/inplace.cpp records them).
Tensor& operator+=(Tensor& a, const Tensor& b) { return a.add_(b); }
Tensor& operator-=(Tensor& a, const Tensor& b) { return a.sub_(b); }
Tensor& operator*=(Tensor& a, const Tensor& b) { return a.mul_(b); }
Tensor& operator/=(Tensor& a, const Tensor& b) { return a.div_(b); }
Tensor& operator+=(Tensor& a, double b) { return a.add_(b); }
Tensor& operator-=(Tensor& a, double b) { return a.sub_(b); }
Tensor& operator*=(Tensor& a, double b) { return a.mul_(b); }
Tensor& operator/=(Tensor& a, double b) { return a.div_(b); }

}  // namespace tg
