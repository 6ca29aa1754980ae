// Threads: two independent trainings running at the same time in two
// std::threads give bit-identical losses and parameters to the same two run
// one after the other; grad mode and anomaly mode are per thread.
#include <cmath>
#include <cstdint>
#include <cstring>
#include <latch>
#include <thread>
#include <vector>

#include <doctest/doctest.h>

#include <tapegrad/tapegrad.h>

namespace test_threads_test {

namespace F = tg::nn::functional;

namespace {

struct Mlp : tg::nn::Module {
  tg::nn::Linear fc1{8, 32}, fc2{32, 32}, fc3{32, 3};
  Mlp() {
    register_module("fc1", fc1);
    register_module("fc2", fc2);
    register_module("fc3", fc3);
  }
  tg::Tensor forward(const tg::Tensor& x) override { return fc3(tg::relu(fc2(tg::relu(fc1(x))))); }
};

struct Run {
  std::vector<float> losses;
  std::vector<float> params;
};

// One training, drawing every random number from its own generator: the
// data, the labels (a fixed random linear teacher), the initial weights and
// dropout-free full-batch Adam steps. The batch is large enough (2048 x 32
// hidden activations) for the elementwise kernels to take their parallel path.
Run train(std::uint64_t seed) {
  tg::Generator gen(seed);
  const tg::Tensor x = tg::randn({2048, 8}, {}, &gen);
  const tg::Tensor teacher = tg::randn({8, 3}, {}, &gen);
  const tg::Tensor y = tg::argmax(tg::matmul(x, teacher), 1);

  Mlp model;
  for (auto& p : model.parameters()) tg::nn::init::uniform_(p, -0.3, 0.3, &gen);
  tg::optim::Adam opt(model.parameters(), {.lr = 1e-2});

  Run run;
  for (int step = 0; step < 25; ++step) {
    opt.zero_grad();
    tg::Tensor loss = F::cross_entropy(model(x), y);
    loss.backward();
    opt.step();
    run.losses.push_back(loss.item<float>());
  }
  for (auto& p : model.parameters()) {
    const auto v = p.to_vector<float>();
    run.params.insert(run.params.end(), v.begin(), v.end());
  }
  return run;
}

bool bit_identical(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

}  // namespace

TEST_CASE("threads: two trainings at once match the same two run one after the other, bit for bit") {
  // A fixed team size: by default it follows the machine's load, and
  // OpenBLAS's sgemm rounds differently on 1 and 2 threads (docs/performance.md,
  // "Reproducible results"). Our own reductions split by shape, not by team.
  tg::set_num_threads(2);
  struct Reset {
    ~Reset() { tg::reset_num_threads(); }
  } reset;
  const Run a = train(11);
  const Run b = train(22);
  REQUIRE(a.losses.size() == 25);
  // The trainings learn (so the comparison is about real work) and differ.
  CHECK(a.losses.back() < a.losses.front());
  CHECK(b.losses.back() < b.losses.front());
  CHECK_FALSE(bit_identical(a.params, b.params));

  for (int repeat = 0; repeat < 3; ++repeat) {
    Run a2, b2;
    std::latch start(2);
    std::thread ta([&] {
      start.arrive_and_wait();
      a2 = train(11);
    });
    std::thread tb([&] {
      start.arrive_and_wait();
      b2 = train(22);
    });
    ta.join();
    tb.join();
    INFO("repeat " << repeat);
    CHECK(bit_identical(a.losses, a2.losses));
    CHECK(bit_identical(a.params, a2.params));
    CHECK(bit_identical(b.losses, b2.losses));
    CHECK(bit_identical(b.params, b2.params));
  }
}

TEST_CASE("threads: NoGradGuard and anomaly mode in one thread do not affect another") {
  // Thread 1 turns grad mode off and anomaly mode on, then thread 2 records
  // ops while thread 1 is still inside its guards; then the other way round.
  std::latch guards_on(1), other_checked(1), done(1);
  bool other_grad_enabled = false, other_anomaly = true, other_recorded = false;
  bool guarded_grad_enabled = true, guarded_recorded = true;

  std::thread guarded([&] {
    tg::NoGradGuard no_grad;
    tg::DetectAnomalyGuard anomaly;
    guards_on.count_down();
    other_checked.wait();
    guarded_grad_enabled = tg::is_grad_enabled();
    tg::Tensor w = tg::ones({2}, {.requires_grad = true});
    guarded_recorded = (w * 2).requires_grad();
    done.count_down();
  });
  std::thread other([&] {
    guards_on.wait();
    other_grad_enabled = tg::is_grad_enabled();
    other_anomaly = tg::is_anomaly_enabled();
    tg::Tensor w = tg::ones({2}, {.requires_grad = true});
    tg::Tensor y = (w * 3).sum();
    other_recorded = y.requires_grad();
    y.backward();
    CHECK(w.grad().to_vector<float>() == std::vector<float>{3, 3});
    other_checked.count_down();
    done.wait();
  });
  guarded.join();
  other.join();
  CHECK(other_grad_enabled);
  CHECK_FALSE(other_anomaly);
  CHECK(other_recorded);
  CHECK_FALSE(guarded_grad_enabled);
  CHECK_FALSE(guarded_recorded);
  // The main thread was never inside either guard.
  CHECK(tg::is_grad_enabled());
  CHECK_FALSE(tg::is_anomaly_enabled());
}

TEST_CASE("threads: tensors made in one thread can be freed in another") {
  // The allocator caches freed blocks per thread: a block allocated by one
  // thread and released by another must go to the releasing thread's cache
  // (or the system) without corrupting either.
  std::vector<tg::Tensor> made;
  std::thread maker([&] {
    for (int i = 0; i < 200; ++i) made.push_back(tg::full({64 + i}, static_cast<double>(i)));
  });
  maker.join();
  std::thread user([&] {
    double total = 0;
    for (auto& t : made) total += tg::sum(t).item<double>();
    double expected = 0;
    for (int i = 0; i < 200; ++i) expected += static_cast<double>(i) * (64 + i);
    CHECK(total == expected);
    made.clear();  // freed here, in another thread than the one that allocated
    for (int i = 0; i < 200; ++i) CHECK(tg::zeros({64 + i}).sum().item<double>() == 0);
  });
  user.join();
}

}  // namespace test_threads_test
