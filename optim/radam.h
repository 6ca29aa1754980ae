#pragma once
// RAdam, as PyTorch's torch.optim.RAdam (Adam with the variance rectified):
//   g = grad + weight_decay * p
//   m = beta1 m + (1 - beta1) g;  v = beta2 v + (1 - beta2) g^2
//   rho_inf = 2 / (1 - beta2) - 1;  rho_t = rho_inf - 2 t beta2^t / (1 - beta2^t)
//   rho_t > 5: r = sqrt((rho_t - 4)(rho_t - 2) rho_inf / ((rho_inf - 4)(rho_inf - 2) rho_t))
//              p -= lr m / (1 - beta1^t) * r sqrt(1 - beta2^t) / (sqrt(v) + eps)
//   otherwise  p -= lr m / (1 - beta1^t)
#include <array>

#include <tapegrad/optim/optimizer.h>

namespace tg::optim {

struct RAdamOptions {
  double lr = 1e-3;
  std::array<double, 2> betas{0.9, 0.999};
  double eps = 1e-8;
  double weight_decay = 0;

  void validate(const std::string& optimizer) const;
  template <class Self, class F>
  static void fields(Self& o, F&& f) {
    f("lr", o.lr);
    f("beta1", o.betas[0]);
    f("beta2", o.betas[1]);
    f("eps", o.eps);
    f("weight_decay", o.weight_decay);
  }
};

struct RAdamState {
  std::int64_t step = 0;
  Tensor exp_avg;     // m
  Tensor exp_avg_sq;  // v

  template <class Self, class F>
  static void tensors(Self& s, F&& f) {
    f("exp_avg", s.exp_avg);
    f("exp_avg_sq", s.exp_avg_sq);
  }
};

class RAdam : public OptimizerWithState<RAdamOptions, RAdamState> {
 public:
  RAdam(std::vector<Tensor> params, RAdamOptions options = {});
  explicit RAdam(std::vector<ParamGroup<RAdamOptions>> groups);
  void step() override;
  std::string name() const override { return "RAdam"; }
  bool has_momentum() const override { return true; }
  double momentum(std::size_t group) const override { return options(group).betas[0]; }
  void set_momentum(std::size_t group, double beta1) override;
};

}  // namespace tg::optim
