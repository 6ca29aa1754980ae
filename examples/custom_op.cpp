// A differentiable function of your own, as torch.autograd.Function: a
// "smooth abs" that behaves like |x| away from zero but is differentiable
// everywhere, checked against finite differences, then used as a robust loss
// to fit a line through data with outliers.
//
//   build/examples/custom_op   prints the checks and the fitted line;
//                              exit 0 when the checks pass and the fit is right.
#include <cmath>
#include <vector>

#include <tapegrad/tapegrad.h>

using tg::Tensor;
using tg::autograd::AutogradContext;

// y = sqrt(x^2 + d^2) - d;  dx = dy * x / sqrt(x^2 + d^2) = dy * x / (y + d).
// The backward is written with differentiable ops, so it can itself be
// differentiated (gradgradcheck, create_graph).
struct SmoothAbs : tg::autograd::Function<SmoothAbs> {
  static Tensor forward(AutogradContext* ctx, const Tensor& x, double d) {
    Tensor y = tg::sqrt(x * x + d * d) - d;
    ctx->save_for_backward({x, y});  // saving the output avoids a second sqrt
    ctx->saved_data["d"] = d;
    return y;
  }
  static std::vector<Tensor> backward(AutogradContext* ctx, std::vector<Tensor> grads) {
    const auto saved = ctx->get_saved_variables();
    const double d = ctx->saved_data["d"].to_double();
    return {grads[0] * saved[0] / (saved[1] + d)};  // d is a double: no gradient
  }
};

int main() {
  // 1. Check the backward against central differences. Float64, because in
  //    float32 finite differences are too noisy to tell a wrong formula from
  //    rounding. Include points near 0, where |x| would have its kink.
  const Tensor probe =
      tg::tensor({-2.0, -0.3, -1e-3, 0.0, 2e-3, 0.5, 3.0}, {7}, {.dtype = tg::kFloat64}).set_requires_grad();
  auto smooth_abs = [](const std::vector<Tensor>& in) { return SmoothAbs::apply(in[0], 0.1); };
  const auto first = tg::gradcheck_result(smooth_abs, {probe});
  const auto second = tg::gradgradcheck_result(smooth_abs, {probe});
  fmt::print("gradcheck:     {}\n", first.ok ? "passed" : first.message);
  fmt::print("gradgradcheck: {}\n", second.ok ? "passed" : second.message);
  if (!first.ok || !second.ok) return 1;

  // 2. Fit y = a x + b to points on y = 2x + 1, four of which are wild
  //    outliers. A squared loss would be dragged towards them; the mean
  //    smooth-abs error, like an absolute error, is barely moved.
  const Tensor x = tg::linspace(-1, 1, 20);
  Tensor y = 2 * x + 1;
  {
    tg::NoGradGuard no_grad;  // data, not part of any graph
    for (const std::int64_t i : {3, 8, 12, 17}) y[i].add_(8);
  }

  Tensor a = tg::zeros({}, {.requires_grad = true});
  Tensor b = tg::zeros({}, {.requires_grad = true});
  tg::optim::Adam optimizer({a, b}, {.lr = 0.02});
  for (int step = 0; step <= 600; ++step) {
    Tensor loss = SmoothAbs::apply(a * x + b - y, 0.05).mean();
    optimizer.zero_grad();
    loss.backward();
    optimizer.step();
    if (step % 200 == 0) fmt::print("step {:>3}: loss {:.4f}\n", step, loss.item<double>());
  }
  const double slope = a.item<double>(), intercept = b.item<double>();
  fmt::print("fitted y = {:.3f} x + {:.3f}   (truth: y = 2 x + 1)\n", slope, intercept);
  if (std::abs(slope - 2) > 0.05 || std::abs(intercept - 1) > 0.05) {
    fmt::print("the robust fit missed the line\n");
    return 1;
  }
  fmt::print("robust fit found the line\n");
  return 0;
}
