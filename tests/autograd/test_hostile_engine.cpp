// Hostile programs against the engine: graphs shared between threads
// (recorded on several, or run backward on by several at once), in-place ops
// on views compared with PyTorch (tests/reference/hostile_engine.json, written
// by tests/reference/make_hostile_engine_reference.py), and the gradient
// contract at every entry point.
#include <doctest/doctest.h>

#include <atomic>
#include <cmath>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include <tapegrad/autograd/custom_function.h>
#include <tapegrad/autograd/engine.h>
#include <tapegrad/autograd/functional.h>
#include <tapegrad/autograd/grad_mode.h>
#include <tapegrad/autograd/gradcheck.h>
#include <tapegrad/autograd/ops.h>
#include <tapegrad/autograd/tensor.h>
#include "support/reference.h"
#include "tg_error_check.h"

namespace test_hostile_engine {

using tg::Tensor;
using tg_test::require_tg_error;

namespace {

constexpr tg::TensorOptions kF64{.dtype = tg::kFloat64};
constexpr tg::TensorOptions kF64Grad{.dtype = tg::kFloat64, .requires_grad = true};

void check_torch(const Tensor& t, const std::string& name, const std::string& key) {
  tg_test::check_reference(t, "hostile_engine.json", name, key);
}

Tensor weights(tg::Dims shape) {
  return tg::arange(1, static_cast<double>(shape.product()) + 1, 1, kF64).reshape(shape);
}
Tensor x23() { return tg::tensor({-1.0, 0.5, 2.0, 3.0, -2.0, 1.5}, {2, 3}, kF64Grad); }
Tensor x34() {
  std::vector<double> v;
  for (int i = 0; i < 12; ++i) v.push_back(0.5 * i - 2.5);
  return tg::tensor(v, {3, 4}, tg::kFloat64).requires_grad_();
}
Tensor square_loss(const Tensor& y) { return (y * y * weights(y.shape())).sum(); }

using tg_test::check_close;

}  // namespace

// ---------------------------------------------------------------------------
// In-place ops on views, against PyTorch.

TEST_CASE("hostile views: an in-place op whose operand is a sibling view") {
  Tensor x = x23();
  Tensor y = x * 1;
  y.select(0, 0).add_(y.select(0, 1));
  y.select(0, 1).mul_(2.0);
  square_loss(y).backward();
  check_torch(x.grad(), "view_reads_sibling_view", "x.grad");
  check_torch(y, "view_reads_sibling_view", "y");
}

TEST_CASE("hostile views: an operand that the in-place op itself overwrites") {
  // PyTorch refuses these at backward (the saved operand's version moved);
  // tapegrad saves a differentiable copy of the operand instead, so the
  // gradient must be the exact one.
  {
    Tensor x = x23();
    Tensor y = x * 1;
    Tensor v = y.slice(1, 1, 2).squeeze(1);
    v.mul_(v);  // y[:, 1] = x[:, 1]^2
    (y * weights({2, 3})).sum().backward();
    check_close(x.grad(), tg::tensor({1.0, 2 * 2 * 0.5, 3.0, 4.0, 5 * 2 * -2.0, 6.0}, {2, 3}, kF64));
  }
  {
    Tensor x = x23();
    Tensor y = x * 1;
    y.select(0, 1).mul_(y.select(0, 0));  // y[1] = x[1] * x[0]
    (y * weights({2, 3})).sum().backward();
    // d/dx0 = w0 + w1 * x1, d/dx1 = w1 * x0
    Tensor xv = x.detach();
    Tensor w = weights({2, 3});
    Tensor want = tg::stack({w.select(0, 0) + w.select(0, 1) * xv.select(0, 1), w.select(0, 1) * xv.select(0, 0)});
    check_close(x.grad(), want);
  }
}

TEST_CASE("hostile views: rows and columns of a transposed base") {
  Tensor x = x23();
  Tensor w = tg::tensor({2.0, -3.0}, {2}, kF64Grad);
  Tensor y = (x * 1).t();
  y.select(0, 1).mul_(w);
  y.select(1, 0).add_(1.0);
  square_loss(y).backward();
  check_torch(x.grad(), "transposed_base_row_of_view", "x.grad");
  check_torch(w.grad(), "transposed_base_row_of_view", "w.grad");
  check_torch(y, "transposed_base_row_of_view", "y");
}

TEST_CASE("hostile views: masked_fill_, zero_ and fill_ on strided slices") {
  Tensor x = x34();
  Tensor w = tg::tensor({1.5, -0.5, 2.0}, {3}, kF64Grad);
  Tensor y = x * 2;
  Tensor s = y.slice(1, 0, 4, 2);
  s.masked_fill_(s > 0.0, 0.25);
  y.select(1, 1).mul_(w);
  y.select(0, 2).slice(0, 1, 3).zero_();
  y.select(0, 0).fill_(-1.0);
  square_loss(y).backward();
  check_torch(x.grad(), "strided_slice_masked_fill_and_zero", "x.grad");
  check_torch(w.grad(), "strided_slice_masked_fill_and_zero", "w.grad");
  check_torch(y, "strided_slice_masked_fill_and_zero", "y");
}

TEST_CASE("hostile views: views made before and after modifications of the base and of a view of a view") {
  Tensor x = x34();
  Tensor w = tg::tensor({1.0, 2.0, -1.0, 0.5}, {4}, kF64Grad);
  Tensor y = x.exp() * 1;
  Tensor before = y.slice(0, 1, 3);
  Tensor inner = before.select(0, 0);
  y.mul_(2);
  inner.add_(w);
  Tensor after = y.select(1, 2);
  after.mul_(3);
  Tensor loss = (before * weights({2, 4})).sum() + (inner * inner).sum() + (after * after).sum() + (y * y).sum();
  loss.backward();
  check_torch(x.grad(), "views_made_before_and_after", "x.grad");
  check_torch(w.grad(), "views_made_before_and_after", "w.grad");
  check_torch(y, "views_made_before_and_after", "y");
  check_torch(before, "views_made_before_and_after", "before");
}

TEST_CASE("hostile views: a buffer built row by row with select and copy_") {
  Tensor x = x34();
  Tensor w = tg::tensor({1.0, 2.0, -1.0, 0.5}, {4}, kF64Grad);
  Tensor buf = tg::zeros({6, 4}, kF64);
  for (int i = 0; i < 6; ++i) {
    Tensor src = i % 2 == 0 ? x.select(0, i % 3) * w : x.select(0, i % 3) + buf.select(0, i - 1);
    buf.select(0, i).copy_(src);
  }
  buf.select(1, 3).add_(buf.select(1, 0), 2.0);
  square_loss(buf).backward();
  check_torch(x.grad(), "rows_built_in_a_loop", "x.grad");
  check_torch(w.grad(), "rows_built_in_a_loop", "w.grad");
  check_torch(buf, "rows_built_in_a_loop", "buf");
}

TEST_CASE("hostile views: tg::grad with respect to a modified base, a modified view and a later view") {
  Tensor x = x23();
  Tensor w = tg::tensor({3.0, -1.0, 0.5}, {3}, kF64Grad);
  Tensor y = x * 1;
  Tensor row = y.select(0, 1);
  row.mul_(w);
  Tensor col = y.select(1, 2);
  Tensor loss = square_loss(y) + (col * row.select(0, 0)).sum();
  auto g = tg::grad({loss}, {y, row, col, w});
  check_torch(g[0], "grad_wrt_views_and_base", "gy");
  check_torch(g[1], "grad_wrt_views_and_base", "grow");
  check_torch(g[2], "grad_wrt_views_and_base", "gcol");
  check_torch(g[3], "grad_wrt_views_and_base", "gw");
}

TEST_CASE("hostile views: second order through CopySlices") {
  Tensor x = x23();
  Tensor w = tg::tensor({3.0, -1.0, 0.5}, {3}, kF64Grad);
  Tensor y = x * x;
  y.select(0, 0).mul_(w);
  y.select(1, 1).copy_(w.slice(0, 0, 2) * x.select(1, 0));
  auto g = tg::grad({square_loss(y)}, {x, w}, {}, {.create_graph = true});
  check_torch(g[0], "second_order_through_copy_slices", "gx");
  check_torch(g[1], "second_order_through_copy_slices", "gw");
  (g[0].sum() * g[1].sum() + (g[1] * g[1]).sum()).backward();
  check_torch(x.grad(), "second_order_through_copy_slices", "x.grad");
  // Against central differences (PyTorch 1.13 itself gets this one wrong).
  const auto numeric = tg_test::reference_file("hostile_engine.json")
                           .at("cases")
                           .at("second_order_through_copy_slices")
                           .at("w.grad.numeric");
  const auto wg = w.grad().to_vector<double>();
  for (std::size_t i = 0; i < wg.size(); ++i)
    CHECK(wg[i] == doctest::Approx(numeric.at(i).get<double>()).epsilon(1e-6));
}

TEST_CASE("hostile views: an expanded operand into a view of an unsqueezed base, then a reshaped view") {
  Tensor x = x23();
  Tensor w = tg::tensor({2.0}, {1}, kF64Grad);
  Tensor y = x * 1;
  y.unsqueeze(0).select(0, 0).select(1, 1).mul_(w.expand({2}));
  y.view({3, 2}).select(0, 2).sub_(w);
  square_loss(y).backward();
  check_torch(x.grad(), "expanded_operand_and_unsqueezed_view", "x.grad");
  check_torch(w.grad(), "expanded_operand_and_unsqueezed_view", "w.grad");
  check_torch(y, "expanded_operand_and_unsqueezed_view", "y");
}

// ---------------------------------------------------------------------------
// Threads.

TEST_CASE("hostile threads: backward on disjoint graphs sharing one leaf from 8 threads at once (Hogwild)") {
  // Each thread's graph ends in the same AccumulateGrad: accumulating into
  // the leaf's .grad() from several threads must lose no update.
  // Large enough that two accumulations overlap in time.
  Tensor w = tg::ones({20000}, kF64Grad);
  constexpr int kThreads = 8, kSteps = 150;
  std::vector<std::thread> pool;
  std::atomic<int> failures{0};
  for (int t = 0; t < kThreads; ++t)
    pool.emplace_back([&, t] {
      try {
        for (int s = 0; s < kSteps; ++s) {
          Tensor x = tg::full({20000}, static_cast<double>(t + 1), kF64);
          ((w * x).sum() + (w * 0.5).sum()).backward();
        }
      } catch (...) {
        ++failures;
      }
    });
  for (auto& th : pool) th.join();
  CHECK(failures.load() == 0);
  // sum over threads of kSteps * (t + 1 + 0.5)
  double expected = 0;
  for (int t = 0; t < kThreads; ++t) expected += kSteps * (t + 1 + 0.5);
  REQUIRE(w.grad().defined());
  int lost = 0;
  for (double g : w.grad().to_vector<double>()) lost += g != expected;
  CHECK(lost == 0);
}

TEST_CASE("hostile threads: two threads run backward on one retained graph at once") {
  Tensor x = tg::tensor({0.5, -1.0, 2.0}, {3}, kF64Grad);
  Tensor h = x.exp() * x;
  Tensor mid = h.slice(0, 0, 2) * 3.0;
  h.retain_grad();
  Tensor loss = (mid * mid).sum() + h.sum();
  const Tensor want = tg::grad({loss}, {x}, {}, {.retain_graph = true})[0];
  constexpr int kSteps = 100;
  std::atomic<int> failures{0};
  std::vector<std::thread> pool;
  for (int t = 0; t < 2; ++t)
    pool.emplace_back([&, t] {
      try {
        for (int s = 0; s < kSteps; ++s) {
          if (t == 0) {
            loss.backward({}, /*retain_graph=*/true);
          } else {
            Tensor g = tg::grad({loss}, {x}, {}, {.retain_graph = true})[0];
            const auto gv = g.to_vector<double>(), wv = want.to_vector<double>();
            for (std::size_t i = 0; i < gv.size(); ++i)
              if (std::abs(gv[i] - wv[i]) > 1e-9 * (1 + std::abs(wv[i]))) ++failures;
          }
        }
      } catch (...) {
        ++failures;
      }
    });
  for (auto& th : pool) th.join();
  CHECK(failures.load() == 0);
  check_close(x.grad(), want * static_cast<double>(kSteps));
  REQUIRE(h.grad().defined());
}

TEST_CASE("hostile threads: racing backward without retain_graph on one graph fails cleanly, never crashes") {
  for (int round = 0; round < 40; ++round) {
    Tensor x = tg::tensor({0.5, -1.0, 2.0, 1.5}, {4}, kF64Grad);
    Tensor y = x;
    for (int i = 0; i < 50; ++i) y = (y * 1.01).tanh() + x;
    Tensor loss = (y * y).sum();
    std::atomic<int> ok{0}, refused{0}, other{0};
    std::vector<std::thread> pool;
    for (int t = 0; t < 2; ++t)
      pool.emplace_back([&] {
        try {
          loss.backward();
          ++ok;
        } catch (const tg::AutogradError&) {
          ++refused;
        } catch (...) {
          ++other;
        }
      });
    for (auto& th : pool) th.join();
    CHECK(other.load() == 0);
    CHECK(ok.load() + refused.load() == 2);
    CHECK(ok.load() >= 1);
  }
}

TEST_CASE("hostile threads: recording ops on one leaf from 8 threads at once, then backward on each") {
  Tensor w = tg::tensor({1.0, 2.0}, {2}, kF64Grad);
  constexpr int kThreads = 8;
  std::vector<Tensor> losses(kThreads);
  std::vector<std::thread> pool;
  for (int t = 0; t < kThreads; ++t)
    pool.emplace_back([&, t] {
      Tensor acc = w * 0.0;
      for (int s = 0; s < 200; ++s) acc = acc + w * static_cast<double>(t);
      losses[t] = acc.sum();
    });
  for (auto& th : pool) th.join();
  tg::backward(losses);
  double expected = 0;
  for (int t = 0; t < kThreads; ++t) expected += 200.0 * t;
  for (double g : w.grad().to_vector<double>()) CHECK(g == doctest::Approx(expected));
}

TEST_CASE("hostile threads: hooks, retain_grad, custom functions and CopySlices recorded on other threads") {
  struct Square : tg::autograd::Function<Square> {
    static Tensor forward(tg::autograd::AutogradContext* ctx, const Tensor& a) {
      ctx->save_for_backward({a});
      return a * a;
    }
    static std::vector<Tensor> backward(tg::autograd::AutogradContext* ctx, std::vector<Tensor> g) {
      return {g[0] * 2.0 * ctx->get_saved_variables()[0]};
    }
  };
  auto program = [](const Tensor& x, bool threaded, Tensor& hooked, std::vector<double>& seen) {
    auto on = [&](auto&& f) {
      if (threaded) std::thread(f).join();
      else f();
    };
    Tensor a, b, c;
    on([&] { a = Square::apply(x) + 1.0; });
    on([&] {
      b = a * 1;
      b.retain_grad();
      b.register_hook([&seen](const Tensor& g) {
        seen = g.to_vector<double>();
        return g * 2.0;
      });
    });
    on([&] {
      c = b * 1;
      c.slice(0, 1, 3).mul_(a.slice(0, 0, 2));
    });
    hooked = b;
    return (c * c).sum() + a.sum();
  };
  Tensor x1 = tg::tensor({0.5, -1.0, 2.0}, {3}, kF64Grad), x2 = tg::tensor({0.5, -1.0, 2.0}, {3}, kF64Grad);
  Tensor b1, b2;
  std::vector<double> s1, s2;
  Tensor l1 = program(x1, false, b1, s1);
  Tensor l2 = program(x2, true, b2, s2);
  l1.backward();
  std::thread([&] { l2.backward(); }).join();
  check_close(x2.grad(), x1.grad());
  check_close(b2.grad(), b1.grad());
  CHECK(s1 == s2);
}

// ---------------------------------------------------------------------------
// Failing mid-backward, and shapes of graphs.

TEST_CASE("hostile engine: a hook that throws mid-backward leaves a retained graph usable and grad mode restored") {
  Tensor x = tg::tensor({0.5, -1.0, 2.0}, {3}, kF64Grad);
  Tensor h = x.exp();
  bool fail = true;
  h.register_hook([&fail](const Tensor&) -> Tensor {
    if (fail) throw tg::ValueError("hook: refused");
    return Tensor();
  });
  Tensor loss = (h * h).sum();
  CHECK_THROWS_AS(loss.backward({}, /*retain_graph=*/true), tg::ValueError);
  CHECK(tg::is_grad_enabled());
  fail = false;
  loss.backward();
  check_close(x.grad(), 2.0 * (x * 2.0).exp().detach());
}

TEST_CASE("hostile engine: anomaly mode's NaN error, then the same retained graph without anomaly mode") {
  Tensor x = tg::tensor({0.0, 1.0}, {2}, kF64Grad);
  Tensor loss = x.sqrt().sum();  // d sqrt at 0 is inf
  {
    tg::DetectAnomalyGuard anomaly;
    const std::string msg =
        require_tg_error<tg::AutogradError>([&] { loss.backward({}, /*retain_graph=*/true); }, "NaN in anomaly mode");
    CHECK(msg.find("NaN or Inf") != std::string::npos);
  }
  CHECK(tg::is_grad_enabled());
  loss.backward();
  const auto g = x.grad().to_vector<double>();
  CHECK(std::isinf(g[0]));
  CHECK(g[1] == doctest::Approx(0.5));
}

TEST_CASE("hostile engine: 100,000 uses of one leaf, and tg::grad of outputs that are also targets") {
  Tensor x = tg::tensor({1.5, -0.5}, {2}, kF64Grad);
  Tensor acc = x;
  for (int i = 0; i < 100000; ++i) acc = acc + x;
  acc.sum().backward();
  for (double g : x.grad().to_vector<double>()) CHECK(g == 100001.0);

  Tensor a = x * 2.0;
  Tensor b = a * a;
  Tensor unused = tg::tensor({1.0}, {1}, kF64Grad);
  // Roots given twice, one root depending on the other, targets that are an
  // output, an intermediate, a leaf, the same leaf again, and an unused leaf.
  auto g = tg::grad({b.sum(), a.sum(), b.sum()}, {b, a, x, x, unused}, {}, {.allow_unused = true});
  check_close(g[0], tg::full({2}, 2.0, kF64));
  check_close(g[1], 2.0 * (2.0 * a.detach()) + 1.0);
  check_close(g[2], 2.0 * g[1]);
  check_close(g[3], g[2]);
  CHECK_FALSE(g[4].defined());
  auto self = tg::grad({x}, {x}, {tg::full({2}, 3.0, kF64)});
  check_close(self[0], tg::full({2}, 3.0, kF64));
}

// ---------------------------------------------------------------------------
// The gradient contract.

namespace {
struct WrongCount : tg::autograd::Function<WrongCount> {
  static Tensor forward(tg::autograd::AutogradContext*, const Tensor& a, const Tensor& b) { return a * b; }
  static std::vector<Tensor> backward(tg::autograd::AutogradContext*, std::vector<Tensor> g) { return {g[0]}; }
};
struct TransposedGrad : tg::autograd::Function<TransposedGrad> {
  static Tensor forward(tg::autograd::AutogradContext*, const Tensor& a) { return a.sum(); }
  static std::vector<Tensor> backward(tg::autograd::AutogradContext*, std::vector<Tensor> g) {
    return {tg::ones({3, 2}, kF64) * g[0]};
  }
};
}  // namespace

TEST_CASE("hostile contract: custom functions returning the wrong count or a transposed gradient") {
  Tensor a = tg::ones({2, 3}, kF64Grad), b = tg::ones({2, 3}, kF64Grad);
  std::string msg = require_tg_error<tg::AutogradError>([&] { WrongCount::apply(a, b).sum().backward(); },
                                                        "one gradient for two inputs");
  CHECK(msg.find("WrongCount") != std::string::npos);
  msg = require_tg_error<tg::AutogradError>([&] { TransposedGrad::apply(a).backward(); }, "[3, 2] for [2, 3]");
  CHECK(msg.find("TransposedGrad") != std::string::npos);
  CHECK(msg.find("input 0") != std::string::npos);
  CHECK(msg.find("[3, 2]") != std::string::npos);
  CHECK(msg.find("[2, 3]") != std::string::npos);
}

TEST_CASE("hostile contract: hooks on a non-leaf and on a leaf returning a wrong gradient, tg::grad seeds") {
  Tensor x = tg::ones({2, 3}, kF64Grad);
  Tensor h = x * 2.0;
  h.register_hook([](const Tensor& g) { return g.reshape({3, 2}); });
  std::string msg = require_tg_error<tg::AutogradError>([&] { h.sum().backward(); }, "non-leaf hook reshapes");
  CHECK(msg.find("[3, 2]") != std::string::npos);

  Tensor y = tg::ones({2, 3}, kF64Grad);
  y.register_hook([](const Tensor& g) { return g.to(tg::kFloat32); });
  msg = require_tg_error<tg::AutogradError>([&] { (y * 2.0).sum().backward(); }, "leaf hook changes dtype");
  CHECK(msg.find("float32") != std::string::npos);
  CHECK_FALSE(y.grad().defined());

  Tensor z = tg::ones({2, 3}, kF64Grad) * 1.0;
  require_tg_error([&] { tg::grad({z}, {z}, {tg::ones({3, 2}, kF64)}); }, "seed of another shape");
  require_tg_error([&] { tg::grad({z}, {z}, {tg::ones({2, 3}, {.dtype = tg::kFloat32})}); }, "seed of another dtype");
  require_tg_error([&] { tg::grad({z}, {z}, {Tensor()}); }, "an undefined seed for a non-scalar");
  require_tg_error([&] { tg::backward({z}, {tg::ones({6}, kF64)}); }, "backward seed of another shape");
}

TEST_CASE("hostile contract: undefined tensors at every autograd entry point") {
  const Tensor u;
  const Tensor x = tg::ones({2}, kF64Grad);
  require_tg_error([&] { tg::backward({}); }, "backward of nothing");
  require_tg_error([&] { tg::backward({x * 2.0, u}); }, "backward with an undefined output");
  require_tg_error([&] { tg::grad({}, {x}); }, "grad of nothing");
  require_tg_error([&] { tg::grad({(x * 2.0).sum()}, {u}); }, "grad wrt undefined");
  require_tg_error([&] { tg::grad({(x * 2.0).sum(), u}, {x}); }, "grad with an undefined output");
  require_tg_error([&] { (x * 2.0).backward(u); }, "non-scalar backward without a gradient");
  require_tg_error([&] { u.grad().backward(); }, "backward of an undefined grad");

  using namespace tg::autograd;
  auto id = [](const Tensor& t) { return t * 2.0; };
  auto none = [](const Tensor&) { return Tensor(); };
  require_tg_error([&] { jacobian(id, u); }, "jacobian at undefined");
  require_tg_error([&] { jacobian(none, x); }, "jacobian of undefined");
  require_tg_error([&] { hessian([](const Tensor& t) { return t.sum(); }, u); }, "hessian at undefined");
  require_tg_error([&] { hessian(none, x); }, "hessian of undefined");
  require_tg_error([&] { vjp(id, u, x); }, "vjp at undefined");
  require_tg_error([&] { vjp(none, x, x); }, "vjp of undefined");
  require_tg_error([&] { jvp(id, u, x); }, "jvp at undefined");
  require_tg_error([&] { jvp(none, x, x); }, "jvp of undefined");
  require_tg_error(
      [&] {
        jacobian([](const std::vector<Tensor>& v) { return v; }, std::vector<Tensor>{x, u});
      },
      "jacobian list with an undefined input");
  require_tg_error([&] { jacobian([](const std::vector<Tensor>&) { return std::vector<Tensor>{Tensor()}; }, {x}); },
                   "jacobian list of an undefined output");
  require_tg_error([&] { hessian([](const std::vector<Tensor>& v) { return v[0].sum(); }, {u}); },
                   "hessian list at undefined");
  require_tg_error([&] { vjp([](const std::vector<Tensor>& v) { return v; }, {x}, {u, u}); }, "vjp list bad v");
  require_tg_error([&] { jvp([](const std::vector<Tensor>& v) { return v; }, {u}, {x}); }, "jvp list at undefined");
  require_tg_error([&] { tg::gradcheck([](const std::vector<Tensor>&) { return Tensor(); }, {x}); },
                   "gradcheck of undefined");
  require_tg_error([&] { tg::gradcheck([](const std::vector<Tensor>& v) { return v[0]; }, {u}); },
                   "gradcheck at undefined only");
  require_tg_error([&] { tg::gradcheck([](const std::vector<Tensor>& v) { return v[0]; }, {}); },
                   "gradcheck with no inputs");
  require_tg_error([&] { tg::gradgradcheck([](const std::vector<Tensor>&) { return Tensor(); }, {x}); },
                   "gradgradcheck of undefined");
}

TEST_CASE("hostile engine: a hook that runs a backward through its own node (reentrant) does not deadlock") {
  Tensor x = tg::tensor({0.5, -1.0}, {2}, kF64Grad);
  Tensor h = x * x;
  Tensor inner;
  bool nested = false;
  h.register_hook([&](const Tensor& g) {
    if (nested) return g;
    nested = true;
    // Runs h's grad_fn again while the outer backward is running it.
    tg::EnableGradGuard grad_on;
    inner = tg::grad({h.sum()}, {x}, {}, {.retain_graph = true})[0];
    return g;
  });
  (h * 3.0).sum().backward();
  check_close(inner, 2.0 * x.detach());
  check_close(x.grad(), 6.0 * x.detach());
}

}  // namespace test_hostile_engine
