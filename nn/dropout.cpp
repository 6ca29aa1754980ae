#include <tapegrad/nn/dropout.h>

#include <fmt/format.h>

#include <tapegrad/nn/functional.h>

namespace tg::nn {

Dropout::Dropout(double p, Generator* generator) : p(p), generator(generator) {
  if (!(p >= 0 && p <= 1))
    throw ValueError(fmt::format("Dropout: probability has to be between 0 and 1, but got {}", p));
}

Tensor Dropout::forward(const Tensor& input) { return functional::dropout(input, p, is_training(), generator); }

std::string Dropout::extra_repr() const { return "p=" + detail::py_float(p) + ", inplace=False"; }

}  // namespace tg::nn
