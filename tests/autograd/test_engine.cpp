// The backward engine and the tape: seeds, accumulation, hooks, retain_graph,
// create_graph, tg::grad, grad mode, anomaly mode, and tape memory.
#include <doctest/doctest.h>

#include <chrono>
#include <cmath>
#include <cstdint>
#include <memory>
#include <span>
#include <thread>
#include <vector>

#include <tapegrad/autograd/engine.h>
#include <tapegrad/autograd/function.h>
#include <tapegrad/autograd/grad_mode.h>
#include <tapegrad/autograd/node.h>
#include <tapegrad/autograd/ops.h>
#include <tapegrad/autograd/tensor.h>

#include "support/close.h"

namespace test_engine {

using tg::Tensor;
using tg::autograd::live_node_count;

namespace {

constexpr tg::TensorOptions kF64{.dtype = tg::kFloat64};
constexpr tg::TensorOptions kF64Grad{.dtype = tg::kFloat64, .requires_grad = true};

using tg_test::check_close;

#if defined(__SANITIZE_ADDRESS__) || defined(TAPEGRAD_TEST_SANITIZED) || !defined(NDEBUG)
// Sanitized and unoptimised builds run the deep-chain tests shorter; 2e5 nodes
// freed recursively would still overflow an 8 MB stack.
constexpr int kChainLength = 200'000;
#else
constexpr int kChainLength = 1'000'000;
#endif

}  // namespace

TEST_CASE("backward seeds a scalar with one and refuses a non-scalar without a gradient") {
  Tensor x = tg::tensor({1, 2, 3}, {3}, kF64Grad);
  (x * x).sum().backward();
  check_close(x.grad(), {2, 4, 6});

  Tensor y = x * 2;
  CHECK_THROWS_WITH_AS(y.backward(), doctest::Contains("scalar"), tg::AutogradError);
  CHECK_THROWS_WITH_AS(y.backward(tg::ones({2}, kF64)), doctest::Contains("[3]"), tg::ShapeError);
  x.mutable_grad().reset();
  y.backward(tg::tensor({1, 0, -1}, {3}, kF64));
  check_close(x.grad(), {2, 0, -2});

  CHECK_THROWS_WITH_AS(tg::ones({1}, kF64).backward(), doctest::Contains("does not require grad"), tg::AutogradError);
}

TEST_CASE("gradients accumulate across backward calls until cleared") {
  Tensor x = tg::tensor({1, 2}, {2}, kF64Grad);
  (x * 3).sum().backward();
  (x * x).sum().backward();
  check_close(x.grad(), {3 + 2, 3 + 4});

  x.mutable_grad().reset();
  CHECK_FALSE(x.grad().defined());
  (x * 3).sum().backward();
  check_close(x.grad(), {3, 3});

  x.set_grad({});
  CHECK_FALSE(x.grad().defined());
  CHECK_THROWS_WITH_AS(x.set_grad(tg::ones({3}, kF64)), doctest::Contains("set_grad"), tg::AutogradError);
  CHECK_THROWS_WITH_AS(x.set_grad(tg::ones({2})), doctest::Contains("dtype float32"), tg::AutogradError);

  // Two uses of one tensor in one graph both count.
  (x * x + x).sum().backward();
  check_close(x.grad(), {3, 5});
}

TEST_CASE("two leaves never share their .grad's memory, so accumulating into one leaves the other alone") {
  // add hands one gradient to both inputs; a view's backward wraps it in a
  // handle of its own, which alone used to be enough to adopt it as .grad:
  // a and b then shared storage and the second backward added twice.
  const Tensor c = tg::tensor({1, 2, 3}, {3}, kF64);
  for (const bool reshaped : {false, true}) {
    CAPTURE(reshaped);
    Tensor a = tg::tensor({1, 2, 3, 4}, {4}, kF64Grad), b = tg::tensor({1, 2, 3, 4}, {4}, kF64Grad);
    const auto view = [&](const Tensor& t) { return reshaped ? t.reshape({2, 2}) : t.view({4}); };
    const Tensor w = tg::tensor({1, 2, 3, 4}, reshaped ? tg::Dims{2, 2} : tg::Dims{4}, kF64);
    for (int step = 1; step <= 3; ++step) {
      ((view(a) + view(b)) * w).sum().backward();
      check_close(a.grad(), {1.0 * step, 2.0 * step, 3.0 * step, 4.0 * step});
      check_close(b.grad(), {1.0 * step, 2.0 * step, 3.0 * step, 4.0 * step});
    }
  }
  // With create_graph the first gradient is a recorded copy too: a later
  // plain backward adds into a's .grad in place, never into b's.
  Tensor a = tg::tensor({1, 2, 3}, {3}, kF64Grad), b = tg::tensor({1, 2, 3}, {3}, kF64Grad);
  ((a.view({3}) + b.view({3})) * c).sum().backward({}, false, true);
  ((a.view({3}) + b.view({3})) * c).sum().backward();
  check_close(a.grad(), {2, 4, 6});
  check_close(b.grad(), {2, 4, 6});
  // The gradient a second-order program differentiates stays connected.
  Tensor x = tg::tensor({1, 2}, {2}, kF64Grad);
  (x * x * x).sum().backward({}, false, true);
  REQUIRE(x.grad().requires_grad());
  const Tensor gg = tg::grad({x.grad().sum()}, {x})[0];
  check_close(gg, {6, 12});
}

// As PyTorch's AccumulateGrad: a leaf frozen between the forward and the
// backward gets no gradient, so an optimizer leaves it alone (it got one,
// and SGD stepped a weight the user had frozen). Its hooks still see the
// gradient flowing past; the after-accumulation ones do not run.
TEST_CASE("a leaf that stops requiring grad after the forward gets no gradient") {
  Tensor x = tg::tensor({1.0, 2.0}, {2}, {.dtype = tg::kFloat64, .requires_grad = true});
  Tensor w = tg::tensor({3.0, 4.0}, {2}, {.dtype = tg::kFloat64, .requires_grad = true});
  int seen = 0, after = 0;
  x.register_hook([&seen](const Tensor& g) {
    ++seen;
    return g;
  });
  x.register_post_accumulate_grad_hook([&after](const Tensor&) { ++after; });
  Tensor y = (x * w).sum();
  Tensor y2 = (x * w).sum();
  x.set_requires_grad(false);
  y.backward();
  CHECK_FALSE(x.grad().defined());
  CHECK(seen == 1);
  CHECK(after == 0);
  tg_test::check_close(w.grad(), {1, 2});  // the rest of the graph is unchanged
  // tg::grad for it, through a graph recorded while it required grad, is
  // refused as for any tensor that does not require grad.
  CHECK_THROWS_WITH_AS(tg::grad({y2}, {x}), doctest::Contains("does not require grad"), tg::AutogradError);
}

TEST_CASE("retain_grad keeps a non-leaf's gradient") {
  Tensor x = tg::tensor({1, 2}, {2}, kF64Grad);
  Tensor y = x * 2;
  Tensor z = x * 3;
  y.retain_grad();
  CHECK(y.retains_grad());
  (y * y + z).sum().backward();
  check_close(y.grad(), {4, 8});    // 2y
  CHECK_FALSE(z.grad().defined());  // not retained
  check_close(x.grad(), {8 + 3, 16 + 3});
}

TEST_CASE("retain_grad follows the tensor's current value and keeps the graph under create_graph") {
  {  // an in-place op after retain_grad: .grad() is the new value's gradient
    Tensor x = tg::tensor({1, 2}, {2}, kF64Grad);
    Tensor h = x * 1;
    h.retain_grad();
    h.mul_(3);
    (h * 5).sum().backward();
    check_close(h.grad(), {5, 5});
    check_close(x.grad(), {15, 15});
  }
  {  // a retained view whose base changed in place gets its history anew, and keeps retaining
    Tensor x = tg::tensor({1, 2, 3}, {3}, kF64Grad);
    Tensor h = x * 1;
    Tensor v = h.narrow(0, 0, 2);
    v.retain_grad();
    h.mul_(2);
    (v * 5).sum().backward();
    REQUIRE(v.grad().defined());
    check_close(v.grad(), {5, 5});
    check_close(x.grad(), {10, 10, 0});
  }
  {  // an in-place op on a view of a retained base
    Tensor x = tg::tensor({1, 2, 3}, {3}, kF64Grad);
    Tensor h = x * 1;
    h.retain_grad();
    h.narrow(0, 1, 2).mul_(4);
    (h * 2).sum().backward();
    check_close(h.grad(), {2, 2, 2});
    check_close(x.grad(), {2, 8, 8});
  }
  {  // create_graph: the retained gradient is part of the graph (a gradient penalty)
    Tensor x = tg::tensor({1, 2}, {2}, kF64Grad);
    Tensor h = x * 2;
    h.retain_grad();
    (h * h * h).sum().backward({}, false, true);  // dL/dh = 3 h^2
    REQUIRE(h.grad().requires_grad());
    check_close(h.grad(), {12, 48});
    const Tensor g = tg::grad({h.grad().sum()}, {x})[0];  // d/dx sum 3 (2x)^2 = 24 x
    check_close(g, {24, 48});
  }
}

// A hook may register further hooks while the engine runs the node's hooks
// (the list grows under the running one): each registration is kept, the
// new hook on this output runs in the same pass, and nothing reads freed
// memory (the sanitizer build would say).
TEST_CASE("a hook that registers hooks while backward runs") {
  Tensor x = tg::ones({3}, {.requires_grad = true});
  Tensor y = x * 2;
  int ran = 0;
  y.register_hook([&](const Tensor&) {
    for (int k = 0; k < 20; ++k)
      y.register_hook([&ran](const Tensor&) {
        ++ran;
        return Tensor();
      });
    return Tensor();
  });
  y.sum().backward();
  CHECK(ran == 20);
  CHECK(x.grad().to_vector<double>() == std::vector<double>{2, 2, 2});
  // Leaf hooks likewise.
  Tensor z = tg::ones({2}, {.requires_grad = true});
  z.register_hook([&](const Tensor& g) {
    for (int k = 0; k < 20; ++k) z.register_hook([](const Tensor& h) { return h; });
    return g * 3;
  });
  (z * 1).sum().backward();
  CHECK(z.grad().to_vector<double>() == std::vector<double>{3, 3});
}

TEST_CASE("hooks see and may replace gradients") {
  Tensor x = tg::tensor({1, 2}, {2}, kF64Grad);
  std::vector<double> seen;
  x.register_hook([&](const Tensor& g) {
    seen = g.to_vector<double>();
    return Tensor();  // keep the gradient
  });
  x.register_hook([](const Tensor& g) { return g * 2; });
  (x * 3).sum().backward();
  CHECK(seen == std::vector<double>{3, 3});
  check_close(x.grad(), {6, 6});

  Tensor w = tg::tensor({1, 2}, {2}, kF64Grad);
  Tensor y = w * 3;
  y.register_hook([](const Tensor& g) { return g * 2; });
  (y * 1).sum().backward();
  check_close(w.grad(), {6, 6});

  CHECK_THROWS_WITH_AS(tg::ones({2}).register_hook([](const Tensor& g) { return g; }),
                       doctest::Contains("register_hook"), tg::AutogradError);
}

TEST_CASE("tg::grad returns a tensor's gradient after its hooks, on leaves and non-leaves (PyTorch 2's order)") {
  Tensor x = tg::tensor({1, 2}, {2}, kF64Grad);
  Tensor y = x * 3;
  int y_calls = 0, x_calls = 0;
  y.register_hook([&](const Tensor& g) {
    ++y_calls;
    return g * 10;
  });
  x.register_hook([&](const Tensor& g) {
    ++x_calls;
    return g * 100;
  });
  const Tensor z = (y * y).sum();
  // dz/dy = 2y = [6, 12], then y's hook: [60, 120]; through y = 3x: [180, 360], then x's hook.
  const auto g = tg::grad({z}, {y, x}, {}, {.retain_graph = true});
  check_close(g[0], {60, 120});
  check_close(g[1], {18000, 36000});
  CHECK(y_calls == 1);
  CHECK(x_calls == 1);
  CHECK_FALSE(x.grad().defined());
  // backward adds the same into .grad(), each hook running once more.
  z.backward();
  check_close(x.grad(), {18000, 36000});
  CHECK(y_calls == 2);
  CHECK(x_calls == 2);
  // A leaf that is not asked for does not run its hooks.
  Tensor w = tg::tensor({1, 2}, {2}, kF64Grad);
  int w_calls = 0;
  w.register_hook([&](const Tensor& gw) {
    ++w_calls;
    return gw;
  });
  check_close(tg::grad({(w * x).sum()}, {x})[0], {100, 200});
  CHECK(w_calls == 0);
}

TEST_CASE("remove_hook: a removed hook no longer runs, on leaves and non-leaves (LibTorch's positions)") {
  Tensor x = tg::tensor({1, 2}, {2}, kF64Grad);
  int calls = 0;
  const unsigned counting = x.register_hook([&](const Tensor&) {
    ++calls;
    return Tensor();
  });
  const unsigned doubling = x.register_hook([](const Tensor& g) { return g * 2; });
  CHECK(counting == 0);
  CHECK(doubling == 1);
  (x * 3).sum().backward();
  CHECK(calls == 1);
  check_close(x.grad(), {6, 6});
  x.remove_hook(doubling);
  x.mutable_grad().reset();
  (x * 3).sum().backward();
  CHECK(calls == 2);
  check_close(x.grad(), {3, 3});  // the later position kept its meaning
  x.remove_hook(counting);
  (x * 3).sum().backward();
  CHECK(calls == 2);
  CHECK_THROWS_WITH_AS(x.remove_hook(counting), doctest::Contains("removed already"), tg::AutogradError);
  CHECK_THROWS_WITH_AS(x.remove_hook(7),
                       doctest::Contains("remove_hook: this tensor (shape [2]) has no hook at position 7"),
                       tg::AutogradError);

  // A non-leaf: positions among its node's hooks; another output's hook is not its own.
  Tensor w = tg::tensor({1, 2, 3, 4}, {4}, kF64Grad);
  auto halves = w.split(2);
  const unsigned on_first = halves[0].register_hook([](const Tensor& g) { return g * 10; });
  const unsigned on_second = halves[1].register_hook([](const Tensor& g) { return g * 100; });
  CHECK_THROWS_AS(halves[0].remove_hook(on_second), tg::AutogradError);
  halves[0].remove_hook(on_first);
  (halves[0].sum() + halves[1].sum()).backward();
  check_close(w.grad(), {1, 1, 100, 100});
  CHECK_THROWS_AS(tg::ones({2}).remove_hook(0), tg::AutogradError);
}

TEST_CASE("retain_graph") {
  Tensor x = tg::tensor({1, 2}, {2}, kF64Grad);
  Tensor y = x.exp();
  y.backward(tg::ones({2}, kF64));
  CHECK_THROWS_WITH_AS(y.backward(tg::ones({2}, kF64)), doctest::Contains("exp"), tg::AutogradError);
  CHECK_THROWS_WITH_AS(y.backward(tg::ones({2}, kF64)), doctest::Contains("retain_graph"), tg::AutogradError);

  x.mutable_grad().reset();
  Tensor s = (x * x).sum();
  s.backward({}, /*retain_graph=*/true);
  s.backward();
  check_close(x.grad(), {4, 8});  // accumulated twice
}

TEST_CASE("create_graph gives second derivatives") {
  Tensor x = tg::tensor({-1.5, 0, 0.3, 2}, {4}, kF64Grad);
  const auto xs = x.to_vector<double>();

  SUBCASE("tanh: t' = 1 - t^2, t'' = -2 t (1 - t^2)") {
    Tensor g = tg::grad({x.tanh().sum()}, {x}, {}, {.retain_graph = true, .create_graph = true})[0];
    REQUIRE(g.requires_grad());
    Tensor h = tg::grad({g.sum()}, {x})[0];
    for (std::size_t i = 0; i < xs.size(); ++i) {
      const double t = std::tanh(xs[i]);
      CHECK(g.to_vector<double>()[i] == doctest::Approx(1 - t * t));
      CHECK(h.to_vector<double>()[i] == doctest::Approx(-2 * t * (1 - t * t)));
    }
  }
  SUBCASE("sigmoid: s' = s (1 - s), s'' = s (1 - s) (1 - 2 s)") {
    Tensor g = tg::grad({x.sigmoid().sum()}, {x}, {}, {.retain_graph = true, .create_graph = true})[0];
    Tensor h = tg::grad({g.sum()}, {x})[0];
    for (std::size_t i = 0; i < xs.size(); ++i) {
      const double s = 1 / (1 + std::exp(-xs[i]));
      CHECK(g.to_vector<double>()[i] == doctest::Approx(s * (1 - s)));
      CHECK(h.to_vector<double>()[i] == doctest::Approx(s * (1 - s) * (1 - 2 * s)));
    }
  }
  SUBCASE("log-softmax as x - logsumexp(x)") {
    // L = w . f(x), f = x - lse(x): dL/dx = w - p W with p = softmax(x), W = sum(w).
    // d/dx (c . dL/dx) = -W p * (c - p . c).
    const std::vector<double> w = {1, -2, 0.5, 3}, c = {0.2, 1, -1, 0.4};
    Tensor f = x - x.logsumexp({0}, true);
    Tensor L = (f * tg::tensor({1, -2, 0.5, 3}, {4}, kF64)).sum();
    Tensor g = tg::grad({L}, {x}, {}, {.retain_graph = true, .create_graph = true})[0];
    Tensor h = tg::grad({(g * tg::tensor({0.2, 1, -1, 0.4}, {4}, kF64)).sum()}, {x})[0];
    double z = 0;
    for (double v : xs) z += std::exp(v);
    std::vector<double> p;
    for (double v : xs) p.push_back(std::exp(v) / z);
    double W = 0, pc = 0;
    for (std::size_t i = 0; i < 4; ++i) {
      W += w[i];
      pc += p[i] * c[i];
    }
    for (std::size_t i = 0; i < 4; ++i) {
      CHECK(g.to_vector<double>()[i] == doctest::Approx(w[i] - p[i] * W));
      CHECK(h.to_vector<double>()[i] == doctest::Approx(-W * p[i] * (c[i] - pc)));
    }
  }
  SUBCASE("backward(create_graph) leaves a differentiable .grad") {
    Tensor y = (x * x * x).sum();
    y.backward({}, false, /*create_graph=*/true);
    REQUIRE(x.grad().requires_grad());
    Tensor h = tg::grad({x.grad().sum()}, {x})[0];
    check_close(h, {6 * xs[0], 6 * xs[1], 6 * xs[2], 6 * xs[3]});
  }
}

// As PyTorch, retain_graph defaults to create_graph: the graph of a gradient
// runs back through the forward nodes (tanh's backward reads its output, whose
// history is the tanh node), so they must not be freed.
TEST_CASE("tg::grad with create_graph keeps the forward graph for the second derivative") {
  Tensor x = tg::tensor({0.5}, {1}, kF64Grad);
  Tensor g = tg::grad({x.tanh().sum()}, {x}, {}, {.create_graph = true})[0];
  Tensor h;
  REQUIRE_NOTHROW(h = tg::grad({g.sum()}, {x})[0]);
  const double t = std::tanh(0.5);
  CHECK(h.item<double>() == doctest::Approx(-2 * t * (1 - t * t)));
}

TEST_CASE("tg::grad leaves .grad alone and reports unused inputs") {
  Tensor x = tg::tensor({1, 2}, {2}, kF64Grad);
  Tensor z = tg::tensor({5}, {1}, kF64Grad);
  Tensor y = (x * x).sum();
  CHECK_THROWS_WITH_AS(tg::grad({y}, {x, z}, {}, {.retain_graph = true}), doctest::Contains("allow_unused"),
                       tg::AutogradError);
  auto gs = tg::grad({y}, {x, z}, {}, {.allow_unused = true});
  check_close(gs[0], {2, 4});
  CHECK_FALSE(gs[1].defined());
  CHECK_FALSE(x.grad().defined());

  // With respect to a non-leaf.
  Tensor a = x * 3;
  Tensor b = (a * a).sum();
  check_close(tg::grad({b}, {a})[0], {6, 12});

  CHECK_THROWS_WITH_AS(tg::grad({(x * 2).sum()}, {tg::ones({2}, kF64)}), doctest::Contains("does not require grad"),
                       tg::AutogradError);
}

TEST_CASE("detach cuts the tape and shares the data") {
  Tensor x = tg::tensor({1, 2}, {2}, kF64Grad);
  Tensor y = x * 2;
  Tensor d = y.detach();
  CHECK_FALSE(d.requires_grad());
  CHECK(d.grad_fn() == nullptr);
  CHECK(d.raw_data() == y.raw_data());
  (y * d).sum().backward();  // d is a constant: d/dx (2x * 2x_const) = 2 d
  check_close(x.grad(), {4, 8});
  CHECK(tg::mul(d, 3).grad_fn() == nullptr);
}

TEST_CASE("grad mode guards, per thread") {
  Tensor x = tg::tensor({1, 2}, {2}, kF64Grad);
  const auto nodes = live_node_count();
  {
    tg::NoGradGuard no_grad;
    CHECK_FALSE(tg::is_grad_enabled());
    Tensor y = (x * 2).exp().sum();
    CHECK(y.grad_fn() == nullptr);
    CHECK_FALSE(y.requires_grad());
    CHECK(live_node_count() == nodes);

    bool other_thread_enabled = false;
    std::thread other([&] { other_thread_enabled = tg::is_grad_enabled(); });
    other.join();
    CHECK(other_thread_enabled);

    {
      tg::EnableGradGuard enable;
      CHECK(tg::is_grad_enabled());
      Tensor z = x * 2;
      CHECK(z.grad_fn() != nullptr);
    }
    CHECK_FALSE(tg::is_grad_enabled());
  }
  CHECK(tg::is_grad_enabled());
  CHECK(live_node_count() == nodes);

  // A thread can turn grad mode off without affecting this one.
  bool recorded_in_thread = true;
  std::thread t([&] {
    tg::NoGradGuard no_grad;
    recorded_in_thread = (x * 2).grad_fn() != nullptr;
  });
  t.join();
  CHECK_FALSE(recorded_in_thread);
  CHECK((x * 2).grad_fn() != nullptr);
}

TEST_CASE("nothing is recorded when no input requires grad") {
  const auto nodes = live_node_count();
  Tensor a = tg::tensor({1, 2}, {2}, kF64);
  Tensor b = (a * 2 + 1).exp().sum();
  CHECK(b.grad_fn() == nullptr);
  CHECK_FALSE(b.requires_grad());
  CHECK(live_node_count() == nodes);
}

TEST_CASE("anomaly mode names the op whose backward produced NaN or Inf") {
  Tensor x = tg::tensor({0, 1}, {2}, kF64Grad);
  // sqrt's derivative at 0 is infinite.
  {
    tg::DetectAnomalyGuard anomaly;
    Tensor y = x.sqrt().sum();
    CHECK_THROWS_WITH_AS(y.backward(), doctest::Contains("sqrt"), tg::AutogradError);
  }
  // Without anomaly mode the Inf just flows into .grad.
  x.sqrt().sum().backward();
  CHECK(std::isinf(x.grad().to_vector<double>()[0]));

  // log at 0: -inf forward, inf gradient.
  Tensor z = tg::tensor({0, 1}, {2}, kF64Grad);
  tg::DetectAnomalyGuard anomaly;
  CHECK_THROWS_WITH_AS(z.log().sum().backward(), doctest::Contains("log"), tg::AutogradError);
}

TEST_CASE("the tape is freed when its outputs are dropped, with or without backward") {
  const auto nodes = live_node_count();
  Tensor x = tg::tensor({1, 2, 3}, {3}, kF64Grad);
  {
    Tensor y = (x * 2).exp().sum();
    CHECK(live_node_count() > nodes);
  }
  CHECK(live_node_count() == nodes);
  {
    Tensor y = (x * x).tanh().sum();
    y.backward();
  }
  CHECK(live_node_count() == nodes);
  {
    Tensor y = (x * x).sum();
    auto g = tg::grad({y}, {x}, {}, {.create_graph = true});
    Tensor h = tg::grad({g[0].sum()}, {x})[0];
  }
  CHECK(live_node_count() == nodes);
  x.mutable_grad().reset();
}

// record() hands its node to attach(), whose last defined output keeps it
// (the others share it): the outputs are then its only owners, and a skipped
// last slot moves it into an earlier output instead of dropping it.
TEST_CASE("a recorded node is owned by its outputs alone, whichever output slots are skipped") {
  Tensor x = tg::tensor({1, 2, 3}, {3}, kF64Grad);
  {
    Tensor y = x * 2;
    CHECK(y.grad_fn().use_count() == 2);  // y's, and the copy grad_fn() returns
  }
  for (int skipped : {0, 1, 2}) {
    CAPTURE(skipped);
    const auto nodes = live_node_count();
    Tensor outs[3] = {x.detach() * 1, x.detach() * 2, x.detach() * 3};
    Tensor* slots[3] = {&outs[0], &outs[1], &outs[2]};
    slots[skipped] = nullptr;
    tg::autograd::record("three_outputs", {&x}, std::span<Tensor* const>(slots), [](tg::autograd::Backward& bw) {
      for (std::size_t i = 0; i < 3; ++i)
        if (bw.grad(i).defined()) bw.add(0, bw.grad(i));
    });
    CHECK(live_node_count() == nodes + 1);
    std::shared_ptr<tg::autograd::Node> fn;
    for (int i = 0; i < 3; ++i) {
      CAPTURE(i);
      if (i == skipped) {
        CHECK(outs[i].grad_fn() == nullptr);
        continue;
      }
      CHECK(outs[i].output_nr() == static_cast<std::uint32_t>(i));
      if (!fn) fn = outs[i].grad_fn();
      CHECK(outs[i].grad_fn() == fn);
    }
    CHECK(fn.use_count() == 3);  // the two outputs', and fn
    fn.reset();
    Tensor total = tg::zeros({3}, kF64);
    for (int i = 0; i < 3; ++i)
      if (i != skipped) total = total + outs[i];
    total.sum().backward();
    // Each of the two kept outputs passes its gradient of ones on to x.
    check_close(x.grad(), {2, 2, 2});
    x.mutable_grad().reset();
  }
}

TEST_CASE("a training-like loop keeps the tape flat") {
  tg::manual_seed(5);
  Tensor inputs = tg::randn({8, 4}, kF64);
  Tensor targets = tg::randn({8, 3}, kF64);
  Tensor w = tg::randn({4, 3}, kF64Grad);
  Tensor b = tg::zeros({3}, kF64Grad);
  const auto nodes = live_node_count();
  double first_loss = 0, last_loss = 0;
  std::int64_t alive_in_first_step = 0;
  for (int step = 0; step < 10'000; ++step) {
    Tensor pred = (tg::matmul(inputs, w) + b).tanh();
    Tensor loss = ((pred - targets) * (pred - targets)).mean();
    loss.backward();
    {
      tg::NoGradGuard no_grad;
      w.sub_(w.grad(), 0.05);
      b.sub_(b.grad(), 0.05);
      w.mutable_grad().zero_();
      b.mutable_grad().zero_();
    }
    if (step == 0) first_loss = loss.item<double>();
    last_loss = loss.item<double>();
    // Only this step's graph is alive, the same size every step.
    if (step == 0) alive_in_first_step = live_node_count();
    if (step == 9'999) CHECK(live_node_count() == alive_in_first_step);
  }
  CHECK(last_loss < first_loss);
  CHECK(live_node_count() == nodes);
}

TEST_CASE("a very deep chain runs backward and is freed without recursion") {
  const auto nodes = live_node_count();
  Tensor x = tg::tensor({1}, {1}, kF64Grad);
  const auto start = std::chrono::steady_clock::now();
  {
    Tensor y = x;
    for (int i = 0; i < kChainLength; ++i) y = y * 1.0000001;
    CHECK(live_node_count() == nodes + kChainLength);  // the muls (x's AccumulateGrad belongs to x, uncounted)
    y.sum().backward();
  }
  CHECK(live_node_count() == nodes);
  CHECK(x.grad().item<double>() == doctest::Approx(std::pow(1.0000001, kChainLength)).epsilon(1e-9));
  {
    Tensor y = x;
    for (int i = 0; i < kChainLength; ++i) y = y + 0;
  }  // dropped without backward
  CHECK(live_node_count() == nodes);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  MESSAGE("chain of " << kChainLength << " ops built, run backward, built again and dropped in " << seconds << " s");
}

}  // namespace test_engine
