#include <tapegrad/nn/distance.h>

#include <tapegrad/autograd/ops.h>

namespace tg::nn {

Tensor CosineSimilarity::forward(const Tensor& x1, const Tensor& x2) { return cosine_similarity(x1, x2, dim, eps); }

Tensor PairwiseDistance::forward(const Tensor& x1, const Tensor& x2) {
  return pairwise_distance(x1, x2, p, eps, keepdim);
}

}  // namespace tg::nn
