// What optimizers' load_state_dict refuses: LBFGS options outside the
// constructor's ranges (or not whole numbers), a parameter's state with a part
// missing; LBFGS's strong-Wolfe line search with its own tolerance, as
// PyTorch's; add_param_group with SGD and Adam, through state dict round trips.
#include <string>
#include <vector>

#include <functional>

#include <doctest/doctest.h>

#include <tapegrad/autograd/ops.h>
#include <tapegrad/optim/optim.h>

namespace test_optimizer_load_checks {

using tg::Tensor;
using Vec = std::vector<double>;
namespace O = tg::optim;

namespace {

constexpr tg::TensorOptions kF64{.dtype = tg::kFloat64};

Tensor leaf(const Vec& values) {
  return tg::tensor(values, {static_cast<std::int64_t>(values.size())}, kF64).set_requires_grad(true);
}

// LBFGS's "param_groups" metadata with one option replaced by `option` (e.g. "\"history_size\":0").
std::string lbfgs_groups(const std::string& field, const std::string& value) {
  std::vector<std::pair<std::string, std::string>> options{{"lr", "1.0"},
                                                           {"max_iter", "20.0"},
                                                           {"max_eval", "25.0"},
                                                           {"tolerance_grad", "1e-7"},
                                                           {"tolerance_change", "1e-9"},
                                                           {"history_size", "100.0"},
                                                           {"strong_wolfe", "false"}};
  std::string json = "[{\"options\":{";
  for (std::size_t i = 0; i < options.size(); ++i) {
    if (i > 0) json += ",";
    json += "\"" + options[i].first + "\":" + (options[i].first == field ? value : options[i].second);
  }
  return json + "},\"num_params\":1}]";
}

}  // namespace

TEST_CASE("LBFGS::load_state_dict checks the options as the constructor does") {
  Tensor x = leaf({-1.5, 2.0, 0.7});
  O::LBFGS source({x});
  const O::OptimizerState good = source.state_dict();
  struct Bad {
    const char* field;
    const char* value;
    const char* message;
  };
  const std::vector<Bad> bad{
      {"lr", "-1.0", "learning rate -1"},
      {"max_iter", "0.0", "max_iter must be at least 1, got 0"},
      {"max_eval", "0.0", "max_eval must be at least 1, got 0"},
      {"history_size", "0.0", "history_size must be at least 1, got 0"},
      {"history_size", "-3.0", "history_size must be at least 1, got -3"},
      {"tolerance_grad", "-1", "tolerance_grad -1"},
      {"tolerance_change", "-1e-9", "tolerance_change -1e-09"},
      // Casts that changed the value: 1e300 became INT64_MIN, 2.5 became 2.
      {"max_iter", "1e300", "option \"max_iter\" must be a whole number in int64's range, got 1e+300"},
      {"max_eval", "2.5", "option \"max_eval\" must be a whole number in int64's range, got 2.5"},
      {"history_size", "9223372036854775808.0", "option \"history_size\" must be a whole number"},
  };
  for (const Bad& b : bad) {
    INFO(b.field << " = " << b.value);
    O::LBFGS target({x}, {.lr = 0.5});
    O::OptimizerState state = good;
    state.metadata["param_groups"] = lbfgs_groups(b.field, b.value);
    CHECK_THROWS_WITH_AS(target.load_state_dict(state), doctest::Contains(b.message), tg::ValueError);
    CHECK(target.options().lr == 0.5);  // unchanged
    CHECK(target.options().history_size == 100);
  }
  // In range and whole: loaded.
  O::LBFGS target({x});
  O::OptimizerState state = good;
  state.metadata["param_groups"] = lbfgs_groups("history_size", "3.0");
  target.load_state_dict(state);
  CHECK(target.options().history_size == 3);
}

TEST_CASE("LBFGS: a history longer than the loaded history_size is refused") {
  Tensor x = leaf({-1.5, 2.0, 0.7});
  O::LBFGS opt({x}, {.max_iter = 6});
  const Tensor w = tg::tensor(Vec{1, 3, 5}, {3}, kF64);
  auto closure = [&] {
    opt.zero_grad();
    Tensor loss = tg::sum(tg::mul(tg::mul(x, x), w));
    loss.backward();
    return loss;
  };
  opt.step(closure);
  O::OptimizerState state = opt.state_dict();
  const auto pairs = state.tensors.at("state.0.ro").numel();
  REQUIRE(pairs >= 2);
  state.metadata["param_groups"] = lbfgs_groups("history_size", "1.0");
  O::LBFGS target({x});
  CHECK_THROWS_WITH_AS(target.load_state_dict(state), doctest::Contains("more than history_size 1"), tg::ValueError);
}

TEST_CASE("LBFGS: max_eval's default does not overflow for a huge max_iter") {
  Tensor x = leaf({1.0});
  O::LBFGS opt({x}, {.max_iter = INT64_MAX});
  CHECK(*opt.options().max_eval == INT64_MAX);
  O::LBFGS small({x}, {.max_iter = 8});
  CHECK(*small.options().max_eval == 10);
}

TEST_CASE("LBFGS: the strong-Wolfe line search keeps PyTorch's tolerance 1e-9, not tolerance_change") {
  // torch 1.13: x = 10, loss x^2, LBFGS([x], lr=30, max_iter=1, tolerance_change=100,
  // line_search_fn="strong_wolfe"): one step gives x = 0 (the zoom interpolates to the
  // minimum; with the bracket test at tolerance 100 it stopped at once, x stayed 10).
  Tensor x = leaf({10.0});
  O::LBFGS opt({x}, {.lr = 30, .max_iter = 1, .tolerance_change = 100, .line_search_fn = "strong_wolfe"});
  opt.step([&] {
    opt.zero_grad();
    Tensor loss = tg::sum(tg::mul(x, x));
    loss.backward();
    return loss;
  });
  CHECK(x.to_vector<double>()[0] == doctest::Approx(0.0).scale(1));
}

TEST_CASE("LBFGS: add_param_group is refused") {
  Tensor x = leaf({1.0}), y = leaf({2.0});
  O::LBFGS opt({x});
  CHECK_THROWS_WITH_AS(opt.add_param_group({y}), doctest::Contains("LBFGS::add_param_group"), tg::ValueError);
}

namespace {

// One step of an optimizer over a fresh parameter, its state dict without
// `drop`, and a load of that into another optimizer: the message, or "" when it loads.
template <class Optim, class Options>
std::string load_without(const Options& options, const std::string& drop) {
  Tensor x = tg::ones({3}, {.dtype = tg::kFloat64, .requires_grad = true});
  Optim a({x}, options);
  x.set_grad(tg::ones({3}, kF64));
  a.step();
  O::OptimizerState state = a.state_dict();
  REQUIRE(state.tensors.erase("state.0." + drop) == 1);
  Tensor y = tg::ones({3}, {.dtype = tg::kFloat64, .requires_grad = true});
  Optim b({y}, options);
  try {
    b.load_state_dict(state);
  } catch (const tg::ValueError& e) {
    CHECK(b.state(0, 0).step == 0);  // nothing loaded
    return e.what();
  }
  return "";
}

template <class Optim, class Options>
void check_all_or_nothing(const std::string& name, const Options& options, const std::vector<std::string>& needed) {
  for (const std::string& field : needed) {
    INFO(name << " without " << field);
    const std::string message = load_without<Optim>(options, field);
    CHECK(message.find(name + "::load_state_dict: the state of parameter 0 lacks \"state.0." + field + "\"") !=
          std::string::npos);
  }
}

}  // namespace

TEST_CASE("optimizers: a parameter's state is complete or absent") {
  check_all_or_nothing<O::SGD>("SGD", O::SGDOptions{.momentum = 0.9}, {"step"});
  check_all_or_nothing<O::Adam>("Adam", O::AdamOptions{}, {"step", "exp_avg", "exp_avg_sq"});
  check_all_or_nothing<O::Adam>("Adam", O::AdamOptions{.amsgrad = true},
                                {"step", "exp_avg", "exp_avg_sq", "max_exp_avg_sq"});
  check_all_or_nothing<O::AdamW>("AdamW", O::AdamWOptions{.amsgrad = true},
                                 {"step", "exp_avg", "exp_avg_sq", "max_exp_avg_sq"});
  check_all_or_nothing<O::Adagrad>("Adagrad", O::AdagradOptions{}, {"step", "sum"});
  check_all_or_nothing<O::Adadelta>("Adadelta", O::AdadeltaOptions{}, {"step", "square_avg", "acc_delta"});
  check_all_or_nothing<O::Adamax>("Adamax", O::AdamaxOptions{}, {"step", "exp_avg", "exp_inf"});
  check_all_or_nothing<O::NAdam>("NAdam", O::NAdamOptions{}, {"step", "exp_avg", "exp_avg_sq", "mu_product"});
  check_all_or_nothing<O::RAdam>("RAdam", O::RAdamOptions{}, {"step", "exp_avg", "exp_avg_sq"});
  check_all_or_nothing<O::RMSprop>("RMSprop", O::RMSpropOptions{.momentum = 0.5, .centered = true},
                                   {"step", "square_avg", "grad_avg", "momentum_buffer"});

  // What the options do not use need not be there; SGD's momentum buffer never
  // (PyTorch's None: the next step starts it from the gradient).
  CHECK(load_without<O::SGD>(O::SGDOptions{.momentum = 0.9}, "momentum_buffer").empty());

  // A state without any part for a parameter still loads (it starts fresh).
  Tensor x = leaf({1, 2}), y = leaf({3, 4});
  O::Adam a({x, y});
  x.set_grad(tg::ones({2}, kF64));
  a.step();
  const O::OptimizerState state = a.state_dict();
  CHECK(state.tensors.count("state.1.step") == 0);
  O::Adam b({x, y});
  b.load_state_dict(state);
  CHECK(b.state(0, 0).step == 1);
  CHECK(b.state(0, 1).step == 0);
}

namespace {

// Two steps, `change` between them, a state dict saved and loaded into a
// fresh optimizer, then two more steps of each: the same parameters.
template <class Optim, class Options>
void check_resume_after_change(const Options& options, const std::function<void(Optim&)>& change) {
  Tensor x = leaf({1.0, -2.0, 0.5});
  Optim a({x}, options);
  const auto step = [](Optim& opt, Tensor& p, int t) {
    p.set_grad(tg::tensor({0.3 * t, -0.2, 0.1 * t * t}, {3}, kF64));
    opt.step();
  };
  step(a, x, 1);
  change(a);
  step(a, x, 2);
  Tensor y = leaf({0.0, 0.0, 0.0});
  {
    tg::NoGradGuard no_grad;
    y.copy_(x);
  }
  Optim b({y}, options);
  b.load_state_dict(a.state_dict());  // used to be refused: a buffer the new options use was missing
  for (int t = 3; t <= 4; ++t) {
    step(a, x, t);
    step(b, y, t);
  }
  CHECK(x.to_vector<double>() == y.to_vector<double>());
}

}  // namespace

TEST_CASE("optimizers: a state saved after the options changed loads, and continues identically") {
  check_resume_after_change<O::RMSprop>(O::RMSpropOptions{.lr = 0.01}, [](O::RMSprop& o) { o.set_momentum(0, 0.9); });
  check_resume_after_change<O::RMSprop>(O::RMSpropOptions{.lr = 0.01}, [](O::RMSprop& o) {
    auto options = o.options(0);
    options.centered = true;
    o.set_options(0, options);
  });
  check_resume_after_change<O::Adam>(O::AdamOptions{.lr = 0.01}, [](O::Adam& o) {
    auto options = o.options(0);
    options.amsgrad = true;
    o.set_options(0, options);
  });
  check_resume_after_change<O::AdamW>(O::AdamWOptions{.lr = 0.01}, [](O::AdamW& o) {
    auto options = o.options(0);
    options.amsgrad = true;
    o.set_options(0, options);
  });
}

TEST_CASE("optimizers: a step count past 2^53 is refused (it would overflow a few steps on)") {
  Tensor x = leaf({1, 2});
  O::Adam a({x});
  x.set_grad(tg::ones({2}, kF64));
  a.step();
  O::OptimizerState state = a.state_dict();
  state.tensors["state.0.step"] = tg::scalar_tensor(0x1p62, {.dtype = tg::kInt64});
  O::Adam b({x});
  CHECK_THROWS_WITH_AS(b.load_state_dict(state),
                       "Adam::load_state_dict: \"state.0.step\" is 4611686018427387904, past 2^53", tg::FormatError);
  state.tensors["state.0.step"] = tg::scalar_tensor(0x1p53, {.dtype = tg::kInt64});
  b.load_state_dict(state);
  CHECK(b.state(0, 0).step == (std::int64_t{1} << 53));
}

namespace {

// Two steps of `opt` with fixed gradients for `params`.
void two_steps(O::Optimizer& opt, const std::vector<Tensor>& params) {
  for (int t = 1; t <= 2; ++t) {
    for (std::size_t i = 0; i < params.size(); ++i) {
      Tensor p = params[i];
      p.set_grad(tg::mul(tg::ones_like(p), 0.5 * static_cast<double>(t) + static_cast<double>(i)));
    }
    opt.step();
  }
}

Vec values(const std::vector<Tensor>& params) {
  Vec out;
  for (const Tensor& p : params) {
    const Vec v = p.to_vector<double>();
    out.insert(out.end(), v.begin(), v.end());
  }
  return out;
}

}  // namespace

TEST_CASE("add_param_group: SGD, defaults and own options, refusals, state dict round trips") {
  Tensor a = leaf({1, 2}), b = leaf({3}), c = leaf({-1, 0.5});
  O::SGD opt({a}, {.lr = 0.1, .momentum = 0.9});
  opt.add_param_group({b});  // the optimizer's options
  opt.add_param_group(O::ParamGroup<O::SGDOptions>{{c}, {.lr = 0.01}});
  REQUIRE(opt.num_param_groups() == 3);
  CHECK(opt.options(1).lr == 0.1);
  CHECK(opt.options(1).momentum == 0.9);
  CHECK(opt.options(2).lr == 0.01);
  CHECK(opt.options(2).momentum == 0);
  CHECK(opt.state(1, 0).step == 0);  // made lazily

  CHECK_THROWS_WITH_AS(opt.add_param_group({a}),
                       "SGD::add_param_group: parameter 0 of the new group is already in group 0 (a parameter can be "
                       "in one group only)",
                       tg::ValueError);
  CHECK_THROWS_WITH_AS(opt.add_param_group(O::ParamGroup<O::SGDOptions>{{leaf({1})}, {.lr = -1}}),
                       doctest::Contains("learning rate -1"), tg::ValueError);
  Tensor d = leaf({7});
  CHECK_THROWS_AS(opt.add_param_group({d, d}), tg::ValueError);
  CHECK_THROWS_AS(opt.add_param_group({tg::mul(d, 2.0)}), tg::ValueError);  // not a leaf
  CHECK(opt.num_param_groups() == 3);

  two_steps(opt, {a, b, c});
  // a and b: lr 0.1 with momentum; c: lr 0.01 without. Gradients 0.5 t + i.
  CHECK(a.to_vector<double>()[0] == doctest::Approx(1 - 0.1 * 0.5 - 0.1 * (0.9 * 0.5 + 1.0)));
  CHECK(b.to_vector<double>()[0] == doctest::Approx(3 - 0.1 * 1.5 - 0.1 * (0.9 * 1.5 + 2.0)));
  CHECK(c.to_vector<double>()[0] == doctest::Approx(-1 - 0.01 * 2.5 - 0.01 * 3.0));

  // Round trip: an optimizer with the same groups continues identically.
  const O::OptimizerState state = opt.state_dict();
  Tensor a2 = leaf(a.to_vector<double>()), b2 = leaf(b.to_vector<double>()), c2 = leaf(c.to_vector<double>());
  O::SGD other({a2}, {.lr = 0.5});
  CHECK_THROWS_WITH_AS(other.load_state_dict(state), doctest::Contains("the state has 3 parameter groups"),
                       tg::ValueError);
  other.add_param_group({b2});
  other.add_param_group({c2});
  other.load_state_dict(state);
  CHECK(other.options(2).lr == 0.01);
  two_steps(opt, {a, b, c});
  two_steps(other, {a2, b2, c2});
  CHECK(values({a2, b2, c2}) == values({a, b, c}));
}

TEST_CASE("add_param_group: Adam, a scheduler made after it, state dict round trips") {
  Tensor a = leaf({1, 2}), b = leaf({3, -4});
  O::Adam opt({a}, {.lr = 0.1, .amsgrad = true});
  two_steps(opt, {a});
  opt.add_param_group(O::ParamGroup<O::AdamOptions>{{b}, {.lr = 0.05, .weight_decay = 0.1}});
  CHECK(opt.options(1).lr == 0.05);
  CHECK(!opt.options(1).amsgrad);
  CHECK(opt.initial_lr(1) == std::nullopt);
  O::StepLR sched(opt, {.step_size = 1, .gamma = 0.5});
  CHECK(sched.base_lrs() == Vec{0.1, 0.05});
  two_steps(opt, {a, b});
  CHECK(opt.state(0, 0).step == 4);
  CHECK(opt.state(1, 0).step == 2);

  const O::OptimizerState state = opt.state_dict();
  const std::string sched_state = sched.state_dict();
  Tensor a2 = leaf(a.to_vector<double>()), b2 = leaf(b.to_vector<double>());
  O::Adam other({a2}, {.lr = 0.1, .amsgrad = true});
  other.add_param_group({b2});
  CHECK(other.options(1).amsgrad);  // the defaults, until the state is loaded
  other.load_state_dict(state);
  CHECK(other.options(1).weight_decay == 0.1);
  CHECK(!other.options(1).amsgrad);
  O::StepLR other_sched(other, {.step_size = 1, .gamma = 0.5});
  other_sched.load_state_dict(sched_state);
  for (int i = 0; i < 2; ++i) {
    sched.step();
    other_sched.step();
    two_steps(opt, {a, b});
    two_steps(other, {a2, b2});
  }
  CHECK(other.lr(1) == opt.lr(1));
  CHECK(values({a2, b2}) == values({a, b}));
}

}  // namespace test_optimizer_load_checks
