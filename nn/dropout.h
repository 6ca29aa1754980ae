#pragma once
#include "nn/module.h"

namespace tg {
class Generator;
}

namespace tg::nn {

// Training: zeroes each element with probability p and scales the rest by
// 1 / (1 - p); eval: the identity. Draws from `generator`, or from the
// default generator (tg::manual_seed) when none is given.
class Dropout : public Module {
 public:
  explicit Dropout(double p = 0.5, Generator* generator = nullptr);
  Tensor forward(const Tensor& input) override;
  std::string type_name() const override { return "Dropout"; }
  std::string extra_repr() const override;

  double p;
  Generator* generator;
};

}  // namespace tg::nn
