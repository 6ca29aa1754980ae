// Resuming a scheduler: for every scheduler type, loading the optimizer's and
// the scheduler's state, in either order around making the scheduler, gives
// the lrs and momenta of an uninterrupted run. Also the loaded states such a
// resume refuses, and ConstantLR's and MultiStepLR's edge options.
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <doctest/doctest.h>

#include <tapegrad/autograd/ops.h>
#include <tapegrad/optim/optim.h>

namespace test_scheduler_resume {

using tg::Tensor;
using Vec = std::vector<double>;
namespace O = tg::optim;

namespace {

// An SGD with two groups of their own lr, both with momentum (which CyclicLR and OneCycleLR cycle).
struct Env {
  Tensor a = tg::ones({2}, {.dtype = tg::kFloat64, .requires_grad = true});
  Tensor b = tg::ones({2}, {.dtype = tg::kFloat64, .requires_grad = true});
  O::SGD opt{std::vector<O::ParamGroup<O::SGDOptions>>{{{a}, {.lr = 0.1, .momentum = 0.9}},
                                                       {{b}, {.lr = 0.01, .momentum = 0.9}}}};
};

// Each group's lr and momentum.
Vec settings(const O::Optimizer& opt) { return {opt.lr(0), opt.lr(1), opt.momentum(0), opt.momentum(1)}; }

using Make = std::function<std::shared_ptr<O::Scheduler>(O::Optimizer&)>;

// One epoch: an optimizer step with a gradient, then the scheduler's step
// (ReduceLROnPlateau's with a metric that stalls).
void epoch(Env& env, O::Scheduler& s, int i) {
  env.a.set_grad(tg::ones({2}, {.dtype = tg::kFloat64}));
  env.b.set_grad(tg::ones({2}, {.dtype = tg::kFloat64}));
  env.opt.step();
  if (auto* plateau = dynamic_cast<O::ReduceLROnPlateau*>(&s)) plateau->step(1.0 + 0.01 * (i % 3));
  else if (auto* chain = dynamic_cast<O::ChainedScheduler*>(&s)) chain->step();
  else dynamic_cast<O::LRScheduler&>(s).step();
}

// An uninterrupted run of n epochs against runs saved after k and resumed:
// (a) optimizer and scheduler made, then both states loaded; (b) the
// optimizer's state loaded, the scheduler made, then its state loaded.
void check_resume(const std::string& name, const Make& make, int k, int n = 15) {
  INFO(name << ", resumed after " << k << " epochs");
  Env reference;
  auto s_ref = make(reference.opt);
  std::vector<Vec> expected{settings(reference.opt)};
  for (int i = 0; i < n; ++i) {
    epoch(reference, *s_ref, i);
    expected.push_back(settings(reference.opt));
  }

  Env first;
  auto s_first = make(first.opt);
  for (int i = 0; i < k; ++i) epoch(first, *s_first, i);
  REQUIRE(settings(first.opt) == expected[static_cast<std::size_t>(k)]);
  const O::OptimizerState optimizer_state = first.opt.state_dict();
  const std::string scheduler_state = s_first->state_dict();

  for (const bool optimizer_first : {false, true}) {
    INFO((optimizer_first ? "optimizer state loaded before the scheduler was made" : "both made, then loaded"));
    Env resumed;
    std::shared_ptr<O::Scheduler> s;
    if (optimizer_first) {
      resumed.opt.load_state_dict(optimizer_state);
      s = make(resumed.opt);
    } else {
      s = make(resumed.opt);
      resumed.opt.load_state_dict(optimizer_state);
    }
    s->load_state_dict(scheduler_state);
    CHECK(s->get_last_lr() == s_first->get_last_lr());
    CHECK(settings(resumed.opt) == expected[static_cast<std::size_t>(k)]);
    for (int i = k; i < n; ++i) {
      epoch(resumed, *s, i);
      INFO("epoch " << i + 1);
      CHECK(settings(resumed.opt) == expected[static_cast<std::size_t>(i + 1)]);
    }
  }
}

template <class S, class Options>
Make simple(Options options) {
  return [options](O::Optimizer& opt) { return std::make_shared<S>(opt, options); };
}

}  // namespace

TEST_CASE("schedulers: a resume in either order continues as an uninterrupted run") {
  const std::vector<std::pair<std::string, Make>> cases{
      {"StepLR", simple<O::StepLR>(O::StepLROptions{.step_size = 3, .gamma = 0.5})},
      {"MultiStepLR", simple<O::MultiStepLR>(O::MultiStepLROptions{.milestones = {2, 5, 9}, .gamma = 0.5})},
      {"ExponentialLR", simple<O::ExponentialLR>(O::ExponentialLROptions{.gamma = 0.9})},
      {"CosineAnnealingLR", simple<O::CosineAnnealingLR>(O::CosineAnnealingLROptions{.T_max = 6, .eta_min = 0.001})},
      {"LinearLR", simple<O::LinearLR>(O::LinearLROptions{.start_factor = 0.2, .total_iters = 10})},
      {"OneCycleLR", simple<O::OneCycleLR>(O::OneCycleLROptions{.max_lr = {0.5, 0.05}, .total_steps = 20})},
      {"LambdaLR",
       simple<O::LambdaLR>(O::LambdaLROptions{.lr_lambda = {[](std::int64_t e) { return 1.0 / (1.0 + e); }}})},
      {"MultiplicativeLR",
       simple<O::MultiplicativeLR>(O::MultiplicativeLROptions{.lr_lambda = {[](std::int64_t) { return 0.9; }}})},
      {"ConstantLR", simple<O::ConstantLR>(O::ConstantLROptions{.factor = 0.5, .total_iters = 9})},
      {"PolynomialLR", simple<O::PolynomialLR>(O::PolynomialLROptions{.total_iters = 12, .power = 2})},
      {"CyclicLR",
       simple<O::CyclicLR>(O::CyclicLROptions{
           .base_lr = {0.01, 0.001}, .max_lr = {0.1}, .step_size_up = 3, .mode = O::CyclicMode::Triangular2})},
      {"CosineAnnealingWarmRestarts",
       simple<O::CosineAnnealingWarmRestarts>(O::CosineAnnealingWarmRestartsOptions{.T_0 = 2, .T_mult = 2})},
      {"SequentialLR",
       [](O::Optimizer& opt) -> std::
                                 shared_ptr<O::Scheduler> {
                                   auto warm = std::make_shared<O::LinearLR>(
                                       opt, O::LinearLROptions{.start_factor = 0.1, .total_iters = 4});
                                   auto decay =
                                       std::make_shared<O::ExponentialLR>(opt, O::ExponentialLROptions{.gamma = 0.9});
                                   return std::make_shared<O::SequentialLR>(
                                       opt, std::vector<std::shared_ptr<O::LRScheduler>>{warm, decay},
                                       std::vector<std::int64_t>{5});
                                 }},
      {"SequentialLR of cycles",
       [](O::Optimizer& opt)
           -> std::
               shared_ptr<O::Scheduler> {
                 auto one =
                     std::make_shared<O::OneCycleLR>(opt, O::OneCycleLROptions{.max_lr = {0.5}, .total_steps = 6});
                 auto cyc = std::make_shared<O::CyclicLR>(
                     opt,
                     O::CyclicLROptions{.base_lr = {0.01}, .max_lr = {0.1}, .step_size_up = 2, .base_momentum = {0.7}});
                 return std::make_shared<O::SequentialLR>(opt, std::vector<std::shared_ptr<O::LRScheduler>>{one, cyc},
                                                          std::vector<std::int64_t>{6});
               }},
      {"ChainedScheduler",
       [](O::Optimizer& opt) -> std::
                                 shared_ptr<O::Scheduler> {
                                   auto constant = std::make_shared<O::ConstantLR>(
                                       opt, O::ConstantLROptions{.factor = 0.5, .total_iters = 4});
                                   auto decay =
                                       std::make_shared<O::ExponentialLR>(opt, O::ExponentialLROptions{.gamma = 0.9});
                                   return std::make_shared<O::ChainedScheduler>(
                                       std::vector<std::shared_ptr<O::LRScheduler>>{constant, decay});
                                 }},
      {"ReduceLROnPlateau",
       simple<O::ReduceLROnPlateau>(O::ReduceLROnPlateauOptions{.patience = 1, .cooldown = 1, .min_lr = {0.0}})},
  };
  for (const auto& c : cases)
    for (int k : {3, 7}) check_resume(c.first, c.second, k);
}

TEST_CASE("schedulers: load_state_dict sets the optimizer's lr even without its state") {
  Env first;
  O::StepLR s1(first.opt, {.step_size = 2, .gamma = 0.5});
  for (int i = 0; i < 5; ++i) s1.step();
  Env second;
  O::StepLR s2(second.opt, {.step_size = 2, .gamma = 0.5});
  s2.load_state_dict(s1.state_dict());
  CHECK(second.opt.lr(0) == 0.1 * 0.25);
  CHECK(second.opt.lr(1) == 0.01 * 0.25);
  s2.step();
  CHECK(second.opt.lr(0) == 0.1 * 0.125);
}

TEST_CASE("schedulers: loaded states a resume cannot continue from are refused, changing nothing") {
  Env env;
  O::OneCycleLR one(env.opt, {.max_lr = {0.5}, .total_steps = 10});
  std::string state = one.state_dict();
  const auto at = state.find("\"last_epoch\":0");
  REQUIRE(at != std::string::npos);
  state.replace(at, 14, "\"last_epoch\":11");
  const Vec before = settings(env.opt);
  CHECK_THROWS_WITH_AS(one.load_state_dict(state), doctest::Contains("past this schedule's 10 steps"), tg::ValueError);
  CHECK(settings(env.opt) == before);
  CHECK(one.last_epoch() == 0);

  O::ReduceLROnPlateau plateau(env.opt, {});
  std::string p = plateau.state_dict();
  const auto best = p.find("\"best\":\"inf\"");
  REQUIRE(best != std::string::npos);
  p.replace(best, 12, "\"best\":\"nan\"");
  CHECK_THROWS_WITH_AS(plateau.load_state_dict(p), doctest::Contains("\"best\" is NaN"), tg::FormatError);
  // Any count of bad epochs loads; the next bad epoch cuts the lr instead of overflowing the count.
  plateau.step(1.0);
  std::string many = plateau.state_dict();
  const auto bad = many.find("\"num_bad_epochs\":0");
  REQUIRE(bad != std::string::npos);
  many.replace(bad, 18, "\"num_bad_epochs\":9223372036854775807");
  plateau.load_state_dict(many);
  const double lr = env.opt.lr(0);
  plateau.step(2.0);
  CHECK(env.opt.lr(0) == doctest::Approx(lr * 0.1));
  CHECK(plateau.num_bad_epochs() == 0);

  // A part of a SequentialLR that fails puts back the optimizer's lr the parts before it set.
  auto w = std::make_shared<O::LinearLR>(env.opt, O::LinearLROptions{.total_iters = 2});
  auto d = std::make_shared<O::StepLR>(env.opt, O::StepLROptions{.step_size = 1, .gamma = 0.5});
  O::SequentialLR seq(env.opt, {w, d}, {2});
  for (int i = 0; i < 3; ++i) seq.step();
  std::string s = seq.state_dict();
  const auto step_state = s.find("\"scheduler\":\"StepLR\"");
  REQUIRE(step_state != std::string::npos);
  s.replace(step_state, 20, "\"scheduler\":\"StepXX\"");
  Env other;
  auto w2 = std::make_shared<O::LinearLR>(other.opt, O::LinearLROptions{.total_iters = 2});
  auto d2 = std::make_shared<O::StepLR>(other.opt, O::StepLROptions{.step_size = 1, .gamma = 0.5});
  O::SequentialLR seq2(other.opt, {w2, d2}, {2});
  const Vec other_before = settings(other.opt);
  CHECK_THROWS_AS(seq2.load_state_dict(s), tg::ValueError);
  CHECK(settings(other.opt) == other_before);
}

TEST_CASE("ConstantLR with total_iters 0 keeps the factor, as PyTorch 1.13") {
  // torch 1.13: ConstantLR(SGD(lr=1), factor=0.5, total_iters=0) gives 0.5 at every epoch.
  Env env;
  O::ConstantLR s(env.opt, {.factor = 0.5, .total_iters = 0});
  for (int i = 0; i < 5; ++i) {
    CHECK(env.opt.lr(0) == 0.05);
    s.step();
  }
  CHECK(env.opt.lr(0) == 0.05);
}

TEST_CASE("MultiStepLR refuses a negative milestone") {
  // No epoch reaches it: PyTorch's step() ignores it, its closed form counts it.
  Env env;
  CHECK_THROWS_WITH_AS(O::MultiStepLR(env.opt, {.milestones = {2, -1}}), "MultiStepLR: milestones must be >= 0, got -1",
                       tg::ValueError);
  CHECK(env.opt.lr(0) == 0.1);
  O::MultiStepLR zero(env.opt, {.milestones = {0, 2}, .gamma = 0.5});
  CHECK(env.opt.lr(0) == 0.05);  // a milestone 0 counts at epoch 0, as in PyTorch's closed form
}

}  // namespace test_scheduler_resume
