// tg::checkpoint: recomputation in backward, with the generator restored.
#include <doctest/doctest.h>

#include <cstdint>
#include <string>
#include <vector>

#include <fmt/format.h>

#include <tapegrad/autograd/engine.h>
#include <tapegrad/autograd/grad_checkpoint.h>
#include <tapegrad/autograd/grad_mode.h>
#include <tapegrad/autograd/nn_ops.h>
#include <tapegrad/autograd/node.h>
#include <tapegrad/autograd/ops.h>
#include <tapegrad/autograd/tensor.h>
#include <tapegrad/core/random.h>

#include "support/close.h"

namespace test_grad_checkpoint {

using tg::Tensor;
using tg_test::check_close;

namespace {

constexpr tg::TensorOptions kF64{.dtype = tg::kFloat64};

struct Weights {
  Tensor w1, b1, w2;
  Weights() {
    tg::manual_seed(5);
    w1 = tg::randn({3, 4}, kF64).set_requires_grad();
    b1 = tg::randn({4}, kF64).set_requires_grad();
    w2 = tg::randn({4, 2}, kF64).set_requires_grad();
  }
  std::vector<Tensor> all() const { return {w1, b1, w2}; }
  void zero_grad() {
    for (Tensor p : all()) p.mutable_grad() = Tensor();
  }
};

// Two layers with dropout between them: a graph of several nodes, random
// numbers, and parameters read from the closure.
Tensor block(const Weights& w, const Tensor& x, double p) {
  Tensor h = tg::tanh(tg::matmul(x, w.w1) + w.b1);
  h = tg::dropout(h, p, true);
  return tg::matmul(h * h, w.w2);
}

tg::CheckpointFunction as_fn(const Weights& w, double p) {
  return [&w, p](const std::vector<Tensor>& in) { return block(w, in[0], p); };
}

}  // namespace

// Its node was named after an internal type, tg::(anonymous namespace)::CheckpointFn.
TEST_CASE("checkpoint: its node is called Checkpoint") {
  Tensor x = tg::ones({2}, {.requires_grad = true});
  Tensor y = tg::checkpoint([](const std::vector<Tensor>& in) { return in[0] * 2; }, {x});
  REQUIRE(y.grad_fn() != nullptr);
  CHECK(y.grad_fn()->name() == "Checkpoint");
  CHECK(fmt::format("{}", y).find("grad_fn=<CheckpointBackward>") != std::string::npos);
}

TEST_CASE("checkpoint: gradients of inputs and params equal the unchecked run's, dropout masks included") {
  for (double p : {0.0, 0.5}) {
    CAPTURE(p);
    Weights w;
    Tensor x = tg::randn({5, 3}, kF64).set_requires_grad();
    Tensor up = tg::randn({5, 2}, kF64);

    tg::manual_seed(11);
    Tensor y_plain = block(w, x, p);
    (y_plain * up).sum().backward();
    const auto after_plain = tg::default_generator().state();
    std::vector<std::vector<double>> want;
    for (const Tensor& t : {x, w.w1, w.b1, w.w2}) want.push_back(t.grad().to_vector<double>());
    x.mutable_grad() = Tensor();
    w.zero_grad();

    tg::manual_seed(11);
    Tensor y = tg::checkpoint(as_fn(w, p), {x}, w.all());
    // The backward's recomputation draws again, but puts the stream back.
    const auto after_forward = tg::default_generator().state();
    CHECK(after_forward == after_plain);
    check_close(y, y_plain.to_vector<double>(), 0);
    (y * up).sum().backward();
    CHECK(tg::default_generator().state() == after_forward);
    std::size_t k = 0;
    for (const Tensor& t : {x, w.w1, w.b1, w.w2}) check_close(t.grad(), want[k++], 0);
  }
}

TEST_CASE("checkpoint: without preserve_rng_state the recomputation draws other dropout masks") {
  Weights w;
  Tensor x = tg::randn({40, 3}, kF64).set_requires_grad();
  tg::manual_seed(3);
  block(w, x, 0.5).sum().backward();
  const auto want = x.grad().to_vector<double>();
  x.mutable_grad() = Tensor();
  tg::manual_seed(3);
  tg::checkpoint(as_fn(w, 0.5), {x}, w.all(), {.preserve_rng_state = false}).sum().backward();
  CHECK(x.grad().to_vector<double>() != want);
}

TEST_CASE("checkpoint: tg::grad gives the same gradients and leaves .grad() alone") {
  Weights w;
  Tensor x = tg::randn({5, 3}, kF64).set_requires_grad();
  const auto plain = tg::grad({block(w, x, 0).sum()}, {x, w.w1, w.w2});
  const auto checked = tg::grad({tg::checkpoint(as_fn(w, 0), {x}, w.all()).sum()}, {x, w.w1, w.w2});
  REQUIRE(checked.size() == 3);
  for (std::size_t i = 0; i < 3; ++i) check_close(checked[i], plain[i].to_vector<double>(), 0);
  CHECK_FALSE(x.grad().defined());
  CHECK_FALSE(w.w1.grad().defined());
}

TEST_CASE("checkpoint: create_graph gives second-order gradients through the recomputation") {
  Weights w;
  Tensor x = tg::randn({5, 3}, kF64).set_requires_grad();
  auto second_order = [&](bool checked) {
    Tensor y = checked ? tg::checkpoint(as_fn(w, 0), {x}, w.all()) : block(w, x, 0);
    auto g = tg::grad({y.pow(2.0).sum()}, {x, w.w1}, {}, {.create_graph = true});
    REQUIRE(g[0].requires_grad());
    return tg::grad({(g[0] * g[0]).sum() + g[1].sum()}, {x, w.w1, w.b1, w.w2});
  };
  const auto want = second_order(false);
  const auto got = second_order(true);
  for (std::size_t i = 0; i < want.size(); ++i) check_close(got[i], want[i].to_vector<double>(), 1e-12);
}

TEST_CASE("checkpoint: inputs that do not require grad, alone or with ones that do") {
  Weights w;
  Tensor data = tg::randn({5, 3}, kF64);  // as a batch of data
  Tensor scale = tg::randn({5, 1}, kF64).set_requires_grad();
  auto fn = [&w](const std::vector<Tensor>& in) { return block(w, in[0] * in[1], 0); };
  fn({data, scale}).sum().backward();
  std::vector<std::vector<double>> want;
  for (const Tensor& t : {scale, w.w1, w.b1, w.w2}) want.push_back(t.grad().to_vector<double>());
  scale.mutable_grad() = Tensor();
  w.zero_grad();
  tg::checkpoint(fn, {data, scale}, w.all()).sum().backward();
  CHECK_FALSE(data.grad().defined());
  std::size_t k = 0;
  for (const Tensor& t : {scale, w.w1, w.b1, w.w2}) check_close(t.grad(), want[k++], 0);

  // Nothing requires grad: no node, a plain result.
  Tensor y = tg::checkpoint([](const std::vector<Tensor>& in) { return in[0] * 2; }, {data});
  CHECK_FALSE(y.requires_grad());
  check_close(y, (data * 2).to_vector<double>(), 0);
}

TEST_CASE("checkpoint: the tape keeps one node per call instead of the function's intermediates") {
  Weights w;
  Tensor x = tg::randn({5, 3}, kF64).set_requires_grad();
  const std::int64_t before = tg::autograd::live_node_count();
  Tensor plain = block(w, x, 0);
  const std::int64_t plain_nodes = tg::autograd::live_node_count() - before;
  plain = Tensor();
  const std::int64_t before_checked = tg::autograd::live_node_count();
  Tensor y = tg::checkpoint(as_fn(w, 0), {x}, w.all());
  const std::int64_t checked_nodes = tg::autograd::live_node_count() - before_checked;
  CHECK(plain_nodes > 4);
  // The checkpoint's node and the leaves' accumulators it points at (which
  // the unchecked graph holds too).
  CHECK(checked_nodes <= 1 + 4);
  CHECK(checked_nodes < plain_nodes);
}

TEST_CASE("checkpoint: an input modified in place before backward is an error, not a wrong gradient") {
  Weights w;
  Tensor leaf = tg::randn({5, 3}, kF64).set_requires_grad();
  Tensor x = leaf * 1;
  Tensor y = tg::checkpoint(as_fn(w, 0), {x}, w.all());
  {
    tg::NoGradGuard no_grad;
    x.add_(1.0);
  }
  CHECK_THROWS_AS(y.sum().backward(), tg::AutogradError);
}

TEST_CASE("checkpoint: bad arguments are ValueErrors naming checkpoint") {
  Tensor x = tg::randn({2}, kF64).set_requires_grad();
  CHECK_THROWS_WITH_AS(tg::checkpoint(tg::CheckpointFunction(), {x}), "checkpoint: the function is empty",
                       tg::ValueError);
  CHECK_THROWS_WITH_AS(tg::checkpoint([](const std::vector<Tensor>& in) { return in[0]; }, {x, Tensor()}),
                       "checkpoint: inputs[1] is undefined", tg::ValueError);
  CHECK_THROWS_WITH_AS(tg::checkpoint([](const std::vector<Tensor>& in) { return in[0]; }, {x}, {Tensor()}),
                       "checkpoint: params[0] is undefined", tg::ValueError);
  CHECK_THROWS_WITH_AS(tg::checkpoint([](const std::vector<Tensor>&) { return Tensor(); }, {x}),
                       "checkpoint: the function returned an undefined tensor", tg::ValueError);
}

// A function whose second run differs (it reads state that changed) was
// refused by tg::grad inside, under grad's name, not checkpoint's.
TEST_CASE("checkpoint: a recomputation that returns another shape, dtype or nothing names checkpoint") {
  Tensor x = tg::randn({4}, kF64).set_requires_grad();
  int calls = 0;
  const auto grows = [&calls](const std::vector<Tensor>& in) {
    return ++calls == 1 ? in[0] * 2 : in[0].narrow(0, 0, 3);
  };
  CHECK_THROWS_WITH_AS(tg::checkpoint(grows, {x}).sum().backward(),
                       "checkpoint: the recomputation in backward returned [3] float64 where the forward returned [4] "
                       "float64; the function must compute the same thing both times (does it read state that "
                       "changed in between?)",
                       tg::AutogradError);
  calls = 0;
  const auto converts = [&calls](const std::vector<Tensor>& in) {
    return ++calls == 1 ? in[0] * 2 : in[0].to(tg::kFloat32);
  };
  CHECK_THROWS_WITH_AS(tg::checkpoint(converts, {x}).sum().backward(),
                       doctest::Contains("returned [4] float32 where the forward returned [4] float64"),
                       tg::AutogradError);
  calls = 0;
  const auto vanishes = [&calls](const std::vector<Tensor>& in) { return ++calls == 1 ? in[0] * 2 : Tensor(); };
  CHECK_THROWS_WITH_AS(tg::checkpoint(vanishes, {x}).sum().backward(),
                       doctest::Contains("returned an undefined tensor where the forward returned [4] float64"),
                       tg::AutogradError);
  CHECK_FALSE(x.grad().defined());
}

// PyTorch's checkpoint gives a tensor the lambda captured a gradient; here
// the node has no edge to it, so the recomputation refuses it rather than
// leave it without one.
TEST_CASE("checkpoint: a tensor that requires grad read other than through inputs or params is an AutogradError") {
  Weights w;
  Tensor x = tg::randn({5, 3}, kF64).set_requires_grad();
  const auto says = doctest::Contains("checkpoint: the function reads a tensor that requires grad (a leaf of shape");
  const auto hint = doctest::Contains("pass it to checkpoint in inputs (or params)");

  // w.b1 captured but not listed: backward and tg::grad both refuse it.
  const std::vector<Tensor> some = {w.w1, w.w2};
  CHECK_THROWS_WITH_AS(tg::checkpoint(as_fn(w, 0), {x}, some).sum().backward(), says, tg::AutogradError);
  CHECK_THROWS_WITH_AS(tg::checkpoint(as_fn(w, 0), {x}, some).sum().backward(), hint, tg::AutogradError);
  CHECK_THROWS_WITH_AS(tg::grad({tg::checkpoint(as_fn(w, 0), {x}, some).sum()}, {x}),
                       doctest::Contains("a leaf of shape [4], dtype float64"), tg::AutogradError);
  CHECK_THROWS_WITH_AS(
      tg::grad({tg::checkpoint(as_fn(w, 0), {x}, some).pow(2.0).sum()}, {x}, {}, {.create_graph = true}), says,
      tg::AutogradError);
  CHECK_FALSE(w.b1.grad().defined());

  // The lambda reading the input itself instead of in[0].
  const auto reads_x = [&w, &x](const std::vector<Tensor>&) { return block(w, x, 0); };
  CHECK_THROWS_WITH_AS(tg::checkpoint(reads_x, {x}, w.all()).sum().backward(),
                       doctest::Contains("a leaf of shape [5, 3]"), tg::AutogradError);

  // A captured non-leaf whose history reaches an unlisted leaf.
  Tensor scale = tg::randn({3}, kF64).set_requires_grad();
  Tensor doubled = scale * 2;
  const auto reads_doubled = [&w, &doubled](const std::vector<Tensor>& in) { return block(w, in[0] * doubled, 0); };
  CHECK_THROWS_WITH_AS(tg::checkpoint(reads_doubled, {x}, w.all()).sum().backward(),
                       doctest::Contains("a leaf of shape [3]"), tg::AutogradError);

  // Listed, the same function is fine and its gradients are the plain run's:
  // a captured non-leaf whose leaves are all params passes too, also when the
  // outer graph reaches it by another path after the checkpoint's backward.
  const std::vector<Tensor> with_scale = {w.w1, w.b1, w.w2, scale};
  const auto plain = tg::grad({reads_doubled({x}).sum() + doubled.sum()}, {x, scale, w.b1}, {}, {.retain_graph = true});
  const auto checked =
      tg::grad({tg::checkpoint(reads_doubled, {x}, with_scale).sum() + doubled.sum()}, {x, scale, w.b1});
  for (std::size_t i = 0; i < plain.size(); ++i) check_close(checked[i], plain[i].to_vector<double>(), 1e-14);

  // A captured tensor that does not require grad is only data.
  Tensor data = tg::randn({3}, kF64);
  const auto reads_data = [&w, &data](const std::vector<Tensor>& in) { return block(w, in[0] * data, 0); };
  tg::checkpoint(reads_data, {x}, w.all()).sum().backward();
  CHECK(x.grad().defined());
}

TEST_CASE("post-accumulate-grad hooks see the leaf after its .grad() was updated; queue_callback runs at the end") {
  Tensor a = tg::tensor({1.0, 2.0}, {}, kF64).set_requires_grad();
  Tensor b = tg::tensor({3.0}, {}, kF64).set_requires_grad();
  std::vector<std::vector<double>> seen;
  std::vector<int> order;
  a.register_post_accumulate_grad_hook([&](const Tensor& leaf) {
    seen.push_back(leaf.grad().to_vector<double>());
    order.push_back(1);
    tg::autograd::queue_callback([&] {
      // Every leaf has accumulated by now.
      CHECK(b.grad().defined());
      order.push_back(3);
    });
  });
  b.register_post_accumulate_grad_hook([&](const Tensor&) { order.push_back(2); });
  ((a * a).sum() * b).sum().backward();
  REQUIRE(seen.size() == 1);
  check_close(seen[0], {6.0, 12.0}, 0);
  REQUIRE(order.size() == 3);
  CHECK(order.back() == 3);
  // Accumulating a second time: the hook sees the sum.
  ((a * a).sum() * b).sum().backward();
  check_close(seen.back(), {12.0, 24.0}, 0);
  // tg::grad does not touch .grad(), so it runs no such hook.
  const auto calls = seen.size();
  tg::grad({(a * a).sum()}, {a});
  CHECK(seen.size() == calls);

  CHECK_THROWS_AS(tg::autograd::queue_callback([] {}), tg::AutogradError);
  CHECK_THROWS_AS((a * 2).register_post_accumulate_grad_hook([](const Tensor&) {}), tg::AutogradError);
  CHECK_THROWS_AS(tg::tensor({1.0}, {}, kF64).register_post_accumulate_grad_hook([](const Tensor&) {}),
                  tg::AutogradError);
}

TEST_CASE("checkpoint: an input or parameter whose history holds another parameter counts each path once") {
  using tg::kFloat64;
  for (bool create_graph : {false, true}) {
    CAPTURE(create_graph);
    // h = 2 W read as an input, W as a parameter: y = h W = 2 W^2, dy/dW = 4 W.
    const Tensor w = tg::tensor({3.0}, {1}, kFloat64).requires_grad_();
    const Tensor h = tg::mul(w, 2.0);
    const Tensor y = tg::checkpoint([w](const std::vector<Tensor>& in) { return tg::mul(in[0], w); }, {h}, {w});
    const Tensor gw = tg::grad({tg::sum(y)}, {w}, {}, {.create_graph = create_graph})[0];
    check_close(gw, std::vector<double>{12.0});
    if (create_graph) check_close(tg::grad({tg::sum(gw)}, {w})[0], std::vector<double>{4.0});  // d(4W)/dW

    // One tensor as input and parameter: y = sin(x) x.
    const Tensor x = tg::tensor({0.7, -1.3}, {2}, kFloat64).requires_grad_();
    const Tensor z =
        tg::checkpoint([x](const std::vector<Tensor>& in) { return tg::mul(tg::sin(in[0]), x); }, {x}, {x});
    const Tensor gx = tg::grad({tg::sum(z)}, {x}, {}, {.create_graph = create_graph})[0];
    check_close(gx, tg::add(tg::mul(tg::cos(x), x), tg::sin(x)).detach());
    if (create_graph)  // -sin(x) x + 2 cos(x)
      check_close(tg::grad({tg::sum(gx)}, {x})[0],
                  tg::add(tg::mul(tg::neg(tg::sin(x)), x), tg::mul(tg::cos(x), 2.0)).detach());

    // A parameter that is not a leaf, made from another parameter: p = 2 q, y = a p q = 2 a q^2.
    const Tensor q = tg::tensor({1.5}, {1}, kFloat64).requires_grad_();
    const Tensor p = tg::mul(q, 2.0);
    const Tensor a = tg::tensor({0.5}, {1}, kFloat64).requires_grad_();
    const Tensor u =
        tg::checkpoint([p, q](const std::vector<Tensor>& in) { return tg::mul(tg::mul(in[0], p), q); }, {a}, {p, q});
    const std::vector<Tensor> g = tg::grad({tg::sum(u)}, {a, q}, {}, {.create_graph = create_graph});
    check_close(g[0], std::vector<double>{2 * 1.5 * 1.5});
    check_close(g[1], std::vector<double>{4 * 0.5 * 1.5});
  }
}

TEST_CASE("checkpoint: a parameter listed twice counts once") {
  // y = x W read by fn itself; W listed twice gave each copy the whole
  // gradient and W twice it.
  for (bool create_graph : {false, true}) {
    CAPTURE(create_graph);
    const Tensor x = tg::tensor({1.0, 2.0, -1.0, 0.5}, {2, 2}, kF64).requires_grad_();
    const Tensor w = tg::tensor({0.1, 0.2, -0.3, 0.4}, {2, 2}, kF64).requires_grad_();
    const auto fn = [w](const std::vector<Tensor>& in) { return tg::sum(tg::square(tg::matmul(in[0], w))); };
    const std::vector<Tensor> want = tg::grad({fn({x})}, {x, w}, {}, {.create_graph = create_graph});
    const std::vector<Tensor> got =
        tg::grad({tg::checkpoint(fn, {x}, {w, w, w})}, {x, w}, {}, {.create_graph = create_graph});
    check_close(got[0], want[0].detach(), 1e-15);
    check_close(got[1], want[1].detach(), 1e-15);
    if (create_graph) check_close(tg::grad({tg::sum(got[1])}, {w})[0], tg::grad({tg::sum(want[1])}, {w})[0], 1e-15);
    // And through .grad: backward accumulates once.
    tg::checkpoint(fn, {x}, {w, w}).backward();
    check_close(w.grad(), want[1].detach(), 1e-15);
  }
}

TEST_CASE("checkpoint: hooks on its inputs and parameters run once, as without it") {
  using tg::kFloat64;
  for (const bool use_grad : {false, true}) {
    CAPTURE(use_grad);
    // W a leaf parameter, h = 2 v a non-leaf input; y = h * W.
    const Tensor w = tg::tensor({1.0, 2.0, 3.0}, {3}, kFloat64).requires_grad_();
    const Tensor v = tg::tensor({1.0, 1.0, 1.0}, {3}, kFloat64).requires_grad_();
    const Tensor h = tg::mul(v, 2.0);
    int w_calls = 0, h_calls = 0;
    w.register_hook([&](const Tensor& g) {
      ++w_calls;
      return tg::mul(g, 100.0);
    });
    h.register_hook([&](const Tensor& g) {
      ++h_calls;
      return tg::mul(g, 10.0);
    });
    const Tensor y = tg::checkpoint([w](const std::vector<Tensor>& in) { return tg::mul(in[0], w); }, {h}, {w});
    // dy/dW = h = 2, times 100; dy/dh = W, times 10, then times 2 into v.
    if (use_grad) {
      const auto g = tg::grad({tg::sum(y)}, {w, v});
      check_close(g[0], {3}, {200, 200, 200});
      check_close(g[1], {3}, {20, 40, 60});
    } else {
      tg::sum(y).backward();
      check_close(w.grad(), {3}, {200, 200, 200});
      check_close(v.grad(), {3}, {20, 40, 60});
    }
    CHECK(w_calls == 1);
    CHECK(h_calls == 1);
  }
}

}  // namespace test_grad_checkpoint
