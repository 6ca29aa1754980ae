#pragma once
// Stochastic gradient descent with momentum, dampening, Nesterov momentum,
// weight decay (an L2 term added to the gradient) and maximize, as PyTorch's
// torch.optim.SGD:
//   g = -grad if maximize, else grad;  g += weight_decay * p
//   b = g on the first step, else momentum * b + (1 - dampening) * g
//   g = g + momentum * b (nesterov) or b
//   p -= lr * g
#include <tapegrad/optim/optimizer.h>

namespace tg::optim {

struct SGDOptions {
  double lr = 1e-3;
  double momentum = 0;
  double dampening = 0;
  double weight_decay = 0;
  bool nesterov = false;
  bool maximize = false;

  void validate(const std::string& optimizer) const;
  template <class Self, class F>
  static void fields(Self& o, F&& f) {
    f("lr", o.lr);
    f("momentum", o.momentum);
    f("dampening", o.dampening);
    f("weight_decay", o.weight_decay);
    f("nesterov", o.nesterov);
    f("maximize", o.maximize);
  }
};

struct SGDState {
  std::int64_t step = 0;
  Tensor momentum_buffer;  // once momentum is non-zero

  template <class Self, class F>
  static void tensors(Self& s, F&& f) {
    f("momentum_buffer", s.momentum_buffer);
  }
};

class SGD : public OptimizerWithState<SGDOptions, SGDState> {
 public:
  SGD(std::vector<Tensor> params, SGDOptions options = {});
  explicit SGD(std::vector<ParamGroup<SGDOptions>> groups);
  void step() override;
  std::string name() const override { return "SGD"; }
  bool has_momentum() const override { return true; }
  double momentum(std::size_t group) const override { return options(group).momentum; }
  void set_momentum(std::size_t group, double momentum) override;
};

}  // namespace tg::optim
