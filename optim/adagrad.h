#pragma once
// Adagrad, as PyTorch's torch.optim.Adagrad:
//   g = -grad if maximize, else grad;  g += weight_decay * p
//   lr_t = lr / (1 + (t - 1) lr_decay)
//   s += g^2   (s starts at initial_accumulator_value)
//   p -= lr_t * g / (sqrt(s) + eps)
#include <tapegrad/optim/optimizer.h>

namespace tg::optim {

struct AdagradOptions {
  double lr = 1e-2;
  double lr_decay = 0;
  double weight_decay = 0;
  double initial_accumulator_value = 0;
  double eps = 1e-10;
  bool maximize = false;

  void validate(const std::string& optimizer) const;
  template <class Self, class F>
  static void fields(Self& o, F&& f) {
    f("lr", o.lr);
    f("lr_decay", o.lr_decay);
    f("weight_decay", o.weight_decay);
    f("initial_accumulator_value", o.initial_accumulator_value);
    f("eps", o.eps);
    f("maximize", o.maximize);
  }
};

struct AdagradState {
  std::int64_t step = 0;
  Tensor sum;  // s

  template <class Self, class F>
  static void tensors(Self& s, F&& f) {
    f("sum", s.sum);
  }
};

class Adagrad : public OptimizerWithState<AdagradOptions, AdagradState> {
 public:
  Adagrad(std::vector<Tensor> params, AdagradOptions options = {});
  explicit Adagrad(std::vector<ParamGroup<AdagradOptions>> groups);
  void step() override;
  std::string name() const override { return "Adagrad"; }
};

}  // namespace tg::optim
