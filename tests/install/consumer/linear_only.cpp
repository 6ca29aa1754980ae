// One layer's header on its own, as users include it, next to the consumer's
// own nn/linear.h and nn/module.h.
#include <vector>

#include <nn/linear.h>
#include <nn/module.h>

#include <tapegrad/nn/linear.h>

static_assert(CONSUMER_OWN_NN_LINEAR_H && CONSUMER_OWN_NN_MODULE_H, "the consumer's nn/ headers were shadowed");

int linear_alone() {
  consumer::Linear own{3, 2};
  tg::nn::Linear layer(own.in, own.out, tg::nn::LinearOptions{.bias = false});
  // y = x @ W^T with W set to ones: every output is the sum of the inputs.
  layer.weight.detach().fill_(1);
  const tg::Tensor y = layer(tg::tensor({1.0, 2.0, 3.0}, {1, 3}));
  return y.to_vector<float>() == std::vector<float>{6, 6} ? 0 : 1;
}
