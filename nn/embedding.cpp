#include <tapegrad/nn/embedding.h>

#include <fmt/format.h>

#include <tapegrad/autograd/grad_mode.h>
#include <tapegrad/nn/functional.h>
#include <tapegrad/nn/init.h>

namespace tg::nn {

Embedding::Embedding(std::int64_t num, std::int64_t dim, std::optional<std::int64_t> pad,
                     std::optional<double> max_norm, double norm_type, StrictBool scale_grad_by_freq)
    : num_embeddings(num),
      embedding_dim(dim),
      padding_idx(pad),
      max_norm(max_norm),
      norm_type(norm_type),
      scale_grad_by_freq(scale_grad_by_freq) {
  if (num < 0 || dim < 0)
    throw ValueError(
        fmt::format("Embedding: sizes must be non-negative, got num_embeddings={}, embedding_dim={}", num, dim));
  if (pad) {
    if (*pad < -num || *pad >= num)
      throw ValueError(fmt::format("Embedding: padding_idx {} is out of range for {} embeddings", *pad, num));
    if (*pad < 0) padding_idx = *pad + num;
  }
  register_parameter("weight", &Embedding::weight, empty({num, dim}));
  reset_parameters();
}

void Embedding::reset_parameters() {
  init::normal_(weight);
  if (padding_idx) {
    NoGradGuard no_grad;
    weight.select(0, *padding_idx).fill_(0);
  }
}

Tensor Embedding::forward(const Tensor& indices) {
  return functional::embedding(indices, weight, padding_idx, max_norm, norm_type, scale_grad_by_freq);
}

std::string Embedding::extra_repr() const {
  std::string s = fmt::format("{}, {}", num_embeddings, embedding_dim);
  if (padding_idx) s += fmt::format(", padding_idx={}", *padding_idx);
  if (max_norm) s += ", max_norm=" + detail::py_float(*max_norm);
  if (norm_type != 2) s += ", norm_type=" + detail::py_float(norm_type);
  if (scale_grad_by_freq) s += ", scale_grad_by_freq=True";
  return s;
}

}  // namespace tg::nn
