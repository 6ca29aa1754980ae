// tg::grad with respect to tensors in the middle of a graph: the pass walks
// only the nodes that can lead to an input (topological numbers, engine.cpp
// discover), never the history recorded before them, and the gradients are
// those of the whole graph: intermediate targets at different depths, a
// branch that bypasses a target, a leaf target beside an intermediate one,
// in-place history (CopySlices), create_graph, and an input the output does
// not depend on.
#include <cmath>
#include <cstdint>
#include <vector>

#include <doctest/doctest.h>

#include <tapegrad/autograd/engine.h>
#include <tapegrad/autograd/ops.h>

#include "support/close.h"

namespace test_grad_history {

using namespace tg;

namespace {

std::vector<double> values(const Tensor& t) { return t.to_vector<double>(); }

// x times 1.0001, `steps` times over: a history `steps` nodes deep.
Tensor long_history(const Tensor& x, int steps) {
  Tensor y = x;
  for (int i = 0; i < steps; ++i) y = y * 1.0001;
  return y;
}

}  // namespace

TEST_CASE("grad with respect to an intermediate tensor does not walk its history") {
  const Tensor w = tensor({0.5, -1.5, 2.0}, {3}, kFloat64).requires_grad_();
  const Tensor y = long_history(w, 5000);
  for (int step = 0; step < 3; ++step) {
    const Tensor z = y * 1.0 + 0.0;  // a little more history above y each time
    const Tensor out = (z * z).sum();
    const std::vector<Tensor> g = grad({out}, {y}, {}, {.retain_graph = true});
    CHECK(values(g[0]) == values(y * 2.0));
    // out's sum, z * z, z's mul and add, and y's own node with the edge below it.
    CHECK(autograd::detail::nodes_walked_by_last_pass() < 10);
  }
  // A pass to the leaf still walks everything.
  const Tensor gw = grad({(y * y).sum()}, {w})[0];
  CHECK(autograd::detail::nodes_walked_by_last_pass() > 5000);
  tg_test::check_close(gw, 2.0 * y * std::pow(1.0001, 5000), 1e-12);
}

TEST_CASE("grad at targets of different depths, with a branch that bypasses one, matches the chain rule") {
  const Tensor w = tensor({0.3, -0.7}, {2}, kFloat64).requires_grad_();
  const Tensor a = w * 2.0;  // shallow
  const Tensor deep = long_history(w, 200);
  const Tensor b = (a * deep).exp();  // deeper than a
  const Tensor out = (a * b + deep.sin()).sum();
  // d out / d a = b + a * b * deep (through b), d out / d b = a, d out / d deep = a * b * a + cos(deep).
  const std::vector<Tensor> g = grad({out}, {a, b, deep, w}, {}, {.retain_graph = true});
  tg_test::check_close(g[0], b + a * b * deep, 1e-12);
  tg_test::check_close(g[1], a, 1e-12);
  tg_test::check_close(g[2], a * b * a + deep.cos(), 1e-12);
  const double scale = std::pow(1.0001, 200);
  tg_test::check_close(g[3], 2.0 * g[0] + scale * g[2], 1e-12);
  // Only the deeper target: the shallow one's node sits below it, and is not walked through.
  const Tensor gb = grad({out}, {b}, {}, {.retain_graph = true})[0];
  tg_test::check_close(gb, a, 1e-12);
  CHECK(autograd::detail::nodes_walked_by_last_pass() < 12);
}

TEST_CASE("grad through in-place history and with create_graph walks only above the target") {
  const Tensor w = tensor({1.0, 2.0, 3.0, 4.0}, {4}, kFloat64).requires_grad_();
  Tensor x = long_history(w, 1000) * 1.0;
  x.slice(0, 1, 3).mul_(3.0);  // x's history is now a CopySlices node
  const Tensor out = (x * x * x).sum();
  const Tensor g = grad(out, x, {.create_graph = true})[0];
  CHECK(autograd::detail::nodes_walked_by_last_pass() < 10);
  tg_test::check_close(g, 3.0 * x * x, 1e-12);
  // The second derivative through the recorded backward: d(sum g)/dx = 6 x.
  const Tensor h = grad({g.sum()}, {x})[0];
  tg_test::check_close(h, 6.0 * x, 1e-12);
}

TEST_CASE("grad of an output that does not reach an input below it says so, or gives none with allow_unused") {
  const Tensor w = tensor({1.0, 2.0}, {2}, kFloat64).requires_grad_();
  const Tensor early = long_history(w, 50);
  const Tensor late = early * 2.0;
  const Tensor out = (early * 3.0).sum();  // depends on early, not on late
  CHECK_THROWS_AS(grad(std::vector<Tensor>{out}, std::vector<Tensor>{late}, {}, {.retain_graph = true}), AutogradError);
  const std::vector<Tensor> g = grad({out}, {late, early}, {}, {.allow_unused = true});
  CHECK(!g[0].defined());
  CHECK(values(g[1]) == std::vector<double>{3.0, 3.0});
}

}  // namespace test_grad_history
