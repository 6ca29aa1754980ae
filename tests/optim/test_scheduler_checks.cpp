// Schedulers whose options would make the learning rate NaN, infinite or
// negative are refused when they are made (a ValueError naming the scheduler
// and the option), not epochs later when step() hands the optimizer an lr it
// refuses. Scheduler states whose integers do not fit are a FormatError.
#include <cmath>
#include <cstdint>
#include <limits>

#include <doctest/doctest.h>

#include <tapegrad/autograd/ops.h>
#include <tapegrad/optim/optim.h>

namespace test_scheduler_checks {

using tg::Tensor;
namespace optim = tg::optim;

namespace {
Tensor param() { return tg::zeros({2}, {.dtype = tg::kFloat64, .requires_grad = true}); }
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kInf = std::numeric_limits<double>::infinity();
}  // namespace

TEST_CASE("OneCycleLR: a phase with no steps (NaN lr) is refused when made") {
  optim::SGD opt({param()}, {.lr = 1, .momentum = 0.9});
  // 0.1 * 10 - 1 = 0: the rise ends at step 0, whose lr was 0 / 0.
  CHECK_THROWS_WITH_AS(optim::OneCycleLR(opt, {.max_lr = {1.0}, .total_steps = 10, .pct_start = 0.1}),
                       "OneCycleLR: pct_start 0.1 with total_steps 10 leaves a phase of the schedule with no steps "
                       "(the lr at step 0 would be NaN); choose another pct_start",
                       tg::ValueError);
  CHECK_THROWS_AS(optim::OneCycleLR(opt, {.max_lr = {1.0}, .total_steps = 100, .pct_start = 0.01}), tg::ValueError);
  CHECK_THROWS_AS(optim::OneCycleLR(
                      opt, {.max_lr = {1.0}, .epochs = 2, .steps_per_epoch = 5, .pct_start = 0.1, .three_phase = true}),
                  tg::ValueError);
  // pct_start 1: the fall has no steps, and the last step divided by zero.
  CHECK_THROWS_WITH_AS(optim::OneCycleLR(opt, {.max_lr = {1.0}, .total_steps = 10, .pct_start = 1.0}),
                       doctest::Contains("the lr at step 10 would be NaN"), tg::ValueError);
  // Three phases: (2 * 0.55 - 1) * 10 = 1 leaves the last phase no steps.
  CHECK_THROWS_AS(optim::OneCycleLR(opt, {.max_lr = {1.0}, .total_steps = 10, .pct_start = 0.55, .three_phase = true}),
                  tg::ValueError);
  CHECK(opt.lr(0) == 1);  // nothing was changed

  // Schedules next to those are fine, every lr finite to the last step.
  for (double pct : {0.0, 0.05, 0.11, 0.3, 0.99}) {
    CAPTURE(pct);
    optim::SGD o({param()}, {.lr = 1, .momentum = 0.9});
    optim::OneCycleLR s(o, {.max_lr = {1.0}, .total_steps = 10, .pct_start = pct});
    for (int step = 1; step <= 10; ++step) {
      s.step();
      CHECK(std::isfinite(o.lr(0)));
    }
  }
}

TEST_CASE("OneCycleLR: linear annealing reaches the last step with the minimum lr, not a negative one") {
  for (bool three : {false, true}) {
    CAPTURE(three);
    optim::SGD o({param()}, {.lr = 1, .momentum = 0.9});
    optim::OneCycleLR s(
        o,
        {.max_lr = {1.0}, .total_steps = 10, .anneal_strategy = optim::AnnealStrategy::Linear, .three_phase = three});
    for (int step = 1; step <= 10; ++step) s.step();  // the 10th threw: lr -0.14
    CHECK(o.lr(0) == doctest::Approx(0.04 / 1e4));
  }
}

TEST_CASE("OneCycleLR: epochs * steps_per_epoch that overflows, or a max_lr that is not an lr, is refused") {
  optim::SGD opt({param()}, {.lr = 1, .momentum = 0.9});
  CHECK_THROWS_WITH_AS(
      optim::OneCycleLR(opt,
                        {.max_lr = {1.0}, .epochs = std::int64_t{1} << 40, .steps_per_epoch = std::int64_t{1} << 30}),
      "OneCycleLR: epochs * steps_per_epoch (1099511627776 * 1073741824) overflows int64", tg::ValueError);
  CHECK_THROWS_WITH_AS(optim::OneCycleLR(opt, {.max_lr = {kNaN}, .total_steps = 10}),
                       "OneCycleLR: max_lr must be a finite number >= 0, got nan", tg::ValueError);
  CHECK_THROWS_AS(optim::OneCycleLR(opt, {.max_lr = {kInf}, .total_steps = 10}), tg::ValueError);
  CHECK_THROWS_WITH_AS(optim::OneCycleLR(opt, {.max_lr = {1.0}, .total_steps = 10, .base_momentum = kNaN}),
                       doctest::Contains("base_momentum must be a finite number >= 0, got nan"), tg::ValueError);
}

TEST_CASE("StepLR, MultiStepLR, ExponentialLR and CosineAnnealingLR refuse factors that make the lr bad") {
  optim::SGD opt({param()}, {.lr = 1});
  CHECK_THROWS_WITH_AS(optim::StepLR(opt, {.step_size = 2, .gamma = kNaN}),
                       "StepLR: gamma must be a finite number >= 0, got nan", tg::ValueError);
  CHECK_THROWS_AS(optim::StepLR(opt, {.step_size = 2, .gamma = -0.5}), tg::ValueError);
  CHECK_THROWS_WITH_AS(optim::MultiStepLR(opt, {.milestones = {3}, .gamma = -1}),
                       doctest::Contains("MultiStepLR: gamma must be"), tg::ValueError);
  CHECK_THROWS_WITH_AS(optim::ExponentialLR(opt, {.gamma = kInf}), doctest::Contains("ExponentialLR: gamma"),
                       tg::ValueError);
  CHECK_THROWS_WITH_AS(optim::CosineAnnealingLR(opt, {.T_max = 5, .eta_min = -0.1}),
                       "CosineAnnealingLR: eta_min must be a finite number >= 0, got -0.1", tg::ValueError);
  CHECK_THROWS_AS(optim::CosineAnnealingLR(opt, {.T_max = 5, .eta_min = kNaN}), tg::ValueError);
  // Valid factors, including 0 and growth above 1, work as before.
  optim::ExponentialLR grow(opt, {.gamma = 1.5});
  grow.step();
  CHECK(opt.lr(0) == doctest::Approx(1.5));
  optim::StepLR zero(opt, {.step_size = 1, .gamma = 0});
  zero.step();
  CHECK(opt.lr(0) == 0);
}

TEST_CASE("scheduler states: integers that do not fit and bad lrs are a FormatError") {
  optim::SGD opt({param()}, {.lr = 1});
  optim::StepLR s(opt, {.step_size = 2});
  CHECK_THROWS_WITH_AS(
      s.load_state_dict(
          R"({"scheduler": "StepLR", "last_epoch": 18446744073709551615, "base_lrs": [1.0], "last_lr": [1.0]})"),
      "StepLR::load_state_dict: \"last_epoch\" (18446744073709551615) does not fit in int64", tg::FormatError);
  CHECK_THROWS_AS(
      s.load_state_dict(R"({"scheduler": "StepLR", "last_epoch": -7, "base_lrs": [1.0], "last_lr": [1.0]})"),
      tg::FormatError);
  CHECK_THROWS_WITH_AS(
      s.load_state_dict(R"({"scheduler": "StepLR", "last_epoch": 3, "base_lrs": [-1.0], "last_lr": [1.0]})"),
      doctest::Contains("\"base_lrs\" holds -1.0"), tg::FormatError);
  CHECK(s.last_epoch() == 0);
  optim::ReduceLROnPlateau plateau(opt);
  CHECK_THROWS_AS(plateau.load_state_dict(R"({"scheduler": "ReduceLROnPlateau", "last_epoch": 1, "best": "0.5",
      "num_bad_epochs": 9223372036854775808, "cooldown_counter": 0, "last_lr": [1.0]})"),
                  tg::FormatError);
  CHECK(plateau.num_bad_epochs() == 0);
  // A state of the other mode: its best is the wrong end of the metric.
  optim::ReduceLROnPlateau maximizing(opt, {.mode = optim::PlateauMode::Max});
  maximizing.step(0.9);
  CHECK_THROWS_WITH_AS(plateau.load_state_dict(maximizing.state_dict()),
                       "ReduceLROnPlateau::load_state_dict: the state was saved in mode \"max\", this scheduler is in "
                       "mode min",
                       tg::ValueError);
  optim::ReduceLROnPlateau minimizing(opt);
  minimizing.step(0.3);
  plateau.load_state_dict(minimizing.state_dict());
  CHECK(plateau.best() == 0.3);
}

}  // namespace test_scheduler_checks
