#pragma once
// Adadelta, as PyTorch's torch.optim.Adadelta:
//   g = -grad if maximize, else grad;  g += weight_decay * p
//   v = rho v + (1 - rho) g^2
//   d = sqrt(u + eps) / sqrt(v + eps) * g
//   u = rho u + (1 - rho) d^2
//   p -= lr d
#include <tapegrad/optim/optimizer.h>

namespace tg::optim {

struct AdadeltaOptions {
  double lr = 1.0;
  double rho = 0.9;  // in [0, 1]
  double eps = 1e-6;
  double weight_decay = 0;
  bool maximize = false;

  void validate(const std::string& optimizer) const;
  template <class Self, class F>
  static void fields(Self& o, F&& f) {
    f("lr", o.lr);
    f("rho", o.rho);
    f("eps", o.eps);
    f("weight_decay", o.weight_decay);
    f("maximize", o.maximize);
  }
};

struct AdadeltaState {
  std::int64_t step = 0;
  Tensor square_avg;  // v
  Tensor acc_delta;   // u

  template <class Self, class F>
  static void tensors(Self& s, F&& f) {
    f("square_avg", s.square_avg);
    f("acc_delta", s.acc_delta);
  }
};

class Adadelta : public OptimizerWithState<AdadeltaOptions, AdadeltaState> {
 public:
  Adadelta(std::vector<Tensor> params, AdadeltaOptions options = {});
  explicit Adadelta(std::vector<ParamGroup<AdadeltaOptions>> groups);
  void step() override;
  std::string name() const override { return "Adadelta"; }
};

}  // namespace tg::optim
