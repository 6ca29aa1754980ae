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

Tensor empty(Dims shape, TensorOptions options) { return finish(kernel::empty(shape, options), options); }
Tensor zeros(Dims shape, TensorOptions options) { return finish(kernel::zeros(shape, options), options); }
Tensor ones(Dims shape, TensorOptions options) { return finish(kernel::ones(shape, options), options); }
Tensor full(Dims shape, double value, TensorOptions options) {
  return finish(kernel::full(shape, value, options), options);
}
Tensor scalar_tensor(double value, TensorOptions options) {
  return finish(kernel::scalar_tensor(value, options), options);
}
Tensor zeros_like(const Tensor& t, std::optional<DType> dtype) { return kernel::zeros_like(t, dtype); }
Tensor ones_like(const Tensor& t, std::optional<DType> dtype) { return kernel::ones_like(t, dtype); }
Tensor empty_like(const Tensor& t, std::optional<DType> dtype) { return kernel::empty_like(t, dtype); }
Tensor full_like(const Tensor& t, double value, std::optional<DType> dtype) {
  return kernel::full_like(t, value, dtype);
}
Tensor detail::arange_range(double start, double end, double step, TensorOptions options) {
  return finish(kernel::arange_range(start, end, step, options), options);
}
Tensor linspace(double start, double end, std::int64_t steps, TensorOptions options) {
  return finish(kernel::linspace(start, end, steps, options), options);
}
Tensor eye(std::int64_t n, std::optional<std::int64_t> m, TensorOptions options) {
  return finish(kernel::eye(n, m, options), options);
}
Tensor tensor(std::initializer_list<double> values, Dims shape, TensorOptions options) {
  return finish(kernel::tensor(values, shape, options), options);
}
Tensor detail::finish_creation(TensorBase t, const TensorOptions& options) { return finish(std::move(t), options); }

Tensor rand(Dims shape, TensorOptions options, Generator* gen) {
  return finish(kernel::rand(shape, options, gen), options);
}
Tensor randn(Dims shape, TensorOptions options, Generator* gen) {
  return finish(kernel::randn(shape, options, gen), options);
}
// As before the split, these three ignore requires_grad (randint and
// randperm make integers, which cannot require it).
Tensor randint(std::int64_t low, std::int64_t high, Dims shape, TensorOptions options, Generator* gen) {
  return kernel::randint(low, high, shape, options, gen);
}
Tensor bernoulli(const Tensor& probabilities, Generator* gen) { return kernel::bernoulli(probabilities, gen); }
Tensor bernoulli(Dims shape, double p, TensorOptions options, Generator* gen) {
  return kernel::bernoulli(shape, p, options, gen);
}
Tensor randperm(std::int64_t n, Generator* gen) { return kernel::randperm(n, gen); }

}  // namespace tg
