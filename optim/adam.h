#pragma once
// Adam and AdamW, as PyTorch's torch.optim.Adam and torch.optim.AdamW:
//   g = -grad if maximize, else grad
//   Adam:  g += weight_decay * p        AdamW: p *= 1 - lr * weight_decay
//   m = beta1 m + (1 - beta1) g;  v = beta2 v + (1 - beta2) g^2
//   v_max = max(v_max, v) with amsgrad (and used in place of v below)
//   p -= lr / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)
#include <array>

#include <tapegrad/optim/optimizer.h>

namespace tg::optim {

struct AdamOptions {
  double lr = 1e-3;
  std::array<double, 2> betas{0.9, 0.999};
  double eps = 1e-8;
  double weight_decay = 0;
  bool amsgrad = false;
  bool maximize = false;

  void validate(const std::string& optimizer) const;
  template <class Self, class F>
  static void fields(Self& o, F&& f) {
    f("lr", o.lr);
    f("beta1", o.betas[0]);
    f("beta2", o.betas[1]);
    f("eps", o.eps);
    f("weight_decay", o.weight_decay);
    f("amsgrad", o.amsgrad);
    f("maximize", o.maximize);
  }
};

// The same fields; only the default weight decay differs (and what it means).
struct AdamWOptions {
  double lr = 1e-3;
  std::array<double, 2> betas{0.9, 0.999};
  double eps = 1e-8;
  double weight_decay = 1e-2;
  bool amsgrad = false;
  bool maximize = false;

  void validate(const std::string& optimizer) const;
  template <class Self, class F>
  static void fields(Self& o, F&& f) {
    AdamOptions::fields(o, f);
  }
};

struct AdamState {
  std::int64_t step = 0;
  Tensor exp_avg;         // m
  Tensor exp_avg_sq;      // v
  Tensor max_exp_avg_sq;  // v_max, with amsgrad

  template <class Self, class F>
  static void tensors(Self& s, F&& f) {
    f("exp_avg", s.exp_avg);
    f("exp_avg_sq", s.exp_avg_sq);
    f("max_exp_avg_sq", s.max_exp_avg_sq);
  }
};

class Adam : public OptimizerWithState<AdamOptions, AdamState> {
 public:
  Adam(std::vector<Tensor> params, AdamOptions options = {});
  explicit Adam(std::vector<ParamGroup<AdamOptions>> groups);
  void step() override;
  std::string name() const override { return "Adam"; }
  bool has_momentum() const override { return true; }
  double momentum(std::size_t group) const override { return options(group).betas[0]; }
  void set_momentum(std::size_t group, double beta1) override;
};

class AdamW : public OptimizerWithState<AdamWOptions, AdamState> {
 public:
  AdamW(std::vector<Tensor> params, AdamWOptions options = {});
  explicit AdamW(std::vector<ParamGroup<AdamWOptions>> groups);
  void step() override;
  std::string name() const override { return "AdamW"; }
  bool has_momentum() const override { return true; }
  double momentum(std::size_t group) const override { return options(group).betas[0]; }
  void set_momentum(std::size_t group, double beta1) override;
};

}  // namespace tg::optim
