// Polynomial regression: recover the coefficients of a cubic from 1,000 noisy
// samples with plain gradient descent (SGD with momentum on the whole set).
//
//   build/examples/regression   prints the learned coefficients beside the
//                               true ones; exit 0 when each is within 0.1.
#include <cmath>
#include <vector>

#include <tapegrad/tapegrad.h>

namespace F = tg::nn::functional;

int main() {
  // y = 0.5 - 1.2 x + 0.8 x^2 + 2 x^3, plus Gaussian noise of std 0.1.
  const std::vector<float> true_coefficients{0.5f, -1.2f, 0.8f, 2.0f};
  constexpr double kNoise = 0.1;
  // With this noise and x ~ U[-1, 1], least squares on 1,000 points pins the
  // x^3 coefficient (the loosest) to a standard deviation of about 0.02, so a
  // miss by more than 0.1 means the optimisation failed, not bad luck.
  constexpr double kTolerance = 0.1;
  constexpr std::int64_t kSamples = 1000;

  tg::manual_seed(0);
  const tg::Tensor x = tg::rand({kSamples, 1}) * 2 - 1;
  // One column per power of x: [1, x, x^2, x^3], so the model is linear in
  // its coefficients.
  const tg::Tensor features = tg::cat({tg::ones_like(x), x, x * x, x * x * x}, 1);
  const tg::Tensor truth = tg::tensor(true_coefficients, {4, 1});
  const tg::Tensor y = features.matmul(truth) + kNoise * tg::randn({kSamples, 1});

  tg::Tensor coefficients = tg::zeros({4, 1}, {.requires_grad = true});
  // Momentum matters here: the powers of x are strongly correlated (x with
  // x^3, 1 with x^2), so the loss is a long narrow valley that plain SGD
  // crosses slowly.
  tg::optim::SGD optimizer({coefficients}, {.lr = 0.1, .momentum = 0.9});
  for (int step = 0; step <= 500; ++step) {
    tg::Tensor loss = F::mse_loss(features.matmul(coefficients), y);
    optimizer.zero_grad();
    loss.backward();
    optimizer.step();
    // The noise alone leaves an mse of about kNoise^2 = 0.01.
    if (step % 100 == 0) fmt::print("step {:>3}: mse {:.5f}\n", step, loss.item<double>());
  }

  const auto learned = coefficients.to_vector<float>();
  bool all_close = true;
  fmt::print("\n{:>6}  {:>8}  {:>8}\n", "power", "true", "learned");
  for (std::size_t k = 0; k < 4; ++k) {
    const bool close = std::abs(learned[k] - true_coefficients[k]) <= kTolerance;
    all_close = all_close && close;
    fmt::print("{:>6}  {:>8.4f}  {:>8.4f}{}\n", fmt::format("x^{}", k), true_coefficients[k], learned[k],
               close ? "" : "  <- off by more than the tolerance");
  }
  if (!all_close) {
    fmt::print("some coefficients are off by more than {}\n", kTolerance);
    return 1;
  }
  fmt::print("all coefficients within {} of the truth\n", kTolerance);
  return 0;
}
