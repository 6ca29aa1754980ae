// How many heap blocks a recorded op makes (issue 13: per-op cost). A binary
// of its own: it replaces the global operator new to count calls, which must
// not change the other test binaries.
//
// On warm caches a recorded op with one or two tensor inputs calls operator
// new not at all: its TensorImpl, Storage, data, node and the output's
// autograd state come from the caching allocator's per-thread free lists,
// the node holds its edges and input shapes inline, and a leaf keeps its
// AccumulateGrad. One storage per op is all memory_stats() sees.
#include <doctest/doctest.h>
#include <tapegrad/tapegrad.h>

#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <new>

namespace {
std::atomic<std::int64_t> g_news{0};
}  // namespace

void* operator new(std::size_t n) {
  g_news.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(n ? n : 1)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }

namespace {

using tg::Tensor;

struct Counts {
  std::int64_t news = 0;      // operator new calls
  std::int64_t storages = 0;  // tensor storages allocated (memory_stats)
};

// Whether the replacement above is the operator new in use: under valgrind
// the tool's own replaces it, and nothing can be counted.
bool counting() {
  const std::int64_t before = g_news.load();
  delete new int(3);
  if (g_news.load() != before) return true;
  MESSAGE("operator new is not this binary's (valgrind?): allocations are not counted");
  return false;
}

// The counts made by `reps` calls of `op`, after a few calls to warm the
// caches (the allocator's free lists, the leaves' accumulators).
template <class F>
Counts count(int reps, F&& op) {
  for (int i = 0; i < 4; ++i) op();
  const std::int64_t news = g_news.load();
  const std::int64_t storages = tg::memory_stats().num_allocations;
  for (int i = 0; i < reps; ++i) op();
  return {g_news.load() - news, tg::memory_stats().num_allocations - storages};
}

constexpr int kReps = 100;

}  // namespace

TEST_CASE("a recorded binary op allocates nothing from the heap on warm caches") {
  if (!counting()) return;
  for (std::int64_t n : {1, 32}) {
    CAPTURE(n);
    Tensor a = tg::ones({n, n}).set_requires_grad();
    Tensor b = tg::ones({n, n});
    const auto nodes = tg::autograd::live_node_count();
    const Counts c = count(kReps, [&] {
      Tensor y = tg::add(a, b);
      REQUIRE(y.grad_fn() != nullptr);
    });
    CHECK(c.news == 0);
    CHECK(c.storages == kReps);  // the output's data, one block each
    CHECK(tg::autograd::live_node_count() == nodes);
  }
}

TEST_CASE("recording with two inputs that require grad allocates nothing from the heap") {
  if (!counting()) return;
  Tensor a = tg::ones({4}).set_requires_grad();
  Tensor b = tg::ones({4}).set_requires_grad();
  const Counts c = count(kReps, [&] { Tensor y = tg::mul(a, b); });
  CHECK(c.news == 0);
  CHECK(c.storages == kReps);
}

TEST_CASE("a recorded chain allocates nothing from the heap on warm caches") {
  if (!counting()) return;
  Tensor x = tg::ones({1}).set_requires_grad();
  const Counts c = count(kReps, [&] {
    Tensor y = x;
    for (int i = 0; i < 10; ++i) y = tg::mul(tg::add(y, 1.0), 0.5);
  });
  CHECK(c.news == 0);
  CHECK(c.storages == 20 * kReps);
}

// A backward pass allocates for the pass (its node table, stacks and
// queues, growing with the graph's depth at most logarithmically), never a
// gradient list per node: lists of up to three gradients live inline, and a
// node holds three inputs' edges and shapes inline. Before, each lerp node
// here cost four heap blocks (two recording it, two running its backward).
TEST_CASE("a backward pass does not allocate per node") {
  if (!counting()) return;
  Tensor x = tg::ones({1}).set_requires_grad();
  Tensor w = tg::ones({1}).set_requires_grad();
  Tensor b = tg::ones({1}).set_requires_grad();
  const auto backward_news = [&](int ops) {
    return count(kReps,
                 [&] {
                   Tensor y = x;
                   for (int i = 0; i < ops; ++i) y = tg::lerp(y, b, w);  // three tensor inputs
                   y.sum().backward();
                 })
               .news /
           kReps;
  };
  const std::int64_t short_chain = backward_news(10), long_chain = backward_news(80);
  CAPTURE(short_chain);
  CAPTURE(long_chain);
  CHECK(long_chain - short_chain <= 4);
}

// A reduction's plan sorts its reduced dims without a heap buffer (a bias
// gradient's sum over the batch took one per call through std::stable_sort):
// only the output's storage, from the caching allocator.
TEST_CASE("a reduction allocates nothing from the heap on warm caches") {
  if (!counting()) return;
  const Tensor x = tg::ones({32, 10});
  const Tensor xt = tg::ones({10, 32}).t();  // reduced dims reordered by stride
  tg::NoGradGuard no_grad;
  for (const Tensor& t : {x, xt}) {
    const Counts c = count(kReps, [&] {
      Tensor s = tg::sum(t, {0});
      Tensor m = tg::mean(t);
    });
    CHECK(c.news == 0);
    CHECK(c.storages == 2 * kReps);
  }
}

TEST_CASE("the counting hook sees allocations") {
  if (!counting()) return;
  const std::int64_t before = g_news.load();
  auto* p = new int(3);
  CHECK(g_news.load() - before == 1);
  delete p;
}
