// NAdam, RAdam, Adamax, Adadelta and the schedulers LambdaLR,
// MultiplicativeLR, ConstantLR, PolynomialLR, CyclicLR,
// CosineAnnealingWarmRestarts and ChainedScheduler against PyTorch 1.13
// (tests/reference/optim2.json, written by make_optim2_reference.py), their
// option checks, and optimizer state dicts that continue identically.
#include <cmath>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <doctest/doctest.h>

#include <tapegrad/autograd/ops.h>
#include <tapegrad/io/safetensors.h>
#include <tapegrad/optim/optim.h>
#include "io/io_test_files.h"
#include "support/reference.h"

namespace test_optim2 {

using tg::Tensor;
using Vec = std::vector<double>;
namespace O = tg::optim;

namespace {

const nlohmann::json& ref() { return tg_test::reference_file("optim2.json"); }

// The reference script's gradient at step t: a fixed quadratic plus a wobble.
Tensor gradient_at(const Tensor& p, int t) {
  const auto& problem = ref().at("problem");
  const Vec a = problem.at("a").get<Vec>(), c = problem.at("c").get<Vec>();
  const Vec x = p.to_vector<double>();
  Vec g(x.size());
  for (std::size_t i = 0; i < x.size(); ++i)
    g[i] = a[i] * (x[i] - c[i]) + 0.3 * std::sin(1.7 * t + static_cast<double>(i));
  return tg::tensor(g, {}, p.dtype());
}

Tensor start_param() {
  return tg::tensor(ref().at("problem").at("start").get<Vec>(), {}, tg::kFloat64).set_requires_grad(true);
}

void check_trajectory(O::Optimizer& opt, const Tensor& p, const std::string& name, double rel = 1e-10) {
  CAPTURE(name);
  const auto& want = ref().at("optimizers").at(name);
  REQUIRE(want.at("optimizer").get<std::string>() == opt.name());
  const auto& params = want.at("params");
  for (std::size_t t = 0; t < params.size(); ++t) {
    p.set_grad(gradient_at(p, static_cast<int>(t) + 1));
    opt.step();
    const Vec got = p.to_vector<double>(), expected = params[t].get<Vec>();
    for (std::size_t i = 0; i < got.size(); ++i) {
      INFO("step " << t + 1 << ", element " << i);
      INFO("diff " << (got[i] - expected[i]));
      REQUIRE(got[i] == doctest::Approx(expected[i]).epsilon(rel).scale(1e-300));
    }
  }
}

// Two groups, as the reference script's SGD: lr 0.1 and 0.05, momentum 0.9.
struct TwoGroups {
  Tensor a = tg::zeros({2}, {.dtype = tg::kFloat64, .requires_grad = true});
  Tensor b = tg::zeros({3}, {.dtype = tg::kFloat64, .requires_grad = true});
  O::SGD opt{std::vector<O::ParamGroup<O::SGDOptions>>{{{a}, {.lr = 0.1, .momentum = 0.9}},
                                                       {{b}, {.lr = 0.05, .momentum = 0.9}}}};
};

// The lrs (and momentums) of epochs 0..30 against the reference; `step`
// advances one epoch.
void check_schedule(O::SGD& opt, const std::function<void()>& step, const std::string& name) {
  CAPTURE(name);
  const auto& want = ref().at("schedulers").at(name);
  const auto& lrs = want.at("lrs");
  for (std::size_t e = 0; e < lrs.size(); ++e) {
    if (e > 0) step();
    for (std::size_t g = 0; g < 2; ++g) {
      INFO("epoch " << e << ", group " << g);
      REQUIRE(opt.lr(g) == doctest::Approx(lrs[e][g].get<double>()).epsilon(1e-10).scale(1e-300));
      if (want.contains("momentums"))
        REQUIRE(opt.momentum(g) == doctest::Approx(want.at("momentums")[e][g].get<double>()).epsilon(1e-10));
    }
  }
}

}  // namespace

TEST_CASE("NAdam, RAdam, Adamax, Adadelta: trajectories equal PyTorch 1.13's") {
  struct Case {
    std::string name;
    std::function<std::unique_ptr<O::Optimizer>(const Tensor&)> make;
  };
  const std::vector<Case> cases{
      {"NAdam default", [](const Tensor& p) { return std::make_unique<O::NAdam>(std::vector<Tensor>{p}); }},
      {"NAdam lr betas eps weight_decay momentum_decay",
       [](const Tensor& p) {
         return std::make_unique<O::NAdam>(
             std::vector<Tensor>{p},
             O::NAdamOptions{
                 .lr = 0.05, .betas = {0.8, 0.99}, .eps = 1e-6, .weight_decay = 0.1, .momentum_decay = 0.01});
       }},
      {"RAdam default", [](const Tensor& p) { return std::make_unique<O::RAdam>(std::vector<Tensor>{p}); }},
      {"RAdam rectified",
       [](const Tensor& p) {
         return std::make_unique<O::RAdam>(
             std::vector<Tensor>{p},
             O::RAdamOptions{.lr = 0.1, .betas = {0.7, 0.9}, .eps = 1e-6, .weight_decay = 0.05});
       }},
      {"Adamax default", [](const Tensor& p) { return std::make_unique<O::Adamax>(std::vector<Tensor>{p}); }},
      {"Adamax options",
       [](const Tensor& p) {
         return std::make_unique<O::Adamax>(
             std::vector<Tensor>{p},
             O::AdamaxOptions{.lr = 0.1, .betas = {0.8, 0.95}, .eps = 1e-4, .weight_decay = 0.1});
       }},
      {"Adamax maximize",
       [](const Tensor& p) {
         return std::make_unique<O::Adamax>(std::vector<Tensor>{p}, O::AdamaxOptions{.lr = 0.01, .maximize = true});
       }},
      {"Adadelta default", [](const Tensor& p) { return std::make_unique<O::Adadelta>(std::vector<Tensor>{p}); }},
      {"Adadelta options",
       [](const Tensor& p) {
         return std::make_unique<O::Adadelta>(
             std::vector<Tensor>{p}, O::AdadeltaOptions{.lr = 0.5, .rho = 0.7, .eps = 1e-4, .weight_decay = 0.2});
       }},
      {"Adadelta maximize",
       [](const Tensor& p) {
         return std::make_unique<O::Adadelta>(std::vector<Tensor>{p},
                                              O::AdadeltaOptions{.lr = 2.0, .rho = 0.95, .maximize = true});
       }},
  };
  REQUIRE(cases.size() == ref().at("optimizers").size());
  for (const Case& c : cases) {
    Tensor p = start_param();
    auto opt = c.make(p);
    check_trajectory(*opt, p, c.name);
  }
}

TEST_CASE("NAdam, RAdam, Adamax: float32 parameters follow the float64 trajectory closely") {
  Tensor p = tg::tensor(ref().at("problem").at("start").get<Vec>(), {}, tg::kFloat32).set_requires_grad(true);
  O::NAdam opt({p});
  const auto& params = ref().at("optimizers").at("NAdam default").at("params");
  for (std::size_t t = 0; t < params.size(); ++t) {
    p.set_grad(gradient_at(p, static_cast<int>(t) + 1));
    opt.step();
  }
  const Vec got = p.to_vector<double>(), want = params.back().get<Vec>();
  for (std::size_t i = 0; i < got.size(); ++i) CHECK(got[i] == doctest::Approx(want[i]).epsilon(1e-5));
}

TEST_CASE("NAdam, RAdam, Adamax, Adadelta: a state dict, saved and loaded, continues identically") {
  tg::test::TempDir dir;
  auto round_trip = [&](auto make, const std::vector<std::string>& fields) {
    Tensor p = start_param();
    auto opt = make(p);
    for (int t = 1; t <= 4; ++t) {
      p.set_grad(gradient_at(p, t));
      opt.step();
    }
    const auto state = opt.state_dict();
    CAPTURE(opt.name());
    for (const auto& f : fields) CHECK(state.tensors.contains("state.0." + f));
    const std::string path = dir.file(opt.name() + ".safetensors");
    tg::save(path, state.tensors, state.metadata);
    Tensor q = p.detach().clone().set_requires_grad(true);
    auto fresh = make(q);
    const auto loaded = tg::load_file(path);
    fresh.load_state_dict({loaded.tensors, loaded.metadata});
    for (int t = 5; t <= 9; ++t) {
      p.set_grad(gradient_at(p, t));
      q.set_grad(gradient_at(q, t));
      opt.step();
      fresh.step();
    }
    CHECK(tg::equal(p, q));
  };
  round_trip([](const Tensor& p) { return O::NAdam({p}, {.lr = 0.05, .momentum_decay = 0.01}); },
             {"step", "mu_product", "exp_avg", "exp_avg_sq"});
  round_trip(
      [](const Tensor& p) {
        return O::RAdam({p}, {.lr = 0.1, .betas = {0.7, 0.9}});
      },
      {"step", "exp_avg", "exp_avg_sq"});
  round_trip([](const Tensor& p) { return O::Adamax({p}, {.lr = 0.1}); }, {"step", "exp_avg", "exp_inf"});
  round_trip([](const Tensor& p) { return O::Adadelta({p}, {.rho = 0.8}); }, {"step", "square_avg", "acc_delta"});
}

TEST_CASE("NAdam: a fresh optimizer given no mu_product would diverge, so the state dict must carry it") {
  Tensor p = start_param();
  O::NAdam opt({p});
  for (int t = 1; t <= 3; ++t) {
    p.set_grad(gradient_at(p, t));
    opt.step();
  }
  auto state = opt.state_dict();
  CHECK(state.tensors.at("state.0.mu_product").item<double>() == opt.state(0, 0).mu_product);
  CHECK(opt.state(0, 0).mu_product < 1);
  state.tensors["state.0.mu_product"] = tg::tensor(Vec{1.0, 2.0}, {2}, tg::kFloat64);
  O::NAdam other({p.detach().clone().set_requires_grad(true)});
  CHECK_THROWS_WITH_AS(other.load_state_dict(state), doctest::Contains("mu_product"), tg::FormatError);
}

TEST_CASE("NAdam, RAdam, Adamax, Adadelta: options are checked when the optimizer is made") {
  Tensor p = tg::zeros({2}, {.dtype = tg::kFloat64, .requires_grad = true});
  CHECK_THROWS_WITH_AS(O::NAdam({p}, {.lr = -1}), "NAdam: invalid learning rate -1 (must be >= 0)", tg::ValueError);
  CHECK_THROWS_WITH_AS(O::NAdam({p}, {.momentum_decay = -0.1}), doctest::Contains("NAdam: invalid momentum_decay -0.1"),
                       tg::ValueError);
  CHECK_THROWS_WITH_AS(O::RAdam({p}, {.betas = {0.9, 1.0}}),
                       "RAdam: invalid beta parameter at index 1: 1 (must be in [0, 1))", tg::ValueError);
  CHECK_THROWS_WITH_AS(O::RAdam({p}, {.eps = -1}), doctest::Contains("RAdam: invalid epsilon -1"), tg::ValueError);
  CHECK_THROWS_WITH_AS(O::Adamax({p}, {.betas = {-0.5, 0.9}}),
                       doctest::Contains("Adamax: invalid beta parameter at index 0: -0.5"), tg::ValueError);
  CHECK_THROWS_WITH_AS(O::Adamax({p}, {.weight_decay = -1}), doctest::Contains("Adamax: invalid weight_decay -1"),
                       tg::ValueError);
  CHECK_THROWS_WITH_AS(O::Adadelta({p}, {.rho = 1.5}), "Adadelta: invalid rho 1.5 (must be in [0, 1])", tg::ValueError);
  CHECK_THROWS_WITH_AS(O::Adadelta({p}, {.lr = std::nan("")}), doctest::Contains("Adadelta: invalid learning rate nan"),
                       tg::ValueError);
  // rho 1 and beta 0 are allowed, as in PyTorch.
  CHECK_NOTHROW(O::Adadelta({p}, {.rho = 1}));
  CHECK_NOTHROW(O::NAdam({p}, {.betas = {0.0, 0.0}}));
  // beta1 is the momentum schedulers cycle.
  O::RAdam r({p});
  CHECK(r.has_momentum());
  r.set_momentum(0, 0.8);
  CHECK(r.options(0).betas[0] == 0.8);
  CHECK_FALSE(O::Adadelta({p}).has_momentum());
}

TEST_CASE("LambdaLR, MultiplicativeLR, ConstantLR, PolynomialLR: lrs equal PyTorch's") {
  {
    TwoGroups m;
    O::LambdaLR s(m.opt, {.lr_lambda = {[](std::int64_t e) {
                            return std::pow(0.95, static_cast<double>(e)) + 0.01 * static_cast<double>(e);
                          }}});
    check_schedule(
        m.opt, [&] { s.step(); }, "LambdaLR");
  }
  {
    TwoGroups m;
    O::MultiplicativeLR s(m.opt, {.lr_lambda = {[](std::int64_t e) { return e % 2 == 0 ? 0.9 : 1.05; }}});
    check_schedule(
        m.opt, [&] { s.step(); }, "MultiplicativeLR");
  }
  {
    TwoGroups m;
    O::ConstantLR s(m.opt);
    check_schedule(
        m.opt, [&] { s.step(); }, "ConstantLR default");
  }
  {
    TwoGroups m;
    O::ConstantLR s(m.opt, {.factor = 0.5, .total_iters = 7});
    check_schedule(
        m.opt, [&] { s.step(); }, "ConstantLR factor 0.5 total_iters 7");
  }
  {
    TwoGroups m;
    O::PolynomialLR s(m.opt);
    check_schedule(
        m.opt, [&] { s.step(); }, "PolynomialLR default");
  }
  {
    TwoGroups m;
    O::PolynomialLR s(m.opt, {.total_iters = 20, .power = 2.5});
    check_schedule(
        m.opt, [&] { s.step(); }, "PolynomialLR total_iters 20 power 2.5");
  }
}

TEST_CASE("LambdaLR and MultiplicativeLR: one function per group") {
  TwoGroups m;
  O::LambdaLR s(m.opt, {.lr_lambda = {[](std::int64_t e) { return 1.0 / static_cast<double>(e + 1); },
                                      [](std::int64_t) { return 2.0; }}});
  s.step();
  CHECK(m.opt.lr(0) == doctest::Approx(0.05));
  CHECK(m.opt.lr(1) == doctest::Approx(0.1));
  CHECK_THROWS_WITH_AS(O::LambdaLR(m.opt, {}), doctest::Contains("LambdaLR: expected 1 or 2 lr_lambda"),
                       tg::ValueError);
  CHECK_THROWS_WITH_AS(O::MultiplicativeLR(m.opt, {.lr_lambda = {O::LRLambda{}}}),
                       doctest::Contains("MultiplicativeLR: lr_lambda 0 is empty"), tg::ValueError);
  CHECK_THROWS_WITH_AS(O::LambdaLR(m.opt, {.lr_lambda = {O::LRLambda{}, O::LRLambda{}}}),
                       doctest::Contains("LambdaLR: lr_lambda 0 is empty"), tg::ValueError);
}

TEST_CASE("CyclicLR: triangular, triangular2, exp_range, momentum cycled, as PyTorch") {
  {
    TwoGroups m;
    O::CyclicLR s(m.opt, {.base_lr = {0.01}, .max_lr = {0.1, 0.2}, .step_size_up = 4});
    check_schedule(
        m.opt, [&] { s.step(); }, "CyclicLR triangular");
  }
  {
    TwoGroups m;
    O::CyclicLR s(m.opt, {.base_lr = {0.01, 0.02},
                          .max_lr = {0.1},
                          .step_size_up = 3,
                          .step_size_down = 5,
                          .mode = O::CyclicMode::Triangular2,
                          .base_momentum = {0.7},
                          .max_momentum = {0.95}});
    check_schedule(
        m.opt, [&] { s.step(); }, "CyclicLR triangular2 step_size_down");
  }
  {
    TwoGroups m;
    O::CyclicLR s(m.opt, {.base_lr = {0.01},
                          .max_lr = {0.1},
                          .step_size_up = 3,
                          .mode = O::CyclicMode::ExpRange,
                          .gamma = 0.97,
                          .cycle_momentum = false});
    check_schedule(
        m.opt, [&] { s.step(); }, "CyclicLR exp_range no momentum");
  }
  {
    // A custom scale function of the iteration, the same as exp_range's.
    TwoGroups m;
    O::CyclicLR s(m.opt, {.base_lr = {0.01},
                          .max_lr = {0.1},
                          .step_size_up = 3,
                          .scale_fn = [](double x) { return std::pow(0.97, x); },
                          .scale_mode = O::CyclicScaleMode::Iterations,
                          .cycle_momentum = false});
    check_schedule(
        m.opt, [&] { s.step(); }, "CyclicLR exp_range no momentum");
  }
  // Adam's beta1 cycles too.
  Tensor w = tg::zeros({2}, {.dtype = tg::kFloat64, .requires_grad = true});
  O::Adam adam({w});
  O::CyclicLR s(adam, {.base_lr = {0.001}, .max_lr = {0.01}, .step_size_up = 2});
  CHECK(adam.options(0).betas[0] == doctest::Approx(0.9));
  s.step();
  CHECK(adam.options(0).betas[0] == doctest::Approx(0.85));
  Tensor v = tg::zeros({2}, {.dtype = tg::kFloat64, .requires_grad = true});
  O::Adadelta delta({v});
  CHECK_THROWS_WITH_AS(O::CyclicLR(delta, {.base_lr = {0.1}, .max_lr = {1.0}}),
                       doctest::Contains("CyclicLR: Adadelta has no momentum"), tg::ValueError);
  CHECK_NOTHROW(O::CyclicLR(delta, {.base_lr = {0.1}, .max_lr = {1.0}, .cycle_momentum = false}));
}

TEST_CASE("CosineAnnealingWarmRestarts: restarts every T_0, or T_0 T_mult^i, epochs, as PyTorch") {
  {
    TwoGroups m;
    O::CosineAnnealingWarmRestarts s(m.opt, {.T_0 = 5});
    check_schedule(
        m.opt, [&] { s.step(); }, "CosineAnnealingWarmRestarts T_0 5");
  }
  {
    TwoGroups m;
    O::CosineAnnealingWarmRestarts s(m.opt, {.T_0 = 3, .T_mult = 2, .eta_min = 0.001});
    check_schedule(
        m.opt, [&] { s.step(); }, "CosineAnnealingWarmRestarts T_0 3 T_mult 2 eta_min");
  }
}

TEST_CASE("ChainedScheduler: each scheduler applies its change to the lr the ones before left, as PyTorch") {
  {
    TwoGroups m;
    auto a = std::make_shared<O::ConstantLR>(m.opt, O::ConstantLROptions{.factor = 0.1, .total_iters = 2});
    auto b = std::make_shared<O::ExponentialLR>(m.opt, O::ExponentialLROptions{.gamma = 0.9});
    O::ChainedScheduler s({a, b});
    check_schedule(
        m.opt, [&] { s.step(); }, "ChainedScheduler ConstantLR ExponentialLR");
  }
  {
    TwoGroups m;
    auto a = std::make_shared<O::LinearLR>(m.opt, O::LinearLROptions{.start_factor = 0.25, .total_iters = 4});
    auto b = std::make_shared<O::StepLR>(m.opt, O::StepLROptions{.step_size = 3, .gamma = 0.8});
    auto c = std::make_shared<O::MultiStepLR>(m.opt, O::MultiStepLROptions{.milestones = {5, 9, 9}, .gamma = 0.5});
    auto d = std::make_shared<O::PolynomialLR>(m.opt, O::PolynomialLROptions{.total_iters = 25, .power = 0.5});
    O::ChainedScheduler s({a, b, c, d});
    check_schedule(
        m.opt, [&] { s.step(); }, "ChainedScheduler LinearLR StepLR MultiStepLR PolynomialLR");
  }
  {
    TwoGroups m;
    auto a = std::make_shared<O::MultiplicativeLR>(
        m.opt, O::MultiplicativeLROptions{.lr_lambda = {[](std::int64_t) { return 0.97; }}});
    auto b = std::make_shared<O::CosineAnnealingLR>(m.opt, O::CosineAnnealingLROptions{.T_max = 7, .eta_min = 0.002});
    O::ChainedScheduler s({a, b});
    check_schedule(
        m.opt, [&] { s.step(); }, "ChainedScheduler MultiplicativeLR CosineAnnealingLR eta_min");
    CHECK(s.get_last_lr()[1] == m.opt.lr(1));
  }
  TwoGroups m, other;
  auto a = std::make_shared<O::ConstantLR>(m.opt);
  auto b = std::make_shared<O::ConstantLR>(other.opt);
  CHECK_THROWS_WITH_AS(O::ChainedScheduler({}), "ChainedScheduler: needs at least one scheduler", tg::ValueError);
  CHECK_THROWS_WITH_AS(O::ChainedScheduler({a, b}), doctest::Contains("drives another optimizer"), tg::ValueError);
  auto seq = std::make_shared<O::SequentialLR>(m.opt, std::vector<std::shared_ptr<O::LRScheduler>>{a},
                                               std::vector<std::int64_t>{});
  CHECK_THROWS_WITH_AS(O::ChainedScheduler({a, seq}), doctest::Contains("scheduler 1 is a SequentialLR"),
                       tg::ValueError);
}

TEST_CASE("new schedulers: state dicts restore the position exactly") {
  auto resume = [](auto make) {
    TwoGroups m1, m2;
    auto s1 = make(m1.opt);
    for (int e = 0; e < 7; ++e) s1->step();
    auto s2 = make(m2.opt);
    s2->load_state_dict(s1->state_dict());
    for (std::size_t g = 0; g < 2; ++g) m2.opt.set_lr(g, m1.opt.lr(g));
    for (int e = 0; e < 9; ++e) {
      s1->step();
      s2->step();
      CAPTURE(e);
      CHECK(m1.opt.lr(0) == m2.opt.lr(0));
      CHECK(m1.opt.lr(1) == m2.opt.lr(1));
    }
  };
  resume([](O::SGD& o) { return std::make_unique<O::PolynomialLR>(o, O::PolynomialLROptions{.total_iters = 12}); });
  resume([](O::SGD& o) {
    return std::make_unique<O::CyclicLR>(o, O::CyclicLROptions{.base_lr = {0.01}, .max_lr = {0.1}, .step_size_up = 3});
  });
  resume([](O::SGD& o) {
    return std::make_unique<O::CosineAnnealingWarmRestarts>(
        o, O::CosineAnnealingWarmRestartsOptions{.T_0 = 2, .T_mult = 3});
  });
  resume([](O::SGD& o) {
    auto a = std::make_shared<O::ConstantLR>(o, O::ConstantLROptions{.factor = 0.5, .total_iters = 9});
    auto b = std::make_shared<O::ExponentialLR>(o, O::ExponentialLROptions{.gamma = 0.9});
    return std::make_unique<O::ChainedScheduler>(std::vector<std::shared_ptr<O::LRScheduler>>{a, b});
  });
  TwoGroups m;
  O::ConstantLR c(m.opt);
  O::ChainedScheduler chain({std::make_shared<O::ConstantLR>(m.opt)});
  CHECK_THROWS_AS(chain.load_state_dict(c.state_dict()), tg::ValueError);
  CHECK_THROWS_AS(chain.load_state_dict(R"({"scheduler": "ChainedScheduler", "schedulers": []})"), tg::FormatError);
}

TEST_CASE("new schedulers: bad options are errors naming the scheduler and the value") {
  TwoGroups m;
  CHECK_THROWS_WITH_AS(O::ConstantLR(m.opt, {.factor = 1.5}), "ConstantLR: factor must be in [0, 1], got 1.5",
                       tg::ValueError);
  CHECK_THROWS_WITH_AS(O::PolynomialLR(m.opt, {.total_iters = 0}), doctest::Contains("PolynomialLR: total_iters"),
                       tg::ValueError);
  CHECK_THROWS_WITH_AS(O::PolynomialLR(m.opt, {.power = -1}), doctest::Contains("PolynomialLR: power"), tg::ValueError);
  CHECK_THROWS_WITH_AS(O::CyclicLR(m.opt, {.base_lr = {0.1}, .max_lr = {-1}}), doctest::Contains("CyclicLR: max_lr"),
                       tg::ValueError);
  CHECK_THROWS_WITH_AS(O::CyclicLR(m.opt, {.base_lr = {0.1, 0.2, 0.3}, .max_lr = {1}}),
                       doctest::Contains("CyclicLR: expected 1 or 2 values of base_lr"), tg::ValueError);
  // A bad option leaves the optimizer's lr as it was (not at base_lr).
  CHECK_THROWS_AS(O::CyclicLR(m.opt, {.base_lr = {0.5}, .max_lr = {1}, .step_size_up = -3}), tg::ValueError);
  CHECK(m.opt.lr(0) == 0.1);
  CHECK_THROWS_WITH_AS(O::CyclicLR(m.opt, {.base_lr = {0.1}, .max_lr = {1}, .step_size_up = 0}),
                       doctest::Contains("CyclicLR: step_size_up and step_size_down must be positive"), tg::ValueError);
  CHECK_THROWS_WITH_AS(O::CosineAnnealingWarmRestarts(m.opt, {.T_0 = 0}),
                       "CosineAnnealingWarmRestarts: T_0 must be positive, got 0", tg::ValueError);
  CHECK_THROWS_WITH_AS(O::CosineAnnealingWarmRestarts(m.opt, {.T_0 = 2, .T_mult = 0}),
                       "CosineAnnealingWarmRestarts: T_mult must be >= 1, got 0", tg::ValueError);
  // A lambda that makes the lr negative is refused at that epoch, the optimizer untouched.
  O::LambdaLR s(m.opt, {.lr_lambda = {[](std::int64_t e) { return 1.0 - 0.5 * static_cast<double>(e); }}});
  s.step();
  s.step();
  const double before = m.opt.lr(0);
  CHECK_THROWS_WITH_AS(s.step(), doctest::Contains("LambdaLR: the learning rate of group 0 at epoch 3 would be"),
                       tg::ValueError);
  CHECK(m.opt.lr(0) == before);
}

}  // namespace test_optim2
