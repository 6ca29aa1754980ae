#include <tapegrad/optim/nadam.h>

#include <cmath>

#include <tapegrad/optim/adam_family.h>

namespace tg::optim {

void NAdamOptions::validate(const std::string& optimizer) const {
  detail::validate_adam_family(optimizer, lr, betas, eps, weight_decay);
  if (!(momentum_decay >= 0)) detail::throw_bad_option(optimizer, "momentum_decay", momentum_decay);
}

NAdam::NAdam(std::vector<Tensor> params, NAdamOptions options)
    : NAdam(std::vector<ParamGroup<NAdamOptions>>{{std::move(params), options}}) {}

NAdam::NAdam(std::vector<ParamGroup<NAdamOptions>> groups) : OptimizerWithState(std::move(groups)) { init(name()); }

void NAdam::set_momentum(std::size_t group, double beta1) { detail::set_beta1(*this, group, beta1); }

void NAdam::step() {
  for_each_update([](const NAdamOptions& o, NAdamState& s, detail::ParamUpdate& u) {
    ++s.step;
    detail::zeros_once(s.exp_avg, s.exp_avg_sq, u.data);
    const double t = static_cast<double>(s.step);
    const double beta1 = o.betas[0], beta2 = o.betas[1];
    const double bias_correction2 = 1 - std::pow(beta2, t);
    const double mu = beta1 * (1 - 0.5 * std::pow(0.96, t * o.momentum_decay));
    const double mu_next = beta1 * (1 - 0.5 * std::pow(0.96, (t + 1) * o.momentum_decay));
    s.mu_product *= mu;
    // mu counted twice: PyTorch 1.13's formula (see nadam.h).
    const double mu_product_next = s.mu_product * mu * mu_next;
    const double grad_scale = -o.lr * (1 - mu) / (1 - s.mu_product);
    const double avg_scale = -o.lr * mu_next / (1 - mu_product_next);
    dispatch_floating(u.data.dtype(), "NAdam", [&]<class T>() {
      T* p = u.data.data_ptr<T>();
      const T* grad = u.grad.data_ptr<T>();
      T* m = s.exp_avg.data_ptr<T>();
      T* v = s.exp_avg_sq.data_ptr<T>();
      const T b1 = static_cast<T>(beta1), b2 = static_cast<T>(beta2);
      const T one_minus_b1 = static_cast<T>(1 - beta1), one_minus_b2 = static_cast<T>(1 - beta2);
      const T wd = static_cast<T>(o.weight_decay), eps = static_cast<T>(o.eps), bc2 = static_cast<T>(bias_correction2);
      const T gs = static_cast<T>(grad_scale), as = static_cast<T>(avg_scale);
      const std::int64_t n = u.data.numel();
      for (std::int64_t i = 0; i < n; ++i) {
        T g = grad[i];
        if (wd != 0) g += wd * p[i];
        m[i] = b1 * m[i] + one_minus_b1 * g;
        v[i] = b2 * v[i] + one_minus_b2 * g * g;
        const T denom = std::sqrt(v[i] / bc2) + eps;
        p[i] += gs * (g / denom);
        p[i] += as * (m[i] / denom);
      }
    });
  });
}

}  // namespace tg::optim
