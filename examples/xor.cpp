// XOR: the smallest problem a linear model cannot solve. A hidden layer of
// eight tanh units learns it in a few hundred Adam steps.
//
//   build/examples/xor     prints the loss, the four predictions, and
//                          "XOR learned" (exit 0) when all four are right.
#include <tapegrad/tapegrad.h>

namespace F = tg::nn::functional;

// A model is a plain struct: its layers are members, registered by name so
// that parameters() finds them.
struct XorNet : tg::nn::Module {
  tg::nn::Linear hidden{2, 8};
  tg::nn::Linear output{8, 1};

  XorNet() {
    register_module("hidden", hidden);
    register_module("output", output);
  }
  // One logit per row; the sigmoid is left to the loss, which is more stable.
  tg::Tensor forward(const tg::Tensor& x) override { return output(tg::tanh(hidden(x))); }
};

int main() {
  tg::manual_seed(0);  // the same initial weights, and so the same run, every time
  const tg::Tensor inputs = tg::tensor({0.0, 0.0, 0.0, 1.0, 1.0, 0.0, 1.0, 1.0}, {4, 2});
  const tg::Tensor targets = tg::tensor({0.0, 1.0, 1.0, 0.0}, {4, 1});

  XorNet net;
  tg::optim::Adam optimizer(net.parameters(), {.lr = 0.05});
  for (int step = 0; step <= 400; ++step) {
    tg::Tensor loss = F::binary_cross_entropy_with_logits(net(inputs), targets);
    optimizer.zero_grad();
    loss.backward();
    optimizer.step();
    if (step % 100 == 0) fmt::print("step {:>3}: loss {:.4f}\n", step, loss.item<double>());
  }

  // Evaluation needs no tape.
  tg::NoGradGuard no_grad;
  const auto probabilities = tg::sigmoid(net(inputs)).to_vector<double>();
  const auto x = inputs.to_vector<double>();
  const auto y = targets.to_vector<double>();
  int correct = 0;
  for (std::size_t i = 0; i < 4; ++i) {
    const bool right = (probabilities[i] > 0.5) == (y[i] > 0.5);
    correct += right;
    fmt::print("{} xor {} = {}   predicted {:.3f}  {}\n", x[2 * i], x[2 * i + 1], y[i], probabilities[i],
               right ? "ok" : "WRONG");
  }
  if (correct != 4) {
    fmt::print("XOR not learned: {}/4 right\n", correct);
    return 1;
  }
  fmt::print("XOR learned\n");
  return 0;
}
