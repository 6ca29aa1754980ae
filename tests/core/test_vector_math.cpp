// The vectorised exp, tanh and erf (core/kernels/vector_math.h) on every
// instruction set this CPU has: within 2 ULP of glibc's scalar functions
// (each is within 1 ULP of the true value) over a dense sweep, exact on the
// special values, the same for an element wherever it sits in an array, and
// the same for a tensor whatever its layout.
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include <doctest/doctest.h>

#include <tapegrad/autograd/ops.h>
#include <tapegrad/core/kernels/vector_math.h>

namespace test_vector_math {

using tg::kernel::vec::Isa;

namespace {

// The instruction sets this CPU can run; force_isa refuses the others.
std::vector<Isa> available_isas() {
  std::vector<Isa> out;
  const Isa best = tg::kernel::vec::isa();
  for (Isa isa : {Isa::kAvx2, Isa::kSse2, Isa::kScalar})
    if (tg::kernel::vec::force_isa(isa)) out.push_back(isa);
  tg::kernel::vec::force_isa(best);
  return out;
}

// Restores the best instruction set when a test ends, also on failure.
struct IsaGuard {
  Isa saved = tg::kernel::vec::isa();
  ~IsaGuard() { tg::kernel::vec::force_isa(saved); }
};

// Distance in units in the last place (ordered bit patterns).
template <class T>
std::int64_t ulps(T a, T b) {
  using I = std::conditional_t<sizeof(T) == 4, std::int32_t, std::int64_t>;
  I ia, ib;
  std::memcpy(&ia, &a, sizeof(T));
  std::memcpy(&ib, &b, sizeof(T));
  const auto ordered = [](I i) -> std::int64_t { return i < 0 ? std::numeric_limits<I>::min() - i : i; };
  const std::int64_t d = ordered(ia) - ordered(ib);
  return d < 0 ? -d : d;
}

template <class T>
std::vector<T> sweep() {
  std::vector<T> xs;
  for (double v = -120; v <= 120; v += 0.0137) xs.push_back(static_cast<T>(v));
  for (double v = -8; v <= 8; v += 0.000731) xs.push_back(static_cast<T>(v));
  for (int e = -300; e <= 300; e += 3) {
    const double v = std::ldexp(1.37, e);
    if (std::isfinite(static_cast<T>(v))) {
      xs.push_back(static_cast<T>(v));
      xs.push_back(static_cast<T>(-v));
    }
  }
  const T huge = std::numeric_limits<T>::max(), tiny = std::numeric_limits<T>::denorm_min();
  for (T v : {T(0), T(-0.0), tiny, -tiny, std::numeric_limits<T>::min(), huge, -huge, T(88.72), T(-103.9), T(709.7),
              T(-745.1)})
    xs.push_back(v);
  return xs;
}

template <class T, class Vec, class Std>
void check_against_libm(const char* name, Vec vec_fn, Std std_fn) {
  const std::vector<T> xs = sweep<T>();
  std::vector<T> ys(xs.size());
  vec_fn(xs.data(), ys.data(), static_cast<std::int64_t>(xs.size()));
  std::int64_t worst = 0;
  T worst_x = 0;
  for (std::size_t i = 0; i < xs.size(); ++i) {
    const T want = std_fn(xs[i]);
    if (std::isnan(want)) {
      CHECK(std::isnan(ys[i]));
      continue;
    }
    const std::int64_t d = ulps(ys[i], want);
    if (d > worst) {
      worst = d;
      worst_x = xs[i];
    }
  }
  INFO(name, ": worst ", worst, " ULP at x = ", worst_x);
  CHECK(worst <= 2);
}

template <class T>
void check_specials() {
  const T inf = std::numeric_limits<T>::infinity(), nan = std::numeric_limits<T>::quiet_NaN();
  const std::vector<T> x = {inf, -inf, nan, T(0), T(-0.0)};
  std::vector<T> y(x.size());
  tg::kernel::vec::exp(x.data(), y.data(), 5);
  CHECK(y[0] == inf);
  CHECK(y[1] == T(0));
  CHECK(std::isnan(y[2]));
  CHECK(y[3] == T(1));
  CHECK(y[4] == T(1));
  tg::kernel::vec::tanh(x.data(), y.data(), 5);
  CHECK(y[0] == T(1));
  CHECK(y[1] == T(-1));
  CHECK(std::isnan(y[2]));
  CHECK((y[3] == T(0) && !std::signbit(y[3])));
  CHECK((y[4] == T(0) && std::signbit(y[4])));
  tg::kernel::vec::erf(x.data(), y.data(), 5);
  CHECK(y[0] == T(1));
  CHECK(y[1] == T(-1));
  CHECK(std::isnan(y[2]));
  CHECK((y[3] == T(0) && !std::signbit(y[3])));
  CHECK((y[4] == T(0) && std::signbit(y[4])));
}

}  // namespace

TEST_CASE("vector exp, tanh and erf agree with libm on every instruction set") {
  IsaGuard guard;
  const auto isas = available_isas();
  REQUIRE(!isas.empty());
  for (Isa isa : isas) {
    const std::string name = tg::kernel::vec::isa_name(isa);
    CAPTURE(name);
    REQUIRE(tg::kernel::vec::force_isa(isa));
    using F = const float*;
    using D = const double*;
    check_against_libm<float>(
        "exp f32", [](F x, float* y, std::int64_t n) { tg::kernel::vec::exp(x, y, n); },
        [](float v) { return std::exp(v); });
    check_against_libm<double>(
        "exp f64", [](D x, double* y, std::int64_t n) { tg::kernel::vec::exp(x, y, n); },
        [](double v) { return std::exp(v); });
    check_against_libm<float>(
        "tanh f32", [](F x, float* y, std::int64_t n) { tg::kernel::vec::tanh(x, y, n); },
        [](float v) { return std::tanh(v); });
    check_against_libm<double>(
        "tanh f64", [](D x, double* y, std::int64_t n) { tg::kernel::vec::tanh(x, y, n); },
        [](double v) { return std::tanh(v); });
    check_against_libm<float>(
        "erf f32", [](F x, float* y, std::int64_t n) { tg::kernel::vec::erf(x, y, n); },
        [](float v) { return std::erf(v); });
    check_against_libm<double>(
        "erf f64", [](D x, double* y, std::int64_t n) { tg::kernel::vec::erf(x, y, n); },
        [](double v) { return std::erf(v); });
    check_specials<float>();
    check_specials<double>();
  }
}

TEST_CASE("an element's vector exp does not depend on its place or the array's length") {
  // The partial last vector is computed padded, like the others: lengths 0
  // to 19 cover every tail of 8 floats and 4 doubles, in place or not.
  IsaGuard guard;
  for (Isa isa : available_isas()) {
    const std::string name = tg::kernel::vec::isa_name(isa);
    CAPTURE(name);
    REQUIRE(tg::kernel::vec::force_isa(isa));
    std::vector<float> all(19);
    for (std::size_t i = 0; i < all.size(); ++i) all[i] = -3.1f + 0.77f * static_cast<float>(i);
    std::vector<float> alone(all.size());
    for (std::size_t i = 0; i < all.size(); ++i) tg::kernel::vec::exp(&all[i], &alone[i], 1);
    for (std::int64_t n = 0; n <= 19; ++n) {
      std::vector<float> y(static_cast<std::size_t>(n) + 1, -7.0f);  // one past the end stays untouched
      tg::kernel::vec::exp(all.data(), y.data(), n);
      for (std::int64_t i = 0; i < n; ++i) CHECK(y[static_cast<std::size_t>(i)] == alone[static_cast<std::size_t>(i)]);
      CHECK(y.back() == -7.0f);
      std::vector<double> d(all.begin(), all.begin() + n);
      std::vector<double> d_out(d.size());
      tg::kernel::vec::tanh(d.data(), d_out.data(), n);
      tg::kernel::vec::tanh(d.data(), d.data(), n);  // in place
      CHECK(d == d_out);
    }
  }
}

TEST_CASE("exp, sigmoid, tanh, gelu and softmax give the same values for every layout") {
  // Strided inputs go through a buffer into the same vector code as
  // contiguous ones: a transposed tensor's values equal the contiguous ones
  // bit for bit, for float32 and float64.
  for (const auto dtype : {tg::kFloat32, tg::kFloat64}) {
    tg::manual_seed(3);
    const tg::Tensor x = tg::randn({37, 29}, {.dtype = dtype}) * 4.0;
    const tg::Tensor xt = x.t().contiguous().t();  // same values, transposed layout
    REQUIRE(!xt.is_contiguous());
    using Fn = tg::Tensor (*)(const tg::Tensor&);
    const std::vector<std::pair<std::string, Fn>> ops = {
        {"exp", [](const tg::Tensor& t) { return tg::exp(t); }},
        {"sigmoid", [](const tg::Tensor& t) { return tg::sigmoid(t); }},
        {"tanh", [](const tg::Tensor& t) { return tg::tanh(t); }},
        {"gelu", [](const tg::Tensor& t) { return tg::gelu(t); }},
        {"softmax", [](const tg::Tensor& t) { return tg::softmax(t, 1); }},
        {"log_softmax", [](const tg::Tensor& t) { return tg::log_softmax(t, 1); }},
    };
    for (const auto& op : ops) {
      const std::string& name = op.first;
      const Fn fn = op.second;
      CAPTURE(name);
      CHECK(tg::equal(fn(x), fn(xt)));
    }
  }
}

}  // namespace test_vector_math
