#include <tapegrad/optim/adagrad.h>

#include <cmath>

namespace tg::optim {

void AdagradOptions::validate(const std::string& optimizer) const {
  if (!(lr >= 0)) detail::throw_bad_option(optimizer, "learning rate", lr);
  if (!(lr_decay >= 0)) detail::throw_bad_option(optimizer, "lr_decay", lr_decay);
  if (!(weight_decay >= 0)) detail::throw_bad_option(optimizer, "weight_decay", weight_decay);
  if (!(initial_accumulator_value >= 0))
    detail::throw_bad_option(optimizer, "initial_accumulator_value", initial_accumulator_value);
  if (!(eps >= 0)) detail::throw_bad_option(optimizer, "epsilon", eps);
}

Adagrad::Adagrad(std::vector<Tensor> params, AdagradOptions options)
    : Adagrad(std::vector<ParamGroup<AdagradOptions>>{{std::move(params), options}}) {}

Adagrad::Adagrad(std::vector<ParamGroup<AdagradOptions>> groups) : OptimizerWithState(std::move(groups)) {
  init(name());
}

void Adagrad::step() {
  for_each_update([](const AdagradOptions& o, AdagradState& s, detail::ParamUpdate& u) {
    ++s.step;
    if (!s.sum.defined()) s.sum = full_like(u.data, o.initial_accumulator_value);
    const double clr = o.lr / (1 + static_cast<double>(s.step - 1) * o.lr_decay);
    dispatch_floating(u.data.dtype(), "Adagrad", [&]<class T>() {
      T* p = u.data.data_ptr<T>();
      const T* grad = u.grad.data_ptr<T>();
      T* sum = s.sum.data_ptr<T>();
      const T lr = static_cast<T>(clr), eps = static_cast<T>(o.eps);
      const T weight_decay = static_cast<T>(o.weight_decay);
      const T sign = o.maximize ? T(-1) : T(1);
      const std::int64_t n = u.data.numel();
      for (std::int64_t i = 0; i < n; ++i) {
        T g = sign * grad[i];
        if (weight_decay != 0) g += weight_decay * p[i];
        sum[i] += g * g;  // every squared gradient so far
        p[i] -= lr * g / (std::sqrt(sum[i]) + eps);
      }
    });
  });
}

}  // namespace tg::optim
