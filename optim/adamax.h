#pragma once
// Adamax, as PyTorch's torch.optim.Adamax (Adam with the infinity norm):
//   g = -grad if maximize, else grad;  g += weight_decay * p
//   m = beta1 m + (1 - beta1) g;  u = max(beta2 u, |g| + eps)
//   p -= lr / (1 - beta1^t) * m / u
#include <array>

#include <tapegrad/optim/optimizer.h>

namespace tg::optim {

struct AdamaxOptions {
  double lr = 2e-3;
  std::array<double, 2> betas{0.9, 0.999};
  double eps = 1e-8;
  double weight_decay = 0;
  bool maximize = false;

  void validate(const std::string& optimizer) const;
  template <class Self, class F>
  static void fields(Self& o, F&& f) {
    f("lr", o.lr);
    f("beta1", o.betas[0]);
    f("beta2", o.betas[1]);
    f("eps", o.eps);
    f("weight_decay", o.weight_decay);
    f("maximize", o.maximize);
  }
};

struct AdamaxState {
  std::int64_t step = 0;
  Tensor exp_avg;  // m
  Tensor exp_inf;  // u

  template <class Self, class F>
  static void tensors(Self& s, F&& f) {
    f("exp_avg", s.exp_avg);
    f("exp_inf", s.exp_inf);
  }
};

class Adamax : public OptimizerWithState<AdamaxOptions, AdamaxState> {
 public:
  Adamax(std::vector<Tensor> params, AdamaxOptions options = {});
  explicit Adamax(std::vector<ParamGroup<AdamaxOptions>> groups);
  void step() override;
  std::string name() const override { return "Adamax"; }
  bool has_momentum() const override { return true; }
  double momentum(std::size_t group) const override { return options(group).betas[0]; }
  void set_momentum(std::size_t group, double beta1) override;
};

}  // namespace tg::optim
