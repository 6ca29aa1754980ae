// Graphs recorded on more than one thread. Each thread numbers its nodes with
// its own counter, so sequence numbers say nothing about the order between
// nodes of different threads: the engine must order by dependencies. Every
// test here compares with the same program recorded on one thread.
#include <doctest/doctest.h>

#include <cmath>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <latch>
#include <mutex>
#include <random>
#include <thread>
#include <vector>

#include <tapegrad/autograd/custom_function.h>
#include <tapegrad/autograd/engine.h>
#include <tapegrad/autograd/node.h>
#include <tapegrad/autograd/ops.h>
#include <tapegrad/autograd/tensor.h>
#include "support/reference.h"

namespace test_engine_threads {

using tg::Tensor;

namespace {

constexpr tg::TensorOptions kF64Grad{.dtype = tg::kFloat64, .requires_grad = true};

void check_same(const Tensor& got, const Tensor& want, const char* what) {
  INFO(what);
  tg_test::check_close(got, want);
}

// Runs step k of a program on thread schedule[k] of a pool of `threads`
// threads, one step at a time, in order: the ops interleave across threads
// exactly as the schedule says, and each thread's sequence counter advances
// only with its own steps.
void run_on_threads(int threads, const std::vector<int>& schedule, const std::function<void(std::size_t)>& step) {
  std::mutex mu;
  std::condition_variable cv;
  std::size_t next = 0;
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t)
    pool.emplace_back([&, t] {
      std::unique_lock lock(mu);
      while (true) {
        cv.wait(lock, [&] { return next >= schedule.size() || schedule[next] == t; });
        if (next >= schedule.size()) return;
        step(next);
        ++next;
        cv.notify_all();
      }
    });
  for (auto& th : pool) th.join();
}

// A random program over a pool of tensors: each step combines one or two
// earlier tensors. Values stay bounded (tanh, scaling) so every gradient is
// well conditioned.
struct Program {
  struct Step {
    int op, a, b;
  };
  std::vector<Step> steps;
  std::vector<int> schedule;

  Program(std::uint32_t seed, int threads, int n_leaves, int n_steps) {
    std::mt19937 rng(seed);
    for (int k = 0; k < n_steps; ++k) {
      const int pool = n_leaves + k;
      // Mostly recent tensors (long chains), sometimes old ones (cross-thread
      // joins far back in the program).
      auto pick = [&] {
        return rng() % 3 == 0 ? static_cast<int>(rng() % pool) : pool - 1 - static_cast<int>(rng() % std::min(pool, 4));
      };
      steps.push_back({static_cast<int>(rng() % 6), pick(), pick()});
      // Runs of steps on one thread, then a switch: long per-thread chains
      // whose counters run ahead of each other.
      schedule.push_back(k > 0 && rng() % 4 != 0 ? schedule.back() : static_cast<int>(rng() % threads));
    }
  }

  static Tensor apply(const Step& s, const std::vector<Tensor>& pool) {
    const Tensor& a = pool[s.a];
    const Tensor& b = pool[s.b];
    switch (s.op) {
      case 0:
        return a + b;
      case 1:
        return a * b * 0.5;
      case 2:
        return tg::tanh(a) - b * 0.25;
      case 3:
        return a * 1.0;  // a node whose sequence number is all it adds
      case 4:
        return tg::sigmoid(a) * b;
      default:
        return a - b * b * 0.1;
    }
  }

  // The pool after the program, starting from copies of `leaves`.
  std::vector<Tensor> record(const std::vector<Tensor>& leaves, int threads) const {
    std::vector<Tensor> pool = leaves;
    pool.reserve(leaves.size() + steps.size());
    if (threads == 0) {
      for (const auto& s : steps) pool.push_back(apply(s, pool));
    } else {
      run_on_threads(threads, schedule, [&](std::size_t k) { pool.push_back(apply(steps[k], pool)); });
    }
    return pool;
  }
};

std::vector<Tensor> make_leaves(int n, std::uint32_t seed) {
  std::vector<Tensor> leaves;
  std::mt19937 rng(seed);
  std::uniform_real_distribution<double> u(-1.0, 1.0);
  for (int i = 0; i < n; ++i) leaves.push_back(tg::tensor({u(rng), u(rng), u(rng)}, {3}, kF64Grad));
  return leaves;
}

// A loss on the main thread that uses tensors from all over the program.
Tensor loss_of(const std::vector<Tensor>& pool) {
  Tensor loss = pool.back().sum();
  for (std::size_t i = pool.size() / 2; i < pool.size(); i += 3) loss = loss + (pool[i] * pool[i]).sum() * 0.1;
  return loss;
}

}  // namespace

