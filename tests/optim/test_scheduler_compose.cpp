// Schedulers meeting other changes to the lr, against PyTorch 1.13
// (tests/reference/scheduler_compose.json, written by
// make_scheduler_compose_reference.py): step() changes the lr the optimizer
// holds, as PyTorch's chainable forms, so schedulers compose side by side,
// with ReduceLROnPlateau, with one made earlier and with set_lr. Also a
// ChainedScheduler made after a parameter group was added.
#include <functional>
#include <memory>
#include <string>

#include <doctest/doctest.h>

#include <tapegrad/autograd/ops.h>
#include <tapegrad/optim/optim.h>
#include "support/reference.h"

namespace test_scheduler_compose {

using tg::Tensor;
namespace O = tg::optim;

namespace {

const nlohmann::json& ref() { return tg_test::reference_file("scheduler_compose.json"); }

struct Sgd {
  Tensor p = tg::zeros({2}, {.dtype = tg::kFloat64, .requires_grad = true});
  O::SGD opt{std::vector<Tensor>{p}, {.lr = 0.1}};
};

// The lr after construction, then after each step(epoch), against the case's.
void check_case(O::Optimizer& opt, const std::function<void(int)>& step, const std::string& name) {
  CAPTURE(name);
  const auto& lrs = ref().at("cases").at(name).at("lrs");
  REQUIRE(lrs.size() == ref().at("epochs").get<std::size_t>() + 1);
  for (std::size_t e = 0; e < lrs.size(); ++e) {
    if (e > 0) step(static_cast<int>(e) - 1);
    INFO("after step " << e);
    REQUIRE(opt.lr(0) == doctest::Approx(lrs[e].get<double>()).epsilon(1e-12).scale(1e-300));
  }
}

}  // namespace

TEST_CASE("schedulers stepped side by side compose as PyTorch's") {
  {
    Sgd s;
    O::LinearLR a(s.opt, {.start_factor = 0.25, .total_iters = 3});
    O::StepLR b(s.opt, {.step_size = 2, .gamma = 0.5});
    check_case(
        s.opt, [&](int) { a.step(), b.step(); }, "LinearLR and StepLR side by side");
  }
  {
    Sgd s;
    O::CosineAnnealingLR a(s.opt, {.T_max = 5, .eta_min = 0.001});
    O::ConstantLR b(s.opt, {.factor = 0.3, .total_iters = 4});
    check_case(
        s.opt, [&](int) { a.step(), b.step(); }, "CosineAnnealingLR and ConstantLR side by side");
  }
  {
    Sgd s;
    O::PolynomialLR a(s.opt, {.total_iters = 8, .power = 2.0});
    O::MultiplicativeLR b(s.opt, {.lr_lambda = {[](std::int64_t) { return 0.9; }}});
    check_case(
        s.opt, [&](int) { a.step(), b.step(); }, "PolynomialLR and MultiplicativeLR side by side");
  }
}

TEST_CASE("a warm-up beside ReduceLROnPlateau keeps the plateau's cuts") {
  Sgd s;
  O::LinearLR warm(s.opt, {.start_factor = 0.5, .total_iters = 4});
  O::ReduceLROnPlateau plateau(s.opt, {.factor = 0.5, .patience = 0});
  const auto& metric = ref().at("metric");
  check_case(
      s.opt,
      [&](int e) {
        warm.step();
        plateau.step(metric.at(static_cast<std::size_t>(e)).get<double>());
      },
      "LinearLR warm-up and ReduceLROnPlateau");
}

TEST_CASE("a scheduler made after another ran, or after set_lr, starts from the lr it finds") {
  {
    Sgd s;
    O::StepLR first(s.opt, {.step_size = 1, .gamma = 0.5});
    for (int i = 0; i < 3; ++i) first.step();
    O::ExponentialLR second(s.opt, {.gamma = 0.9});
    check_case(
        s.opt, [&](int) { second.step(); }, "ExponentialLR made after StepLR ran 3 steps");
  }
  {
    Sgd s;
    O::MultiStepLR sched(s.opt, {.milestones = {3, 6}, .gamma = 0.1});
    check_case(
        s.opt,
        [&](int e) {
          if (e == 1) s.opt.set_lr(0, 0.01);
          sched.step();
        },
        "MultiStepLR after the lr is set by hand");
  }
}

TEST_CASE("ChainedScheduler of a scheduler that already stepped; SequentialLR into OneCycleLR") {
  {
    Sgd s;
    auto exp = std::make_shared<O::ExponentialLR>(s.opt, O::ExponentialLROptions{.gamma = 0.5});
    for (int i = 0; i < 4; ++i) exp->step();
    auto constant = std::make_shared<O::ConstantLR>(s.opt, O::ConstantLROptions{.factor = 0.5, .total_iters = 2});
    O::ChainedScheduler chain({exp, constant});
    check_case(
        s.opt, [&](int) { chain.step(); }, "ChainedScheduler of an ExponentialLR that ran 4 steps and a ConstantLR");
  }
  {
    Sgd s;
    auto warm = std::make_shared<O::LinearLR>(s.opt, O::LinearLROptions{.start_factor = 0.5, .total_iters = 3});
    auto cycle = std::make_shared<O::OneCycleLR>(s.opt, O::OneCycleLROptions{.max_lr = {0.3}, .total_steps = 20});
    O::SequentialLR seq(s.opt, {warm, cycle}, {4});
    check_case(
        s.opt, [&](int) { seq.step(); }, "SequentialLR of LinearLR then OneCycleLR");
  }
}

TEST_CASE("ChainedScheduler after add_param_group: each scheduler keeps to the groups it was made with") {
  // ExponentialLR is made with one group, StepLR after a second was added:
  // the chain used to read ExponentialLR's starting lr of the second group,
  // past the end of its list.
  Tensor a = tg::zeros({2}, {.dtype = tg::kFloat64, .requires_grad = true});
  Tensor b = tg::zeros({2}, {.dtype = tg::kFloat64, .requires_grad = true});
  O::SGD opt(std::vector<Tensor>{a}, {.lr = 0.1});
  auto exp = std::make_shared<O::ExponentialLR>(opt, O::ExponentialLROptions{.gamma = 0.9});
  opt.add_param_group(O::ParamGroup<O::SGDOptions>{{b}, {.lr = 0.05}});
  auto step = std::make_shared<O::StepLR>(opt, O::StepLROptions{.step_size = 2, .gamma = 0.5});
  O::ChainedScheduler chain({exp, step});
  CHECK(opt.lr(0) == doctest::Approx(0.1));
  CHECK(opt.lr(1) == doctest::Approx(0.05));
  const double want0[] = {0.09, 0.081 * 0.5, 0.0729 * 0.5};
  const double want1[] = {0.05, 0.025, 0.025};
  for (int i = 0; i < 3; ++i) {
    chain.step();
    CHECK(opt.lr(0) == doctest::Approx(want0[i]).epsilon(1e-12));
    CHECK(opt.lr(1) == doctest::Approx(want1[i]).epsilon(1e-12));
  }
  CHECK(chain.get_last_lr().size() == 2);
}

TEST_CASE("resuming schedulers stepped side by side: any load order once the optimizer's state is loaded") {
  // A warm-up beside an exponential decay and beside a plateau, saved after
  // 3 steps; the copies load the optimizer, then the schedulers last-made
  // first. Each scheduler's own last lr is not the optimizer's (the other
  // changed it after), so a load that wrote it resumed off by a factor.
  const std::vector<double> metric{1.0, 0.9, 0.95, 0.97, 0.99, 1.0};
  Sgd a;
  O::ConstantLR warm(a.opt, {.factor = 0.5, .total_iters = 4});
  O::ExponentialLR decay(a.opt, {.gamma = 0.9});
  O::ReduceLROnPlateau plateau(a.opt, {.factor = 0.5, .patience = 0});
  const auto step = [&](O::ConstantLR& w, O::ExponentialLR& d, O::ReduceLROnPlateau& p, std::size_t e) {
    w.step();
    d.step();
    p.step(metric.at(e));
  };
  for (std::size_t e = 0; e < 3; ++e) step(warm, decay, plateau, e);
  const auto opt_state = a.opt.state_dict();
  const std::string ws = warm.state_dict(), ds = decay.state_dict(), ps = plateau.state_dict();

  Sgd b;
  O::ConstantLR warm2(b.opt, {.factor = 0.5, .total_iters = 4});
  O::ExponentialLR decay2(b.opt, {.gamma = 0.9});
  O::ReduceLROnPlateau plateau2(b.opt, {.factor = 0.5, .patience = 0});
  b.opt.load_state_dict(opt_state);
  plateau2.load_state_dict(ps);
  decay2.load_state_dict(ds);
  warm2.load_state_dict(ws);
  CHECK(b.opt.lr(0) == a.opt.lr(0));
  for (std::size_t e = 3; e < metric.size(); ++e) {
    step(warm, decay, plateau, e);
    step(warm2, decay2, plateau2, e);
    CHECK(b.opt.lr(0) == a.opt.lr(0));
  }
  // Without the optimizer's state loaded since it was made, a scheduler's
  // load still sets the lr its last step left (a resume that loads the
  // scheduler alone, or the optimizer first and the scheduler made after).
  Sgd c;
  O::ExponentialLR decay3(c.opt, {.gamma = 0.9});
  CHECK(c.opt.lr(0) == 0.1);
  decay3.load_state_dict(ds);
  CHECK(decay3.get_last_lr().at(0) != 0.1);
  CHECK(c.opt.lr(0) == decay3.get_last_lr().at(0));
}

}  // namespace test_scheduler_compose
