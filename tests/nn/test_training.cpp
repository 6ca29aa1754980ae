// End to end: models declared as a plain struct and as a Sequential train
// for a few steps of plain SGD (written here; the optimizers live in optim/)
// and their loss goes down.
#include <doctest/doctest.h>

#include <vector>

#include <tapegrad/autograd/grad_mode.h>
#include <tapegrad/nn/nn.h>

namespace test_training {

using tg::Tensor;

namespace {

Tensor mse(const Tensor& y, const Tensor& target) { return tg::mean(tg::pow(tg::sub(y, target), 2.0)); }

// Mean negative log-likelihood of int64 labels under log_softmax(logits).
Tensor mean_nll(const Tensor& logits, const Tensor& labels) {
  return tg::neg(tg::mean(tg::gather(tg::log_softmax(logits, 1), 1, tg::unsqueeze(labels, 1))));
}

void sgd_step(tg::nn::Module& model, double lr) {
  tg::NoGradGuard no_grad;
  for (auto& p : model.parameters())
    if (p.grad().defined()) p.sub_(p.grad(), lr);
  model.zero_grad();
}

// Runs `steps` steps of loss_fn + SGD; returns the first and last loss.
template <class LossFn>
std::pair<double, double> train(tg::nn::Module& model, LossFn loss_fn, int steps, double lr) {
  double first = 0, last = 0;
  for (int step = 0; step < steps; ++step) {
    Tensor loss = loss_fn();
    if (step == 0) first = loss.item<double>();
    last = loss.item<double>();
    loss.backward();
    sgd_step(model, lr);
  }
  return {first, last};
}

struct Mlp : tg::nn::Module {
  tg::nn::Linear fc1{4, 16}, fc2{16, 1};
  Mlp() {
    register_module("fc1", fc1);
    register_module("fc2", fc2);
  }
  Tensor forward(const Tensor& x) override { return fc2(tg::tanh(fc1(x))); }
};

}  // namespace

TEST_CASE("a plain-struct MLP and the same MLP as a Sequential both fit a smooth target") {
  tg::manual_seed(61);
  Tensor x = tg::randn({64, 4});
  Tensor target = tg::mul(tg::tanh(tg::matmul(x, tg::tensor({1, -1, 0.5, 2}, {4, 1}))), 2.0);
  Mlp mlp;
  auto [first, last] = train(
      mlp, [&] { return mse(mlp(x), target); }, 60, 0.1);
  CHECK(last < 0.5 * first);

  tg::nn::Sequential seq{tg::nn::Linear(4, 16), tg::nn::Tanh(), tg::nn::Linear(16, 1)};
  auto [first_s, last_s] = train(
      seq, [&] { return mse(seq(x), target); }, 60, 0.1);
  CHECK(last_s < 0.5 * first_s);
}

TEST_CASE("a small conv net (Conv2d, BatchNorm2d, ReLU, MaxPool2d, AvgPool2d, Dropout) learns a visual rule") {
  tg::manual_seed(62);
  // 8x8 images; the label says whether the top half is brighter than the bottom.
  Tensor images = tg::randn({32, 1, 8, 8});
  const auto v = images.to_vector<double>();
  std::vector<std::int64_t> labels;
  for (int n = 0; n < 32; ++n) {
    double top = 0, bottom = 0;
    for (int i = 0; i < 64; ++i) (i < 32 ? top : bottom) += v[static_cast<std::size_t>(n * 64 + i)];
    labels.push_back(top > bottom ? 1 : 0);
  }
  Tensor y = tg::tensor(labels);
  tg::nn::Sequential net{tg::nn::Conv2d(1, 4, 3, {.padding = 1}),
                         tg::nn::BatchNorm2d(4),
                         tg::nn::ReLU(),
                         tg::nn::MaxPool2d(2),
                         tg::nn::AvgPool2d(2),
                         tg::nn::Dropout(0.1),
                         tg::nn::Flatten(),
                         tg::nn::Linear(4 * 2 * 2, 2)};
  auto [first, last] = train(
      net, [&] { return mean_nll(net(images), y); }, 40, 0.1);
  CHECK(last < 0.7 * first);
  net.eval();
  Tensor predicted = tg::argmax(net(images), 1);
  CHECK(tg::eq(predicted, y).sum().item<double>() >= 24);
}

TEST_CASE("Embedding, LayerNorm, GELU and a linear head train together") {
  tg::manual_seed(63);
  // Sequences of 3 tokens out of 10; the target is the sum of per-token values.
  Tensor tokens = tg::randint(0, 10, {48, 3});
  const std::vector<double> value = {0, 1, -1, 2, -2, 0.5, -0.5, 1.5, -1.5, 3};
  std::vector<double> sums;
  const auto tv = tokens.to_vector<std::int64_t>();
  for (int n = 0; n < 48; ++n) {
    double s = 0;
    for (int j = 0; j < 3; ++j) s += value[static_cast<std::size_t>(tv[static_cast<std::size_t>(n * 3 + j)])];
    sums.push_back(s);
  }
  Tensor target = tg::tensor(sums, {48, 1});
  tg::nn::Sequential net{tg::nn::Embedding(10, 8, 0), tg::nn::LayerNorm(8), tg::nn::GELU(), tg::nn::Flatten(),
                         tg::nn::Linear(24, 1)};
  auto [first, last] = train(
      net, [&] { return mse(net(tokens), target); }, 60, 0.05);
  CHECK(last < 0.5 * first);
  // The padding row never moved.
  CHECK(net.at<tg::nn::Embedding>(0).weight.select(0, 0).abs().sum().item<double>() == 0);
}

}  // namespace test_training
