// Random sampling: multinomial, normal, the *_like creators and the in-place
// fills. Nothing here records a backward node except the in-place fills, which
// give the overwritten value a zero gradient as fill_ does.
#include <cmath>

#include <fmt/format.h>

#include <tapegrad/autograd/grad_mode.h>
#include <tapegrad/autograd/ops.h>
#include <tapegrad/core/kernels/copy.h>
#include <tapegrad/core/kernels/random_ops.h>
#include <tapegrad/core/profiler.h>

namespace tg {

namespace {

void require_floating(const char* op, const char* what, DType d) {
  if (!is_floating(d))
    throw DTypeError(
        fmt::format("{}: {} must be a floating dtype ({}), got {}", op, what, kFloatingDTypeNames, dtype_name(d)));
}

// `t` as float64 values laid out contiguously in `shape` (broadcast).
TensorBase as_f64(const Tensor& t, const Dims& shape) {
  NoGradGuard no_grad;
  return kernel::contiguous(kernel::to(expand(t.detach(), shape), kFloat64));
}

Tensor normal_impl(const Tensor& mean, const Tensor& std, DType dtype, Generator* gen) {
  const char* op = "normal";
  const Dims shape = broadcast_shapes(mean.shape(), std.shape(), op);
  return kernel::normal(as_f64(mean, shape), as_f64(std, shape), dtype, gen, op);
}

}  // namespace

Tensor multinomial(const Tensor& probs, std::int64_t num_samples, StrictBool replacement, Generator* gen) {
  TG_PROFILE_OP("multinomial", probs);
  return kernel::multinomial(probs.detach(), num_samples, replacement, gen);
}

Tensor normal(const Tensor& mean, const Tensor& std, Generator* gen) {
  TG_PROFILE_OP("normal", mean, std);
  require_floating("normal", "mean", mean.dtype());
  require_floating("normal", "std", std.dtype());
  return normal_impl(mean, std, promote_types(mean.dtype(), std.dtype()), gen);
}

Tensor normal(const Tensor& mean, double std, Generator* gen) {
  TG_PROFILE_OP("normal", mean);
  require_floating("normal", "mean", mean.dtype());
  return normal_impl(mean, tg::scalar_tensor(std, {.dtype = kFloat64}), mean.dtype(), gen);
}

Tensor normal(double mean, const Tensor& std, Generator* gen) {
  TG_PROFILE_OP("normal", std);
  require_floating("normal", "std", std.dtype());
  return normal_impl(tg::scalar_tensor(mean, {.dtype = kFloat64}), std, std.dtype(), gen);
}

Tensor normal(double mean, double std, Dims size, TensorOptions options, Generator* gen) {
  TG_PROFILE_OP("normal");
  require_floating("normal", "the dtype", options.dtype);
  Tensor out = normal_impl(tg::full(size, mean, {.dtype = kFloat64}), tg::scalar_tensor(std, {.dtype = kFloat64}),
                           options.dtype, gen);
  if (options.requires_grad) out.set_requires_grad(true);
  return out;
}

Tensor rand_like(const Tensor& x, std::optional<DType> dtype, Generator* gen) {
  TG_PROFILE_OP("rand_like", x);
  const DType d = dtype.value_or(x.dtype());
  require_floating("rand_like", "the dtype", d);
  return kernel::rand(x.shape(), {.dtype = d}, gen);
}

Tensor randn_like(const Tensor& x, std::optional<DType> dtype, Generator* gen) {
  TG_PROFILE_OP("randn_like", x);
  const DType d = dtype.value_or(x.dtype());
  require_floating("randn_like", "the dtype", d);
  return kernel::randn(x.shape(), {.dtype = d}, gen);
}

Tensor randint_like(const Tensor& x, std::int64_t high, Generator* gen) {
  TG_PROFILE_OP("randint_like", x);
  return randint_like(x, 0, high, gen);
}

Tensor randint_like(const Tensor& x, std::int64_t low, std::int64_t high, Generator* gen) {
  TG_PROFILE_OP("randint_like", x);
  if (x.dtype() == kBool) throw DTypeError("randint_like: bool is not an integer dtype");
  if (high <= low) throw ValueError(fmt::format("randint_like: empty range [{}, {})", low, high));
  return kernel::randint(low, high, x.shape(), {.dtype = x.dtype()}, gen);
}

Tensor& Tensor::uniform_(double from, double to, Generator* gen) {
  TG_PROFILE_OP("uniform_", *this);
  require_floating("uniform_", "self", dtype());
  if (!(from <= to) || !std::isfinite(to - from))
    throw ValueError(fmt::format("uniform_: expected a finite range from <= to, got from={} to={}", from, to));
  detail::assign_random_(
      *this, [&] { return kernel::uniform(shape(), dtype(), from, to, gen, "uniform_"); }, "uniform_");
  return *this;
}

Tensor& Tensor::normal_(double mean, double std, Generator* gen) {
  TG_PROFILE_OP("normal_", *this);
  require_floating("normal_", "self", dtype());
  if (!(std >= 0)) throw ValueError(fmt::format("normal_: std must be >= 0, got {}", std));
  detail::assign_random_(
      *this,
      [&] {
        return kernel::normal(kernel::full(shape(), mean, {.dtype = kFloat64}),
                              kernel::full(shape(), std, {.dtype = kFloat64}), dtype(), gen, "normal_");
      },
      "normal_");
  return *this;
}

Tensor& Tensor::bernoulli_(double p, Generator* gen) {
  TG_PROFILE_OP("bernoulli_", *this);
  if (!(p >= 0 && p <= 1)) throw ValueError(fmt::format("bernoulli_: probability {} is outside [0, 1]", p));
  detail::assign_random_(
      *this, [&] { return kernel::bernoulli(shape(), p, {.dtype = kFloat64}, gen); }, "bernoulli_");
  return *this;
}

Tensor& Tensor::bernoulli_(const Tensor& p, Generator* gen) {
  TG_PROFILE_OP("bernoulli_", *this, p);
  require_floating("bernoulli_", "p", p.dtype());
  const Dims& s = shape();
  // p broadcasts to self's shape (only that way: self keeps its shape).
  if (broadcast_shapes(s, p.shape(), "bernoulli_") != s)
    throw ShapeError(fmt::format("bernoulli_: p of shape {} does not broadcast to self's shape {}",
                                 shape_str(p.sizes()), shape_str(s)));
  const TensorBase probs = as_f64(p, s);
  const double* v = probs.data_ptr<double>();
  for (std::int64_t i = 0; i < probs.numel(); ++i)
    if (!(v[i] >= 0 && v[i] <= 1))
      throw ValueError(fmt::format("bernoulli_: probability {} at flat index {} is outside [0, 1]", v[i], i));
  detail::assign_random_(
      *this, [&] { return kernel::bernoulli(probs, gen); }, "bernoulli_");
  return *this;
}

Tensor& Tensor::exponential_(double lambd, Generator* gen) {
  TG_PROFILE_OP("exponential_", *this);
  require_floating("exponential_", "self", dtype());
  if (!(lambd > 0)) throw ValueError(fmt::format("exponential_: expected lambd > 0, got {}", lambd));
  detail::assign_random_(
      *this, [&] { return kernel::exponential(shape(), dtype(), lambd, gen, "exponential_"); }, "exponential_");
  return *this;
}

Tensor& Tensor::random_(std::int64_t from, std::optional<std::int64_t> to, Generator* gen) {
  TG_PROFILE_OP("random_", *this);
  // Checked before the draw, so a bad range leaves self and the generator untouched.
  if (to && *to <= from) throw ValueError(fmt::format("random_: empty range [{}, {})", from, *to));
  detail::assign_random_(
      *this, [&] { return kernel::random_integers(shape(), dtype(), from, to, gen, "random_"); }, "random_");
  return *this;
}

Tensor& Tensor::random_(Generator* gen) {
  TG_PROFILE_OP("random_", *this);
  return random_(0, std::nullopt, gen);
}

}  // namespace tg
