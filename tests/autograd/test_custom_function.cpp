// User-defined differentiable functions (tg::autograd::Function).
#include <doctest/doctest.h>

#include <cmath>
#include <functional>
#include <string>
#include <vector>

#include <tapegrad/autograd/custom_function.h>
#include <tapegrad/autograd/engine.h>
#include <tapegrad/autograd/grad_mode.h>
#include <tapegrad/autograd/gradcheck.h>
#include <tapegrad/autograd/node.h>
#include <tapegrad/autograd/ops.h>
#include <tapegrad/autograd/tensor.h>

#include "support/close.h"

namespace test_custom_function {

using tg::Tensor;
using tg::autograd::AutogradContext;

namespace {

constexpr tg::TensorOptions kF64{.dtype = tg::kFloat64};
constexpr tg::TensorOptions kF64Grad{.dtype = tg::kFloat64, .requires_grad = true};

using tg_test::check_close;

// y = x^3;  dx = dy * 3 x^2, written with differentiable ops so it can be
// differentiated again.
struct Cube : tg::autograd::Function<Cube> {
  static Tensor forward(AutogradContext* ctx, const Tensor& x) {
    ctx->save_for_backward({x});
    return x * x * x;
  }
  static std::vector<Tensor> backward(AutogradContext* ctx, std::vector<Tensor> grads) {
    const Tensor x = ctx->get_saved_variables()[0];
    return {grads[0] * 3 * x * x};
  }
};

// y = log(1 + exp(beta x)) / beta;  dx = dy * sigmoid(beta x) = dy * (1 - exp(-beta y)).
// Saves its output and a double.
struct Softplus : tg::autograd::Function<Softplus> {
  static Tensor forward(AutogradContext* ctx, const Tensor& x, double beta) {
    Tensor y = (x * beta).exp().log1p() / beta;
    ctx->saved_data["beta"] = beta;
    ctx->save_for_backward({y});
    return y;
  }
  static std::vector<Tensor> backward(AutogradContext* ctx, std::vector<Tensor> grads) {
    const double beta = ctx->saved_data["beta"].to_double();
    const Tensor y = ctx->get_saved_variables()[0];
    // One gradient per argument: none for beta.
    return {grads[0] * tg::rsub((y * -beta).exp(), 1), Tensor()};
  }
};

// y = a * b + scale * a, recording which inputs need gradients.
struct ScaledProduct : tg::autograd::Function<ScaledProduct> {
  static inline std::vector<bool> seen;
  static Tensor forward(AutogradContext* ctx, const Tensor& a, const Tensor& b, std::int64_t scale) {
    ctx->save_for_backward({a, b});
    ctx->saved_data["scale"] = scale;
    seen = {ctx->needs_input_grad(0), ctx->needs_input_grad(1)};
    return a * b + a * static_cast<double>(scale);
  }
  static std::vector<Tensor> backward(AutogradContext* ctx, std::vector<Tensor> grads) {
    auto saved = ctx->get_saved_variables();
    const auto scale = static_cast<double>(ctx->saved_data["scale"].to_int());
    Tensor da = ctx->needs_input_grad(0) ? grads[0] * (saved[1] + scale) : Tensor();
    Tensor db = ctx->needs_input_grad(1) ? grads[0] * saved[0] : Tensor();
    return {da, db};  // one per tensor argument
  }
};

// y = alpha * x * w, with the scalar between the tensors: forward(ctx, x,
// alpha, w). PyTorch-style: w is argument 2, one gradient per argument.
struct ScaledMulByArgument : tg::autograd::Function<ScaledMulByArgument> {
  static inline std::vector<bool> seen;
  static Tensor forward(AutogradContext* ctx, const Tensor& x, double alpha, const Tensor& w) {
    ctx->save_for_backward({x, w});
    ctx->saved_data["alpha"] = alpha;
    return x * w * alpha;
  }
  static std::vector<Tensor> backward(AutogradContext* ctx, std::vector<Tensor> grads) {
    auto saved = ctx->get_saved_variables();
    const double alpha = ctx->saved_data["alpha"].to_double();
    seen = {ctx->needs_argument_grad(0), ctx->needs_argument_grad(1), ctx->needs_argument_grad(2)};
    Tensor dx = ctx->needs_argument_grad(0) ? grads[0] * saved[1] * alpha : Tensor();
    Tensor dw = ctx->needs_argument_grad(2) ? grads[0] * saved[0] * alpha : Tensor();
    return {dx, Tensor(), dw};
  }
};

// The same, LibTorch-style: w is tensor argument 1, one gradient per tensor.
struct ScaledMulByTensor : tg::autograd::Function<ScaledMulByTensor> {
  static Tensor forward(AutogradContext* ctx, const Tensor& x, double alpha, const Tensor& w) {
    ctx->save_for_backward({x, w});
    ctx->saved_data["alpha"] = alpha;
    return x * w * alpha;
  }
  static std::vector<Tensor> backward(AutogradContext* ctx, std::vector<Tensor> grads) {
    auto saved = ctx->get_saved_variables();
    const double alpha = ctx->saved_data["alpha"].to_double();
    Tensor dx = ctx->needs_tensor_grad(0) ? grads[0] * saved[1] * alpha : Tensor();
    Tensor dw = ctx->needs_tensor_grad(1) ? grads[0] * saved[0] * alpha : Tensor();
    return {dx, dw};
  }
};

// What needs_input_grad and the explicit forms say in forward(ctx, x, alpha, w).
struct NeedsProbe : tg::autograd::Function<NeedsProbe> {
  static inline std::function<void(AutogradContext*)> probe;
  static Tensor forward(AutogradContext* ctx, const Tensor& x, double, const Tensor& w) {
    probe(ctx);
    return x * w;
  }
  static std::vector<Tensor> backward(AutogradContext*, std::vector<Tensor> grads) { return {grads[0], grads[0]}; }
};

// Two outputs: (2x, 3x). backward sees zeros for an output no gradient reached.
struct TwoOutputs : tg::autograd::Function<TwoOutputs> {
  static inline std::vector<double> second_grad_seen;
  static std::vector<Tensor> forward(AutogradContext*, const Tensor& x) { return {x * 2, x * 3}; }
  static std::vector<Tensor> backward(AutogradContext*, std::vector<Tensor> grads) {
    second_grad_seen = grads[1].to_vector<double>();
    return {grads[0] * 2 + grads[1] * 3};
  }
};

// A list argument: y = sum of the tensors.
struct SumAll : tg::autograd::Function<SumAll> {
  static Tensor forward(AutogradContext*, const std::vector<Tensor>& xs) {
    Tensor y = xs[0].clone();
    for (std::size_t i = 1; i < xs.size(); ++i) y = y + xs[i];
    return y;
  }
  static std::vector<Tensor> backward(AutogradContext*, std::vector<Tensor> grads) {
    return {grads[0], grads[0], grads[0]};
  }
};

// Returns its input unchanged.
struct Identity : tg::autograd::Function<Identity> {
  static Tensor forward(AutogradContext*, const Tensor& x) { return x; }
  static std::vector<Tensor> backward(AutogradContext*, std::vector<Tensor> grads) { return {grads[0]}; }
};

// Returns the first two elements of its input as a view.
struct Head : tg::autograd::Function<Head> {
  static Tensor forward(AutogradContext*, const Tensor& x) { return x.narrow(0, 0, 2); }
  static std::vector<Tensor> backward(AutogradContext*, std::vector<Tensor> grads) {
    return {tg::cat({grads[0], tg::zeros({1}, kF64)}, 0)};
  }
};

// Returns its first input unchanged and scales the second's gradient.
struct PassFirst : tg::autograd::Function<PassFirst> {
  static std::vector<Tensor> forward(AutogradContext*, const Tensor& x, const Tensor& w) { return {x, w * 2}; }
  static std::vector<Tensor> backward(AutogradContext*, std::vector<Tensor> grads) { return {grads[0], grads[1] * 2}; }
};

struct WrongShape : tg::autograd::Function<WrongShape> {
  static Tensor forward(AutogradContext*, const Tensor& x) { return x * 2; }
  static std::vector<Tensor> backward(AutogradContext*, std::vector<Tensor>) { return {tg::ones({5}, kF64)}; }
};

struct TooManyGrads : tg::autograd::Function<TooManyGrads> {
  static Tensor forward(AutogradContext*, const Tensor& x) { return x * 2; }
  static std::vector<Tensor> backward(AutogradContext*, std::vector<Tensor> grads) {
    return {grads[0], grads[0], grads[0]};
  }
};

}  // namespace

namespace {
struct ReturnsInput : tg::autograd::Function<ReturnsInput> {
  static Tensor forward(AutogradContext*, const Tensor& x) { return x; }
  static std::vector<Tensor> backward(AutogradContext*, std::vector<Tensor> g) { return {g[0] * 2.0}; }
};
struct ReturnsInputs : tg::autograd::Function<ReturnsInputs> {
  static std::vector<Tensor> forward(AutogradContext*, const Tensor& x, const Tensor& y) { return {y, x * 3.0}; }
  static std::vector<Tensor> backward(AutogradContext*, std::vector<Tensor> g) { return {g[1] * 3.0, g[0]}; }
};
}  // namespace

TEST_CASE("a Function returning its input under NoGradGuard gives an alias that does not require grad") {
  const Tensor x = tg::tensor({1.0, 2.0}).set_requires_grad(true);
  const Tensor y = tg::tensor({3.0, 4.0}).set_requires_grad(true);
  {
    tg::NoGradGuard no_grad;
    const Tensor out = ReturnsInput::apply(x);
    CHECK_FALSE(out.requires_grad());
    CHECK(out.data_ptr<float>() == x.data_ptr<float>());  // an alias, as PyTorch's
    for (const Tensor& o : ReturnsInputs::apply(x, y)) CHECK_FALSE(o.requires_grad());
  }
  // Outside the guard: nothing recorded into x's graph from that alias.
  Tensor alias;
  {
    tg::NoGradGuard no_grad;
    alias = ReturnsInput::apply(x);
  }
  CHECK_FALSE((alias * 2.0).requires_grad());
  // With grad on, the output is recorded as before: its gradient goes through backward.
  ReturnsInput::apply(x).sum().backward();
  check_close(x.grad(), {2.0, 2.0});
}

TEST_CASE("a custom cube: values, gradient, gradcheck and gradgradcheck") {
  Tensor x = tg::tensor({-1, 0.5, 2}, {3}, kF64Grad);
  Tensor y = Cube::apply(x);
  check_close(y, {-1, 0.125, 8});
  REQUIRE(y.grad_fn() != nullptr);
  CHECK(y.grad_fn()->name().find("Cube") != std::string_view::npos);
  y.sum().backward();
  check_close(x.grad(), {3, 0.75, 12});

  auto fn = [](const std::vector<Tensor>& in) { return Cube::apply(in[0]); };
  CHECK(tg::gradcheck(fn, {x}));
  CHECK(tg::gradgradcheck(fn, {x}));

  // Second derivative by hand: d2/dx2 x^3 = 6x.
  Tensor g = tg::grad({Cube::apply(x).sum()}, {x}, {}, {.create_graph = true})[0];
  check_close(g, {3, 0.75, 12});
  Tensor h = tg::grad({g.sum()}, {x})[0];
  check_close(h, {-6, 3, 12});
}

TEST_CASE("a custom softplus saving its output and a double") {
  Tensor x = tg::tensor({-2, 0, 1.5}, {3}, kF64Grad);
  const double beta = 2;
  Tensor y = Softplus::apply(x, beta);
  for (int i = 0; i < 3; ++i) {
    const double xi = x.to_vector<double>()[static_cast<std::size_t>(i)];
    CHECK(y.to_vector<double>()[static_cast<std::size_t>(i)] ==
          doctest::Approx(std::log1p(std::exp(beta * xi)) / beta));
  }
  y.sum().backward();
  const auto xs = x.to_vector<double>();
  const auto gs = x.grad().to_vector<double>();
  for (std::size_t i = 0; i < 3; ++i) CHECK(gs[i] == doctest::Approx(1 / (1 + std::exp(-beta * xs[i]))));

  auto fn = [](const std::vector<Tensor>& in) { return Softplus::apply(in[0], 0.7); };
  CHECK(tg::gradcheck(fn, {x}));
  CHECK(tg::gradgradcheck(fn, {x}));
}

TEST_CASE("saving an output keeps no reference cycle") {
  const auto nodes = tg::autograd::live_node_count();
  {
    Tensor x = tg::tensor({1, 2}, {2}, kF64Grad);
    Tensor y = Softplus::apply(x, 1.0);
    CHECK(tg::autograd::live_node_count() > nodes);
  }
  CHECK(tg::autograd::live_node_count() == nodes);
  {
    Tensor x = tg::tensor({1, 2}, {2}, kF64Grad);
    Softplus::apply(x, 1.0).sum().backward();
  }
  CHECK(tg::autograd::live_node_count() == nodes);
}

TEST_CASE("needs_input_grad and non-tensor arguments") {
  Tensor a = tg::tensor({1, 2}, {2}, kF64Grad);
  Tensor b = tg::tensor({3, 4}, {2}, kF64);
  Tensor y = ScaledProduct::apply(a, b, std::int64_t{10});
  CHECK(ScaledProduct::seen == std::vector<bool>{true, false});
  check_close(y, {13, 28});
  y.sum().backward();
  check_close(a.grad(), {13, 14});
  CHECK_FALSE(b.grad().defined());

  Tensor b2 = tg::tensor({3, 4}, {2}, kF64Grad);
  auto fn = [](const std::vector<Tensor>& in) { return ScaledProduct::apply(in[0], in[1], std::int64_t{-3}); };
  CHECK(tg::gradcheck(fn, {a, b2}));
}

// forward(ctx, x, double, w): with needs_input_grad counting tensors only,
// PyTorch-style code asking needs_input_grad(2) for w got false and returned
// no gradient for w, silently.
TEST_CASE("needs_input_grad with a non-tensor argument between tensors") {
  Tensor x = tg::tensor({1, 2}, {2}, kF64Grad);
  Tensor w = tg::tensor({3, -4}, {2}, kF64Grad);
  ScaledMulByArgument::apply(x, 0.5, w).sum().backward();
  CHECK(ScaledMulByArgument::seen == std::vector<bool>{true, false, true});
  check_close(x.grad(), {1.5, -2});
  check_close(w.grad(), {0.5, 1});

  // Only w needs a gradient: argument 0 says no, argument 2 yes.
  Tensor x_const = tg::tensor({1, 2}, {2}, kF64);
  Tensor w2 = tg::tensor({3, -4}, {2}, kF64Grad);
  ScaledMulByArgument::apply(x_const, 2.0, w2).sum().backward();
  CHECK(ScaledMulByArgument::seen == std::vector<bool>{false, false, true});
  check_close(w2.grad(), {2, 4});

  Tensor x3 = tg::tensor({1, 2}, {2}, kF64Grad);
  Tensor w3 = tg::tensor({3, -4}, {2}, kF64Grad);
  ScaledMulByTensor::apply(x3, 0.5, w3).sum().backward();
  check_close(x3.grad(), {1.5, -2});
  check_close(w3.grad(), {0.5, 1});

  const auto by_argument = [](const std::vector<Tensor>& in) { return ScaledMulByArgument::apply(in[0], -3.0, in[1]); };
  const auto by_tensor = [](const std::vector<Tensor>& in) { return ScaledMulByTensor::apply(in[0], -3.0, in[1]); };
  CHECK(tg::gradcheck(by_argument, {x, w}));
  CHECK(tg::gradcheck(by_tensor, {x, w}));
  CHECK(tg::gradcheck(by_argument, {x_const, w}));
  CHECK(tg::gradcheck(by_tensor, {x_const, w}));
}

TEST_CASE("needs_input_grad refuses an index that counts differently per argument and per tensor") {
  Tensor x = tg::tensor({1, 2}, {2}, kF64);
  Tensor w = tg::tensor({3, 4}, {2}, kF64Grad);
  bool probed = false;
  NeedsProbe::probe = [&probed](AutogradContext* ctx) {
    probed = true;
    CHECK_FALSE(ctx->needs_input_grad(0));  // argument 0 is tensor 0 either way
    CHECK_FALSE(ctx->needs_argument_grad(0));
    CHECK_FALSE(ctx->needs_argument_grad(1));  // the double
    CHECK(ctx->needs_argument_grad(2));
    CHECK_FALSE(ctx->needs_tensor_grad(0));
    CHECK(ctx->needs_tensor_grad(1));
    // Argument 1 is the double; argument 2 is w, but tensor 2 does not exist.
    CHECK_THROWS_WITH_AS(ctx->needs_input_grad(1), doctest::Contains("needs_input_grad(1) is ambiguous"),
                         tg::AutogradError);
    CHECK_THROWS_WITH_AS(ctx->needs_input_grad(2), doctest::Contains("ctx->needs_argument_grad(2)"), tg::AutogradError);
    CHECK_THROWS_WITH_AS(ctx->needs_input_grad(2), doctest::Contains("NeedsProbe"), tg::AutogradError);
    CHECK_THROWS_WITH_AS(ctx->needs_argument_grad(3), doctest::Contains("forward has 3 arguments"), tg::IndexError);
    CHECK_THROWS_WITH_AS(ctx->needs_tensor_grad(2), doctest::Contains("forward has 2 tensor arguments"),
                         tg::IndexError);
    CHECK_THROWS_AS(ctx->needs_input_grad(3), tg::IndexError);
  };
  NeedsProbe::apply(x, 1.0, w);
  CHECK(probed);
  // Without grad nothing is recorded; the indices are checked all the same.
  probed = false;
  NeedsProbe::probe = [&probed](AutogradContext* ctx) {
    probed = true;
    CHECK_FALSE(ctx->needs_argument_grad(2));
    CHECK_THROWS_AS(ctx->needs_input_grad(2), tg::AutogradError);
  };
  {
    tg::NoGradGuard no_grad;
    NeedsProbe::apply(x, 1.0, w);
  }
  CHECK(probed);
  NeedsProbe::probe = nullptr;
}

// An output forward left undefined gets an undefined gradient (PyTorch's
// None); it was a 0-d zero, the shape recorded for no output.
struct WithUndefined : tg::autograd::Function<WithUndefined> {
  static inline bool second_defined = true;
  static std::vector<Tensor> forward(AutogradContext*, const Tensor& x) { return {tg::mul(x, 2.0), Tensor()}; }
  static std::vector<Tensor> backward(AutogradContext*, std::vector<Tensor> grads) {
    second_defined = grads.at(1).defined();
    return {tg::mul(grads.at(0), 2.0)};
  }
};

TEST_CASE("an undefined output of a custom function gets an undefined gradient") {
  Tensor x = tg::tensor({1, -1}, {2}, kF64Grad);
  auto ys = WithUndefined::apply(x);
  REQUIRE(ys.size() == 2);
  CHECK(!ys[1].defined());
  ys[0].sum().backward();
  CHECK(!WithUndefined::second_defined);
  check_close(x.grad(), {2, 2});
}

TEST_CASE("a custom function with several outputs") {
  Tensor x = tg::tensor({1, -1}, {2}, kF64Grad);
  auto ys = TwoOutputs::apply(x);
  REQUIRE(ys.size() == 2);
  check_close(ys[0], {2, -2});
  check_close(ys[1], {3, -3});
  CHECK(ys[0].grad_fn() == ys[1].grad_fn());
  CHECK(ys[1].output_nr() == 1);
  ys[0].sum().backward();  // no gradient reaches ys[1]: backward gets zeros for it
  CHECK(TwoOutputs::second_grad_seen == std::vector<double>{0, 0});
  check_close(x.grad(), {2, 2});
  CHECK(tg::gradcheck([](const std::vector<Tensor>& in) { return TwoOutputs::apply(in[0]); }, {x}));
}

TEST_CASE("a list of tensors as an argument") {
  Tensor a = tg::tensor({1, 2}, {2}, kF64Grad);
  Tensor b = tg::tensor({3}, {1}, kF64Grad);  // broadcast: its gradient is summed back
  Tensor c = tg::tensor({5, 6}, {2}, kF64);
  Tensor y = SumAll::apply(std::vector<Tensor>{a, b, c});
  check_close(y, {9, 11});
  y.sum().backward();
  check_close(a.grad(), {1, 1});
  check_close(b.grad(), {2});
}

TEST_CASE("nothing is recorded without grad") {
  const auto nodes = tg::autograd::live_node_count();
  Tensor x = tg::tensor({1, 2}, {2}, kF64);
  CHECK(Cube::apply(x).grad_fn() == nullptr);
  Tensor w = tg::tensor({1, 2}, {2}, kF64Grad);
  {
    tg::NoGradGuard no_grad;
    Tensor y = Cube::apply(w);
    CHECK(y.grad_fn() == nullptr);
    CHECK_FALSE(y.requires_grad());
  }
  CHECK(tg::autograd::live_node_count() == nodes);
}

TEST_CASE("returning an input does not rewrite the input's history") {
  Tensor x = tg::tensor({1, 2}, {2}, kF64Grad);
  Tensor y = Identity::apply(x);
  CHECK(x.is_leaf());
  CHECK_FALSE(y.is_leaf());
  (y * 3).sum().backward();
  check_close(x.grad(), {3, 3});
}

TEST_CASE("an output sharing an input's memory is not modified in place, nor used after its input was") {
  // Its backward is the user's: it cannot account for either change, which
  // went through silently and gave wrong gradients (or modified a leaf).
  const auto refused = doctest::Contains("custom autograd Function that shares memory");
  {  // the input returned as is: a leaf that requires grad
    Tensor x = tg::tensor({1, 2}, {2}, kF64Grad);
    Tensor y = Identity::apply(x);
    CHECK_THROWS_WITH_AS(y.mul_(2), refused, tg::AutogradError);
    check_close(x, {1, 2});
    CHECK_THROWS_WITH_AS(y.narrow(0, 0, 1).add_(1), refused, tg::AutogradError);  // a view of the output too
  }
  {  // a view of a non-leaf input
    Tensor x = tg::tensor({1, 2, 3}, {3}, kF64Grad);
    Tensor h = x * 1;
    Tensor y = Head::apply(h);
    CHECK_THROWS_WITH_AS(y.mul_(10), refused, tg::AutogradError);
    (y.sum() + h.sum()).backward();  // unchanged values: the gradient is right
    check_close(x.grad(), {2, 2, 1});
  }
  {  // the input modified in place afterwards: using the output is refused
    Tensor x = tg::tensor({1, 2, 3}, {3}, kF64Grad);
    Tensor h = x * 1;
    Tensor y = Head::apply(h);
    h.mul_(10);
    CHECK_THROWS_WITH_AS(y.sum(), refused, tg::AutogradError);
  }
  {  // an input that does not require grad, next to one that does
    Tensor c = tg::tensor({1, 2}, {2}, kF64);
    Tensor w = tg::tensor({3, 4}, {2}, kF64Grad);
    std::vector<Tensor> out = PassFirst::apply(c, w);
    CHECK_FALSE(out[0].is_same(c));  // an alias: c itself gets no history
    CHECK_FALSE(c.requires_grad());
    CHECK(c.grad_fn() == nullptr);
    // The output cannot follow c's history, so c cannot take one while it lives.
    CHECK_THROWS_WITH_AS(c.add_(w), doctest::Contains("does not follow its history"), tg::AutogradError);
    CHECK_THROWS_WITH_AS(out[0].mul_(2), refused, tg::AutogradError);
    check_close(c, {1, 2});
    out[1].mul_(2);  // a fresh output is an ordinary tensor
    (out[0].sum() + out[1].sum()).backward();
    check_close(w.grad(), {4, 4});
    c.mul_(2);  // the caller's own tensor stays theirs to change...
    check_close(c, {2, 4});
    CHECK_THROWS_WITH_AS(out[0].sum(), refused, tg::AutogradError);  // ...but the output cannot follow
  }
  {  // without grad nothing is tracked, and in place is allowed
    Tensor x = tg::tensor({1, 2}, {2}, kF64);
    Tensor y = Identity::apply(x);
    y.mul_(2);
    check_close(x, {2, 4});
  }
}

// Outputs overlapping each other, not an input: an output and a view of it,
// or two overlapping views of one temporary. An in-place change of one
// changed the other's value behind its history, and backward gave the
// gradient of the old value ([2, 2] for [10, 2]). LibTorch refuses both, an
// in-place change of a view output at once and one of the output it views at
// the view's next use; tapegrad refuses an in-place change of any of these
// outputs at once (stricter, and never a wrong gradient).
struct OutputAndHead : tg::autograd::Function<OutputAndHead> {
  static std::vector<Tensor> forward(AutogradContext*, const Tensor& x) {
    const Tensor y = x * 2;
    return {y, y.narrow(0, 0, 1)};
  }
  static std::vector<Tensor> backward(AutogradContext*, std::vector<Tensor> g) {
    Tensor r = g[0] * 2;
    r.narrow(0, 0, 1).add_(g[1] * 2);
    return {r};
  }
};
struct OverlappingWindows : tg::autograd::Function<OverlappingWindows> {
  static std::vector<Tensor> forward(AutogradContext*, const Tensor& x) {
    const Tensor t = x * 2;
    return {t.narrow(0, 0, 2), t.narrow(0, 1, 2)};
  }
  static std::vector<Tensor> backward(AutogradContext*, std::vector<Tensor> g) {
    Tensor r = tg::zeros({3}, kF64);
    r.narrow(0, 0, 2).add_(g[0] * 2);
    r.narrow(0, 1, 2).add_(g[1] * 2);
    return {r};
  }
};
struct TwoFresh : tg::autograd::Function<TwoFresh> {
  static std::vector<Tensor> forward(AutogradContext*, const Tensor& x) { return {x * 2, x * 3}; }
  static std::vector<Tensor> backward(AutogradContext*, std::vector<Tensor> g) { return {g[0] * 2 + g[1] * 3}; }
};

// Outputs alternating between two memories: each memory gets one base, kept
// for all its outputs (a switch back made a second base for the first).
struct Interleaved : tg::autograd::Function<Interleaved> {
  static std::vector<Tensor> forward(AutogradContext*, const Tensor& x) {
    const Tensor a = x * 2, b = x * 3;
    return {a.narrow(0, 0, 1), b.narrow(0, 0, 1), a.narrow(0, 1, 1), b.narrow(0, 1, 1)};
  }
  static std::vector<Tensor> backward(AutogradContext*, std::vector<Tensor> g) {
    return {tg::cat({g[0] * 2 + g[1] * 3, g[2] * 2 + g[3] * 3})};
  }
};

TEST_CASE("outputs alternating between two memories get one base per memory") {
  Tensor x = tg::tensor({1, 2}, {2}, kF64Grad);
  auto o = Interleaved::apply(x);
  const auto base = [](const Tensor& t) { return tg::autograd::meta_of(t)->view_base; };
  REQUIRE(base(o[0]).defined());
  CHECK(base(o[0]).is_same(base(o[2])));
  CHECK(base(o[1]).is_same(base(o[3])));
  CHECK_FALSE(base(o[0]).is_same(base(o[1])));
  (o[0].sum() + 10 * o[1].sum() + 100 * o[2].sum() + 1000 * o[3].sum()).backward();
  check_close(x.grad(), {32, 3200});
}

TEST_CASE("outputs sharing memory with each other are not modified in place, nor used after an alias was") {
  const auto refused = doctest::Contains("shares memory with one of its inputs or another of its outputs");
  {
    Tensor x = tg::tensor({1, 2}, {2}, kF64Grad);
    auto o = OutputAndHead::apply(x);
    CHECK_THROWS_WITH_AS(o[1].mul_(5), refused, tg::AutogradError);
    CHECK_THROWS_WITH_AS(o[0].mul_(5), refused, tg::AutogradError);
    CHECK_THROWS_WITH_AS(o[0].narrow(0, 1, 1).mul_(5), refused, tg::AutogradError);  // a view of one too
    check_close(o[0], {2, 4});
    (o[0].sum() + 10 * o[1].sum()).backward();  // untouched, the gradient is right
    check_close(x.grad(), {22, 2});
  }
  {
    Tensor x = tg::tensor({1, 2, 3}, {3}, kF64Grad);
    auto o = OverlappingWindows::apply(x);
    CHECK_THROWS_WITH_AS(o[0].mul_(5), refused, tg::AutogradError);
    {
      tg::NoGradGuard no_grad;  // a change made outside autograd's sight...
      o[0].mul_(5);
    }
    CHECK_THROWS_WITH_AS(o[1].sum(), refused, tg::AutogradError);  // ...is refused when the alias is used
  }
  {  // outputs in memory of their own stay ordinary tensors
    Tensor x = tg::tensor({1, 2}, {2}, kF64Grad);
    auto o = TwoFresh::apply(x);
    o[0].mul_(5);
    (o[0].sum() + o[1].sum()).backward();
    check_close(x.grad(), {13, 13});
  }
}

// A backward that runs a backward of its own (as a reentrant checkpoint
// does), nested `depth` times. Past 60 on one thread the engine moves the
// pass to a new thread: 6,000 levels overflowed the 8 MB main stack (a
// segfault). The deepest level checks it sees its caller's modes, and may
// run a backward through the outermost node, which the waiting main thread
// holds locked.
struct Nested : tg::autograd::Function<Nested> {
  static inline int calls = 0;
  static inline bool deepest_saw_modes = false;
  static inline bool throw_at_bottom = false;
  static inline bool nest = true;
  static inline const Tensor* reenter_output = nullptr;
  static inline const Tensor* reenter_input = nullptr;
  static inline double reentered_grad = 0;
  static Tensor forward(AutogradContext* ctx, const Tensor& x, int depth) {
    ctx->saved_data["depth"] = depth;
    return x * 1;
  }
  static std::vector<Tensor> backward(AutogradContext* ctx, std::vector<Tensor> g) {
    ++calls;
    const auto depth = ctx->saved_data["depth"].to_int();
    if (depth > 0 && nest) {
      tg::EnableGradGuard enable;
      Tensor x = tg::ones({1}, kF64Grad);
      Nested::apply(x, static_cast<int>(depth) - 1).sum().backward();
    } else if (nest) {
      deepest_saw_modes = tg::is_anomaly_enabled() && tg::autograd::is_graph_detail_enabled();
      if (throw_at_bottom) throw tg::ValueError("Nested: the deepest backward fails");
      if (reenter_output) {
        nest = false;  // the outermost node's backward, run again, returns at once
        reentered_grad = tg::grad({*reenter_output}, {*reenter_input}, {}, {.retain_graph = true})[0].item<double>();
        nest = true;
      }
    }
    return {g[0] * 2};
  }
};

TEST_CASE("backward passes nested thousands deep run without exhausting the stack") {
  tg::DetectAnomalyGuard anomaly;
  tg::autograd::GraphDetailGuard detail;
  constexpr int kDepth = 8000;
  Tensor x = tg::ones({1}, kF64Grad);
  Nested::calls = 0;
  Nested::apply(x, kDepth).sum().backward();
  CHECK(Nested::calls == kDepth + 1);
  CHECK(Nested::deepest_saw_modes);
  check_close(x.grad(), {2});
  // An error at the bottom reaches the outermost caller with its type, and
  // anomaly mode's site is added once.
  Nested::throw_at_bottom = true;
  Tensor y = tg::ones({1}, kF64Grad);
  std::string message;
  try {
    Nested::apply(y, 200).sum().backward();
  } catch (const tg::ValueError& e) {
    message = e.what();
  }
  Nested::throw_at_bottom = false;
  CHECK(message.find("Nested: the deepest backward fails") == 0);
  CHECK(message.find("(anomaly mode)") != std::string::npos);
  CHECK(message.find("(anomaly mode)") == message.rfind("(anomaly mode)"));
}

// The outermost node is locked by the main thread, which waits for the
// worker running level 100: re-entering it from there deadlocked when the
// lock belonged to the OS thread (the hook of test_hostile_engine's reentrant
// case, 61 levels down).
TEST_CASE("a pass moved to a fresh thread may re-enter a node its waiting caller holds") {
  Tensor x = tg::ones({1}, kF64Grad);
  const Tensor out = Nested::apply(x, 100).sum();
  Nested::reenter_output = &out;
  Nested::reenter_input = &x;
  out.backward({}, /*retain_graph=*/true);
  Nested::reenter_output = nullptr;
  CHECK(Nested::reentered_grad == 2);
  check_close(x.grad(), {2});
}

TEST_CASE("errors from custom functions name them") {
  Tensor x = tg::tensor({1, 2}, {2}, kF64Grad);
  CHECK_THROWS_WITH_AS(WrongShape::apply(x).sum().backward(), doctest::Contains("WrongShape"), tg::AutogradError);
  // One tensor argument and nothing else: one count to expect (it said "expected 1 ... or 1").
  CHECK_THROWS_WITH_AS(TooManyGrads::apply(x).sum().backward(),
                       doctest::Contains("returned 3 gradients; expected 1 (one per argument)"), tg::AutogradError);

  // Backward twice without retain_graph.
  Tensor y = Cube::apply(x);
  y.backward(tg::ones({2}, kF64));
  CHECK_THROWS_WITH_AS(y.backward(tg::ones({2}, kF64)), doctest::Contains("Cube"), tg::AutogradError);

  // A saved input modified in place after the call.
  Tensor a = x * 1;
  Tensor z = Cube::apply(a);
  a.add_(1);
  CHECK_THROWS_WITH_AS(z.sum().backward(), doctest::Contains("Cube"), tg::AutogradError);
}

TEST_CASE("retain_graph lets a custom function run backward twice") {
  Tensor x = tg::tensor({2}, {1}, kF64Grad);
  Tensor y = Cube::apply(x).sum();
  y.backward({}, /*retain_graph=*/true);
  y.backward();
  check_close(x.grad(), {24});
}

}  // namespace test_custom_function
