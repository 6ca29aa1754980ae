// Optimizers: each option set run 25 steps on a small problem against a
// plain reference written here from PyTorch's documented update rule, the
// first two steps also by hand; option validation; parameter groups; state
// dicts that continue identically; the odd parameter (no gradient, strided).
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <functional>
#include <limits>
#include <memory>
#include <random>
#include <string>

#include <doctest/doctest.h>
#if defined(__SSE__)
#include <immintrin.h>
#endif

#include <tapegrad/autograd/ops.h>
#include <tapegrad/core/float_mode.h>
#include <tapegrad/core/kernels/vector_math.h>
#include <tapegrad/io/safetensors.h>
#include <tapegrad/optim/optim.h>
#include "io/io_test_files.h"

namespace test_optimizers {

using tg::Tensor;
using Vec = std::vector<double>;

namespace {

constexpr tg::TensorOptions kF64Grad{.dtype = tg::kFloat64, .requires_grad = true};

// A fixed quadratic 0.5 sum a_i (p_i - c_i)^2 plus a wobble that changes
// sign from step to step, so momentum and moment estimates see varied input.
Vec gradient_at(const Vec& p, int step) {
  static const Vec a{1.0, 3.0, 0.5, 2.0, 0.1};
  static const Vec c{0.5, -1.0, 2.0, 0.0, 4.0};
  Vec g(p.size());
  for (std::size_t i = 0; i < p.size(); ++i)
    g[i] = a[i] * (p[i] - c[i]) + 0.3 * std::sin(1.7 * step + static_cast<double>(i));
  return g;
}

const Vec kStart{1.0, -2.0, 0.25, 3.0, -1.5};

// One update of the reference: p and the reference's own state change.
using Reference = std::function<void(Vec& p, const Vec& g, int t)>;

// Runs `opt` on `param` and `reference` on a copy for `steps` steps (grads
// from gradient_at on each one's own parameters) and compares after each.
void compare_with_reference(tg::optim::Optimizer& opt, const Tensor& param, Reference reference, int steps = 25,
                            double tolerance = 1e-12) {
  Vec ref = param.to_vector<double>();
  for (int t = 1; t <= steps; ++t) {
    param.set_grad(tg::tensor(gradient_at(param.to_vector<double>(), t), {}, param.dtype()));
    opt.step();
    reference(ref, gradient_at(ref, t), t);
    const Vec got = param.to_vector<double>();
    for (std::size_t i = 0; i < got.size(); ++i) {
      INFO("step " << t << ", element " << i);
      REQUIRE(got[i] == doctest::Approx(ref[i]).epsilon(tolerance).scale(1));
    }
  }
}

Reference sgd_reference(tg::optim::SGDOptions o) {
  auto buf = std::make_shared<Vec>();
  return [o, buf](Vec& p, const Vec& grad, int) {
    const bool first = buf->empty();
    if (first) buf->resize(p.size());
    for (std::size_t i = 0; i < p.size(); ++i) {
      double g = o.maximize ? -grad[i] : grad[i];
      g += o.weight_decay * p[i];
      if (o.momentum != 0) {
        (*buf)[i] = first ? g : o.momentum * (*buf)[i] + (1 - o.dampening) * g;
        g = o.nesterov ? g + o.momentum * (*buf)[i] : (*buf)[i];
      }
      p[i] -= o.lr * g;
    }
  };
}

template <class Options>
Reference adam_reference(Options o, bool decoupled) {
  auto m = std::make_shared<Vec>(), v = std::make_shared<Vec>(), v_max = std::make_shared<Vec>();
  return [=](Vec& p, const Vec& grad, int t) {
    if (m->empty()) m->assign(p.size(), 0), v->assign(p.size(), 0), v_max->assign(p.size(), 0);
    const double b1 = o.betas[0], b2 = o.betas[1];
    for (std::size_t i = 0; i < p.size(); ++i) {
      double g = o.maximize ? -grad[i] : grad[i];
      if (decoupled) p[i] -= o.lr * o.weight_decay * p[i];
      else g += o.weight_decay * p[i];
      (*m)[i] = b1 * (*m)[i] + (1 - b1) * g;
      (*v)[i] = b2 * (*v)[i] + (1 - b2) * g * g;
      const double m_hat = (*m)[i] / (1 - std::pow(b1, t));
      (*v_max)[i] = std::max((*v_max)[i], (*v)[i]);
      const double v_hat = (o.amsgrad ? (*v_max)[i] : (*v)[i]) / (1 - std::pow(b2, t));
      p[i] -= o.lr * m_hat / (std::sqrt(v_hat) + o.eps);
    }
  };
}

Reference rmsprop_reference(tg::optim::RMSpropOptions o) {
  auto v = std::make_shared<Vec>(), a = std::make_shared<Vec>(), b = std::make_shared<Vec>();
  return [=](Vec& p, const Vec& grad, int) {
    if (v->empty()) v->assign(p.size(), 0), a->assign(p.size(), 0), b->assign(p.size(), 0);
    for (std::size_t i = 0; i < p.size(); ++i) {
      double g = o.maximize ? -grad[i] : grad[i];
      g += o.weight_decay * p[i];
      (*v)[i] = o.alpha * (*v)[i] + (1 - o.alpha) * g * g;
      double v_tilde = (*v)[i];
      if (o.centered) {
        (*a)[i] = o.alpha * (*a)[i] + (1 - o.alpha) * g;
        v_tilde -= (*a)[i] * (*a)[i];
      }
      if (o.momentum > 0) {
        (*b)[i] = o.momentum * (*b)[i] + g / (std::sqrt(v_tilde) + o.eps);
        p[i] -= o.lr * (*b)[i];
      } else {
        p[i] -= o.lr * g / (std::sqrt(v_tilde) + o.eps);
      }
    }
  };
}

Reference adagrad_reference(tg::optim::AdagradOptions o) {
  auto sum = std::make_shared<Vec>();
  return [=](Vec& p, const Vec& grad, int t) {
    if (sum->empty()) sum->assign(p.size(), o.initial_accumulator_value);
    const double lr = o.lr / (1 + (t - 1) * o.lr_decay);
    for (std::size_t i = 0; i < p.size(); ++i) {
      double g = o.maximize ? -grad[i] : grad[i];
      g += o.weight_decay * p[i];
      (*sum)[i] += g * g;
      p[i] -= lr * g / (std::sqrt((*sum)[i]) + o.eps);
    }
  };
}

Tensor start_param(tg::DType dtype = tg::kFloat64) { return tg::tensor(kStart, {}, dtype).set_requires_grad(true); }

// Two steps from p = 1 with gradients 1 then 2; returns p after each.
template <class Opt, class Options>
Vec two_steps(Options options) {
  Tensor p = tg::ones({1}, kF64Grad);
  Opt opt({p}, options);
  Vec out;
  for (double g : {1.0, 2.0}) {
    p.set_grad(tg::full({1}, g, {.dtype = tg::kFloat64}));
    opt.step();
    out.push_back(p.item<double>());
  }
  return out;
}

void check_two(const Vec& got, double first, double second) {
  REQUIRE(got.size() == 2);
  CHECK(got[0] == doctest::Approx(first).epsilon(1e-14));
  CHECK(got[1] == doctest::Approx(second).epsilon(1e-14));
}

}  // namespace

// ---- SGD ----------------------------------------------------------------------------------

TEST_CASE("SGD: every option set against the reference, 25 steps") {
  const std::vector<tg::optim::SGDOptions> cases{
      {.lr = 0.1},
      {.lr = 0.1, .momentum = 0.9},
      {.lr = 0.05, .momentum = 0.9, .dampening = 0.3},
      {.lr = 0.05, .momentum = 0.8, .nesterov = true},
      {.lr = 0.1, .momentum = 0.5, .weight_decay = 0.01},
      {.lr = 0.1, .momentum = 0.9, .weight_decay = 0.1, .nesterov = true, .maximize = true},
      {.lr = 0.01, .maximize = true},
  };
  for (std::size_t k = 0; k < cases.size(); ++k) {
    CAPTURE(k);
    Tensor p = start_param();
    tg::optim::SGD opt({p}, cases[k]);
    compare_with_reference(opt, p, sgd_reference(cases[k]));
  }
}

TEST_CASE("SGD: the first two steps by hand") {
  // lr 0.1: p = 1 - 0.1 * 1, then 0.9 - 0.1 * 2
  check_two(two_steps<tg::optim::SGD>(tg::optim::SGDOptions{.lr = 0.1}), 0.9, 0.7);
  // momentum 0.9: b = 1, p = 0.9; b = 0.9 * 1 + 2 = 2.9, p = 0.9 - 0.29
  check_two(two_steps<tg::optim::SGD>(tg::optim::SGDOptions{.lr = 0.1, .momentum = 0.9}), 0.9, 0.61);
  // dampening 0.5: the first buffer is the raw gradient; b = 0.9 + 0.5 * 2 = 1.9
  check_two(two_steps<tg::optim::SGD>(tg::optim::SGDOptions{.lr = 0.1, .momentum = 0.9, .dampening = 0.5}), 0.9, 0.71);
  // nesterov: g = 1 + 0.9 * 1 = 1.9, p = 0.81; b = 2.9, g = 2 + 0.9 * 2.9 = 4.61, p = 0.81 - 0.461
  check_two(two_steps<tg::optim::SGD>(tg::optim::SGDOptions{.lr = 0.1, .momentum = 0.9, .nesterov = true}), 0.81,
            0.349);
  // weight decay 0.1: g = 1 + 0.1, p = 0.89; g = 2 + 0.089, p = 0.89 - 0.2089
  check_two(two_steps<tg::optim::SGD>(tg::optim::SGDOptions{.lr = 0.1, .weight_decay = 0.1}), 0.89, 0.6811);
  // maximize: uphill
  check_two(two_steps<tg::optim::SGD>(tg::optim::SGDOptions{.lr = 0.1, .maximize = true}), 1.1, 1.3);
}

// ---- Adam and AdamW --------------------------------------------------------------------------

TEST_CASE("Adam and AdamW: every option set against the reference, 25 steps") {
  const std::vector<tg::optim::AdamOptions> adam_cases{
      {.lr = 0.1},
      {.lr = 0.05, .betas = {0.8, 0.99}, .eps = 1e-6},
      {.lr = 0.1, .weight_decay = 0.05},
      {.lr = 0.1, .betas = {0.9, 0.6}, .amsgrad = true},
      {.lr = 0.1, .weight_decay = 0.01, .amsgrad = true, .maximize = true},
  };
  for (std::size_t k = 0; k < adam_cases.size(); ++k) {
    CAPTURE(k);
    Tensor p = start_param();
    tg::optim::Adam opt({p}, adam_cases[k]);
    compare_with_reference(opt, p, adam_reference(adam_cases[k], /*decoupled=*/false));
  }
  const std::vector<tg::optim::AdamWOptions> adamw_cases{
      {.lr = 0.1},
      {.lr = 0.1, .weight_decay = 0.3},
      {.lr = 0.1, .betas = {0.9, 0.6}, .weight_decay = 0.1, .amsgrad = true, .maximize = true},
  };
  for (std::size_t k = 0; k < adamw_cases.size(); ++k) {
    CAPTURE(k);
    Tensor p = start_param();
    tg::optim::AdamW opt({p}, adamw_cases[k]);
    compare_with_reference(opt, p, adam_reference(adamw_cases[k], /*decoupled=*/true));
  }
}

TEST_CASE("Adam: float32 parameters follow the float64 reference closely") {
  const tg::optim::AdamOptions o{.lr = 0.05, .weight_decay = 0.01};
  Tensor p = start_param(tg::kFloat32);
  tg::optim::Adam opt({p}, o);
  compare_with_reference(opt, p, adam_reference(o, false), 25, 1e-4);
}

TEST_CASE("Adam and AdamW: the first two steps by hand") {
  // Step 1: m = 0.1, v = 0.001, m^ = 1, v^ = 1: p = 1 - 0.1 / (1 + 1e-8).
  // Step 2: m = 0.29, v = 0.004999, m^ = 0.29 / 0.19, v^ = 0.004999 / 0.001999.
  const double step1 = 1 - 0.1 / (1 + 1e-8);
  const double step2 = step1 - 0.1 * (0.29 / 0.19) / (std::sqrt(0.004999 / 0.001999) + 1e-8);
  check_two(two_steps<tg::optim::Adam>(tg::optim::AdamOptions{.lr = 0.1}), step1, step2);
  CHECK(step2 == doctest::Approx(0.8034817990281661).epsilon(1e-14));
  // AdamW, weight decay 0.1: the weight shrinks by 1 - 0.1 * 0.1 before each update.
  const double w1 = 0.99 - 0.1 / (1 + 1e-8);
  const double w2 = w1 * 0.99 - 0.1 * (0.29 / 0.19) / (std::sqrt(0.004999 / 0.001999) + 1e-8);
  check_two(two_steps<tg::optim::AdamW>(tg::optim::AdamWOptions{.lr = 0.1, .weight_decay = 0.1}), w1, w2);
  // Adam's weight decay enters the gradient: g = 1 + 0.1 * 1 = 1.1; m^ = g, v^ = g^2.
  const Vec coupled = two_steps<tg::optim::Adam>(tg::optim::AdamOptions{.lr = 0.1, .weight_decay = 0.1});
  CHECK(coupled[0] == doctest::Approx(1 - 0.1 * 1.1 / (1.1 + 1e-8)).epsilon(1e-14));

  // amsgrad with beta2 0.5 and gradients 2 then 0.1: v = 2, then 1.005, while
  // v_max stays 2.
  Tensor p = tg::ones({1}, kF64Grad);
  tg::optim::Adam ams({p}, {.lr = 0.1, .betas = {0.9, 0.5}, .amsgrad = true});
  p.set_grad(tg::full({1}, 2.0, {.dtype = tg::kFloat64}));
  ams.step();
  const double a1 = 1 - 0.1 * (0.2 / 0.1) / (std::sqrt(2 / 0.5) + 1e-8);
  CHECK(p.item<double>() == doctest::Approx(a1).epsilon(1e-14));
  p.set_grad(tg::full({1}, 0.1, {.dtype = tg::kFloat64}));
  ams.step();
  const double m2 = 0.9 * 0.2 + 0.1 * 0.1;
  CHECK(p.item<double>() == doctest::Approx(a1 - 0.1 * (m2 / 0.19) / (std::sqrt(2 / 0.75) + 1e-8)).epsilon(1e-14));
  CHECK(ams.state(0, 0).max_exp_avg_sq.item<double>() == 2);
  CHECK(ams.state(0, 0).exp_avg_sq.item<double>() == doctest::Approx(1.005).epsilon(1e-14));
  CHECK(ams.state(0, 0).step == 2);
}

// ---- RMSprop and Adagrad ----------------------------------------------------------------------

TEST_CASE("RMSprop: every option set against the reference, 25 steps") {
  const std::vector<tg::optim::RMSpropOptions> cases{
      {.lr = 0.01},
      {.lr = 0.01, .alpha = 0.9, .eps = 1e-6, .weight_decay = 0.1},
      {.lr = 0.01, .momentum = 0.9},
      {.lr = 0.01, .centered = true},
      {.lr = 0.005, .alpha = 0.95, .momentum = 0.5, .centered = true, .maximize = true},
  };
  for (std::size_t k = 0; k < cases.size(); ++k) {
    CAPTURE(k);
    Tensor p = start_param();
    tg::optim::RMSprop opt({p}, cases[k]);
    compare_with_reference(opt, p, rmsprop_reference(cases[k]));
  }
}

TEST_CASE("RMSprop: the first two steps by hand") {
  // v = 0.01, p = 1 - 0.01 / (0.1 + 1e-8); v = 0.0099 + 0.04 = 0.0499
  const double p1 = 1 - 0.01 / (0.1 + 1e-8);
  check_two(two_steps<tg::optim::RMSprop>(tg::optim::RMSpropOptions{.lr = 0.01}), p1,
            p1 - 0.01 * 2 / (std::sqrt(0.0499) + 1e-8));
  // centered with momentum 0.9: a = 0.01, d = sqrt(0.01 - 0.0001) + eps, b = 1 / d
  const double d1 = std::sqrt(0.0099) + 1e-8;
  const double c1 = 1 - 0.01 / d1;
  const double a2 = 0.99 * 0.01 + 0.01 * 2;  // 0.0299
  const double d2 = std::sqrt(0.0499 - a2 * a2) + 1e-8;
  const double c2 = c1 - 0.01 * (0.9 / d1 + 2 / d2);
  check_two(two_steps<tg::optim::RMSprop>(tg::optim::RMSpropOptions{.lr = 0.01, .momentum = 0.9, .centered = true}), c1,
            c2);
}

TEST_CASE("Adagrad: every option set against the reference, 25 steps, and two steps by hand") {
  const std::vector<tg::optim::AdagradOptions> cases{
      {.lr = 0.1},
      {.lr = 0.1, .lr_decay = 0.05},
      {.lr = 0.1, .weight_decay = 0.1, .initial_accumulator_value = 0.5},
      {.lr = 0.05, .lr_decay = 0.01, .eps = 1e-6, .maximize = true},
  };
  for (std::size_t k = 0; k < cases.size(); ++k) {
    CAPTURE(k);
    Tensor p = start_param();
    tg::optim::Adagrad opt({p}, cases[k]);
    compare_with_reference(opt, p, adagrad_reference(cases[k]));
  }
  // lr_decay 0.5: step 1 lr 0.1, sum 1; step 2 lr 0.1 / 1.5, sum 5
  const double p1 = 1 - 0.1 * 1 / (1 + 1e-10);
  check_two(two_steps<tg::optim::Adagrad>(tg::optim::AdagradOptions{.lr = 0.1, .lr_decay = 0.5}), p1,
            p1 - 0.1 / 1.5 * 2 / (std::sqrt(5.0) + 1e-10));
}

// ---- validation --------------------------------------------------------------------------------

TEST_CASE("optimizers: options are checked when the optimizer is made") {
  Tensor p = tg::zeros({2}, kF64Grad);
  using namespace tg::optim;
  CHECK_THROWS_WITH_AS(Adam({p}, {.lr = -1}), "Adam: invalid learning rate -1 (must be >= 0)", tg::ValueError);
  CHECK_THROWS_WITH_AS(Adam({p}, {.betas = {0.9, 1.0}}),
                       "Adam: invalid beta parameter at index 1: 1 (must be in [0, 1))", tg::ValueError);
  CHECK_THROWS_WITH_AS(AdamW({p}, {.betas = {-0.1, 0.9}}), doctest::Contains("index 0: -0.1"), tg::ValueError);
  CHECK_THROWS_WITH_AS(Adam({p}, {.eps = -1e-8}), doctest::Contains("epsilon -1e-08"), tg::ValueError);
  CHECK_THROWS_WITH_AS(AdamW({p}, {.weight_decay = -0.5}), doctest::Contains("weight_decay -0.5"), tg::ValueError);
  CHECK_THROWS_WITH_AS(SGD({p}, {.lr = -0.1}), doctest::Contains("learning rate -0.1"), tg::ValueError);
  CHECK_THROWS_WITH_AS(SGD({p}, {.momentum = -0.9}), doctest::Contains("momentum -0.9"), tg::ValueError);
  CHECK_THROWS_WITH_AS(SGD({p}, {.lr = 0.1, .nesterov = true}),
                       "SGD: Nesterov momentum needs momentum > 0 and dampening 0, got momentum 0 and dampening 0",
                       tg::ValueError);
  CHECK_THROWS_WITH_AS(SGD({p}, {.momentum = 0.9, .dampening = 0.1, .nesterov = true}),
                       doctest::Contains("dampening 0.1"), tg::ValueError);
  CHECK_THROWS_WITH_AS(RMSprop({p}, {.alpha = -0.5}), doctest::Contains("alpha -0.5"), tg::ValueError);
  CHECK_THROWS_WITH_AS(RMSprop({p}, {.momentum = -1}), doctest::Contains("momentum -1"), tg::ValueError);
  CHECK_THROWS_WITH_AS(Adagrad({p}, {.lr_decay = -0.1}), doctest::Contains("lr_decay -0.1"), tg::ValueError);
  CHECK_THROWS_WITH_AS(Adagrad({p}, {.initial_accumulator_value = -1}),
                       doctest::Contains("initial_accumulator_value -1"), tg::ValueError);
  CHECK_THROWS_WITH_AS(Adam({p}, {.lr = std::nan("")}), doctest::Contains("learning rate nan"), tg::ValueError);
  // Parameters.
  CHECK_THROWS_WITH_AS(SGD(std::vector<Tensor>{}), "SGD: got an empty parameter list", tg::ValueError);
  CHECK_THROWS_WITH_AS(SGD({p, p}), doctest::Contains("appears more than once"), tg::ValueError);
  CHECK_THROWS_WITH_AS(SGD({tg::mul(p, 2.0)}), doctest::Contains("not a leaf"), tg::ValueError);
  CHECK_THROWS_AS(SGD({tg::zeros({2}, {.dtype = tg::kInt64})}), tg::DTypeError);
  // A group's lr set later is checked too.
  SGD ok({p}, {.lr = 0.1});
  CHECK_THROWS_WITH_AS(ok.set_lr(0, -2), doctest::Contains("learning rate -2"), tg::ValueError);
  CHECK_THROWS_AS(ok.set_lr(1, 0.1), tg::IndexError);
}

// ---- groups, gradients, odd parameters ----------------------------------------------------------

TEST_CASE("optimizers: parameter groups keep their own options") {
  Tensor a = tg::ones({2}, kF64Grad);
  Tensor b = tg::ones({3}, kF64Grad);
  std::vector<tg::optim::ParamGroup<tg::optim::SGDOptions>> groups{{{a}, {.lr = 0.1}},
                                                                   {{b}, {.lr = 0.01, .momentum = 0.9}}};
  tg::optim::SGD opt(groups);
  CHECK(opt.num_param_groups() == 2);
  CHECK(opt.lr(0) == 0.1);
  CHECK(opt.lr(1) == 0.01);
  CHECK(opt.parameters().size() == 2);
  a.set_grad(tg::ones({2}, {.dtype = tg::kFloat64}));
  b.set_grad(tg::ones({3}, {.dtype = tg::kFloat64}));
  opt.step();
  CHECK(a.to_vector<double>() == Vec{0.9, 0.9});
  CHECK(b.to_vector<double>() == Vec{0.99, 0.99, 0.99});
  opt.set_lr(1, 0.5);
  opt.step();  // b: momentum 0.9 * 1 + 1 = 1.9
  CHECK(a.to_vector<double>()[0] == doctest::Approx(0.8).epsilon(1e-15));
  CHECK(b.to_vector<double>()[0] == doctest::Approx(0.99 - 0.5 * 1.9).epsilon(1e-15));
  CHECK(opt.options(1).momentum == 0.9);
  CHECK_FALSE(opt.state(0, 0).momentum_buffer.defined());
}

TEST_CASE("Adam and AdamW: parameters at different steps and groups with other betas step as each alone") {
  // One step() computes each bias correction once for the parameters that
  // share the betas and the step count (parameters 0 and 3 here); one that
  // missed steps (1, 2), or a group with other betas (4: both; 5: beta2
  // only), must still get its own.
  using Options = tg::optim::AdamWOptions;
  const Options a{.lr = 0.01, .betas = {0.9, 0.999}, .weight_decay = 0};
  const Options b{.lr = 0.01, .betas = {0.8, 0.99}, .weight_decay = 0};
  const Options c{.lr = 0.01, .betas = {0.9, 0.99}, .weight_decay = 0};
  const std::vector<int> every{1, 2, 3, 1, 1, 1};  // parameter k gets a gradient every every[k] steps
  const std::vector<Options> group_of{a, a, a, a, b, c};
  for (const bool decoupled : {false, true}) {
    CAPTURE(decoupled);
    // Seven steps of the parameters `ids` in `groups`; parameter k's gradient is its own.
    const auto run = [&](const std::vector<tg::optim::ParamGroup<Options>>& groups, const std::vector<Tensor>& params,
                         const std::vector<std::size_t>& ids) {
      std::vector<tg::optim::ParamGroup<tg::optim::AdamOptions>> adam_groups;
      for (const auto& g : groups)
        adam_groups.push_back({g.params, {.lr = g.options.lr, .betas = g.options.betas, .eps = g.options.eps}});
      std::unique_ptr<tg::optim::Optimizer> opt;
      if (decoupled) opt = std::make_unique<tg::optim::AdamW>(groups);
      else opt = std::make_unique<tg::optim::Adam>(adam_groups);
      for (int step = 1; step <= 7; ++step) {
        for (std::size_t i = 0; i < params.size(); ++i) {
          Tensor p = params[i];
          const std::size_t k = ids[i];
          if (step % every[k] == 0) p.set_grad(tg::full(p.shape(), 0.25 * step - 0.1 * static_cast<double>(k)));
          else p.mutable_grad() = Tensor();  // no gradient: the parameter skips this step
        }
        opt->step();
      }
    };
    std::vector<Tensor> together, alone;
    for (int k = 0; k < 6; ++k) {
      together.push_back(tg::ones({5}).set_requires_grad(true));
      alone.push_back(tg::ones({5}).set_requires_grad(true));
    }
    run({{{together[0], together[1], together[2], together[3]}, a}, {{together[4]}, b}, {{together[5]}, c}}, together,
        {0, 1, 2, 3, 4, 5});
    for (std::size_t k = 0; k < 6; ++k) {
      CAPTURE(k);
      run({{{alone[k]}, group_of[k]}}, {alone[k]}, {k});
      CHECK(tg::equal(together[k], alone[k]));
    }
    // The parameters did move, each by its own schedule.
    CHECK_FALSE(tg::equal(together[0], together[1]));
    CHECK_FALSE(tg::equal(together[4], together[5]));
  }
}

TEST_CASE("optimizers: zero_grad, parameters without a gradient, strided parameters") {
  Tensor a = tg::ones({2}, kF64Grad);
  Tensor b = tg::ones({2}, kF64Grad);
  tg::optim::Adam opt({a, b}, {.lr = 0.1});
  a.set_grad(tg::ones({2}, {.dtype = tg::kFloat64}));
  const auto version = a.version();
  opt.step();
  CHECK(b.to_vector<double>() == Vec{1, 1});  // no gradient: untouched, no state
  CHECK(opt.state(0, 1).step == 0);
  CHECK(opt.state(0, 0).step == 1);
  CHECK(a.version() != version);  // an in-place update
  opt.zero_grad(/*set_to_none=*/false);
  CHECK(a.grad().defined());
  CHECK(a.grad().to_vector<double>() == Vec{0, 0});
  opt.zero_grad();
  CHECK_FALSE(a.grad().defined());

  // A transposed (non-contiguous) leaf is updated through a copy written back.
  Tensor base = tg::tensor({1, 2, 3, 4, 5, 6}, {2, 3}, {.dtype = tg::kFloat64});
  Tensor t = base.t().set_requires_grad(true);  // [3, 2] view
  tg::optim::SGD sgd({t}, {.lr = 0.5});
  t.set_grad(tg::ones({3, 2}, {.dtype = tg::kFloat64}));
  sgd.step();
  CHECK(base.to_vector<double>() == Vec{0.5, 1.5, 2.5, 3.5, 4.5, 5.5});

  // A gradient of the wrong dtype is an error naming both.
  Tensor f = tg::ones({2}, kF64Grad);
  tg::optim::SGD bad({f}, {.lr = 0.1});
  f.mutable_grad() = tg::ones({2});
  CHECK_THROWS_WITH_AS(bad.step(), doctest::Contains("float32 [2]"), tg::DTypeError);
}

TEST_CASE("optimizers: a state dict, saved and loaded, continues identically") {
  tg::test::TempDir dir;
  Tensor p = start_param();
  Tensor q = tg::tensor({0.5, -0.5}, {2}, {.dtype = tg::kFloat64}).set_requires_grad(true);
  std::vector<tg::optim::ParamGroup<tg::optim::AdamOptions>> groups{{{p}, {.lr = 0.05, .amsgrad = true}},
                                                                    {{q}, {.lr = 0.01, .weight_decay = 0.1}}};
  tg::optim::Adam opt(groups);
  auto run = [](tg::optim::Optimizer& o, const Tensor& a, const Tensor& b, int from, int to) {
    for (int t = from; t < to; ++t) {
      a.set_grad(tg::tensor(gradient_at(a.to_vector<double>(), t), {}, tg::kFloat64));
      b.set_grad(tg::mul(b.detach(), 3.0));
      o.step();
    }
  };
  run(opt, p, q, 1, 6);
  const auto state = opt.state_dict();
  CHECK(state.metadata.at("optimizer") == "Adam");
  CHECK(state.tensors.contains("state.0.exp_avg"));
  CHECK(state.tensors.contains("state.0.max_exp_avg_sq"));
  CHECK(state.tensors.contains("state.1.exp_avg_sq"));
  CHECK(state.tensors.at("state.1.step").item<std::int64_t>() == 5);
  const std::string path = dir.file("adam.safetensors");
  tg::save(path, state.tensors, state.metadata);

  // A fresh optimizer on copies of the parameters, loaded from the file.
  Tensor p2 = p.detach().clone().set_requires_grad(true);
  Tensor q2 = q.detach().clone().set_requires_grad(true);
  std::vector<tg::optim::ParamGroup<tg::optim::AdamOptions>> fresh{{{p2}, {}}, {{q2}, {}}};
  tg::optim::Adam opt2(fresh);
  const auto loaded = tg::load_file(path);
  opt2.load_state_dict({loaded.tensors, loaded.metadata});
  CHECK(opt2.lr(0) == 0.05);
  CHECK(opt2.options(0).amsgrad);
  CHECK(opt2.options(1).weight_decay == 0.1);
  run(opt, p, q, 6, 12);
  run(opt2, p2, q2, 6, 12);
  CHECK(tg::equal(p, p2));
  CHECK(tg::equal(q, q2));
}

TEST_CASE("optimizers: load_state_dict refuses a state that does not fit, and changes nothing") {
  Tensor p = start_param();
  tg::optim::Adam opt({p}, {.lr = 0.05});
  p.set_grad(tg::ones({5}, {.dtype = tg::kFloat64}));
  opt.step();
  const auto good = opt.state_dict();

  Tensor other = tg::zeros({4}, kF64Grad);
  tg::optim::Adam wrong_shape({other}, {.lr = 0.2});
  CHECK_THROWS_WITH_AS(wrong_shape.load_state_dict(good),
                       doctest::Contains("\"state.0.exp_avg\" is float64 [5], but its parameter is float64 [4]"),
                       tg::ShapeError);
  CHECK(wrong_shape.lr(0) == 0.2);  // the options were not touched
  CHECK(wrong_shape.state(0, 0).step == 0);

  tg::optim::SGD sgd({tg::zeros({5}, kF64Grad)});
  CHECK_THROWS_WITH_AS(sgd.load_state_dict(good), "SGD::load_state_dict: the state is for Adam", tg::ValueError);

  Tensor a = tg::zeros({5}, kF64Grad), b = tg::zeros({1}, kF64Grad);
  tg::optim::Adam two({a, b});
  CHECK_THROWS_WITH_AS(two.load_state_dict(good), doctest::Contains("group 0 of the state has 1 parameters"),
                       tg::ValueError);

  auto bad_option = good;
  bad_option.metadata["param_groups"] = R"([{"options": {"lr": -1, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8,
    "weight_decay": 0, "amsgrad": false, "maximize": false}, "num_params": 1}])";
  tg::optim::Adam fresh({tg::zeros({5}, kF64Grad)}, {.lr = 0.3});
  CHECK_THROWS_WITH_AS(fresh.load_state_dict(bad_option), doctest::Contains("learning rate -1"), tg::ValueError);
  auto bad_json = good;
  bad_json.metadata["param_groups"] = "[{";
  CHECK_THROWS_AS(fresh.load_state_dict(bad_json), tg::FormatError);
  auto stray = good;
  stray.tensors["state.0.velocity"] = tg::zeros({5}, {.dtype = tg::kFloat64});
  CHECK_THROWS_WITH_AS(fresh.load_state_dict(stray), doctest::Contains("unknown state \"state.0.velocity\""),
                       tg::FormatError);
  auto out_of_range = good;
  out_of_range.tensors["state.3.exp_avg"] = tg::zeros({5}, {.dtype = tg::kFloat64});
  CHECK_THROWS_AS(fresh.load_state_dict(out_of_range), tg::ValueError);
  CHECK(fresh.lr(0) == 0.3);
  CHECK(fresh.state(0, 0).step == 0);
}

