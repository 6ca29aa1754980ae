// The user-facing creation and random functions: core's kernels make the
// data, and TensorOptions::requires_grad, which only a Tensor can honour, is
// applied here.
#include <tapegrad/autograd/tensor.h>

namespace tg {

namespace {
Tensor finish(Tensor t, const TensorOptions& options) {
  if (options.requires_grad) t.set_requires_grad(true);
  return t;
}
}  // namespace

Tensor empty(Dims shape, TensorOptions options) {
  detail::CurrentOpScope op("empty");
  return finish(kernel::empty(shape, options), options);
}
Tensor zeros(Dims shape, TensorOptions options) {
  detail::CurrentOpScope op("zeros");
  return finish(kernel::zeros(shape, options), options);
}
Tensor ones(Dims shape, TensorOptions options) {
  detail::CurrentOpScope op("ones");
  return finish(kernel::ones(shape, options), options);
}
Tensor full(Dims shape, double value, TensorOptions options) {
  detail::CurrentOpScope op("full");
  return finish(kernel::full(shape, value, options), options);
}
Tensor scalar_tensor(double value, TensorOptions options) {
  detail::CurrentOpScope op("scalar_tensor");
  return finish(kernel::scalar_tensor(value, options), options);
}
Tensor zeros_like(const Tensor& t, std::optional<DType> dtype) {
  detail::CurrentOpScope op("zeros_like");
  return kernel::zeros_like(t, dtype);
}
Tensor ones_like(const Tensor& t, std::optional<DType> dtype) {
  detail::CurrentOpScope op("ones_like");
  return kernel::ones_like(t, dtype);
}
Tensor empty_like(const Tensor& t, std::optional<DType> dtype) {
  detail::CurrentOpScope op("empty_like");
  return kernel::empty_like(t, dtype);
}
Tensor full_like(const Tensor& t, double value, std::optional<DType> dtype) {
  detail::CurrentOpScope op("full_like");
  return kernel::full_like(t, value, dtype);
}
Tensor linspace(double start, double end, std::int64_t steps, TensorOptions options) {
  detail::CurrentOpScope op("linspace");
  return finish(kernel::linspace(start, end, steps, options), options);
}
Tensor eye(std::int64_t n, std::optional<std::int64_t> m, TensorOptions options) {
  detail::CurrentOpScope op("eye");
  return finish(kernel::eye(n, m, options), options);
}
Tensor tensor(std::initializer_list<double> values, OptionalDims shape, TensorOptions options) {
  detail::CurrentOpScope op("tensor");
  return finish(kernel::tensor(values, shape, options), options);
}
Tensor detail::finish_creation(TensorBase t, const TensorOptions& options) { return finish(std::move(t), options); }

Tensor rand(Dims shape, TensorOptions options, Generator* gen) {
  detail::CurrentOpScope op("rand");
  return finish(kernel::rand(shape, options, gen), options);
}
Tensor randn(Dims shape, TensorOptions options, Generator* gen) {
  detail::CurrentOpScope op("randn");
  return finish(kernel::randn(shape, options, gen), options);
}
// As before the split, these three ignore requires_grad (randint and
// randperm make integers, which cannot require it).
Tensor randint(std::int64_t low, std::int64_t high, Dims shape, TensorOptions options, Generator* gen) {
  detail::CurrentOpScope op("randint");
  return kernel::randint(low, high, shape, options, gen);
}
Tensor bernoulli(const Tensor& probabilities, Generator* gen) {
  detail::CurrentOpScope op("bernoulli");
  return kernel::bernoulli(probabilities, gen);
}
Tensor bernoulli(Dims shape, double p, TensorOptions options, Generator* gen) {
  detail::CurrentOpScope op("bernoulli");
  return kernel::bernoulli(shape, p, options, gen);
}
Tensor randperm(std::int64_t n, Generator* gen) {
  detail::CurrentOpScope op("randperm");
  return kernel::randperm(n, gen);
}

}  // namespace tg
