#include <tapegrad/optim/adamax.h>

#include <algorithm>
#include <cmath>

#include <tapegrad/optim/adam_family.h>

namespace tg::optim {

void AdamaxOptions::validate(const std::string& optimizer) const {
  detail::validate_adam_family(optimizer, lr, betas, eps, weight_decay);
}

Adamax::Adamax(std::vector<Tensor> params, AdamaxOptions options)
    : Adamax(std::vector<ParamGroup<AdamaxOptions>>{{std::move(params), options}}) {}

Adamax::Adamax(std::vector<ParamGroup<AdamaxOptions>> groups) : OptimizerWithState(std::move(groups)) { init(name()); }

void Adamax::set_momentum(std::size_t group, double beta1) { detail::set_beta1(*this, group, beta1); }

void Adamax::step() {
  for_each_update([](const AdamaxOptions& o, AdamaxState& s, detail::ParamUpdate& u) {
    ++s.step;
    detail::zeros_once(s.exp_avg, s.exp_inf, u.data);
    const double clr = o.lr / (1 - std::pow(o.betas[0], static_cast<double>(s.step)));
    dispatch_floating(u.data.dtype(), "Adamax", [&]<class T>() {
      T* p = u.data.data_ptr<T>();
      const T* grad = u.grad.data_ptr<T>();
      T* m = s.exp_avg.data_ptr<T>();
      T* inf_norm = s.exp_inf.data_ptr<T>();
      const T b1 = static_cast<T>(o.betas[0]), b2 = static_cast<T>(o.betas[1]);
      const T one_minus_b1 = static_cast<T>(1 - o.betas[0]);
      const T wd = static_cast<T>(o.weight_decay), eps = static_cast<T>(o.eps), step = static_cast<T>(clr);
      const T sign = o.maximize ? T(-1) : T(1);
      const std::int64_t n = u.data.numel();
      for (std::int64_t i = 0; i < n; ++i) {
        T g = sign * grad[i];
        if (wd != 0) g += wd * p[i];
        m[i] = b1 * m[i] + one_minus_b1 * g;
        // eps inside the max keeps u > 0, so the division below is safe.
        inf_norm[i] = std::max(b2 * inf_norm[i], std::abs(g) + eps);
        p[i] -= step * (m[i] / inf_norm[i]);
      }
    });
  });
}

}  // namespace tg::optim
