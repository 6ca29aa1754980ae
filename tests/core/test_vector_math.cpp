// The vectorised exp, tanh and erf (core/kernels/vector_math.h) on every
// instruction set this CPU has: within 2 ULP of glibc's scalar functions
// (each is within 1 ULP of the true value) over a dense sweep, exact on the
// special values, the same for an element wherever it sits in an array, and
// the same for a tensor whatever its layout. The float32 normal CDF and
// density (GELU's) within 2 ULP of long double references, tails included.
#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <numbers>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include <doctest/doctest.h>

#if defined(__SSE__)
#include <immintrin.h>
#endif

#include <tapegrad/autograd/functional.h>
#include <tapegrad/autograd/ops.h>
#include <tapegrad/core/kernels/dropout.h>
#include <tapegrad/core/kernels/elementwise.h>
#include <tapegrad/core/kernels/vector_math.h>

namespace test_vector_math {

using tg::kernel::vec::Isa;

namespace {

// The instruction sets this CPU can run; force_isa refuses the others.
std::vector<Isa> available_isas() {
  std::vector<Isa> out;
  const Isa best = tg::kernel::vec::isa();
  for (Isa isa : {Isa::kAvx512, Isa::kAvx2, Isa::kSse2, Isa::kScalar})
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
  // The partial last vector is computed padded or masked, like the others:
  // lengths 0 to 35 cover every tail of 16 or 8 floats and 8 or 4 doubles, in
  // place or not.
  IsaGuard guard;
  for (Isa isa : available_isas()) {
    const std::string name = tg::kernel::vec::isa_name(isa);
    CAPTURE(name);
    REQUIRE(tg::kernel::vec::force_isa(isa));
    std::vector<float> all(35);
    for (std::size_t i = 0; i < all.size(); ++i) all[i] = -3.1f + 0.37f * static_cast<float>(i);
    std::vector<float> alone(all.size());
    for (std::size_t i = 0; i < all.size(); ++i) tg::kernel::vec::exp(&all[i], &alone[i], 1);
    for (std::int64_t n = 0; n <= 35; ++n) {
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

// The AVX-512 functions are SLEEF's AVX2 algorithm on wider vectors: the
// same bits for every input, NaN payloads aside (a spread of 2^22 floats
// and 2^20 doubles over every exponent, with the special values).
TEST_CASE("exp, tanh and erf give the same bits on every instruction set that has AVX2") {
  IsaGuard guard;
  const auto isas = available_isas();
  if (std::find(isas.begin(), isas.end(), Isa::kAvx512) == isas.end()) {
    MESSAGE("this CPU has no AVX-512: nothing to compare");
    return;
  }
  std::vector<float> xf;
  for (std::uint32_t k = 0; k < (1u << 22); ++k) xf.push_back(std::bit_cast<float>(k * 1021u));
  for (float v : {0.0f, -0.0f, 1e-40f, -1e-40f, 88.7f, -104.0f, std::numeric_limits<float>::infinity(),
                  -std::numeric_limits<float>::infinity()})
    xf.push_back(v);
  std::vector<double> xd;
  for (std::uint64_t k = 0; k < (1u << 20); ++k) xd.push_back(std::bit_cast<double>(k * 0x9E3779B97F4A7ull));
  for (double v : {0.0, -0.0, 1e-310, 709.7, -745.2, 20.0, -20.0}) xd.push_back(v);
  const auto same = [](const auto& a, const auto& b) {
    for (std::size_t i = 0; i < a.size(); ++i)
      if (std::memcmp(&a[i], &b[i], sizeof a[i]) != 0 && !(std::isnan(a[i]) && std::isnan(b[i]))) return false;
    return true;
  };
  using Ff = void (*)(const float*, float*, std::int64_t);
  using Fd = void (*)(const double*, double*, std::int64_t);
  const std::pair<const char*, std::pair<Ff, Fd>> functions[] = {
      {"exp", {tg::kernel::vec::exp, tg::kernel::vec::exp}},
      {"tanh", {tg::kernel::vec::tanh, tg::kernel::vec::tanh}},
      {"erf", {tg::kernel::vec::erf, tg::kernel::vec::erf}}};
  for (const auto& function : functions) {
    const std::string name = function.first;
    const auto& fns = function.second;
    CAPTURE(name);
    std::vector<float> f512(xf.size()), f2(xf.size());
    std::vector<double> d512(xd.size()), d2(xd.size());
    REQUIRE(tg::kernel::vec::force_isa(Isa::kAvx512));
    fns.first(xf.data(), f512.data(), static_cast<std::int64_t>(xf.size()));
    fns.second(xd.data(), d512.data(), static_cast<std::int64_t>(xd.size()));
    REQUIRE(tg::kernel::vec::force_isa(Isa::kAvx2));
    fns.first(xf.data(), f2.data(), static_cast<std::int64_t>(xf.size()));
    fns.second(xd.data(), d2.data(), static_cast<std::int64_t>(xd.size()));
    CHECK(same(f512, f2));
    CHECK(same(d512, d2));
  }
}

// Phi(x) and phi(x) of a float, in long double, rounded to float.
float exact_cdf(float x) {
  return static_cast<float>(0.5L * std::erfc(-static_cast<long double>(x) / std::sqrt(2.0L)));
}
float exact_pdf(float x) {
  const long double d = x;
  return static_cast<float>(std::exp(-d * d / 2) / std::sqrt(2 * std::numbers::pi_v<long double>));
}

TEST_CASE("float32 normal_cdf is within 2 ULP of Phi and phi everywhere they are normal floats") {
  // 1 + erf(x / sqrt 2) loses every digit in the negative tail: Phi(-6) =
  // 9.87e-10 came out 0 that way, and GELU(-6) with it.
  IsaGuard guard;
  std::vector<float> xs;
  for (double v = -15; v <= 15; v += 0.000913) xs.push_back(static_cast<float>(v));
  for (int e = -40; e <= 3; ++e)
    for (const float m : {1.0f, 1.37f, 1.9f}) {
      xs.push_back(std::ldexp(m, e));
      xs.push_back(-std::ldexp(m, e));
    }
  for (Isa isa : available_isas()) {
    const std::string name = tg::kernel::vec::isa_name(isa);
    CAPTURE(name);
    REQUIRE(tg::kernel::vec::force_isa(isa));
    std::vector<float> cdf(xs.size()), pdf(xs.size());
    tg::kernel::vec::normal_cdf(xs.data(), cdf.data(), pdf.data(), static_cast<std::int64_t>(xs.size()));
    std::int64_t worst_cdf = 0, worst_pdf = 0;
    float at_cdf = 0, at_pdf = 0;
    for (std::size_t i = 0; i < xs.size(); ++i) {
      const float want_cdf = exact_cdf(xs[i]), want_pdf = exact_pdf(xs[i]);
      // Below FLT_MIN only the size is promised (the kernels flush it to 0).
      if (want_cdf >= std::numeric_limits<float>::min() && ulps(cdf[i], want_cdf) > worst_cdf) {
        worst_cdf = ulps(cdf[i], want_cdf);
        at_cdf = xs[i];
      }
      if (want_cdf < std::numeric_limits<float>::min()) CHECK((cdf[i] >= 0 && cdf[i] < 1e-37f));
      if (want_pdf >= std::numeric_limits<float>::min() && ulps(pdf[i], want_pdf) > worst_pdf) {
        worst_pdf = ulps(pdf[i], want_pdf);
        at_pdf = xs[i];
      }
    }
    INFO("cdf: worst ", worst_cdf, " ULP at x = ", at_cdf, "; pdf: worst ", worst_pdf, " ULP at x = ", at_pdf);
    CHECK(worst_cdf <= 2);
    CHECK(worst_pdf <= 2);

    const float inf = std::numeric_limits<float>::infinity(), nan = std::numeric_limits<float>::quiet_NaN();
    const std::vector<float> special = {inf, -inf, nan, 0.0f, -0.0f, -6.0f};
    std::vector<float> c(special.size()), d(special.size());
    tg::kernel::vec::normal_cdf(special.data(), c.data(), d.data(), static_cast<std::int64_t>(special.size()));
    CHECK(c[0] == 1.0f);
    CHECK(d[0] == 0.0f);
    CHECK(c[1] == 0.0f);
    CHECK(d[1] == 0.0f);
    CHECK(std::isnan(c[2]));
    CHECK(std::isnan(d[2]));
    CHECK(c[3] == 0.5f);
    CHECK(c[4] == 0.5f);
    CHECK(d[3] == exact_pdf(0.0f));
    CHECK(ulps(c[5], 9.8658765e-10f) <= 2);
    // In place, without the density, any length: the same values.
    for (std::int64_t n = 0; n <= 35; ++n) {
      std::vector<float> y(xs.begin() + 5000, xs.begin() + 5000 + n);
      tg::kernel::vec::normal_cdf(y.data(), y.data(), nullptr, n);
      for (std::int64_t i = 0; i < n; ++i)
        CHECK(y[static_cast<std::size_t>(i)] == cdf[5000 + static_cast<std::size_t>(i)]);
    }
  }
}

TEST_CASE("float32 gelu and its gradient keep their digits in the negative tail") {
  // GELU(x) = x Phi(x) and GELU'(x) = Phi(x) + x phi(x), against long double,
  // down to x = -13, where Phi is 6e-39 and below FLT_MIN.
  std::vector<float> xs;
  for (double v = -13; v <= 13; v += 0.00731) xs.push_back(static_cast<float>(v));
  const tg::Tensor x = tg::tensor(xs).requires_grad_();
  const tg::Tensor y = tg::gelu(x);
  const tg::Tensor dx = tg::grad({tg::sum(y)}, {x})[0];
  const auto got = y.to_vector<float>();
  const auto got_dx = dx.to_vector<float>();
  std::int64_t worst = 0;
  double worst_dx = 0;
  for (std::size_t i = 0; i < xs.size(); ++i) {
    const long double v = xs[i];
    const long double phi = 0.5L * std::erfc(-v / std::sqrt(2.0L));
    const long double density = std::exp(-v * v / 2) / std::sqrt(2 * std::numbers::pi_v<long double>);
    // Where Phi itself is below FLT_MIN the kernels flush it to 0 (FTZ).
    if (phi < std::numeric_limits<float>::min()) continue;
    worst = std::max(worst, ulps(got[i], static_cast<float>(v * phi)));
    const long double want_dx = phi + v * density;
    // The derivative crosses 0 near x = -0.75: there, error against its scale, 1.
    const long double scale = std::abs(v) < 3 ? 1.0L : std::abs(want_dx);
    if (scale >= std::numeric_limits<float>::min())
      worst_dx = std::max(worst_dx, static_cast<double>(std::abs(got_dx[i] - want_dx) / scale));
  }
  INFO("gelu: worst ", worst, " ULP; gradient: worst relative error ", worst_dx);
  CHECK(worst <= 3);
  CHECK(worst_dx < 1e-6);
  CHECK(tg::gelu(tg::tensor(std::vector<float>{-6.0f})).to_vector<float>()[0] < 0);  // -5.9e-9, not 0
  // bfloat16 has float's range: its GELU (computed in float) keeps the tail as well.
  const tg::Tensor b = tg::tensor({-6.0, -10.0}, {2}, {.dtype = tg::kBFloat16});
  const auto gb = tg::gelu(b).to(tg::kFloat64).to_vector<double>();
  CHECK(gb[0] == doctest::Approx(-5.9197e-9).epsilon(0.01));
  CHECK(gb[1] == doctest::Approx(-7.6199e-23).epsilon(0.01));
  const tg::Tensor bx = b.detach().requires_grad_();
  const auto gbx = tg::grad({tg::sum(tg::gelu(bx))}, {bx})[0].to(tg::kFloat64).to_vector<double>();
  CHECK(gbx[0] == doctest::Approx(-3.5469e-8).epsilon(0.01));
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

TEST_CASE("hashed_words gives hashed_word's words on every instruction set, wherever a run starts and ends") {
  IsaGuard guard;
  const std::uint64_t seed = 0xFEDCBA9876543210ULL;
  for (Isa isa : available_isas()) {
    CAPTURE(tg::kernel::vec::isa_name(isa));
    REQUIRE(tg::kernel::vec::force_isa(isa));
    for (const std::uint64_t first :
         {std::uint64_t{0}, std::uint64_t{1}, std::uint64_t{7}, (std::uint64_t{1} << 63) + 5,
          ~std::uint64_t{0} - 2})  // the counter wraps as the scalar one
      for (const std::int64_t n : {0, 1, 3, 4, 5, 8, 13, 1000}) {
        CAPTURE(first);
        CAPTURE(n);
        std::vector<std::uint64_t> out(static_cast<std::size_t>(n) + 1, 0xAAAAAAAAAAAAAAAAULL);
        tg::kernel::vec::hashed_words(seed, first, n, out.data());
        std::int64_t wrong = 0;
        for (std::int64_t k = 0; k < n; ++k)
          if (out[static_cast<std::size_t>(k)] != tg::kernel::hashed_word(seed, first + static_cast<std::uint64_t>(k)))
            ++wrong;
        CHECK(wrong == 0);
        CHECK(out.back() == 0xAAAAAAAAAAAAAAAAULL);  // nothing past n
      }
  }
}

namespace {

// Operands mixing ordinary values with zeros of both signs, infinities, NaN,
// subnormals and values whose products and quotients overflow or underflow.
template <class T>
std::vector<T> arith_operands(std::size_t n, unsigned salt) {
  using L = std::numeric_limits<T>;
  const T special[] = {T(0),         -T(0),    L::infinity(), -L::infinity(), L::quiet_NaN(), L::denorm_min(),
                       L::min() / 3, L::min(), L::max(),      T(-1.5),        T(1e-30),       T(3)};
  std::vector<T> v(n);
  for (std::size_t i = 0; i < n; ++i) {
    const unsigned h = static_cast<unsigned>(i) * 2654435761u + salt;
    v[i] = h % 3 == 0 ? special[(h >> 4) % std::size(special)] : static_cast<T>(std::sin(static_cast<double>(h)) * 7);
  }
  return v;
}

template <class T>
void check_arith_bits() {
  using tg::kernel::vec::Arith;
  for (const Arith op : {Arith::kAdd, Arith::kSub, Arith::kMul, Arith::kDiv})
    for (const std::int64_t n : {0, 1, 3, 4, 7, 8, 9, 15, 16, 17, 31, 33, 1001}) {
      CAPTURE(static_cast<int>(op));
      CAPTURE(n);
      const auto a = arith_operands<T>(static_cast<std::size_t>(n), 1),
                 b = arith_operands<T>(static_cast<std::size_t>(n), 7);
      std::vector<T> out(static_cast<std::size_t>(n) + 1, T(42));
      tg::kernel::vec::arith(op, a.data(), b.data(), out.data(), n);
      std::vector<T> in_place = a;  // out may be a
      tg::kernel::vec::arith(op, in_place.data(), b.data(), in_place.data(), n);
      std::int64_t wrong = 0;
      for (std::size_t i = 0; i < static_cast<std::size_t>(n); ++i) {
        volatile T x = a[i], y = b[i];  // one scalar IEEE operation, as the test's own code does it
        const T want = op == Arith::kAdd ? x + y : op == Arith::kSub ? x - y : op == Arith::kMul ? x * y : x / y;
        if (std::memcmp(&out[i], &want, sizeof(T)) != 0 && !(std::isnan(want) && std::isnan(out[i]))) ++wrong;
        if (std::memcmp(&in_place[i], &out[i], sizeof(T)) != 0) ++wrong;
      }
      CHECK(wrong == 0);
      CHECK(out.back() == T(42));  // nothing past n
    }
}

}  // namespace

#if defined(__SSE__)
TEST_CASE("relu and its gradient give IEEE's answer on every instruction set, also under DAZ") {
  IsaGuard guard;
  const unsigned saved_csr = _mm_getcsr();
  for (Isa isa : available_isas())
    for (unsigned mode : {0u, 0x8040u})  // IEEE, and FTZ | DAZ as tapegrad's kernels run
      for (const std::int64_t n : {0, 1, 7, 8, 9, 15, 16, 17, 33, 1001}) {
        CAPTURE(tg::kernel::vec::isa_name(isa));
        CAPTURE(mode);
        CAPTURE(n);
        REQUIRE(tg::kernel::vec::force_isa(isa));
        const auto x = arith_operands<float>(static_cast<std::size_t>(n), 3),
                   g = arith_operands<float>(static_cast<std::size_t>(n), 11);
        std::vector<float> y(static_cast<std::size_t>(n) + 1, 42.0f), dx(y);
        _mm_setcsr((saved_csr & ~0x8040u) | mode);
        tg::kernel::vec::relu(x.data(), y.data(), n);
        tg::kernel::vec::relu_backward(g.data(), x.data(), dx.data(), n);
        _mm_setcsr(saved_csr & ~0x8040u);  // the oracle: IEEE comparisons, no DAZ
        std::int64_t wrong = 0;
        for (std::size_t i = 0; i < static_cast<std::size_t>(n); ++i) {
          volatile float v = x[i];
          const float want_y = v < 0.0f ? 0.0f : x[i], want_dx = v > 0.0f ? g[i] : 0.0f;
          if (std::memcmp(&y[i], &want_y, sizeof(float)) != 0) ++wrong;
          if (std::memcmp(&dx[i], &want_dx, sizeof(float)) != 0) ++wrong;
        }
        _mm_setcsr(saved_csr);
        CHECK(wrong == 0);
        CHECK(y.back() == 42.0f);  // nothing past n
        CHECK(dx.back() == 42.0f);
      }
}
#endif

TEST_CASE("relu and its gradient: a contiguous float32 tensor as a strided one (the portable loops)") {
  for (const std::int64_t n : {5, 300, 70000}) {  // past parallel_threshold() too
    CAPTURE(n);
    const auto values = arith_operands<float>(static_cast<std::size_t>(n), 5);
    const tg::Tensor x = tg::tensor(values, {n});
    std::vector<float> doubled;
    for (float v : values) doubled.insert(doubled.end(), {v, -1.0f});
    const tg::Tensor strided = tg::tensor(doubled, {n, 2}).select(1, 0);
    const tg::Tensor g = tg::tensor(arith_operands<float>(static_cast<std::size_t>(n), 9), {n});
    const auto bits = [](const tg::Tensor& t) { return t.contiguous().to_vector<float>(); };
    const auto same = [](const std::vector<float>& a, const std::vector<float>& b) {
      return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
    };
    const tg::Tensor y = tg::relu(x), y_strided = tg::relu(strided);
    CHECK(same(bits(y), bits(y_strided)));
    // The gradient through y, against y as a strided view (map2's loop).
    std::vector<float> y_doubled;
    for (float v : bits(y)) y_doubled.insert(y_doubled.end(), {v, 1.0f});
    const tg::Tensor y_view = tg::tensor(y_doubled, {n, 2}).select(1, 0);
    CHECK(same(bits(tg::kernel::relu_backward(g, y)), bits(tg::kernel::relu_backward(g, y_view))));
    // And through autograd, as a model's backward runs it.
    const tg::Tensor leaf = x.clone().set_requires_grad();
    tg::relu(leaf).backward(g);
    CHECK(same(bits(leaf.grad()), bits(tg::kernel::relu_backward(g, y_view))));
  }
}

#if defined(__SSE__)
TEST_CASE("arith raises no floating-point flag its operands do not: tails included") {
  // 1.5 op 0.75 is exact for + - * / and far from overflow: no flag is due.
  IsaGuard guard;
  using tg::kernel::vec::Arith;
  const unsigned saved_csr = _mm_getcsr();
  for (Isa isa : available_isas())
    for (const Arith op : {Arith::kAdd, Arith::kSub, Arith::kMul, Arith::kDiv})
      for (const std::int64_t n : {1, 5, 7, 9, 15, 17, 31, 33}) {
        CAPTURE(tg::kernel::vec::isa_name(isa));
        CAPTURE(static_cast<int>(op));
        CAPTURE(n);
        REQUIRE(tg::kernel::vec::force_isa(isa));
        const std::vector<float> a(static_cast<std::size_t>(n), 1.5f), b(static_cast<std::size_t>(n), 0.75f);
        const std::vector<double> c(static_cast<std::size_t>(n), 1.5), d(static_cast<std::size_t>(n), 0.75);
        std::vector<float> out(static_cast<std::size_t>(n));
        std::vector<double> out64(static_cast<std::size_t>(n));
        _mm_setcsr(saved_csr & ~0x3Fu);  // the six sticky exception flags cleared
        tg::kernel::vec::arith(op, a.data(), b.data(), out.data(), n);
        tg::kernel::vec::arith(op, c.data(), d.data(), out64.data(), n);
        const unsigned flags = _mm_getcsr() & 0x3Fu;
        _mm_setcsr(saved_csr);
        CHECK(flags == 0);
      }
}
#endif

TEST_CASE("arith gives one IEEE operation's bits per element on every instruction set, in place too") {
  IsaGuard guard;
  for (Isa isa : available_isas()) {
    CAPTURE(tg::kernel::vec::isa_name(isa));
    REQUIRE(tg::kernel::vec::force_isa(isa));
    check_arith_bits<float>();
    check_arith_bits<double>();
  }
}

namespace {

// layer_norm's output and the gradients of x, weight and bias (whichever
// it has) for rows of length m, as float32 bit patterns.
std::vector<std::vector<float>> layer_norm_results(std::int64_t m, int affine, bool strided) {
  tg::manual_seed(static_cast<std::uint64_t>(m * 3 + affine));
  // Far from zero with a small spread, as activations late in training: the
  // mean's rounding then matters in every term.
  tg::Tensor x = (strided ? tg::randn({m, 37}).t() : tg::randn({37, m})) * 0.5 + 300;
  x = x.detach().requires_grad_();
  x.data_ptr<float>()[0] = 1e-40f;  // a subnormal input
  const tg::Tensor w = tg::randn({m}).requires_grad_(), b = tg::randn({m}).requires_grad_();
  const tg::Tensor g = tg::randn({37, m});
  const tg::Tensor y = tg::layer_norm(x, {m}, affine > 0 ? w : tg::Tensor(), affine > 1 ? b : tg::Tensor());
  std::vector<tg::Tensor> inputs{x};
  if (affine > 0) inputs.push_back(w);
  if (affine > 1) inputs.push_back(b);
  std::vector<tg::Tensor> outs = tg::grad({tg::mul(y, g).sum()}, inputs);
  outs.insert(outs.begin(), y);
  std::vector<std::vector<float>> bits;
  for (const tg::Tensor& t : outs) {
    const tg::Tensor c = t.contiguous();
    bits.emplace_back(c.data_ptr<float>(), c.data_ptr<float>() + c.numel());
  }
  return bits;
}

}  // namespace

TEST_CASE("float32 layer_norm gives the same bits on every instruction set, forward and backward") {
  // normalization_avx2.cpp repeats the portable loops' arithmetic in AVX2;
  // any change of order, rounding or fusing shows here.
  IsaGuard guard;
  const std::vector<Isa> isas = available_isas();
  for (std::int64_t m : {1, 2, 3, 4, 5, 7, 8, 9, 12, 15, 16, 17, 24, 31, 33, 96, 100}) {
    for (int affine = 0; affine < 3; ++affine) {
      for (bool strided : {false, true}) {
        CAPTURE(m);
        CAPTURE(affine);
        CAPTURE(strided);
        REQUIRE(tg::kernel::vec::force_isa(isas.back()));
        const auto want = layer_norm_results(m, affine, strided);
        for (Isa isa : isas) {
          CAPTURE(tg::kernel::vec::isa_name(isa));
          REQUIRE(tg::kernel::vec::force_isa(isa));
          const auto got = layer_norm_results(m, affine, strided);
          REQUIRE(got.size() == want.size());
          for (std::size_t k = 0; k < got.size(); ++k)
            CHECK(std::memcmp(got[k].data(), want[k].data(), got[k].size() * sizeof(float)) == 0);
        }
      }
    }
  }
}

TEST_CASE("float32 row sums (32 lanes, vec::sum_to_double) give the same bits on every instruction set") {
  // Rows long enough for the 32-lane path (>= 128) and around it, past one
  // 4096 block, with a tail; values of +-2^60 among small ones, so another
  // order of the additions gives other bits. Checked against the order
  // written out here: 32 lanes, folded by halves, plus the tail.
  const IsaGuard guard;
  for (const std::int64_t n : {std::int64_t{127}, std::int64_t{128}, std::int64_t{161}, std::int64_t{1000},
                               std::int64_t{4096}, std::int64_t{4096 + 200}, std::int64_t{9000}}) {
    CAPTURE(n);
    std::vector<float> values(static_cast<std::size_t>(3 * n));
    std::mt19937 rng(static_cast<unsigned>(n));
    std::uniform_int_distribution<int> kind(0, 4);
    std::normal_distribution<float> small;
    for (float& v : values) {
      const int k = kind(rng);
      v = k == 0 ? 0x1p60f : k == 1 ? -0x1p60f : small(rng);
    }
    const tg::Tensor x = tg::tensor(values, {3, n}, tg::kFloat32);
    std::vector<float> want;
    for (std::int64_t r = 0; r < 3; ++r) {
      const float* row = values.data() + r * n;
      if (n < 128) break;  // shorter rows keep the eight-lane loop: compared across instruction sets only
      double total = 0;
      for (std::int64_t b = 0; b < n; b += 4096) {
        const std::int64_t m = std::min<std::int64_t>(4096, n - b);
        double lanes[32] = {}, tail = 0;
        std::int64_t i = 0;
        for (; i + 32 <= m; i += 32)
          for (int k = 0; k < 32; ++k) lanes[k] += static_cast<double>(row[b + i + k]);
        for (; i < m; ++i) tail += static_cast<double>(row[b + i]);
        for (int half = 16; half > 0; half /= 2)
          for (int k = 0; k < half; ++k) lanes[k] += lanes[k + half];
        total += lanes[0] + tail;
      }
      want.push_back(static_cast<float>(total));
    }
    for (Isa isa : available_isas()) {
      REQUIRE(tg::kernel::vec::force_isa(isa));
      const std::vector<float> got = x.sum(1).to_vector<float>();
      if (!want.empty()) CHECK(std::memcmp(got.data(), want.data(), want.size() * sizeof(float)) == 0);
      REQUIRE(tg::kernel::vec::force_isa(available_isas().front()));
      CHECK(got == x.sum(1).to_vector<float>());
    }
  }
}

TEST_CASE("float32 column sums (bias gradients) give the same bits on every instruction set") {
  // sum over the leading dims runs down the columns in double, one row after
  // another; on AVX2 four rows at a time (vec::add_rows_to_double), in the
  // same order. Row counts either side of the groups of four, column counts
  // either side of the vectors of four, sizes past the parallel threshold
  // (rows in blocks), a strided input and two summed dims; with values that
  // round differently in another order (a regrouping of one pair of rows
  // fails it).
  const IsaGuard guard;
  tg::manual_seed(31);
  struct Case {
    tg::Dims shape;
    std::vector<std::int64_t> dims;
  };
  const std::vector<Case> cases = {{{7, 5}, {0}},       {{4, 1}, {0}},       {{256, 1024}, {0}},   {{1000, 37}, {0}},
                                   {{3, 9, 6}, {0, 1}}, {{5, 6, 7}, {0, 2}}, {{130, 2, 700}, {0}}, {{1, 3}, {0}}};
  for (const Case& c : cases) {
    CAPTURE(tg::shape_str(c.shape));
    // Small values among +-2^60, which cancel: whether a small value survives
    // depends on the order of the additions, so another order (or grouping)
    // gives other bits.
    std::vector<float> values(static_cast<std::size_t>(tg::checked_numel(c.shape, "test")));
    std::mt19937 rng(static_cast<unsigned>(values.size()));
    std::uniform_int_distribution<int> kind(0, 4);
    std::normal_distribution<float> small;
    for (float& v : values) {
      const int k = kind(rng);
      v = k == 0 ? 0x1p60f : k == 1 ? -0x1p60f : small(rng);
    }
    const tg::Tensor x = tg::tensor(values, c.shape, tg::kFloat32);
    // Each layout against itself on every instruction set (another layout
    // may take another order).
    const tg::Tensor column_major = x.transpose(0, -1).contiguous().transpose(0, -1);
    for (const tg::Tensor* input : {&x, &column_major}) {
      std::vector<std::vector<float>> results;
      for (Isa isa : available_isas()) {
        REQUIRE(tg::kernel::vec::force_isa(isa));
        results.push_back(input->sum(c.dims).to_vector<float>());
      }
      for (const auto& r : results) {
        REQUIRE(r.size() == results[0].size());
        CHECK(std::memcmp(r.data(), results[0].data(), r.size() * sizeof(float)) == 0);
      }
    }
  }
}

}  // namespace test_vector_math
