#include <tapegrad/optim/radam.h>

#include <cmath>

#include <tapegrad/optim/adam_family.h>

namespace tg::optim {

void RAdamOptions::validate(const std::string& optimizer) const {
  detail::validate_adam_family(optimizer, lr, betas, eps, weight_decay);
}

RAdam::RAdam(std::vector<Tensor> params, RAdamOptions options)
    : RAdam(std::vector<ParamGroup<RAdamOptions>>{{std::move(params), options}}) {}

RAdam::RAdam(std::vector<ParamGroup<RAdamOptions>> groups) : OptimizerWithState(std::move(groups)) { init(name()); }

void RAdam::set_momentum(std::size_t group, double beta1) { detail::set_beta1(*this, group, beta1); }

void RAdam::step() {
  for_each_update([](const RAdamOptions& o, RAdamState& s, detail::ParamUpdate& u) {
    ++s.step;
    detail::zeros_once(s.exp_avg, s.exp_avg_sq, u.data);
    const double t = static_cast<double>(s.step);
    const double beta1 = o.betas[0], beta2 = o.betas[1];
    const double bias_correction1 = 1 - std::pow(beta1, t);
    const double bias_correction2 = 1 - std::pow(beta2, t);
    // The length of the approximated simple moving average; below 5 the
    // variance of the adaptive step is too uncertain to use it.
    const double rho_inf = 2 / (1 - beta2) - 1;
    const double rho_t = rho_inf - 2 * t * std::pow(beta2, t) / bias_correction2;
    const bool rectified = rho_t > 5;
    const double rect =
        rectified ? std::sqrt((rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t)) : 0.0;
    dispatch_floating(u.data.dtype(), "RAdam", [&]<class T>() {
      T* p = u.data.data_ptr<T>();
      const T* grad = u.grad.data_ptr<T>();
      T* m = s.exp_avg.data_ptr<T>();
      T* v = s.exp_avg_sq.data_ptr<T>();
      const T b1 = static_cast<T>(beta1), b2 = static_cast<T>(beta2);
      const T one_minus_b1 = static_cast<T>(1 - beta1), one_minus_b2 = static_cast<T>(1 - beta2);
      const T wd = static_cast<T>(o.weight_decay), eps = static_cast<T>(o.eps), lr = static_cast<T>(o.lr);
      const T bc1 = static_cast<T>(bias_correction1), bc2_sqrt = static_cast<T>(std::sqrt(bias_correction2));
      const T r = static_cast<T>(rect);
      const std::int64_t n = u.data.numel();
      for (std::int64_t i = 0; i < n; ++i) {
        T g = grad[i];
        if (wd != 0) g += wd * p[i];
        m[i] = b1 * m[i] + one_minus_b1 * g;
        v[i] = b2 * v[i] + one_minus_b2 * g * g;
        const T corrected = m[i] / bc1;
        if (rectified) p[i] -= corrected * lr * (bc2_sqrt / (std::sqrt(v[i]) + eps)) * r;
        else p[i] -= corrected * lr;
      }
    });
  });
}

}  // namespace tg::optim
