// Unary elementwise kernels, clamp, and the fused gradient kernels of the
// activations.
#include <algorithm>
#include <array>
#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>
#include <numbers>
#include <type_traits>
#include <utility>

#include <fmt/format.h>

#include <tapegrad/core/float_mode.h>
#include <tapegrad/core/kernels/elementwise.h>
#include <tapegrad/core/kernels/elementwise_loop.h>
#include <tapegrad/core/kernels/vector_math.h>

namespace tg::kernel {

using namespace ew;

namespace {

// y = f(x) for a real function: int64 and bool inputs compute in float32.
// `f` is a generic lambda called with float or double.
template <class F>
TensorBase float_unary(const TensorBase& x, F f) {
  const DType dt = is_floating(x.dtype()) ? x.dtype() : kFloat32;
  TensorBase out = make_tensor(x.shape(), dt);
  // A 16-bit float computes in float32 and rounds once on store, as PyTorch's.
  if (dt == kFloat64) unary_compute<double>(out, x, f);
  else if (dt == kFloat16) unary_compute<float, Half>(out, x, f);
  else if (dt == kBFloat16) unary_compute<float, BFloat16>(out, x, f);
  else unary_compute<float>(out, x, f);
  return out;
}

// The vectorised kernels below (vector_math.h) take runs of at most this
// many elements, so that their temporaries fit on the stack.
constexpr std::int64_t kVectorRun = 256;

// Elements [i, i + k) of a row starting at `row` with byte stride `stride`:
// the row itself when it is contiguous, else a copy in `buf` (k <= kVectorRun).
template <class T>
const T* run_of(const char* row, std::int64_t stride, std::int64_t i, std::int64_t k, T* buf) {
  if (stride == static_cast<std::int64_t>(sizeof(T))) return reinterpret_cast<const T*>(row) + i;
  for (std::int64_t j = 0; j < k; ++j) buf[j] = *reinterpret_cast<const T*>(row + (i + j) * stride);
  return buf;
}

// outs = block(x) for a float32 or float64 x: `block(const T* x,
// std::array<T*, Outs> y, n)` writes n <= kVectorRun elements of each output.
// Contiguous rows go to it in runs; strided ones through a buffer, so every
// element meets the same vector arithmetic whatever the layout.
template <std::size_t Outs, class Block>
std::array<TensorBase, Outs> vector_outputs(const TensorBase& x, Block block) {
  std::array<TensorBase, Outs> outs;
  for (auto& o : outs) o = make_tensor(x.shape(), x.dtype());
  const auto run = [&]<class T>() {
    std::array<const TensorBase*, Outs + 1> operands{};
    for (std::size_t j = 0; j < Outs; ++j) operands[j] = &outs[j];
    operands[Outs] = &x;
    auto plan = make_plan<Outs + 1>(x.shape(), operands);
    for_each_row(plan, [block](std::array<char*, Outs + 1> p, std::array<std::int64_t, Outs + 1> s, std::int64_t n) {
      T buf[kVectorRun];
      for (std::int64_t i = 0; i < n; i += kVectorRun) {
        const std::int64_t k = std::min(kVectorRun, n - i);
        std::array<T*, Outs> y;  // the outputs are fresh and contiguous
        for (std::size_t j = 0; j < Outs; ++j) y[j] = reinterpret_cast<T*>(p[j]) + i;
        block(run_of(p[Outs], s[Outs], i, k, buf), y, k);
      }
    });
  };
  if (x.dtype() == kFloat64) run.template operator()<double>();
  else run.template operator()<float>();
  return outs;
}

// out = block(x) for float32 and float64: `block(const T* x, T* y, n)` with
// n <= kVectorRun (vector_outputs). Other dtypes go elementwise through `f`,
// as float_unary.
template <class Block, class F>
TensorBase vector_unary(const TensorBase& x, Block block, F f) {
  if (x.dtype() != kFloat32 && x.dtype() != kFloat64) return float_unary(x, f);
  return vector_outputs<1>(x, [block](const auto* v, auto y, std::int64_t n) { block(v, y[0], n); })[0];
}

// out = block(dy, x) for a float32 or float64 dy (x converted to it), the
// gradient kernels' counterpart of vector_unary: `block(const T* g, const
// T* x, T* out, n)` with n <= kVectorRun. Other dtypes: grad_kernel with `f`.
template <class Block, class F>
TensorBase vector_grad_kernel(const TensorBase& dy, const TensorBase& x, const char* op, Block block, F f);

void check_not_bool(const char* op, const TensorBase& x, const char* hint = "") {
  if (x.dtype() == kBool) throw DTypeError(fmt::format("{}: not supported for bool tensors{}", op, hint));
}

// Result dtype of clamp: as a binary op with each given bound.
DType clamp_type(const TensorBase& x, std::optional<double> min, std::optional<double> max) {
  if (!min && !max) throw ValueError("clamp: at least one of min and max must be given");
  DType dt = x.dtype();
  if (min) dt = promote_types(dt, scalar_result_type(x.dtype(), *min));
  if (max) dt = promote_types(dt, scalar_result_type(x.dtype(), *max));
  // A bool tensor clamped by numbers computes in their type, as PyTorch
  // (clamp(bool, 0, 1) is int64); only a bool result has no order to clamp in.
  if (dt == kBool) check_not_bool("clamp", x);
  return dt;
}

// Missing bounds become -inf/+inf (or the integer extremes).
template <class T>
std::pair<T, T> clamp_bounds(std::optional<double> min, std::optional<double> max) {
  // The bounds can end up in the result, so they are checked as stored
  // scalars: a float32 clamp refuses 1e300, as PyTorch.
  const T lo = min ? checked_scalar<T>(*min, "clamp", /*wrap_negative=*/false) : std::numeric_limits<T>::lowest();
  const T hi = max ? checked_scalar<T>(*max, "clamp", /*wrap_negative=*/false) : std::numeric_limits<T>::max();
  if constexpr (is_floating_v<T>) {
    return {min ? lo : T(-std::numeric_limits<T>::infinity()), max ? hi : std::numeric_limits<T>::infinity()};
  }
  return {lo, hi};
}

// NaN passes through; min > max gives max everywhere, as PyTorch. A NaN
// bound makes every element NaN, as PyTorch's clamp with both bounds,
// clamp_min and clamp_max, and as a tensor bound of NaN does here (the
// comparisons below are false for it, so it would be ignored).
void clamp_into(const TensorBase& out, const TensorBase& x, std::optional<double> min, std::optional<double> max,
                DType dt) {
  // A selection, not arithmetic: a subnormal is compared as IEEE says, so
  // clamp(-1e-39, 0, 1) is 0, not -1e-39 read as -0 (float_mode.h).
  const KeepDenormalsGuard exact;
  dispatch_numeric(dt, "clamp", [&]<class T>() {
    const auto [lo, hi] = clamp_bounds<T>(min, max);
    if constexpr (is_floating_v<T>) {
      if (lo != lo || hi != hi) {  // (a NaN bound: the floating dtypes only hold one)
        const T nan = lo != lo ? lo : hi;
        return unary_compute<T>(out, x, [nan](T) { return nan; });
      }
    }
    // Init-captures: Clang before 16 cannot capture structured bindings directly.
    unary_compute<T>(out, x, [lo = lo, hi = hi](T v) {
      const T r = v < lo ? lo : v;
      return r > hi ? hi : r;
    });
  });
}

// Gradient kernels: out = f(dy, x) in dy's (floating) dtype.
template <class F>
TensorBase grad_kernel(const TensorBase& dy, const TensorBase& x, const char* op, F f) {
  const Dims shape = binary_shape(dy, x, op);
  TensorBase out = make_tensor(shape, dy.dtype());
  dispatch_floating(dy.dtype(), op,
                    [&]<class T>() { binary_compute<T>(out, dy, x, [f](T g, T v) -> T { return f(g, v); }); });
  return out;
}

template <class Block, class F>
TensorBase vector_grad_kernel(const TensorBase& dy, const TensorBase& x, const char* op, Block block, F f) {
  if (dy.dtype() != kFloat32 && dy.dtype() != kFloat64) return grad_kernel(dy, x, op, f);
  const Dims shape = binary_shape(dy, x, op);
  TensorBase out = make_tensor(shape, dy.dtype());
  const auto run = [&]<class T>() {
    As cg(dy, dtype_of<T>()), cx(x, dtype_of<T>());
    auto plan = make_plan<3>(out.shape(), {&out, &*cg, &*cx});
    for_each_row(plan, [block](std::array<char*, 3> p, std::array<std::int64_t, 3> s, std::int64_t n) {
      T* o = reinterpret_cast<T*>(p[0]);
      T gbuf[kVectorRun], xbuf[kVectorRun];
      for (std::int64_t i = 0; i < n; i += kVectorRun) {
        const std::int64_t k = std::min(kVectorRun, n - i);
        block(run_of(p[1], s[1], i, k, gbuf), run_of(p[2], s[2], i, k, xbuf), o + i, k);
      }
    });
  };
  if (dy.dtype() == kFloat64) run.template operator()<double>();
  else run.template operator()<float>();
  return out;
}

}  // namespace

// ---- dtype-keeping functions ---------------------------------------------------------

TensorBase neg(const TensorBase& x) {
  check_not_bool("neg", x, "; use logical_not instead");
  TensorBase out = make_tensor(x.shape(), x.dtype());
  dispatch_numeric(x.dtype(), "neg", [&]<class T>() {
    unary_compute<T>(out, x, [](T v) -> T {
      if constexpr (is_int_v<T>) return wrap_sub<T>(0, v);
      else return -v;
    });
  });
  return out;
}

TensorBase abs(const TensorBase& x) {
  check_not_bool("abs", x);
  TensorBase out = make_tensor(x.shape(), x.dtype());
  dispatch_numeric(x.dtype(), "abs", [&]<class T>() {
    unary_compute<T>(out, x, [](T v) -> T {
      if constexpr (std::is_unsigned_v<T>) return v;
      else if constexpr (is_int_v<T>) return v < 0 ? wrap_sub<T>(0, v) : v;
      else return std::abs(v);
    });
  });
  return out;
}

// sign(NaN) = 0, as PyTorch.
TensorBase sign(const TensorBase& x) {
  // Comparisons: a subnormal is not 0 (float_mode.h).
  const KeepDenormalsGuard exact;
  TensorBase out = make_tensor(x.shape(), x.dtype());
  dispatch(x.dtype(), [&]<class T>() {
    unary_compute<T>(out, x, [](T v) -> T {
      if constexpr (std::is_same_v<T, bool>) return v;
      else return static_cast<T>((T(0) < v) - (v < T(0)));
    });
  });
  return out;
}

// `v < 0 ? 0 : v` keeps NaN, as PyTorch.
//
// v < 0 and v > 0 for relu and its gradient; for float and double on the
// bits, as vec::relu does (vector_math.h: IEEE's answer under DAZ too, and
// never compiled to max): the sign, and a magnitude in (0, inf].
template <class T>
bool relu_below_zero(T v) {
  if constexpr (std::is_same_v<T, float> || std::is_same_v<T, double>) {
    using Bits = std::conditional_t<sizeof(T) == 4, std::uint32_t, std::uint64_t>;
    constexpr int kSign = static_cast<int>(sizeof(T) * 8 - 1);
    const auto b = std::bit_cast<Bits>(v);
    return (b >> kSign) != 0 && (b & ~(Bits{1} << kSign)) - 1 < std::bit_cast<Bits>(std::numeric_limits<T>::infinity());
  } else {
    return v < T(0);
  }
}
template <class T>
bool relu_above_zero(T v) {
  if constexpr (std::is_same_v<T, float> || std::is_same_v<T, double>) {
    using Bits = std::conditional_t<sizeof(T) == 4, std::uint32_t, std::uint64_t>;
    return std::bit_cast<Bits>(v) - 1 < std::bit_cast<Bits>(std::numeric_limits<T>::infinity());
  } else {
    return v > T(0);
  }
}

TensorBase relu(const TensorBase& x) {
  check_not_bool("relu", x);
  TensorBase out = make_tensor(x.shape(), x.dtype());
  if (x.dtype() == kFloat32 && x.is_contiguous()) {
    const float* p = static_cast<const float*>(x.raw_data());
    float* o = static_cast<float*>(out.raw_data());
    in_flat_blocks(x.numel(), [&](std::int64_t begin, std::int64_t n) { vec::relu(p + begin, o + begin, n); });
    return out;
  }
  // bfloat16 compares through float: a subnormal is not -0 (float_mode.h).
  const KeepDenormalsGuard exact;
  dispatch_numeric(x.dtype(), "relu",
                   [&]<class T>() { unary_compute<T>(out, x, [](T v) { return relu_below_zero(v) ? T(0) : v; }); });
  return out;
}

TensorBase clamp(const TensorBase& x, std::optional<double> min, std::optional<double> max) {
  const DType dt = clamp_type(x, min, max);
  TensorBase out = make_tensor(x.shape(), dt);
  clamp_into(out, x, min, max, dt);
  return out;
}

// ---- real functions (float32 for integer inputs) ----------------------------------------

TensorBase leaky_relu(const TensorBase& x, double negative_slope) {
  const KeepDenormalsGuard exact;  // v > 0 selects: a subnormal is not 0 (float_mode.h)
  const DType dt = is_floating(x.dtype()) ? x.dtype() : kFloat32;
  TensorBase out = make_tensor(x.shape(), dt);
  dispatch_floating(dt, "leaky_relu", [&]<class T>() {
    const param_t<T> s = static_cast<param_t<T>>(negative_slope);
    unary_compute<T>(out, x, [s](T v) { return v > T(0) ? v : T(v * s); });
  });
  return out;
}

TensorBase exp(const TensorBase& x) {
  return vector_unary(
      x, [](const auto* v, auto* y, std::int64_t n) { vec::exp(v, y, n); },
      [](auto v) -> decltype(v) { return std::exp(v); });
}
TensorBase log(const TensorBase& x) {
  const KeepDenormalsGuard exact;  // libm reads a subnormal's bits (float_mode.h, "libm")
  return float_unary(x, [](auto v) -> decltype(v) { return std::log(v); });
}
TensorBase log1p(const TensorBase& x) {
  return float_unary(x, [](auto v) -> decltype(v) { return std::log1p(v); });
}
TensorBase sqrt(const TensorBase& x) {
  return float_unary(x, [](auto v) -> decltype(v) { return std::sqrt(v); });
}
TensorBase rsqrt(const TensorBase& x) {
  return float_unary(x, [](auto v) -> decltype(v) { return decltype(v)(1) / std::sqrt(v); });
}
// 1 / (1 + exp(-x)), as PyTorch.
TensorBase sigmoid(const TensorBase& x) {
  return vector_unary(
      x,
      [](const auto* v, auto* y, std::int64_t n) {
        using T = std::remove_cvref_t<decltype(*v)>;
        for (std::int64_t i = 0; i < n; ++i) y[i] = -v[i];
        vec::exp(y, y, n);
        for (std::int64_t i = 0; i < n; ++i) y[i] = T(1) / (T(1) + y[i]);
      },
      [](auto v) -> decltype(v) {
        using T = decltype(v);
        return T(1) / (T(1) + std::exp(-v));
      });
}
TensorBase tanh(const TensorBase& x) {
  return vector_unary(
      x, [](const auto* v, auto* y, std::int64_t n) { vec::tanh(v, y, n); },
      [](auto v) -> decltype(v) { return std::tanh(v); });
}
namespace {

// x Phi(x) with Phi(x) = (1 + erf(x / sqrt 2)) / 2; float32 through
// vec::normal_cdf, which keeps Phi's digits in the negative tail and costs
// less than the erf. With `d`, also the derivative Phi(x) + x phi(x) in the
// arithmetic gelu_backward uses, so that dy * d gives its bits.
template <class T>
void gelu_block(const T* v, T* y, T* d, std::int64_t n) {
  if constexpr (std::is_same_v<T, float>) {
    T cdf[kVectorRun], pdf[kVectorRun];
    vec::normal_cdf(v, cdf, d ? pdf : nullptr, n);  // Phi and phi from one exp
    for (std::int64_t i = 0; i < n; ++i) y[i] = v[i] * cdf[i];
    if (d)
      for (std::int64_t i = 0; i < n; ++i) d[i] = cdf[i] + v[i] * pdf[i];
  } else {
    // e zeroed first: GCC 12's Release build warned that vec::erf may read it
    // uninitialised (it reads only the n elements written just below). The
    // fill is a few stores beside 256 erfs.
    T e[kVectorRun] = {}, pdf[kVectorRun];
    for (std::int64_t i = 0; i < n; ++i) e[i] = v[i] * T(std::numbers::sqrt2 / 2);
    vec::erf(e, e, n);
    for (std::int64_t i = 0; i < n; ++i) y[i] = T(0.5) * v[i] * (T(1) + e[i]);
    if (!d) return;
    for (std::int64_t i = 0; i < n; ++i) pdf[i] = T(-0.5) * v[i] * v[i];
    vec::exp(pdf, pdf, n);
    for (std::int64_t i = 0; i < n; ++i)
      d[i] = T(0.5) * (T(1) + e[i]) + v[i] * (pdf[i] * T(std::numbers::inv_sqrtpi / std::numbers::sqrt2));
  }
}

}  // namespace

TensorBase gelu(const TensorBase& x) {
  return vector_unary(
      x, [](const auto* v, auto* y, std::int64_t n) { gelu_block(v, y, decltype(y){}, n); },
      [](auto v) -> decltype(v) {  // the 16-bit floats, in float: erfc keeps the tail too
        using T = decltype(v);
        return T(0.5) * v * std::erfc(-v * T(std::numbers::sqrt2 / 2));
      });
}

std::optional<std::pair<TensorBase, TensorBase>> gelu_with_derivative(const TensorBase& x) {
  if (x.dtype() != kFloat32 && x.dtype() != kFloat64) return std::nullopt;
  auto [y, d] = vector_outputs<2>(x, [](const auto* v, auto out, std::int64_t n) { gelu_block(v, out[0], out[1], n); });
  return std::pair{std::move(y), std::move(d)};
}

// ---- fused gradients --------------------------------------------------------------------

TensorBase relu_backward(const TensorBase& dy, const TensorBase& y) {
  if (dy.dtype() == kFloat32 && y.dtype() == kFloat32 && dy.shape() == y.shape() && dy.is_contiguous() &&
      y.is_contiguous()) {
    TensorBase out = make_tensor(dy.shape(), kFloat32);
    const float* g = static_cast<const float*>(dy.raw_data());
    const float* v = static_cast<const float*>(y.raw_data());
    float* o = static_cast<float*>(out.raw_data());
    in_flat_blocks(dy.numel(),
                   [&](std::int64_t begin, std::int64_t n) { vec::relu_backward(g + begin, v + begin, o + begin, n); });
    return out;
  }
  const KeepDenormalsGuard exact;  // as relu's forward
  return grad_kernel(dy, y, "relu_backward", [](auto g, auto v) { return relu_above_zero(v) ? g : decltype(g)(0); });
}

TensorBase leaky_relu_backward(const TensorBase& dy, const TensorBase& x, double negative_slope) {
  const KeepDenormalsGuard exact;  // as the forward
  return grad_kernel(dy, x, "leaky_relu_backward", [negative_slope](auto g, auto v) {
    using T = decltype(g);
    return v > 0 ? g : T(g * static_cast<ew::param_t<T>>(negative_slope));
  });
}

TensorBase clamp_backward(const TensorBase& dy, const TensorBase& x, std::optional<double> min,
                          std::optional<double> max) {
  const double lo = min.value_or(-std::numeric_limits<double>::infinity());
  const double hi = max.value_or(std::numeric_limits<double>::infinity());
  const Dims shape = binary_shape(dy, x, "clamp_backward");
  const KeepDenormalsGuard exact;  // the forward's comparisons (clamp_into)
  TensorBase out = make_tensor(shape, dy.dtype());
  dispatch_floating(dy.dtype(), "clamp_backward", [&]<class G>() {
    dispatch_numeric(x.dtype(), "clamp_backward", [&]<class T>() {
      // Compare in a floating x's own dtype, as the forward did.
      using C = std::conditional_t<is_floating_v<T>, T, double>;
      const C l = static_cast<C>(lo), h = static_cast<C>(hi);
      binary_into<G, G, T>(out, dy, x, [l, h](G g, T v) {
        const C c = static_cast<C>(v);
        return c >= l && c <= h ? g : G(0);
      });
    });
  });
  return out;
}

TensorBase sigmoid_backward(const TensorBase& dy, const TensorBase& y) {
  return grad_kernel(dy, y, "sigmoid_backward", [](auto g, auto s) { return g * s * (decltype(g)(1) - s); });
}

TensorBase tanh_backward(const TensorBase& dy, const TensorBase& y) {
  return grad_kernel(dy, y, "tanh_backward", [](auto g, auto t) { return g * (decltype(g)(1) - t * t); });
}

// d/dx [x Phi(x)] = Phi(x) + x phi(x), gelu_block's derivative times dy.
TensorBase gelu_backward(const TensorBase& dy, const TensorBase& x) {
  return vector_grad_kernel(
      dy, x, "gelu_backward",
      [](const auto* g, const auto* v, auto* out, std::int64_t n) {
        using T = std::remove_cvref_t<decltype(*g)>;
        T y[kVectorRun];
        gelu_block(v, y, out, n);
        for (std::int64_t i = 0; i < n; ++i) out[i] = g[i] * out[i];
      },
      [](auto g, auto v) {
        using T = decltype(g);
        const T cdf = T(0.5) * std::erfc(-v * T(std::numbers::sqrt2 / 2));
        const T pdf = std::exp(T(-0.5) * v * v) * T(std::numbers::inv_sqrtpi / std::numbers::sqrt2);
        return g * (cdf + v * pdf);
      });
}

}  // namespace tg::kernel
