// multinomial, normal, rand_like, randn_like, randint_like and the in-place
// uniform_, normal_, bernoulli_ and exponential_ (issue 14): reproducible from
// a seed (the default generator's or a tg::Generator of one's own), the right
// distribution (moments within several standard errors, for fixed seeds, so
// the checks are deterministic), no gradient, and clear errors.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <set>
#include <string>
#include <vector>

#include <tapegrad/autograd/grad_mode.h>
#include <tapegrad/autograd/ops.h>
#include <tapegrad/core/error.h>
#include <tapegrad/core/random.h>

#include "tg_error_check.h"

namespace test_random_ops {

using tg::Tensor;

namespace {

double mean_of(const std::vector<double>& v) {
  double s = 0;
  for (double x : v) s += x;
  return s / static_cast<double>(v.size());
}

double var_of(const std::vector<double>& v) {
  const double m = mean_of(v);
  double s = 0;
  for (double x : v) s += (x - m) * (x - m);
  return s / static_cast<double>(v.size() - 1);
}

constexpr int kN = 20000;

}  // namespace

TEST_CASE("every random op gives the same values from the same seed, and a Generator is a stream of its own") {
  using Draw = std::function<Tensor(tg::Generator*)>;
  const Tensor like = tg::zeros({4, 5}, {.dtype = tg::kFloat64});
  const Tensor probs = tg::tensor({0.1, 0.2, 0.3, 0.4, 0.5, 0.1}, {2, 3}, {.dtype = tg::kFloat64});
  const std::vector<std::pair<std::string, Draw>> draws = {
      {"multinomial", [&](tg::Generator* g) { return tg::multinomial(probs, 2, false, g); }},
      {"multinomial replacement", [&](tg::Generator* g) { return tg::multinomial(probs, 5, true, g); }},
      {"normal(tensor, tensor)", [&](tg::Generator* g) { return tg::normal(like, tg::ones_like(like), g); }},
      {"normal(tensor, double)", [&](tg::Generator* g) { return tg::normal(like, 2.0, g); }},
      {"normal(double, tensor)", [&](tg::Generator* g) { return tg::normal(1.0, tg::ones_like(like), g); }},
      {"normal(double, double, size)",
       [&](tg::Generator* g) {
         return tg::normal(1.0, 2.0, {3, 2}, {}, g);
       }},
      {"rand_like", [&](tg::Generator* g) { return tg::rand_like(like, {}, g); }},
      {"randn_like", [&](tg::Generator* g) { return tg::randn_like(like, {}, g); }},
      {"randint_like", [&](tg::Generator* g) { return tg::randint_like(like, 3, 9, g); }},
      {"uniform_", [&](tg::Generator* g) { return tg::zeros({7}).uniform_(-1, 2, g); }},
      {"normal_", [&](tg::Generator* g) { return tg::zeros({7}).normal_(3, 0.5, g); }},
      {"bernoulli_(p)", [&](tg::Generator* g) { return tg::zeros({7}).bernoulli_(0.5, g); }},
      {"bernoulli_(tensor)",
       [&](tg::Generator* g) {
         return tg::zeros({2, 3}).bernoulli_(probs, g);
       }},
      {"exponential_", [&](tg::Generator* g) { return tg::zeros({7}).exponential_(2, g); }},
      {"random_(from, to)", [&](tg::Generator* g) { return tg::zeros({7}).random_(-3, 9, g); }},
      {"random_()", [&](tg::Generator* g) { return tg::zeros({7}, tg::kInt16).random_(g); }},
  };
  for (const auto& [name, draw] : draws) {
    const std::string op = name;
    CAPTURE(op);
    tg::manual_seed(123);
    const auto a = draw(nullptr).to_vector<double>();
    tg::manual_seed(123);
    const auto b = draw(nullptr).to_vector<double>();
    CHECK(a == b);
    // A Generator of one's own: reproducible, and the default stream is untouched.
    tg::manual_seed(7);
    tg::Generator g1(42), g2(42);
    const auto c = draw(&g1).to_vector<double>();
    const auto after_own = draw(nullptr).to_vector<double>();
    const auto d = draw(&g2).to_vector<double>();
    CHECK(c == d);
    tg::manual_seed(7);
    CHECK(draw(nullptr).to_vector<double>() == after_own);
    // Another seed, other values (a stream, not a constant).
    tg::Generator g3(43);
    if (op.rfind("multinomial", 0) != 0 && op.rfind("bernoulli", 0) != 0) CHECK(draw(&g3).to_vector<double>() != c);
  }
}

TEST_CASE("multinomial draws each category in proportion to its weight") {
  tg::Generator gen(1);
  const Tensor w = tg::tensor({1.0, 0.0, 3.0, 6.0});  // not normalised; category 1 impossible
  const auto s = tg::multinomial(w, kN, true, &gen).to_vector<double>();
  CHECK(tg::multinomial(w, 3, true, &gen).dtype() == tg::kInt64);
  std::vector<double> count(4, 0);
  for (double x : s) count[static_cast<std::size_t>(x)] += 1;
  CHECK(count[1] == 0);
  for (int c : {0, 2, 3}) {
    const double p = w.to_vector<double>()[static_cast<std::size_t>(c)] / 10;
    const double se = std::sqrt(p * (1 - p) / kN);
    CAPTURE(c);
    CHECK(std::abs(count[static_cast<std::size_t>(c)] / kN - p) < 5 * se);
  }
}

TEST_CASE("multinomial without replacement never repeats in a row, and draws heavy categories first") {
  tg::Generator gen(2);
  const Tensor w = tg::tensor({0.05, 0.4, 0.05, 0.3, 0.2, 0.0, 0.5, 0.0}, {2, 4}, {.dtype = tg::kFloat64});
  int first_is_1 = 0;
  const int trials = 4000;
  for (int t = 0; t < trials; ++t) {
    const Tensor s = tg::multinomial(w, 2, false, &gen);
    REQUIRE(s.shape() == tg::Dims{2, 2});
    const auto v = s.to_vector<double>();
    CHECK(v[0] != v[1]);
    CHECK(v[2] != v[3]);
    // Row 1 has two non-zero weights: both are drawn, in some order.
    CHECK(v[2] + v[3] == 2);
    first_is_1 += v[0] == 1 ? 1 : 0;
  }
  // Row 0's weights sum to 0.8: P(first = 1) = 0.4 / 0.8.
  CHECK(std::abs(first_is_1 / static_cast<double>(trials) - 0.5) < 5 * std::sqrt(0.25 / trials));
  const Tensor all = tg::multinomial(tg::ones({6}), 6, false, &gen);
  auto v = all.to_vector<double>();
  std::sort(v.begin(), v.end());
  CHECK(v == std::vector<double>{0, 1, 2, 3, 4, 5});
}

TEST_CASE("normal, rand_like, randn_like, randint_like and the in-place fills have the right moments") {
  tg::Generator gen(3);
  const Tensor big = tg::zeros({kN}, {.dtype = tg::kFloat64});
  auto moments = [](const Tensor& t, double mean, double var) {
    const auto v = t.to_vector<double>();
    CHECK(std::abs(mean_of(v) - mean) < 5 * std::sqrt(var / kN));
    CHECK(std::abs(var_of(v) / var - 1) < 0.05);
  };
  moments(tg::normal(tg::full({kN}, 2.0, {.dtype = tg::kFloat64}), 3.0, &gen), 2, 9);
  moments(tg::normal(-1.0, tg::full({kN}, 0.5, {.dtype = tg::kFloat64}), &gen), -1, 0.25);
  moments(tg::normal(tg::zeros({kN}, {.dtype = tg::kFloat64}), tg::full({kN}, 2.0, {.dtype = tg::kFloat64}), &gen), 0,
          4);
  moments(tg::normal(5.0, 0.1, {kN}, {.dtype = tg::kFloat64}, &gen), 5, 0.01);
  moments(tg::rand_like(big, {}, &gen), 0.5, 1.0 / 12);
  moments(tg::randn_like(big, {}, &gen), 0, 1);
  moments(tg::randint_like(big, 10, &gen), 4.5, (100.0 - 1) / 12);
  moments(tg::zeros({kN}, {.dtype = tg::kFloat64}).uniform_(-2, 4, &gen), 1, 3);
  moments(tg::zeros({kN}, {.dtype = tg::kFloat64}).normal_(1, 2, &gen), 1, 4);
  moments(tg::zeros({kN}, {.dtype = tg::kFloat64}).bernoulli_(0.3, &gen), 0.3, 0.21);
  moments(tg::zeros({kN}, {.dtype = tg::kFloat64}).exponential_(4, &gen), 0.25, 1.0 / 16);
  // Ranges and values.
  for (double x : tg::zeros({1000}).uniform_(-2, 4, &gen).to_vector<double>()) CHECK((x >= -2 && x < 4));
  for (double x : tg::randint_like(tg::zeros({1000}, {.dtype = tg::kInt64}), -3, 2, &gen).to_vector<double>())
    CHECK((x >= -3 && x < 2 && x == std::round(x)));
  for (double x : tg::zeros({1000}).exponential_(1, &gen).to_vector<double>()) CHECK(x >= 0);
  // Broadcasting mean and std, and a per-element std of 0.
  const Tensor n = tg::normal(tg::tensor({0.0, 10.0}, {2, 1}), tg::tensor({0.0, 0.0, 0.0}), &gen);
  CHECK(n.shape() == tg::Dims{2, 3});
  CHECK(n.to_vector<double>() == std::vector<double>{0, 0, 0, 10, 10, 10});
  // bernoulli_ with a tensor of probabilities 0 and 1 (broadcast over rows).
  CHECK(tg::zeros({2, 3}).bernoulli_(tg::tensor({1.0, 0.0, 1.0}), &gen).to_vector<double>() ==
        std::vector<double>{1, 0, 1, 1, 0, 1});
}

TEST_CASE("the *_like ops take x's shape and dtype unless told") {
  const Tensor x = tg::zeros({2, 3}, {.dtype = tg::kFloat64});
  CHECK(tg::rand_like(x).shape() == x.shape());
  CHECK(tg::rand_like(x).dtype() == tg::kFloat64);
  CHECK(tg::randn_like(x, tg::kFloat32).dtype() == tg::kFloat32);
  CHECK(tg::randint_like(x, 5).dtype() == tg::kFloat64);
  CHECK(tg::randint_like(tg::zeros({4}, {.dtype = tg::kInt64}), 5).dtype() == tg::kInt64);
  CHECK(tg::normal(tg::zeros({2}), 1.0).dtype() == tg::kFloat32);
  CHECK(tg::normal(tg::zeros({2}), tg::ones({2}, {.dtype = tg::kFloat64})).dtype() == tg::kFloat64);
}

TEST_CASE("random ops give no gradient; the in-place fills give the old value a zero one, as fill_") {
  const Tensor mean = tg::zeros({3}, {.dtype = tg::kFloat64, .requires_grad = true});
  CHECK_FALSE(tg::normal(mean, 1.0).requires_grad());
  CHECK_FALSE(tg::normal(mean, mean + 1).requires_grad());
  CHECK_FALSE(tg::rand_like(mean).requires_grad());
  CHECK_FALSE(tg::multinomial(tg::softmax(mean, 0), 2).requires_grad());
  CHECK(tg::normal(0.0, 1.0, {2}, {.dtype = tg::kFloat64, .requires_grad = true}).requires_grad());

  Tensor y = mean * 2;
  Tensor z = y.clone();
  z.uniform_();
  (z.sum() + y.sum()).backward();
  REQUIRE(mean.grad().defined());
  CHECK(mean.grad().to_vector<double>() == std::vector<double>{2, 2, 2});  // nothing through z
  // A leaf that requires grad is refused before anything is drawn.
  const Tensor leaf = tg::zeros({3}, {.requires_grad = true});
  for (const char* op : {"uniform_", "normal_", "bernoulli_", "exponential_"}) {
    tg::manual_seed(9);
    const double expected = tg::rand({1}).item<double>();
    tg::manual_seed(9);
    const std::string msg = tg_test::require_tg_error<tg::AutogradError>(
        [&] {
          Tensor t = leaf;
          const std::string name = op;
          if (name == "uniform_") t.uniform_();
          else if (name == "normal_") t.normal_();
          else if (name == "bernoulli_") t.bernoulli_(0.5);
          else t.exponential_();
        },
        op);
    CHECK(msg.find(op) != std::string::npos);
    CHECK(tg::rand({1}).item<double>() == expected);
  }
  // Under NoGradGuard, as nn::init does.
  {
    tg::NoGradGuard no_grad;
    Tensor t = leaf;
    t.normal_();
  }
  const auto version_before = leaf.version();
  {
    tg::NoGradGuard no_grad;
    Tensor t = leaf;
    t.uniform_();
  }
  CHECK(leaf.version() > version_before);
}

TEST_CASE("in-place fills write through views") {
  Tensor base = tg::zeros({4, 4});
  Tensor col = base.select(1, 2);
  col.fill_(1);
  col.uniform_(5, 6);
  const auto v = base.to_vector<double>();
  for (int i = 0; i < 16; ++i) {
    CAPTURE(i);
    if (i % 4 == 2) CHECK((v[static_cast<std::size_t>(i)] >= 5 && v[static_cast<std::size_t>(i)] < 6));
    else CHECK(v[static_cast<std::size_t>(i)] == 0);
  }
}

TEST_CASE("random ops refuse invalid arguments with a tg::Error naming the op") {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  struct Row {
    const char* op;
    std::function<void()> run;
  };
  const std::vector<std::pair<Row, int>> rows = {
      {{"multinomial",
        [] {
          tg::multinomial(tg::tensor({0.5, -0.1}), 1);
        }},
       0},
      {{"multinomial",
        [nan] {
          tg::multinomial(tg::tensor({0.5, nan}), 1);
        }},
       0},
      {{"multinomial",
        [] {
          tg::multinomial(tg::tensor({0.5, std::numeric_limits<double>::infinity()}), 1);
        }},
       0},
      {{"multinomial", [] { tg::multinomial(tg::zeros({3}), 1, true); }}, 0},
      {{"multinomial",
        [] {
          tg::multinomial(tg::tensor({1.0, 0.0, 0.0}), 2, false);
        }},
       0},
      {{"multinomial", [] { tg::multinomial(tg::ones({3}), 4, false); }}, 0},
      {{"multinomial", [] { tg::multinomial(tg::ones({3}), 0, true); }}, 0},
      {{"multinomial",
        [] {
          tg::multinomial(tg::ones({2, 2, 2}), 1);
        }},
       1},
      {{"multinomial", [] { tg::multinomial(tg::ones({3}, {.dtype = tg::kInt64}), 1); }}, 2},
      {{"normal", [] { tg::normal(tg::zeros({3}), -1.0); }}, 0},
      {{"normal",
        [] {
          tg::normal(tg::zeros({3}), tg::tensor({1.0, -1.0, 1.0}));
        }},
       0},
      {{"normal", [] { tg::normal(tg::zeros({3}), tg::ones({2})); }}, 1},
      {{"normal", [] { tg::normal(tg::zeros({3}, {.dtype = tg::kInt64}), 1.0); }}, 2},
      {{"normal", [] { tg::normal(0.0, 1.0, {2}, {.dtype = tg::kInt64}); }}, 2},
      {{"rand_like", [] { tg::rand_like(tg::zeros({2}, {.dtype = tg::kInt64})); }}, 2},
      {{"randn_like", [] { tg::randn_like(tg::zeros({2}), tg::kBool); }}, 2},
      {{"randint_like", [] { tg::randint_like(tg::zeros({2}), 3, 3); }}, 0},
      {{"randint_like", [] { tg::randint_like(tg::zeros({2}, {.dtype = tg::kBool}), 2); }}, 2},
      {{"uniform_", [] { tg::zeros({2}).uniform_(2, 1); }}, 0},
      {{"uniform_", [nan] { tg::zeros({2}).uniform_(0, nan); }}, 0},
      {{"uniform_", [] { tg::zeros({2}, {.dtype = tg::kInt64}).uniform_(); }}, 2},
      {{"normal_", [] { tg::zeros({2}).normal_(0, -1); }}, 0},
      {{"bernoulli_", [] { tg::zeros({2}).bernoulli_(1.5); }}, 0},
      {{"bernoulli_",
        [] {
          tg::zeros({2}).bernoulli_(tg::tensor({0.5, 2.0}));
        }},
       0},
      {{"bernoulli_", [] { tg::zeros({2}).bernoulli_(tg::ones({3})); }}, 1},
      {{"exponential_", [] { tg::zeros({2}).exponential_(-1); }}, 0},
  };
  for (const auto& [row, kind] : rows) {
    const std::string op = row.op;
    CAPTURE(op);
    std::string msg;
    if (kind == 0) msg = tg_test::require_tg_error<tg::ValueError>(row.run, row.op);
    else if (kind == 1) msg = tg_test::require_tg_error<tg::ShapeError>(row.run, row.op);
    else msg = tg_test::require_tg_error<tg::DTypeError>(row.run, row.op);
    CHECK(msg.find(op) != std::string::npos);
  }
}

TEST_CASE("random_ draws whole numbers in its range, for every dtype") {
  tg::Generator gen(5);
  // [from, to): every value hit, nothing outside, in each dtype.
  for (tg::DType dtype : tg::kAllDTypes) {
    if (dtype == tg::kBool) continue;
    CAPTURE(tg::dtype_name(dtype));
    const std::int64_t from = tg::is_integer(dtype) && dtype == tg::kUInt8 ? 0 : -3;
    const auto v = tg::zeros({2000}, dtype).random_(from, from + 7, &gen).to_vector<double>();
    std::set<double> seen(v.begin(), v.end());
    CHECK(seen.size() == 7);
    CHECK(*seen.begin() == from);
    CHECK(*seen.rbegin() == from + 6);
  }
  // random_(): up to the largest integer the dtype holds exactly.
  const auto top = [&](tg::DType dtype) {
    const auto v = tg::zeros({4000}, dtype).random_(&gen).to_vector<double>();
    for (double x : v) REQUIRE((x >= 0 && x == std::floor(x)));
    return *std::max_element(v.begin(), v.end());
  };
  CHECK(top(tg::kUInt8) > 200);
  CHECK(top(tg::kUInt8) <= 255);
  CHECK(top(tg::kInt8) <= 127);
  CHECK(top(tg::kInt8) > 100);
  CHECK(top(tg::kBFloat16) <= 256);
  CHECK(top(tg::kFloat32) <= 16777216);
  CHECK(top(tg::kFloat32) > 1e7);
  CHECK(top(tg::kInt64) > 1e18);  // the whole non-negative int64 range
  const auto b = tg::zeros({100}, tg::kBool).random_(&gen).to_vector<double>();
  CHECK(std::count(b.begin(), b.end(), 1.0) > 20);
  CHECK(std::count(b.begin(), b.end(), 0.0) > 20);
  // A literal 0 as `to` is the end of the range, never a null generator.
  const auto neg = tg::zeros({200}, tg::kInt8).random_(-5, 0).to_vector<double>();
  CHECK(*std::min_element(neg.begin(), neg.end()) == -5);
  CHECK(*std::max_element(neg.begin(), neg.end()) == -1);
  // random_(to) is random_(0, to); the whole int64 range has no overflow.
  tg::Generator g1(9), g2(9);
  CHECK(tg::zeros({50}).random_(5, &g1).to_vector<double>() == tg::zeros({50}).random_(0, 5, &g2).to_vector<double>());
  const auto wide = tg::zeros({200}, tg::kInt64)
                        .random_(std::numeric_limits<std::int64_t>::min(), std::nullopt, &gen)
                        .to_vector<std::int64_t>();
  CHECK(std::count_if(wide.begin(), wide.end(), [](std::int64_t x) { return x < 0; }) > 50);
}

TEST_CASE("randint refuses a range its dtype cannot hold, rather than wrapping") {
  CHECK_THROWS_AS(tg::randint(0, 300, {3}, tg::kUInt8), tg::ValueError);
  CHECK_THROWS_AS(tg::randint(-129, 0, {3}, tg::kInt8), tg::ValueError);
  CHECK_THROWS_AS(tg::randint(0, (std::int64_t{1} << 24) + 2, {3}, tg::kFloat32), tg::ValueError);
  const auto v = tg::randint(0, 256, {500}, tg::kUInt8).to_vector<double>();
  CHECK(*std::max_element(v.begin(), v.end()) > 200);
  // A bad range leaves the tensor as it was.
  Tensor t = tg::full({3}, 7.0, tg::kInt8);
  CHECK_THROWS_AS(t.random_(0, 1000), tg::ValueError);
  CHECK(t.to_vector<double>() == std::vector<double>{7, 7, 7});
}

}  // namespace test_random_ops
