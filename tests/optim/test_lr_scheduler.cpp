// Learning-rate schedulers against schedules worked out by hand, the
// momentum OneCycleLR cycles, plateau detection, chains, state round trips
// and option errors.
#include <cmath>
#include <memory>
#include <numbers>
#include <vector>

#include <doctest/doctest.h>

#include <tapegrad/autograd/ops.h>
#include <tapegrad/optim/optim.h>

namespace test_lr_scheduler {

using tg::Tensor;
using Vec = std::vector<double>;
namespace optim = tg::optim;

namespace {

constexpr double pi = std::numbers::pi;

Tensor param() { return tg::zeros({2}, {.dtype = tg::kFloat64, .requires_grad = true}); }

// The lr of group 0 at epochs 0..n-1: the one set when the scheduler is made, then after each step().
template <class S>
Vec schedule(optim::Optimizer& opt, S& sched, int n) {
  Vec lrs{opt.lr(0)};
  CHECK(sched.get_last_lr().at(0) == opt.lr(0));
  for (int i = 1; i < n; ++i) {
    sched.step();
    lrs.push_back(opt.lr(0));
    CHECK(sched.get_last_lr().at(0) == opt.lr(0));
  }
  return lrs;
}

void check_schedule(const Vec& got, const Vec& expected) {
  REQUIRE(got.size() == expected.size());
  for (std::size_t i = 0; i < got.size(); ++i) {
    INFO("epoch " << i);
    CHECK(got[i] == doctest::Approx(expected[i]).epsilon(1e-12).scale(1e-12));
  }
}

}  // namespace

TEST_CASE("StepLR, MultiStepLR and ExponentialLR") {
  {
    optim::SGD opt({param()}, {.lr = 1});
    optim::StepLR s(opt, {.step_size = 2, .gamma = 0.5});
    check_schedule(schedule(opt, s, 6), {1, 1, 0.5, 0.5, 0.25, 0.25});
    CHECK(s.last_epoch() == 5);
  }
  {
    optim::SGD opt({param()}, {.lr = 1});
    optim::MultiStepLR s(opt, {.milestones = {5, 2}, .gamma = 0.1});
    check_schedule(schedule(opt, s, 7), {1, 1, 0.1, 0.1, 0.1, 0.01, 0.01});
  }
  {
    // A milestone given twice decays twice, as PyTorch's Counter.
    optim::SGD opt({param()}, {.lr = 1});
    optim::MultiStepLR s(opt, {.milestones = {3, 3}, .gamma = 0.5});
    check_schedule(schedule(opt, s, 5), {1, 1, 1, 0.25, 0.25});
  }
  {
    optim::SGD opt({param()}, {.lr = 2});
    optim::ExponentialLR s(opt, {.gamma = 0.5});
    check_schedule(schedule(opt, s, 4), {2, 1, 0.5, 0.25});
  }
}

TEST_CASE("CosineAnnealingLR and LinearLR") {
  {
    // eta_min + (base - eta_min)(1 + cos(pi e / 4)) / 2, continuing past T_max.
    optim::SGD opt({param()}, {.lr = 1});
    optim::CosineAnnealingLR s(opt, {.T_max = 4, .eta_min = 0.2});
    auto at = [](int e) { return 0.2 + 0.8 * (1 + std::cos(pi * e / 4)) / 2; };
    check_schedule(schedule(opt, s, 7), {1, at(1), 0.6, at(3), 0.2, at(5), 0.6});
    CHECK(at(1) == doctest::Approx(0.2 + 0.8 * (1 + std::sqrt(0.5)) / 2));
  }
  {
    // Warm-up from a quarter of the lr to all of it over 3 epochs.
    optim::SGD opt({param()}, {.lr = 0.4});
    optim::LinearLR s(opt, {.start_factor = 0.25, .end_factor = 1, .total_iters = 3});
    check_schedule(schedule(opt, s, 6), {0.1, 0.2, 0.3, 0.4, 0.4, 0.4});
  }
  {
    // PyTorch's defaults: 1/3 to 1 over 5 epochs.
    optim::SGD opt({param()}, {.lr = 0.3});
    optim::LinearLR s(opt);
    check_schedule(schedule(opt, s, 7), {0.1, 0.1 + 0.2 / 5, 0.1 + 0.4 / 5, 0.1 + 0.6 / 5, 0.1 + 0.8 / 5, 0.3, 0.3});
  }
}

TEST_CASE("OneCycleLR: two phases, cosine, with the momentum cycled the other way") {
  optim::SGD opt({param()}, {.lr = 123, .momentum = 0.9});
  optim::OneCycleLR s(opt, {.max_lr = {1.0}, .total_steps = 10});
  // initial 1 / 25 = 0.04, minimum 0.04 / 1e4; the rise ends at step 0.3 * 10 - 1 = 2,
  // the fall at step 9.
  const double initial = 0.04, low = 0.04 / 1e4;
  auto cos_anneal = [](double a, double b, double pct) { return b + (a - b) / 2 * (std::cos(pi * pct) + 1); };
  Vec expected{initial, cos_anneal(initial, 1, 0.5), 1};
  for (int step = 3; step <= 10; ++step) expected.push_back(cos_anneal(1, low, (step - 2) / 7.0));
  Vec momentum{opt.momentum(0)};
  Vec lrs{opt.lr(0)};
  for (int step = 1; step <= 10; ++step) {
    s.step();
    lrs.push_back(opt.lr(0));
    momentum.push_back(opt.momentum(0));
  }
  check_schedule(lrs, expected);
  CHECK(lrs[1] == doctest::Approx(0.52));
  CHECK(lrs[9] == doctest::Approx(low));
  // momentum: 0.95 -> 0.85 while the lr rises, back to 0.95 as it falls
  CHECK(momentum[0] == doctest::Approx(0.95));
  CHECK(momentum[1] == doctest::Approx(0.9));
  CHECK(momentum[2] == doctest::Approx(0.85));
  CHECK(momentum[9] == doctest::Approx(0.95));
  CHECK(opt.initial_lr(0) == initial);
  CHECK_THROWS_WITH_AS(s.step(), doctest::Contains("tried to step 11 times; the schedule has 10 steps"),
                       tg::ValueError);
}

TEST_CASE("OneCycleLR: three phases, linear annealing, per-group max_lr, Adam's beta1") {
  Tensor a = param(), b = param();
  std::vector<optim::ParamGroup<optim::AdamOptions>> groups{{{a}, {}}, {{b}, {}}};
  optim::Adam opt(groups);
  optim::OneCycleLR s(opt, {.max_lr = {1.0, 2.0},
                            .epochs = 2,
                            .steps_per_epoch = 5,
                            .anneal_strategy = optim::AnnealStrategy::Linear,
                            .three_phase = true});
  CHECK(s.total_steps() == 10);
  // Phases end at steps 2, 4 (= 2 * 0.3 * 10 - 2) and 9.
  const double initial = 0.04, low = 0.04 / 1e4;
  auto lin = [](double a, double b, double pct) { return (b - a) * pct + a; };
  Vec expected{initial, lin(initial, 1, 0.5), 1, lin(1, initial, 0.5), initial};
  for (int step = 5; step <= 9; ++step) expected.push_back(lin(initial, low, (step - 4) / 5.0));
  check_schedule(schedule(opt, s, 10), expected);
  CHECK(opt.lr(1) == doctest::Approx(2 * low));
  CHECK(opt.options(0).betas[0] == doctest::Approx(0.95));  // the third phase holds the max momentum
  CHECK(opt.options(0).betas[1] == 0.999);

  optim::Adagrad adagrad({param()});
  CHECK_THROWS_WITH_AS(optim::OneCycleLR(adagrad, {.max_lr = {1.0}, .total_steps = 10}),
                       doctest::Contains("Adagrad has no momentum or beta1"), tg::ValueError);
  CHECK_NOTHROW(optim::OneCycleLR(adagrad, {.max_lr = {1.0}, .total_steps = 10, .cycle_momentum = false}));
  CHECK_THROWS_WITH_AS(optim::OneCycleLR(opt, {.max_lr = {1.0, 2.0, 3.0}, .total_steps = 10}),
                       doctest::Contains("expected 1 or 2 values of max_lr"), tg::ValueError);
  CHECK_THROWS_AS(optim::OneCycleLR(opt, {.max_lr = {1.0}}), tg::ValueError);
}

TEST_CASE("ReduceLROnPlateau: patience, cooldown, min_lr, modes") {
  {
    optim::SGD opt({param()}, {.lr = 1});
    optim::ReduceLROnPlateau s(opt, {.factor = 0.5, .patience = 2});
    // best 1; three epochs without a relative improvement of 1e-4 -> halve
    Vec lrs;
    for (double metric : {1.0, 1.0, 0.99995, 1.0, 0.5, 0.6, 0.6, 0.6}) {
      s.step(metric);
      lrs.push_back(opt.lr(0));
    }
    check_schedule(lrs, {1, 1, 1, 0.5, 0.5, 0.5, 0.5, 0.25});
    CHECK(s.best() == 0.5);
    CHECK(s.get_last_lr().at(0) == 0.25);
  }
  {
    // cooldown 2: after a cut, two epochs whose bad counts are wiped
    optim::SGD opt({param()}, {.lr = 1});
    optim::ReduceLROnPlateau s(opt, {.factor = 0.1, .patience = 0, .cooldown = 2, .min_lr = {0.005}});
    Vec lrs;
    for (int e = 0; e < 8; ++e) {
      s.step(5.0);
      lrs.push_back(opt.lr(0));
    }
    // e0 sets best; e1 bad -> 0.1; e2, e3 cooldown; e4 -> 0.01; e5, e6 cooldown; e7 -> max(0.001, 0.005)
    check_schedule(lrs, {1, 0.1, 0.1, 0.1, 0.01, 0.01, 0.01, 0.005});
  }
  {
    // Max mode with an absolute threshold: an accuracy must rise by 0.1.
    optim::SGD opt({param()}, {.lr = 1});
    optim::ReduceLROnPlateau s(opt, {.mode = optim::PlateauMode::Max,
                                     .patience = 1,
                                     .threshold = 0.1,
                                     .threshold_mode = optim::ThresholdMode::Abs});
    Vec lrs;
    for (double acc : {0.5, 0.65, 0.7, 0.74, 0.9}) {
      s.step(acc);
      lrs.push_back(opt.lr(0));
    }
    // 0.5 best; 0.65 best; 0.7 bad (needs > 0.75); 0.74 bad -> cut; 0.9 best
    check_schedule(lrs, {1, 1, 1, 0.1, 0.1});
  }
  optim::SGD opt({param()}, {.lr = 1});
  CHECK_THROWS_WITH_AS(optim::ReduceLROnPlateau(opt, {.factor = 1.0}),
                       doctest::Contains("factor must be in [0, 1), got 1"), tg::ValueError);
  CHECK_THROWS_AS(optim::ReduceLROnPlateau(opt, {.min_lr = {0.1, 0.2}}), tg::ValueError);
}

TEST_CASE("SequentialLR: warm-up then decay, each scheduler from its own epoch 0") {
  optim::SGD opt({param()}, {.lr = 1});
  auto warmup = std::make_shared<optim::LinearLR>(opt, optim::LinearLROptions{.start_factor = 0.5, .total_iters = 2});
  auto decay = std::make_shared<optim::ExponentialLR>(opt, optim::ExponentialLROptions{.gamma = 0.5});
  optim::SequentialLR s(opt, {warmup, decay}, {2});
  // Epochs 0, 1 warm up; at 2 the decay starts over from the base lr.
  check_schedule(schedule(opt, s, 6), {0.5, 0.75, 1, 0.5, 0.25, 0.125});
  CHECK(warmup->last_epoch() == 1);
  CHECK(decay->last_epoch() == 3);
  CHECK_THROWS_WITH_AS(optim::SequentialLR(opt, {warmup, decay}, {}),
                       doctest::Contains("2 schedulers need 1 milestones"), tg::ValueError);
  optim::SGD other({param()}, {.lr = 1});
  auto elsewhere = std::make_shared<optim::StepLR>(other, optim::StepLROptions{.step_size = 1});
  CHECK_THROWS_WITH_AS(optim::SequentialLR(opt, {warmup, elsewhere}, {2}), doctest::Contains("another optimizer"),
                       tg::ValueError);
}

TEST_CASE("SequentialLR: a milestone of 0 hands over at epoch 1, as PyTorch") {
  // torch 1.13: epoch 0 is the first scheduler's (its constructor step); at
  // epoch 1 the second steps from its own epoch 0, not restarted by set_epoch.
  {
    optim::SGD opt({param()}, {.lr = 0.1});
    auto first = std::make_shared<optim::ExponentialLR>(opt, optim::ExponentialLROptions{.gamma = 0.8});
    auto warm = std::make_shared<optim::LinearLR>(opt, optim::LinearLROptions{.start_factor = 0.5, .total_iters = 3});
    optim::SequentialLR s(opt, {first, warm}, {0});
    // LinearLR: 0.1 * (0.5, 2/3, 5/6, 1, 1, ...) from epoch 1.
    check_schedule(schedule(opt, s, 7), {0.1, 0.05, 0.1 * 2 / 3, 0.1 * 5 / 6, 0.1, 0.1, 0.1});
  }
  {
    // Three schedulers, milestones 0 and 2: ConstantLR's epoch 0 at epoch 1; at 2 the decay restarts from 0.1.
    const auto make = [](optim::SGD& opt) {
      std::vector<std::shared_ptr<optim::LRScheduler>> parts{
          std::make_shared<optim::ExponentialLR>(opt, optim::ExponentialLROptions{.gamma = 0.8}),
          std::make_shared<optim::ConstantLR>(opt, optim::ConstantLROptions{.factor = 0.5, .total_iters = 2}),
          std::make_shared<optim::ExponentialLR>(opt, optim::ExponentialLROptions{.gamma = 0.9})};
      return std::make_unique<optim::SequentialLR>(opt, std::move(parts), std::vector<std::int64_t>{0, 2});
    };
    optim::SGD opt({param()}, {.lr = 0.1});
    check_schedule(schedule(opt, *make(opt), 7), {0.1, 0.05, 0.1, 0.09, 0.081, 0.0729, 0.06561});
    // Saved at epoch 0 (the first scheduler in charge) and loaded into a twin: the same lrs follow.
    optim::SGD saved_opt({param()}, {.lr = 0.1}), loaded_opt({param()}, {.lr = 0.1});
    const auto saved = make(saved_opt), loaded = make(loaded_opt);
    loaded->load_state_dict(saved->state_dict());
    check_schedule(schedule(loaded_opt, *loaded, 4), {0.1, 0.05, 0.1, 0.09});
    // Saved after three steps (epoch 3, the third scheduler in charge): the twin goes on from there.
    optim::SGD later_opt({param()}, {.lr = 0.1}), resumed_opt({param()}, {.lr = 0.1});
    const auto later = make(later_opt), resumed = make(resumed_opt);
    static_cast<void>(schedule(later_opt, *later, 4));  // epochs 0..3
    resumed->load_state_dict(later->state_dict());
    CHECK(resumed_opt.lr(0) == doctest::Approx(0.09));
    resumed->step();
    later->step();
    CHECK(resumed_opt.lr(0) == doctest::Approx(0.081));
    CHECK(resumed_opt.lr(0) == later_opt.lr(0));
  }
  optim::SGD opt({param()}, {.lr = 1});
  auto a = std::make_shared<optim::ExponentialLR>(opt, optim::ExponentialLROptions{.gamma = 0.5});
  auto b = std::make_shared<optim::ExponentialLR>(opt, optim::ExponentialLROptions{.gamma = 0.5});
  CHECK_THROWS_WITH_AS(optim::SequentialLR(opt, {a, b}, {-1}),
                       doctest::Contains("milestones must be non-negative and increasing, got -1 at index 0"),
                       tg::ValueError);
}

TEST_CASE("schedulers start from the optimizer's first lr, even when made one after another") {
  optim::SGD opt({param()}, {.lr = 1});
  optim::LinearLR warm(opt, {.start_factor = 0.1, .total_iters = 4});
  CHECK(opt.lr(0) == doctest::Approx(0.1));
  optim::StepLR step(opt, {.step_size = 10});
  CHECK(step.base_lrs().at(0) == 1);  // not 0.1
  CHECK(opt.initial_lr(0) == 1.0);
}

TEST_CASE("schedulers: state dicts restore the position exactly") {
  optim::SGD opt({param()}, {.lr = 1});
  optim::CosineAnnealingLR s(opt, {.T_max = 10});
  for (int i = 0; i < 3; ++i) s.step();
  const std::string state = s.state_dict();

  optim::SGD opt2({param()}, {.lr = 1});
  optim::CosineAnnealingLR s2(opt2, {.T_max = 10});
  s2.load_state_dict(state);
  CHECK(s2.last_epoch() == 3);
  for (int i = 0; i < 4; ++i) {
    s.step();
    s2.step();
    CHECK(opt.lr(0) == opt2.lr(0));
  }
  optim::StepLR wrong(opt2, {.step_size = 2});
  CHECK_THROWS_WITH_AS(wrong.load_state_dict(state), "StepLR::load_state_dict: the state is for CosineAnnealingLR",
                       tg::ValueError);
  CHECK_THROWS_AS(wrong.load_state_dict("not json"), tg::FormatError);

  // Plateau state survives infinities (the starting best).
  optim::ReduceLROnPlateau p(opt, {});
  optim::ReduceLROnPlateau p2(opt2, {});
  p2.step(3.0);
  p2.load_state_dict(p.state_dict());
  CHECK(std::isinf(p2.best()));
  CHECK(p2.last_epoch() == 0);

  // A chain saves its parts.
  auto w1 = std::make_shared<optim::LinearLR>(opt, optim::LinearLROptions{.total_iters = 2});
  auto d1 = std::make_shared<optim::StepLR>(opt, optim::StepLROptions{.step_size = 1, .gamma = 0.5});
  optim::SequentialLR chain(opt, {w1, d1}, {2});
  for (int i = 0; i < 3; ++i) chain.step();
  auto w2 = std::make_shared<optim::LinearLR>(opt2, optim::LinearLROptions{.total_iters = 2});
  auto d2 = std::make_shared<optim::StepLR>(opt2, optim::StepLROptions{.step_size = 1, .gamma = 0.5});
  optim::SequentialLR chain2(opt2, {w2, d2}, {2});
  chain2.load_state_dict(chain.state_dict());
  opt2.set_lr(0, opt.lr(0));
  chain.step();
  chain2.step();
  CHECK(opt2.lr(0) == opt.lr(0));
  CHECK(d2->last_epoch() == d1->last_epoch());
}

TEST_CASE("schedulers: bad options are errors naming the value") {
  optim::SGD opt({param()}, {.lr = 1});
  CHECK_THROWS_WITH_AS(optim::StepLR(opt, {.step_size = 0}), "StepLR: step_size must be positive, got 0",
                       tg::ValueError);
  CHECK_THROWS_WITH_AS(optim::CosineAnnealingLR(opt, {.T_max = -3}), doctest::Contains("got -3"), tg::ValueError);
  CHECK_THROWS_WITH_AS(optim::LinearLR(opt, {.start_factor = 0}),
                       doctest::Contains("start_factor must be in (0, 1], got 0"), tg::ValueError);
  CHECK_THROWS_WITH_AS(optim::LinearLR(opt, {.end_factor = 1.5}), doctest::Contains("got 1.5"), tg::ValueError);
  CHECK_THROWS_WITH_AS(optim::OneCycleLR(opt, {.max_lr = {1.0}, .total_steps = 10, .pct_start = 1.2}),
                       doctest::Contains("pct_start must be in [0, 1], got 1.2"), tg::ValueError);
}

}  // namespace test_lr_scheduler
