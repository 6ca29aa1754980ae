#include <tapegrad/optim/sgd.h>

#include <cmath>

namespace tg::optim {

void SGDOptions::validate(const std::string& optimizer) const {
  if (!(lr >= 0)) detail::throw_bad_option(optimizer, "learning rate", lr);
  if (!(momentum >= 0)) detail::throw_bad_option(optimizer, "momentum", momentum);
  if (!(weight_decay >= 0)) detail::throw_bad_option(optimizer, "weight_decay", weight_decay);
  if (!std::isfinite(dampening)) throw ValueError(fmt::format("{}: invalid dampening {}", optimizer, dampening));
  if (nesterov && (momentum <= 0 || dampening != 0))
    throw ValueError(
        fmt::format("{}: Nesterov momentum needs momentum > 0 and dampening 0, got momentum {} and "
                    "dampening {}",
                    optimizer, momentum, dampening));
}

SGD::SGD(std::vector<Tensor> params, SGDOptions options)
    : SGD(std::vector<ParamGroup<SGDOptions>>{{std::move(params), options}}) {}

SGD::SGD(std::vector<ParamGroup<SGDOptions>> groups) : OptimizerWithState(std::move(groups)) { init(name()); }

void SGD::set_momentum(std::size_t group, double momentum) {
  SGDOptions o = options(group);
  o.momentum = momentum;
  set_options(group, o);
}

void SGD::step() {
  for_each_update([](const SGDOptions& o, SGDState& s, detail::ParamUpdate& u) {
    ++s.step;
    // The buffer starts as the first gradient, undamped (PyTorch's choice).
    const bool first = !s.momentum_buffer.defined();
    if (o.momentum != 0 && first) s.momentum_buffer = zeros_like(u.data);
    dispatch_floating(u.data.dtype(), "SGD", [&]<class T>() {
      T* p = u.data.data_ptr<T>();
      const T* grad = u.grad.data_ptr<T>();
      T* buf = o.momentum != 0 ? s.momentum_buffer.data_ptr<T>() : nullptr;
      const T lr = static_cast<T>(o.lr), weight_decay = static_cast<T>(o.weight_decay);
      const T momentum = static_cast<T>(o.momentum), damped = static_cast<T>(1 - o.dampening);
      const T sign = o.maximize ? T(-1) : T(1);
      const std::int64_t n = u.data.numel();
      for (std::int64_t i = 0; i < n; ++i) {
        T g = sign * grad[i];
        if (weight_decay != 0) g += weight_decay * p[i];  // L2 penalty
        if (buf) {
          buf[i] = first ? g : T(momentum * buf[i] + damped * g);  // b = mu b + (1 - tau) g
          g = o.nesterov ? T(g + momentum * buf[i]) : buf[i];
        }
        p[i] -= lr * g;
      }
    });
  });
}

}  // namespace tg::optim