TEST_CASE("a graph half recorded on another thread: the issue's program") {
  Tensor w = tg::ones({4}, kF64Grad);
  Tensor a;
  std::thread([&] {
    a = w;
    for (int i = 0; i < 100; ++i) a = a * 1.0;
  }).join();
  ((a * (w * 2)) + a).sum().backward();
  check_same(w.grad(), tg::full({4}, 5.0, {.dtype = tg::kFloat64}), "backward");

  Tensor b;
  std::thread([&] {
    b = w;
    for (int i = 0; i < 100; ++i) b = b * 1.0;
  }).join();
  auto g = tg::grad({((b * (w * 2)) + b).sum()}, {w});
  check_same(g[0], tg::full({4}, 5.0, {.dtype = tg::kFloat64}), "tg::grad");
}

TEST_CASE("tg::grad of an intermediate made on another thread gets its whole gradient") {
  Tensor w = tg::tensor({0.5, -1.5}, {2}, kF64Grad);
  Tensor mid;
  std::thread([&] {
    mid = w * 3.0;
    for (int i = 0; i < 50; ++i) mid = mid * 1.0;
  }).join();
  // mid is used twice: once directly, once through a short chain recorded
  // later on this thread (whose sequence numbers are small).
  Tensor out = (mid * mid).sum() + (tg::tanh(mid) * 2.0).sum();
  auto g = tg::grad({out}, {mid, w});
  const auto m = mid.to_vector<double>();
  const auto gm = g[0].to_vector<double>();
  const auto gw = g[1].to_vector<double>();
  for (int i = 0; i < 2; ++i) {
    const double want = 2 * m[i] + 2 * (1 - std::tanh(m[i]) * std::tanh(m[i]));
    CHECK(gm[i] == doctest::Approx(want).epsilon(1e-12));
    CHECK(gw[i] == doctest::Approx(3 * want).epsilon(1e-12));
  }
}

TEST_CASE("a graph recorded on one thread runs backward on another") {
  Tensor w = tg::tensor({1, 2, 3}, {3}, kF64Grad);
  Tensor loss = (tg::tanh(w) * w).sum();
  std::thread([&] { loss.backward(); }).join();
  const auto g = w.grad().to_vector<double>();
  for (int i = 0; i < 3; ++i) {
    const double x = i + 1, t = std::tanh(x);
    CHECK(g[i] == doctest::Approx(t + x * (1 - t * t)).epsilon(1e-12));
  }
}

TEST_CASE("random programs recorded across 2 to 8 threads match one thread") {
  for (int threads = 2; threads <= 8; ++threads) {
    for (std::uint32_t seed = 0; seed < 6; ++seed) {
      CAPTURE(threads);
      CAPTURE(seed);
      const Program program(seed * 31 + threads, threads, 3, 60);

      // Reference: the same program, recorded on this thread only.
      std::vector<Tensor> ref_leaves = make_leaves(3, seed);
      auto ref_pool = program.record(ref_leaves, 0);
      loss_of(ref_pool).backward();

      std::vector<Tensor> leaves = make_leaves(3, seed);
      auto pool = program.record(leaves, threads);
      Tensor loss = loss_of(pool);
      // tg::grad first (retaining the graph), then backward into .grad().
      auto g = tg::grad({loss}, leaves, {}, {.retain_graph = true, .allow_unused = true});
      loss.backward();
      for (std::size_t i = 0; i < leaves.size(); ++i) {
        if (!ref_leaves[i].grad().defined()) {
          CHECK_FALSE(leaves[i].grad().defined());
          CHECK_FALSE(g[i].defined());
          continue;
        }
        check_same(leaves[i].grad(), ref_leaves[i].grad(), "backward");
        check_same(g[i], ref_leaves[i].grad(), "tg::grad");
      }
    }
  }
}

