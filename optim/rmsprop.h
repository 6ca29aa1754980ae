#pragma once
// RMSprop, as PyTorch's torch.optim.RMSprop:
//   g = -grad if maximize, else grad;  g += weight_decay * p
//   v = alpha v + (1 - alpha) g^2
//   centered: a = alpha a + (1 - alpha) g;  d = sqrt(v - a^2) + eps
//   otherwise d = sqrt(v) + eps
//   momentum > 0: b = momentum b + g / d;  p -= lr * b
//   otherwise p -= lr * g / d
#include <tapegrad/optim/optimizer.h>

namespace tg::optim {

struct RMSpropOptions {
  double lr = 1e-2;
  double alpha = 0.99;
  double eps = 1e-8;
  double weight_decay = 0;
  double momentum = 0;
  bool centered = false;
  bool maximize = false;

  void validate(const std::string& optimizer) const;
  template <class Self, class F>
  static void fields(Self& o, F&& f) {
    f("lr", o.lr);
    f("alpha", o.alpha);
    f("eps", o.eps);
    f("weight_decay", o.weight_decay);
    f("momentum", o.momentum);
    f("centered", o.centered);
    f("maximize", o.maximize);
  }
};

struct RMSpropState {
  std::int64_t step = 0;
  Tensor square_avg;       // v
  Tensor grad_avg;         // a, when centered
  Tensor momentum_buffer;  // b, when momentum > 0

  template <class Self, class F>
  static void tensors(Self& s, F&& f) {
    f("square_avg", s.square_avg);
    f("grad_avg", s.grad_avg);
    f("momentum_buffer", s.momentum_buffer);
  }
};

class RMSprop : public OptimizerWithState<RMSpropOptions, RMSpropState> {
 public:
  RMSprop(std::vector<Tensor> params, RMSpropOptions options = {});
  explicit RMSprop(std::vector<ParamGroup<RMSpropOptions>> groups);
  void step() override;
  std::string name() const override { return "RMSprop"; }
  bool has_momentum() const override { return true; }
  double momentum(std::size_t group) const override { return options(group).momentum; }
  void set_momentum(std::size_t group, double momentum) override;
};

}  // namespace tg::optim
