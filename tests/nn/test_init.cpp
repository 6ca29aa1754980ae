// tg::nn::init against PyTorch's formulas: gains, fans, and the statistics
// (bounds, mean, variance) of each initialiser on large tensors.
#include <doctest/doctest.h>

#include <cmath>

#include <tapegrad/core/random.h>
#include <tapegrad/nn/init.h>

namespace test_init {

namespace init = tg::nn::init;
using tg::Tensor;

namespace {

struct Stats {
  double min, max, mean, var;
};

Stats stats_of(const Tensor& t) {
  return {t.min().item<double>(), t.max().item<double>(), t.mean().item<double>(), t.var().item<double>()};
}

bool relative_close(double got, double want, double tol) { return std::abs(got / want - 1) < tol; }

// U(-bound, bound) on n samples: the bound is respected and nearly reached,
// the mean is within 5 standard errors of 0, the variance within 2% of bound^2 / 3.
void check_symmetric_uniform(const Tensor& t, double bound) {
  const Stats s = stats_of(t);
  const double n = static_cast<double>(t.numel());
  CHECK(s.min >= -bound);
  CHECK(s.max <= bound);
  CHECK(s.max > 0.999 * bound);
  CHECK(std::abs(s.mean) < 5 * bound / std::sqrt(3 * n));
  CHECK(relative_close(s.var, bound * bound / 3, 0.02));
}

// N(0, std^2): mean within 5 standard errors, variance within 2%.
void check_centered_normal(const Tensor& t, double std) {
  const Stats s = stats_of(t);
  CHECK(std::abs(s.mean) < 5 * std / std::sqrt(static_cast<double>(t.numel())));
  CHECK(relative_close(s.var, std * std, 0.02));
}

}  // namespace

TEST_CASE("calculate_gain and the fans") {
  using NL = init::Nonlinearity;
  CHECK(init::calculate_gain(NL::Linear) == 1);
  CHECK(init::calculate_gain(NL::Conv2d) == 1);
  CHECK(init::calculate_gain(NL::Sigmoid) == 1);
  CHECK(init::calculate_gain(NL::Tanh) == doctest::Approx(5.0 / 3.0));
  CHECK(init::calculate_gain(NL::ReLU) == doctest::Approx(std::sqrt(2.0)));
  CHECK(init::calculate_gain(NL::LeakyReLU) == doctest::Approx(std::sqrt(2.0 / (1 + 0.01 * 0.01))));
  CHECK(init::calculate_gain(NL::LeakyReLU, 0.2) == doctest::Approx(std::sqrt(2.0 / 1.04)));
  CHECK(init::calculate_gain(NL::SELU) == 0.75);
  CHECK(init::calculate_gain("tanh") == doctest::Approx(5.0 / 3.0));
  CHECK(init::calculate_gain("leaky_relu", std::sqrt(5.0)) == doctest::Approx(std::sqrt(1.0 / 3.0)));
  CHECK_THROWS_WITH_AS(init::calculate_gain("swish"), doctest::Contains("unsupported nonlinearity 'swish'"),
                       tg::ValueError);

  CHECK(init::calculate_fan_in_and_fan_out(tg::empty({30, 20})) == std::pair<std::int64_t, std::int64_t>{20, 30});
  CHECK(init::calculate_fan_in_and_fan_out(tg::empty({16, 3, 5, 5})) == std::pair<std::int64_t, std::int64_t>{75, 400});
  CHECK_THROWS_WITH_AS(init::calculate_fan_in_and_fan_out(tg::empty({7})), doctest::Contains("fewer than 2"),
                       tg::ValueError);
}

TEST_CASE("uniform_, normal_, constant_, zeros_, ones_") {
  tg::manual_seed(51);
  Tensor t = tg::empty({100000});
  init::uniform_(t, -1, 3);
  Stats s = stats_of(t);
  CHECK(s.min >= -1);
  CHECK(s.max < 3);
  CHECK(std::abs(s.mean - 1) < 5 * 4 / std::sqrt(12 * 1e5));
  CHECK(relative_close(s.var, 16.0 / 12, 0.02));

  init::normal_(t, 2, 3);
  s = stats_of(t);
  CHECK(std::abs(s.mean - 2) < 5 * 3 / std::sqrt(1e5));
  CHECK(relative_close(s.var, 9, 0.02));

  Tensor small = tg::empty({2, 3}, {.dtype = tg::kFloat64});
  CHECK(init::constant_(small, 0.25).to_vector<double>() == std::vector<double>(6, 0.25));
  CHECK(init::zeros_(small).to_vector<double>() == std::vector<double>(6, 0.0));
  CHECK(init::ones_(small).to_vector<double>() == std::vector<double>(6, 1.0));
  CHECK_THROWS_WITH_AS(init::uniform_(tg::empty({3}, {.dtype = tg::kInt64})), doctest::Contains("int64"),
                       tg::DTypeError);
}

TEST_CASE("xavier_uniform_ and xavier_normal_") {
  tg::manual_seed(52);
  Tensor w = tg::empty({200, 500});
  init::xavier_uniform_(w);
  check_symmetric_uniform(w, std::sqrt(6.0 / 700));
  init::xavier_uniform_(w, /*gain=*/2);
  check_symmetric_uniform(w, 2 * std::sqrt(6.0 / 700));
  init::xavier_normal_(w, 2);
  check_centered_normal(w, 2 * std::sqrt(2.0 / 700));
  // A tensor with no elements is left as it is, as kaiming's: [0, 0] has fans
  // of 0, and xavier_uniform_ refused it with uniform_'s infinite range.
  for (const tg::Dims& shape : {tg::Dims{0, 0}, tg::Dims{0, 5}, tg::Dims{3, 0, 2}}) {
    Tensor empty = tg::empty(shape);
    CHECK(init::xavier_uniform_(empty).shape() == shape);
    CHECK(init::xavier_normal_(empty).shape() == shape);
  }
  CHECK_THROWS_AS(init::xavier_uniform_(tg::empty({0, 0}, {.dtype = tg::kInt64})), tg::DTypeError);
}

TEST_CASE("kaiming_uniform_ and kaiming_normal_: bound = gain * sqrt(3 / fan), std = gain / sqrt(fan)") {
  using init::FanMode;
  using NL = init::Nonlinearity;
  tg::manual_seed(53);
  Tensor w = tg::empty({250, 400}, {.dtype = tg::kFloat64});
  // Defaults: a = 0 with leaky_relu (gain sqrt(2)), fan_in = 400.
  init::kaiming_uniform_(w);
  check_symmetric_uniform(w, std::sqrt(2.0) * std::sqrt(3.0 / 400));
  // PyTorch's Linear default: a = sqrt(5) gives bound 1 / sqrt(fan_in).
  init::kaiming_uniform_(w, std::sqrt(5.0));
  check_symmetric_uniform(w, 1 / std::sqrt(400.0));
  init::kaiming_uniform_(w, 0, FanMode::FanOut, NL::ReLU);
  check_symmetric_uniform(w, std::sqrt(2.0) * std::sqrt(3.0 / 250));
  init::kaiming_normal_(w, 0, FanMode::FanOut, NL::ReLU);
  check_centered_normal(w, std::sqrt(2.0 / 250));
  init::kaiming_normal_(w, 0, FanMode::FanIn, NL::Tanh);
  check_centered_normal(w, (5.0 / 3.0) / std::sqrt(400.0));
  // A convolution weight: fan_in = 8 * 3 * 3.
  Tensor k = tg::empty({64, 8, 3, 3});
  init::kaiming_uniform_(k, 0, FanMode::FanIn, NL::ReLU);
  check_symmetric_uniform(k, std::sqrt(2.0) * std::sqrt(3.0 / 72));
}

TEST_CASE("initialisers work in place on parameters and follow an explicit generator") {
  Tensor p = tg::zeros({4, 5}, {.requires_grad = true});
  Tensor same = init::kaiming_uniform_(p);
  CHECK(same.is_same(p));
  CHECK(p.is_leaf());
  CHECK(p.requires_grad());
  CHECK(p.abs().sum().item<double>() > 0);

  tg::Generator g1(5), g2(5);
  Tensor a = tg::empty({10}), b = tg::empty({10});
  init::normal_(a, 0, 1, &g1);
  init::normal_(b, 0, 1, &g2);
  CHECK(a.to_vector<double>() == b.to_vector<double>());
}

}  // namespace test_init