TEST_CASE("Adam: a float32 weight of model size is stepped in place, its state shaped like it") {
  Tensor w = tg::randn({784, 32}, {.requires_grad = true});
  tg::optim::Adam opt({w});
  w.set_grad(tg::randn({784, 32}));
  const void* data = w.raw_data();
  for (int i = 0; i < 3; ++i) opt.step();
  CHECK(w.raw_data() == data);
  CHECK(opt.state(0, 0).step == 3);
  CHECK(opt.state(0, 0).exp_avg.dtype() == tg::kFloat32);
  CHECK(opt.state(0, 0).exp_avg.shape() == w.shape());
}

namespace {

// Adam's update written out in the library's order of operations, in T,
// compiled for the baseline CPU: the library's vector loops (AVX2 where the
// CPU has it) must give these bits.
template <class T>
void adam_by_hand(std::vector<T>& p, const std::vector<T>& g, std::vector<T>& m, std::vector<T>& v,
                  std::vector<T>& v_max, const tg::optim::AdamWOptions& o, bool decoupled, int t) {
  const double bc1 = 1 - std::pow(o.betas[0], t), bc2 = 1 - std::pow(o.betas[1], t);
  const T b1 = static_cast<T>(o.betas[0]), b2 = static_cast<T>(o.betas[1]);
  const T one_minus_b1 = static_cast<T>(1 - o.betas[0]), one_minus_b2 = static_cast<T>(1 - o.betas[1]);
  const T wd = static_cast<T>(o.weight_decay), eps = static_cast<T>(o.eps);
  const T decay = static_cast<T>(1 - o.lr * o.weight_decay), step_size = static_cast<T>(o.lr / bc1);
  const T bc2_sqrt = static_cast<T>(std::sqrt(bc2)), sign = o.maximize ? T(-1) : T(1);
  for (std::size_t i = 0; i < p.size(); ++i) {
    T gi = sign * g[i];
    if (!decoupled && o.weight_decay != 0) gi += wd * p[i];
    if (decoupled && o.weight_decay != 0) p[i] *= decay;
    m[i] = b1 * m[i] + one_minus_b1 * gi;
    v[i] = b2 * v[i] + one_minus_b2 * gi * gi;
    T second = v[i];
    if (o.amsgrad) second = v_max[i] = std::max(v_max[i], v[i]);
    p[i] -= step_size * m[i] / (std::sqrt(second) / bc2_sqrt + eps);
  }
}

template <class T>
void check_adam_bits(const tg::optim::AdamWOptions& o, bool decoupled) {
  const std::int64_t n = 1037;  // vector bodies and a remainder
  tg::manual_seed(5);
  Tensor p = tg::randn({n}, {.dtype = tg::dtype_of<T>(), .requires_grad = true});
  std::vector<T> ref = p.to_vector<T>(), m(ref.size()), v(ref.size()), v_max(ref.size());
  std::unique_ptr<tg::optim::Optimizer> opt;
  if (decoupled) opt = std::make_unique<tg::optim::AdamW>(std::vector{p}, o);
  else
    opt = std::make_unique<tg::optim::Adam>(std::vector{p}, tg::optim::AdamOptions{.lr = o.lr,
                                                                                   .betas = o.betas,
                                                                                   .eps = o.eps,
                                                                                   .weight_decay = o.weight_decay,
                                                                                   .amsgrad = o.amsgrad,
                                                                                   .maximize = o.maximize});
  for (int t = 1; t <= 5; ++t) {
    const Tensor g = tg::randn({n}, {.dtype = tg::dtype_of<T>()});
    p.set_grad(g);
    opt->step();
    adam_by_hand<T>(ref, g.to_vector<T>(), m, v, v_max, o, decoupled, t);
  }
  const std::vector<T> got = p.to_vector<T>();
  CHECK(std::memcmp(got.data(), ref.data(), got.size() * sizeof(T)) == 0);
}

}  // namespace