TEST_CASE("second order through a graph recorded across threads matches one thread") {
  for (int threads : {2, 3, 5, 8}) {
    for (std::uint32_t seed = 0; seed < 3; ++seed) {
      CAPTURE(threads);
      CAPTURE(seed);
      const Program program(seed * 17 + threads, threads, 2, 40);
      auto second_order = [&](int record_threads) {
        std::vector<Tensor> leaves = make_leaves(2, seed + 100);
        auto pool = program.record(leaves, record_threads);
        auto g = tg::grad({loss_of(pool)}, leaves, {}, {.create_graph = true, .allow_unused = true});
        Tensor s = tg::zeros({}, {.dtype = tg::kFloat64});
        for (const auto& gi : g)
          if (gi.defined() && gi.requires_grad()) s = s + (gi * gi).sum();
        std::vector<Tensor> out;
        if (!s.requires_grad()) return out;
        // The double backward itself runs on another thread.
        std::thread([&] { out = tg::grad({s}, leaves, {}, {.allow_unused = true}); }).join();
        return out;
      };
      auto want = second_order(0);
      auto got = second_order(threads);
      REQUIRE(got.size() == want.size());
      for (std::size_t i = 0; i < got.size(); ++i) {
        if (!want[i].defined()) {
          CHECK_FALSE(got[i].defined());
          continue;
        }
        check_same(got[i], want[i], "second order");
      }
    }
  }
}

namespace {
// Passes its input through but sends no gradient back.
struct Blocker : tg::autograd::Function<Blocker> {
  static Tensor forward(tg::autograd::AutogradContext*, const Tensor& x) { return x * 1.0; }
  static std::vector<Tensor> backward(tg::autograd::AutogradContext*, std::vector<Tensor>) { return {Tensor()}; }
};
}  // namespace

TEST_CASE("edges that carry no gradient still count as delivered") {
  Tensor w = tg::tensor({1, 2}, {2}, kF64Grad);
  Tensor y;
  std::thread([&] { y = tg::sigmoid(w) * 1.0; }).join();
  // y's node gets nothing from Blocker and a gradient from the other use.
  (Blocker::apply(y).sum() + (y * 2.0).sum()).backward();
  const auto g = w.grad().to_vector<double>();
  for (int i = 0; i < 2; ++i) {
    const double s = 1 / (1 + std::exp(-(i + 1.0)));
    CHECK(g[i] == doctest::Approx(2 * s * (1 - s)).epsilon(1e-12));
  }
  // Only nothing reaches y's node: it is skipped, and w's other use still
  // arrives.
  w.mutable_grad().reset();
  Tensor z;
  std::thread([&] { z = tg::sigmoid(w) * 1.0; }).join();
  (Blocker::apply(z).sum() + (w * 3.0).sum()).backward();
  check_same(w.grad(), tg::full({2}, 3.0, {.dtype = tg::kFloat64}), "only undefined through one branch");
}

// Each thread counts the nodes it makes and frees (live_node_count sums the
// threads): a graph recorded on a thread that then ends, and freed here, must
// bring the count back exactly.
TEST_CASE("live_node_count stays exact for nodes made on one thread and freed on another") {
  const auto nodes = tg::autograd::live_node_count();
  Tensor w = tg::ones({2}, kF64Grad);
  Tensor y;
  std::thread([&] { y = (w * 2.0).exp().sum(); }).join();
  CHECK(tg::autograd::live_node_count() == nodes + 3);
  Tensor z = y * 3.0;
  CHECK(tg::autograd::live_node_count() == nodes + 4);
  std::thread([&] {
    y = Tensor();
    z = Tensor();
  }).join();
  CHECK(tg::autograd::live_node_count() == nodes);
}

TEST_CASE("a view shared by threads after its base changed in place is refreshed once, safely") {
  // A weight's transpose made once and read by several threads after each
  // optimizer-like update of the weight: the first reader rebuilt its node
  // while the others read it (a corrupted node threw a reshape error, or
  // crashed, in about one run of 3,000 rounds in three).
  Tensor w = tg::randn({8, 8}, {.dtype = tg::kFloat64}).set_requires_grad(true);
  const Tensor wt = w.t();
  const Tensor x = tg::randn({4, 8}, {.dtype = tg::kFloat64});
  const Tensor expected =
      tg::matmul(x.sum({0}, true).t(), tg::ones({1, 8}, {.dtype = tg::kFloat64})).t();  // d/dw of sum(x w^T)
  constexpr int kThreads = 4, kRounds = 1000;
  for (int round = 0; round < kRounds; ++round) {
    {
      tg::NoGradGuard no_grad;
      w.add_(0.0);  // a new version: every reader must refresh wt
    }
    w.mutable_grad().reset();
    std::vector<std::thread> threads;
    std::latch start(kThreads);  // all read wt at once
    for (int t = 0; t < kThreads; ++t)
      threads.emplace_back([&] {
        start.arrive_and_wait();
        tg::matmul(x, wt).sum().backward({}, /*retain_graph=*/true);
      });
    for (auto& th : threads) th.join();
    REQUIRE(w.grad().defined());
    CHECK(tg::allclose(w.grad(), expected * static_cast<double>(kThreads)));
  }
}

}  // namespace test_engine_threads
