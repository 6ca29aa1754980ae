// An optimizer outlives Module::to: after model.to(float64) (and back) it
// keeps stepping, its state converted to the parameters' new dtype, exactly
// as an optimizer made for the converted model and loaded with the same state.
// A mismatch that cannot be fixed names the optimizer and the parameter.
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <doctest/doctest.h>

#include <tapegrad/autograd/ops.h>
#include <tapegrad/nn/nn.h>
#include <tapegrad/optim/optim.h>

namespace test_optimizer_dtype {

using tg::Tensor;

namespace {

using MakeOptimizer = std::function<std::unique_ptr<tg::optim::Optimizer>(std::vector<Tensor>)>;

// One step of training with a fixed batch and loss, in the model's dtype.
void train_step(tg::nn::Sequential& model, tg::optim::Optimizer& opt, int t) {
  const tg::DType dt = model.parameters()[0].dtype();
  const Tensor x = tg::tensor({0.5, -1.0, 2.0, 0.25, 1.5, -0.75}, {2, 3}, {.dtype = dt}) * (1.0 + 0.1 * t);
  opt.zero_grad();
  tg::sum(tg::pow(model(x), 2.0)).backward();
  opt.step();
}

void check_same(tg::nn::Sequential& a, tg::nn::Sequential& b) {
  const auto pa = a.parameters(), pb = b.parameters();
  REQUIRE(pa.size() == pb.size());
  for (std::size_t i = 0; i < pa.size(); ++i) {
    CHECK(pa[i].dtype() == pb[i].dtype());
    CHECK(tg::equal(pa[i], pb[i]));
  }
}

void run(const char* name, const MakeOptimizer& make) {
  CAPTURE(name);
  tg::manual_seed(7);
  tg::nn::Sequential model{tg::nn::Linear(3, 4), tg::nn::Tanh(), tg::nn::Linear(4, 2)};
  auto opt = make(model.parameters());
  for (int t = 0; t < 3; ++t) train_step(model, *opt, t);

  // The reference: a float64 model and an optimizer made for it, given the
  // float32 run's weights and optimizer state.
  tg::nn::Sequential ref{tg::nn::Linear(3, 4), tg::nn::Tanh(), tg::nn::Linear(4, 2)};
  ref.to(tg::kFloat64);
  ref.load_state_dict(model.state_dict());
  auto ref_opt = make(ref.parameters());
  ref_opt->load_state_dict(opt->state_dict());

  model.to(tg::kFloat64);
  for (int t = 3; t < 6; ++t) {
    train_step(model, *opt, t);
    train_step(ref, *ref_opt, t);
  }
  check_same(model, ref);
  const auto state = opt->state_dict();
  for (const auto& [key, value] : state.tensors)
    if (key.find(".step") == std::string::npos) CHECK(value.dtype() == tg::kFloat64);

  // And back to float32: both follow.
  model.to(tg::kFloat32);
  ref.to(tg::kFloat32);
  for (int t = 6; t < 8; ++t) {
    train_step(model, *opt, t);
    train_step(ref, *ref_opt, t);
  }
  check_same(model, ref);
  CHECK(model.parameters()[0].dtype() == tg::kFloat32);
}

}  // namespace

TEST_CASE("optimizers keep working after model.to(float64) and back, their state converted") {
  using namespace tg::optim;
  run("SGD", [](std::vector<Tensor> p) {
    return std::make_unique<SGD>(std::move(p), SGDOptions{.lr = 0.05, .momentum = 0.9, .weight_decay = 0.01});
  });
  run("Adam", [](std::vector<Tensor> p) {
    return std::make_unique<Adam>(std::move(p), AdamOptions{.lr = 0.01, .amsgrad = true});
  });
  run("AdamW", [](std::vector<Tensor> p) { return std::make_unique<AdamW>(std::move(p), AdamWOptions{.lr = 0.01}); });
  run("RMSprop", [](std::vector<Tensor> p) {
    return std::make_unique<RMSprop>(std::move(p), RMSpropOptions{.lr = 0.01, .momentum = 0.5, .centered = true});
  });
  run("Adagrad", [](std::vector<Tensor> p) {
    return std::make_unique<Adagrad>(std::move(p), AdagradOptions{.lr = 0.05, .initial_accumulator_value = 0.1});
  });
}

TEST_CASE("optimizers: load_state_dict casts floating state to the parameter's dtype, as PyTorch") {
  Tensor p32 = tg::zeros({3}, {.requires_grad = true});
  tg::optim::Adam a({p32}, {.lr = 0.1});
  p32.set_grad(tg::tensor({0.5, -1.0, 2.0}));
  a.step();
  Tensor p64 = tg::zeros({3}, {.dtype = tg::kFloat64, .requires_grad = true});
  tg::optim::Adam b({p64});
  b.load_state_dict(a.state_dict());
  CHECK(b.state(0, 0).exp_avg.dtype() == tg::kFloat64);
  CHECK(tg::equal(b.state(0, 0).exp_avg, a.state(0, 0).exp_avg.to(tg::kFloat64)));
  // A state that is not floating cannot be cast.
  auto bad = a.state_dict();
  bad.tensors["state.0.exp_avg"] = tg::zeros({3}, {.dtype = tg::kInt64});
  CHECK_THROWS_WITH_AS(b.load_state_dict(bad), doctest::Contains("\"state.0.exp_avg\" is int64 [3]"), tg::DTypeError);
}

TEST_CASE("optimizers: a gradient that does not fit names the optimizer, the group and the parameter") {
  Tensor a = tg::zeros({2}, {.requires_grad = true});
  Tensor b = tg::zeros({2, 2}, {.dtype = tg::kFloat64, .requires_grad = true});
  std::vector<tg::optim::ParamGroup<tg::optim::SGDOptions>> groups{{{a}, {.lr = 0.1}}, {{b}, {.lr = 0.1}}};
  tg::optim::SGD opt(groups);
  b.mutable_grad() = tg::ones({2, 2});  // float32 for a float64 parameter (set_grad would refuse it)
  CHECK_THROWS_WITH_AS(opt.step(),
                       "SGD: the gradient (float32 [2, 2]) does not match parameter 0 of group 1 (float64 [2, 2])",
                       tg::DTypeError);
}

TEST_CASE("optimizers: state that no longer fits its parameter's shape names the optimizer, parameter and state") {
  Tensor p = tg::zeros({2}, {.requires_grad = true});
  tg::optim::Adam opt({p});
  p.set_grad(tg::ones({2}));
  opt.step();
  // The parameter's data swapped in place for data of another shape, the way
  // Module::to swaps dtypes (no public API does this; a custom one could).
  const Tensor bigger = tg::zeros({3});
  tg::TensorImpl* impl = p.impl();
  impl->storage = bigger.storage();
  impl->sizes = tg::Dims{3};
  impl->strides = tg::Dims{1};
  impl->numel = 3;
  p.set_grad(tg::ones({3}));
  CHECK_THROWS_WITH_AS(opt.step(),
                       doctest::Contains("Adam: state \"exp_avg\" of parameter 0 of group 0 is float32 [2], but the "
                                         "parameter is now float32 [3]"),
                       tg::ShapeError);
}

TEST_CASE("floating-only checks list the dtypes they accept, and accept each one they list") {
  // Every refusal names the four floating dtypes (tg::kFloatingDTypeNames);
  // these messages once said "float32 or float64" while float16 and
  // bfloat16 went through.
  const std::string listed = std::string(tg::kFloatingDTypeNames);
  const Tensor ints = tg::tensor({1, 2, 3, 4}, {2, 2});  // int64
  const Tensor labels = tg::tensor({0, 1});
  namespace F = tg::nn::functional;
  const std::vector<std::pair<const char*, std::function<void()>>> refusals = {
      {"Module::to", [] { tg::nn::Linear(2, 2).to(tg::kInt64); }},
      {"Adam", [&] { tg::optim::Adam({ints}); }},
      {"std", [&] { (void)tg::std(ints); }},
      {"randn", [] { (void)tg::randn({2}, {.dtype = tg::kInt32}); }},
      {"multinomial", [&] { (void)tg::multinomial(ints, 1); }},
      {"cross_entropy", [&] { (void)F::cross_entropy(ints, labels); }},
      {"mse_loss", [&] { (void)F::mse_loss(ints, ints); }},
      {"triplet_margin_loss", [&] { (void)F::triplet_margin_loss(ints, ints, ints); }},
  };
  for (const auto& refusal : refusals) {
    const std::string name = refusal.first;
    CAPTURE(name);
    CHECK_THROWS_WITH_AS(refusal.second(), doctest::Contains(listed.c_str()), tg::DTypeError);
  }
  // What the messages list goes through the same checks.
  for (const tg::DType dt : {tg::kFloat16, tg::kBFloat16, tg::kFloat32, tg::kFloat64}) {
    CAPTURE(tg::dtype_name(dt));
    CHECK(listed.find(tg::dtype_name(dt)) != std::string::npos);
    tg::nn::Linear fc(2, 2);
    fc.to(dt);
    tg::optim::Adam opt(fc.parameters());
    const Tensor x = tg::ones({2, 2}, {.dtype = dt});
    F::cross_entropy(fc(x), labels).backward();
    opt.step();
    CHECK(fc.weight.dtype() == dt);
    CHECK(tg::std(x).dtype() == dt);
    CHECK(tg::randn({2}, {.dtype = dt}).dtype() == dt);
    CHECK(tg::multinomial(x, 1).dtype() == tg::kInt64);
    CHECK(F::mse_loss(x, x).dtype() == dt);
  }
}

}  // namespace test_optimizer_dtype