TEST_CASE("Adam and AdamW: the same bits as the update written out, on every CPU") {
  const std::vector<std::pair<tg::optim::AdamWOptions, bool>> cases{
      {{.lr = 1e-2, .weight_decay = 0}, false},
      {{.lr = 1e-2, .betas = {0.8, 0.99}, .weight_decay = 0.1, .amsgrad = true}, false},
      {{.lr = 1e-2, .weight_decay = 0.1, .maximize = true}, true},
      {{.lr = 3e-3, .weight_decay = 0.01, .amsgrad = true}, true},
  };
  // Each instruction set this CPU has (the AVX2 loop and the baseline one).
  namespace vec = tg::kernel::vec;
  const vec::Isa saved = vec::isa();
  for (vec::Isa isa : {vec::Isa::kAvx512, vec::Isa::kAvx2, vec::Isa::kSse2, vec::Isa::kScalar}) {
    if (!vec::force_isa(isa)) continue;
    const std::string isa_name = vec::isa_name(isa);
    CAPTURE(isa_name);
    // The AVX-512 loop with every square root on the divider and with one
    // in three on the FMA units, whichever this CPU would choose.
    for (int fma_roots : {0, 1}) {
      if (fma_roots == 1 && isa != vec::Isa::kAvx512) continue;
      CAPTURE(fma_roots);
      tg::optim::detail::adam_fma_roots = fma_roots;
      for (std::size_t k = 0; k < cases.size(); ++k) {
        CAPTURE(k);
        check_adam_bits<float>(cases[k].first, cases[k].second);
        check_adam_bits<double>(cases[k].first, cases[k].second);
      }
    }
  }
  tg::optim::detail::adam_fma_roots = -1;
  vec::force_isa(saved);
}

