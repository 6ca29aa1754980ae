#include <tapegrad/optim/rmsprop.h>

#include <cmath>

namespace tg::optim {

void RMSpropOptions::validate(const std::string& optimizer) const {
  if (!(lr >= 0)) detail::throw_bad_option(optimizer, "learning rate", lr);
  if (!(alpha >= 0)) detail::throw_bad_option(optimizer, "alpha", alpha);
  if (!(eps >= 0)) detail::throw_bad_option(optimizer, "epsilon", eps);
  if (!(momentum >= 0)) detail::throw_bad_option(optimizer, "momentum", momentum);
  if (!(weight_decay >= 0)) detail::throw_bad_option(optimizer, "weight_decay", weight_decay);
}

RMSprop::RMSprop(std::vector<Tensor> params, RMSpropOptions options)
    : RMSprop(std::vector<ParamGroup<RMSpropOptions>>{{std::move(params), options}}) {}

RMSprop::RMSprop(std::vector<ParamGroup<RMSpropOptions>> groups) : OptimizerWithState(std::move(groups)) {
  init(name());
}

void RMSprop::set_momentum(std::size_t group, double momentum) {
  RMSpropOptions o = options(group);
  o.momentum = momentum;
  set_options(group, o);
}

void RMSprop::step() {
  for_each_update([](const RMSpropOptions& o, RMSpropState& s, detail::ParamUpdate& u) {
    ++s.step;
    if (!s.square_avg.defined()) s.square_avg = zeros_like(u.data);
    if (o.centered && !s.grad_avg.defined()) s.grad_avg = zeros_like(u.data);
    if (o.momentum > 0 && !s.momentum_buffer.defined()) s.momentum_buffer = zeros_like(u.data);
    dispatch_floating(u.data.dtype(), "RMSprop", [&]<class T>() {
      T* p = u.data.data_ptr<T>();
      const T* grad = u.grad.data_ptr<T>();
      T* v = s.square_avg.data_ptr<T>();
      T* a = o.centered ? s.grad_avg.data_ptr<T>() : nullptr;
      T* b = o.momentum > 0 ? s.momentum_buffer.data_ptr<T>() : nullptr;
      const T lr = static_cast<T>(o.lr), alpha = static_cast<T>(o.alpha);
      const T one_minus_alpha = static_cast<T>(1 - o.alpha), eps = static_cast<T>(o.eps);
      const T weight_decay = static_cast<T>(o.weight_decay), momentum = static_cast<T>(o.momentum);
      const T sign = o.maximize ? T(-1) : T(1);
      const std::int64_t n = u.data.numel();
      for (std::int64_t i = 0; i < n; ++i) {
        T g = sign * grad[i];
        if (weight_decay != 0) g += weight_decay * p[i];
        v[i] = alpha * v[i] + one_minus_alpha * g * g;  // running mean of g^2
        T denom;
        if (a) {
          a[i] = alpha * a[i] + one_minus_alpha * g;  // running mean of g: v - a^2 estimates the variance
          denom = std::sqrt(v[i] - a[i] * a[i]) + eps;
        } else {
          denom = std::sqrt(v[i]) + eps;
        }
        if (b) {
          b[i] = momentum * b[i] + g / denom;
          p[i] -= lr * b[i];
        } else {
          p[i] -= lr * g / denom;
        }
      }
    });
  });
}

}  // namespace tg::optim
