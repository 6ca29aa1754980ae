#include <tapegrad/optim/adadelta.h>

#include <cmath>

namespace tg::optim {

void AdadeltaOptions::validate(const std::string& optimizer) const {
  if (!(lr >= 0)) detail::throw_bad_option(optimizer, "learning rate", lr);
  if (!(rho >= 0 && rho <= 1)) throw ValueError(fmt::format("{}: invalid rho {} (must be in [0, 1])", optimizer, rho));
  if (!(eps >= 0)) detail::throw_bad_option(optimizer, "epsilon", eps);
  if (!(weight_decay >= 0)) detail::throw_bad_option(optimizer, "weight_decay", weight_decay);
}

Adadelta::Adadelta(std::vector<Tensor> params, AdadeltaOptions options)
    : Adadelta(std::vector<ParamGroup<AdadeltaOptions>>{{std::move(params), options}}) {}

Adadelta::Adadelta(std::vector<ParamGroup<AdadeltaOptions>> groups) : OptimizerWithState(std::move(groups)) {
  init(name());
}

void Adadelta::step() {
  for_each_update([](const AdadeltaOptions& o, AdadeltaState& s, detail::ParamUpdate& u) {
    ++s.step;
    if (!s.square_avg.defined()) {
      s.square_avg = zeros_like(u.data);
      s.acc_delta = zeros_like(u.data);
    }
    dispatch_floating(u.data.dtype(), "Adadelta", [&]<class T>() {
      T* p = u.data.data_ptr<T>();
      const T* grad = u.grad.data_ptr<T>();
      T* v = s.square_avg.data_ptr<T>();
      T* acc = s.acc_delta.data_ptr<T>();
      const T rho = static_cast<T>(o.rho), one_minus_rho = static_cast<T>(1 - o.rho);
      const T wd = static_cast<T>(o.weight_decay), eps = static_cast<T>(o.eps), lr = static_cast<T>(o.lr);
      const T sign = o.maximize ? T(-1) : T(1);
      const std::int64_t n = u.data.numel();
      for (std::int64_t i = 0; i < n; ++i) {
        T g = sign * grad[i];
        if (wd != 0) g += wd * p[i];
        v[i] = rho * v[i] + one_minus_rho * g * g;
        const T delta = std::sqrt(acc[i] + eps) / std::sqrt(v[i] + eps) * g;
        acc[i] = rho * acc[i] + one_minus_rho * delta * delta;
        p[i] -= lr * delta;
      }
    });
  });
}

}  // namespace tg::optim