namespace {

// Adam's bits against the update written out when the second moments span
// the dtype's range: the AVX2 loop divides sqrt(v) by sqrt(1 - beta2^t)
// through that constant's reciprocal and FMAs (divide_by_constant in
// optim/adam.cpp), which must round as the division does for every sqrt(v)
// and every step's constant. Gradients from 2^-lo to 2^hi with both signs,
// zeros, runs of zero gradients (v decays), and from step 20 on gradients
// whose square overflows (v = inf while m stays finite, so p must stay put),
// an infinity and a NaN; 40 steps. With amsgrad, an L2 weight decay (Adam)
// or a decoupled one (AdamW) where asked.
template <class T>
void check_adam_bits_wide(double beta2, int lo, int hi, T overflowing, bool amsgrad = false, double weight_decay = 0,
                          bool decoupled = false) {
  const std::int64_t n = 1037;
  tg::manual_seed(6);
  const tg::optim::AdamWOptions o{.lr = 1e-2, .betas = {0.9, beta2}, .weight_decay = weight_decay, .amsgrad = amsgrad};
  Tensor p = tg::randn({n}, {.dtype = tg::dtype_of<T>(), .requires_grad = true});
  std::vector<T> ref = p.to_vector<T>(), m(ref.size()), v(ref.size()), v_max(ref.size());
  std::unique_ptr<tg::optim::Optimizer> opt;
  if (decoupled) opt = std::make_unique<tg::optim::AdamW>(std::vector{p}, o);
  else
    opt = std::make_unique<tg::optim::Adam>(
        std::vector{p},
        tg::optim::AdamOptions{.lr = o.lr, .betas = o.betas, .weight_decay = weight_decay, .amsgrad = amsgrad});
  std::mt19937_64 rng(7);
  std::uniform_int_distribution<int> exponent(-lo, hi);
  std::uniform_real_distribution<double> mantissa(1.0, 2.0);
  for (int t = 1; t <= 40; ++t) {
    std::vector<T> g(static_cast<std::size_t>(n));
    for (std::size_t i = 0; i < g.size(); ++i) {
      const bool quiet = (i % 7 == 0 && t % 3 != 0) || i % 11 == 0;
      const double sign = (i + static_cast<std::size_t>(t)) % 2 ? -1.0 : 1.0;
      g[i] = quiet ? T(0) : static_cast<T>(sign * std::ldexp(mantissa(rng), exponent(rng)));
    }
    if (t >= 20) {
      g[3] = overflowing;
      g[4] = -overflowing;
    }
    if (t == 20) {
      g[5] = std::numeric_limits<T>::infinity();
      g[6] = std::numeric_limits<T>::quiet_NaN();
    }
    p.set_grad(tg::tensor(g, {n}, tg::dtype_of<T>()));
    opt->step();
    adam_by_hand<T>(ref, g, m, v, v_max, o, decoupled, t);
  }
  const std::vector<T> got = p.to_vector<T>();
  // v = inf and m finite: the step is m / inf = 0 (with beta2 = 0, the next
  // step's 0 * inf makes v NaN, as in PyTorch).
  if (beta2 > 0) CHECK(std::isfinite(got[3]));
  std::int64_t differ = 0;
  for (std::size_t i = 0; i < got.size(); ++i) differ += std::memcmp(&got[i], &ref[i], sizeof(T)) != 0;
  CHECK(differ == 0);
}

#if defined(__SSE__)
// Puts back the instruction set, the calling thread's MXCSR and the
// library's flushing, however the test ends.
struct IsaAndFloatMode {
  tg::kernel::vec::Isa isa = tg::kernel::vec::isa();
  unsigned csr = _mm_getcsr();
  ~IsaAndFloatMode() {
    tg::kernel::vec::force_isa(isa);
    tg::detail::kernel_flush_denormal = true;
    tg::detail::program_flush_denormal = 0;
    tg::optim::detail::adam_fma_roots = -1;
    _mm_setcsr(csr);
  }
};
#endif

}  // namespace

TEST_CASE("Adam: the same bits as the update written out when v spans the dtype's range") {
#if defined(__SSE__)
  namespace vec = tg::kernel::vec;
  const IsaAndFloatMode restore;
  // Both sides flush subnormals (the library's default, FTZ and DAZ set in
  // this thread for the update written out), then neither does.
  for (bool flush : {true, false}) {
    CAPTURE(flush);
    if (flush) _mm_setcsr(restore.csr | 0x8040u);
    else tg::set_flush_denormal(false);
    for (const auto& [isa, fma_roots] : {std::pair{vec::Isa::kAvx512, 0}, std::pair{vec::Isa::kAvx512, 1},
                                         std::pair{vec::Isa::kAvx2, 0}, std::pair{vec::Isa::kSse2, 0}}) {
      if (!vec::force_isa(isa)) continue;
      const std::string isa_name = vec::isa_name(isa);
      CAPTURE(isa_name);
      const int roots = fma_roots;  // AVX-512: every square root on the divider, or one in three on the FMA units
      CAPTURE(roots);
      tg::optim::detail::adam_fma_roots = roots;
      // beta2 = 0 makes the constant 1; 1 - 2^-53 the smallest (2^-26.5).
      for (double beta2 : {0.0, 0.5, 0.9, 0.999, 0.99999, 1 - 0x1p-52, 1 - 0x1p-53}) {
        CAPTURE(beta2);
        check_adam_bits_wide<float>(beta2, 70, 62, 0x1p70f);
        check_adam_bits_wide<double>(beta2, 540, 510, 0x1p600);
      }
      // amsgrad's max and both decays on the same range. With beta2 = 0 an
      // overflowed square is followed by v = 0 * inf = NaN beside a finite m,
      // where max(v_max, v) must keep v_max (std::max's order), not the NaN.
      struct Flags {
        bool amsgrad;
        double decay;
        bool decoupled;
      };
      for (const Flags f :
           {Flags{true, 0.0, false}, Flags{true, 0.1, false}, Flags{false, 0.01, true}, Flags{true, 0.01, true}}) {
        CAPTURE(f.amsgrad);
        CAPTURE(f.decay);
        CAPTURE(f.decoupled);
        for (double beta2 : {0.0, 0.999}) {
          CAPTURE(beta2);
          check_adam_bits_wide<float>(beta2, 70, 62, 0x1p70f, f.amsgrad, f.decay, f.decoupled);
          check_adam_bits_wide<double>(beta2, 540, 510, 0x1p600, f.amsgrad, f.decay, f.decoupled);
        }
      }
    }
  }
#endif
}

// Wherever the vector functions can run on AVX2, Adam's AVX2 loop must be in
// the build: a condition on a macro private to core/ once compiled it out
// everywhere, and the bits above cannot tell (both loops give the same).
TEST_CASE("Adam and AdamW: the AVX2 loop is built wherever AVX2 is used") {
  namespace vec = tg::kernel::vec;
  const vec::Isa saved = vec::isa();
  if (vec::force_isa(vec::Isa::kAvx2)) CHECK(tg::optim::detail::adam_has_avx2_loop());
  vec::force_isa(saved);
}

// Adam's AVX-512 loop takes some square roots on the FMA units (sqrt_on_fma
// in optim/adam.cpp), which must give the divider's bits for every v: here
// every subnormal, every float near the 2^-60 line where it scales v, 2^-126
// and the top of the range, a stride through all the others, the infinity,
// NaNs and negative numbers (to the divider: NaN), with and without FTZ/DAZ.
// (A throwaway program compared every float: 0 differences.)
TEST_CASE("Adam's AVX-512 square root rounds as the divider's") {
#if defined(__SSE__)
  namespace vec = tg::kernel::vec;
  const IsaAndFloatMode restore;
  if (!vec::force_isa(vec::Isa::kAvx512)) return;
  std::vector<std::uint32_t> bits;
  for (std::uint32_t b = 0; b < 0x00800000u; ++b) bits.push_back(b);  // zero and the subnormals
  // 8,192 floats around x (or the 4,096 up to x), whole vectors of finite
  // values, so the FMA units take them.
  const auto around = [&](float x, bool above) {
    std::uint32_t b;
    std::memcpy(&b, &x, sizeof b);
    for (std::uint32_t d = 0; d < 4096; ++d) {
      if (above) bits.push_back(b + d);
      bits.push_back(b - d);
    }
  };
  around(0x1p-60f, true);
  around(0x1p-126f, true);
  around(std::numeric_limits<float>::max(), false);
  for (std::uint32_t b = 0x00800000u; b < 0x7f800000u; b += 997) bits.push_back(b);
  for (std::uint32_t b :
       {0x7f800000u, 0x7fc00000u, 0x7f800001u, 0xffc00000u, 0x80000000u, 0x80000001u, 0xbf800000u, 0xff800000u})
    bits.push_back(b);
  std::vector<float> v(bits.size()), got(bits.size());
  std::memcpy(v.data(), bits.data(), bits.size() * sizeof(float));
  for (bool flush : {false, true}) {
    CAPTURE(flush);
    _mm_setcsr(flush ? restore.csr | 0x8040u : restore.csr & ~0x8040u);
    REQUIRE(tg::optim::detail::adam_sqrt_avx512(v.data(), got.data(), static_cast<std::int64_t>(v.size())));
    std::int64_t differ = 0;
    std::uint32_t first = 0;
    for (std::size_t i = 0; i < v.size(); ++i) {
      const float want = std::sqrt(v[i]);
      const bool same = std::isnan(want) ? std::isnan(got[i]) : std::memcmp(&want, &got[i], sizeof want) == 0;
      if (!same && differ++ == 0) first = bits[i];
    }
    CAPTURE(first);
    CHECK(differ == 0);
  }
#endif
}

}  // namespace test_optimizers
