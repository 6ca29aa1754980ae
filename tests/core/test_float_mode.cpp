// Subnormal floats (issue 13): tapegrad's kernels and optimizer steps run
// with FTZ/DAZ by default, give the caller's floating-point mode back (also
// when they throw), change nothing on normal numbers, and
// set_flush_denormal() switches flushing for the whole program, OpenMP
// workers included.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <functional>
#include <limits>
#include <memory>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include <doctest/doctest.h>
#include <omp.h>

#include <tapegrad/autograd/engine.h>
#include <tapegrad/autograd/linalg.h>
#include <tapegrad/autograd/ops.h>
#include <tapegrad/core/float_mode.h>
#include <tapegrad/core/kernels/elementwise.h>
#include <tapegrad/core/kernels/reduce.h>
#include <tapegrad/core/parallel.h>
#include <tapegrad/nn/functional.h>
#include <tapegrad/optim/optim.h>

#if defined(__SSE__)
#include <immintrin.h>

namespace test_float_mode {

using namespace tg;

namespace {

constexpr unsigned kFtzDaz = 0x8040u;
constexpr unsigned kExceptionFlags = 0x3Fu;  // sticky; kernels may raise them

// Each test starts from the default (kernels flush, the program's mode
// untouched, this thread without FTZ/DAZ) and puts everything back.
struct ModeFixture {
  unsigned saved_csr = _mm_getcsr();
  int saved_threads = get_num_threads();
  ModeFixture() { reset(); }
  ~ModeFixture() {
    reset();
    set_num_threads(saved_threads);
    _mm_setcsr(saved_csr);
  }
  static void reset() {
    detail::kernel_flush_denormal = true;
    detail::program_flush_denormal = 0;
#pragma omp parallel
    _mm_setcsr(_mm_getcsr() & ~kFtzDaz);
  }
};

// The thread's mode must be the caller's after the call, whatever it was.
void check_restores(const std::function<void()>& call) {
  for (unsigned bits : {0u, kFtzDaz, 0x8000u, 0x0040u}) {
    CAPTURE(bits);
    const unsigned before = (_mm_getcsr() & ~kFtzDaz) | bits;
    _mm_setcsr(before);
    call();
    CHECK((_mm_getcsr() & ~kExceptionFlags) == (before & ~kExceptionFlags));
    _mm_setcsr(before & ~kFtzDaz);
  }
}

const float kTiny = 1e-40f;  // subnormal: FLT_MIN is 1.18e-38

std::vector<float> floats(const Tensor& t) { return t.contiguous().to_vector<float>(); }

bool all_zero(const Tensor& t) {
  for (float v : floats(t))
    if (v != 0) return false;
  return true;
}

bool bit_equal(const Tensor& a, const Tensor& b) {
  const auto x = floats(a), y = floats(b);
  return x.size() == y.size() && std::memcmp(x.data(), y.data(), x.size() * sizeof(float)) == 0;
}

// Every kernel family that runs its own loops, fed subnormal inputs or
// producing subnormal results. Sizes from 1 to past parallel_threshold(), so
// both the serial fast paths and OpenMP's workers are covered.
struct Case {
  const char* name;
  // With about n elements: all zero when flushed, not without.
  std::function<Tensor(std::int64_t)> run;
};

std::vector<Case> kernel_cases() {
  return {
      {"mul by scalar (result underflows)", [](std::int64_t n) { return mul(full({n}, 1e-20), 1e-20); }},
      {"mul tensors", [](std::int64_t n) { return mul(full({n}, 1e-20), full({n}, 1e-20)); }},
      {"mul broadcast (general loop)",
       [](std::int64_t n) {
         return mul(full({n, 1}, 1e-20), full({1, 2}, 1e-20));
       }},
      {"mul strided (general loop)",
       [](std::int64_t n) {
         return mul(full({2, n}, 1e-20).t(), full({n, 2}, 1e-20));
       }},
      {"add subnormal inputs (DAZ)", [](std::int64_t n) { return add(full({n}, kTiny), full({n}, kTiny)); }},
      {"sub (result underflows)", [](std::int64_t n) { return sub(full({n}, 2.5e-38), full({n}, 2.4e-38)); }},
      {"div (result underflows)", [](std::int64_t n) { return div(full({n}, 1e-20), full({n}, 1e20)); }},
      {"add float64 (result underflows)",
       [](std::int64_t n) {
         // Read as float32, a float64 subnormal is 0 either way; scaled up it is not.
         const TensorOptions d{.dtype = kFloat64};
         return mul(sub(full({n}, 2.5e-308, d), full({n}, 2.4e-308, d)), 1e300).to(kFloat32);
       }},
      {"exp", [](std::int64_t n) { return exp(full({n}, -90.0)); }},
      {"sum over columns",
       [](std::int64_t n) {
         return sum(full({n, 4}, kTiny), {0});
       }},
      {"full sum", [](std::int64_t n) { return sum(full({n}, kTiny)).reshape({1}); }},
      {"softmax",
       [](std::int64_t n) {
         return softmax(tensor({0.0, -100.0}).expand({n, 2}).contiguous(), 1).narrow(1, 1, 1);
       }},
      {"layer_norm (subnormal weight)",
       [](std::int64_t n) {
         return nn::functional::layer_norm(randn({n, 4}), {4}, full({4}, kTiny));
       }},
      {"mm (OpenBLAS, calling thread)",
       [](std::int64_t n) {
         return mm(full({std::min<std::int64_t>(n, 64), 8}, 1e-20), full({8, 8}, 1e-20));
       }},
      {"avg_pool2d of subnormals (DAZ)",
       [](std::int64_t n) {
         return nn::functional::avg_pool2d(full({1, n, 2, 2}, kTiny), 2);
       }},
  };
}

}  // namespace

TEST_CASE("float_mode: set_flush_denormal reports support") {
  ModeFixture fixture;
  CHECK(set_flush_denormal(true));
  CHECK(flush_denormal_enabled());
  CHECK((_mm_getcsr() & kFtzDaz) == kFtzDaz);
  CHECK(set_flush_denormal(false));
  CHECK_FALSE(flush_denormal_enabled());
  CHECK((_mm_getcsr() & kFtzDaz) == 0);
}

TEST_CASE("float_mode: kernels flush subnormals by default and set_flush_denormal(false) keeps them") {
  ModeFixture fixture;
  set_num_threads(2);
  for (const Case& c : kernel_cases())
    for (std::int64_t n : {std::int64_t{1}, std::int64_t{16}, std::int64_t{17}, std::int64_t{1000},
                           std::int64_t{3 * parallel_threshold()}}) {
      CAPTURE(c.name);
      CAPTURE(n);
      ModeFixture::reset();
      _mm_setcsr(_mm_getcsr() & ~kFtzDaz);  // a caller with IEEE gradual underflow
      CHECK(all_zero(c.run(n)));
      CHECK((_mm_getcsr() & kFtzDaz) == 0);
      set_flush_denormal(false);
      CHECK_FALSE(all_zero(c.run(n)));
    }
}

// Conversions, comparisons and logical ops are not arithmetic: under the
// kernels' denormals-are-zero a float32 1e-39 read as 0, so it converted to
// float64 0 and to bool false, and compared equal to 0 (PyTorch: 1e-39, true,
// unequal). On one thread and on a team, small and large, and the caller's
// mode comes back.
TEST_CASE("float_mode: conversions, comparisons and logical ops keep subnormals by default") {
  ModeFixture fixture;
  const float tiny = 1e-39f;  // subnormal
  const double tiny64 = 1e-310;
  for (const int threads : {1, 2}) {
    set_num_threads(threads);
    for (const std::int64_t n : {std::int64_t{3}, std::int64_t{3 * parallel_threshold()}}) {
      CAPTURE(threads);
      CAPTURE(n);
      ModeFixture::reset();
      _mm_setcsr(_mm_getcsr() & ~kFtzDaz);
      const Tensor x = full({n}, static_cast<double>(tiny));
      const Tensor strided = full({n, 2}, static_cast<double>(tiny)).select(1, 0);  // the general loop
      for (const Tensor& t : {x, strided}) {
        const auto wide = t.to(kFloat64).to_vector<double>();
        CHECK(std::all_of(wide.begin(), wide.end(), [&](double v) { return v == static_cast<double>(tiny); }));
        CHECK(t.to(kBool).all().item<bool>());
        CHECK((t != 0.0).all().item<bool>());
        CHECK(gt(t, zeros_like(t)).all().item<bool>());
        CHECK_FALSE((t == 0.0).any().item<bool>());
        CHECK(logical_or(t, zeros_like(t)).all().item<bool>());
        CHECK_FALSE(logical_not(t).any().item<bool>());
        CHECK(logical_and(t, t).all().item<bool>());
      }
      // The other comparisons: sign, isclose, maximum, and the extremes.
      CHECK((sign(x) == 1.0).all().item<bool>());
      CHECK_FALSE(isclose(x, zeros_like(x), 0.0, 0.0).any().item<bool>());
      CHECK_FALSE(allclose(x, zeros_like(x), 0.0, 0.0));
      CHECK((maximum(x, zeros_like(x)) == x).all().item<bool>());
      CHECK((minimum(neg(x), zeros_like(x)) != 0.0).all().item<bool>());
      const Tensor pair = stack({zeros({n}), x}, 1);  // [0, tiny] rows
      CHECK((argmax(pair, 1) == 1.0).all().item<bool>());
      CHECK((amax(pair, {1}) == x).all().item<bool>());
      CHECK((std::get<1>(pair.max(1)) == 1.0).all().item<bool>());
      CHECK((argmin(neg(pair), 1) == 1.0).all().item<bool>());
      const Tensor x64 = full({n}, tiny64, {.dtype = kFloat64});
      CHECK((x64 != 0.0).all().item<bool>());
      CHECK(x64.to(kBool).all().item<bool>());
      CHECK((_mm_getcsr() & kFtzDaz) == 0);
      // Inside a flushing scope (an optimizer step holds one), a conversion
      // still keeps them; the scope's mode comes back after.
      {
        FlushDenormalGuard outer;
        CHECK((_mm_getcsr() & kFtzDaz) == kFtzDaz);
        CHECK(x.to(kFloat64).to_vector<double>()[0] == static_cast<double>(tiny));
        CHECK((_mm_getcsr() & kFtzDaz) == kFtzDaz);
      }
      // Selections compare as IEEE says: relu and clamp of -tiny are 0 (not
      // -tiny read as -0 and passed through), of +tiny +tiny; so are their
      // in-place forms, bfloat16's and the gradients' masks.
      const Tensor negative = full({n}, -static_cast<double>(tiny));
      CHECK((relu(negative) == 0.0).all().item<bool>());
      CHECK((negative.clone().relu_() == 0.0).all().item<bool>());
      CHECK((clamp(negative, 0.0, 1.0) == 0.0).all().item<bool>());
      CHECK((negative.clone().clamp_(0.0, 1.0) == 0.0).all().item<bool>());
      CHECK((clamp_min(negative, 0.0) == 0.0).all().item<bool>());
      CHECK((clamp(negative, zeros({n}), ones({n})) == 0.0).all().item<bool>());
      CHECK((clamp(x, 0.0, 1.0) == x).all().item<bool>());
      CHECK((negative.to(kBFloat16).relu().to(kFloat32) == 0.0).all().item<bool>());
      CHECK((x.to(kBFloat16).relu().to(kFloat32) == x.to(kBFloat16).to(kFloat32)).all().item<bool>());
      CHECK((x.to(kBFloat16).to(kFloat32) != 0.0).all().item<bool>());  // still a subnormal, not 0
      for (const bool in_place : {false, true}) {
        CAPTURE(in_place);
        Tensor below = full({n}, -static_cast<double>(tiny), {.requires_grad = true});
        Tensor above = full({n}, static_cast<double>(tiny), {.requires_grad = true});
        const auto clamped = [&](const Tensor& t) {
          return in_place ? t.clone().clamp_(0.0, 1.0) : clamp(t, 0.0, 1.0);
        };
        (clamped(below).sum() + clamped(above).sum()).backward();
        CHECK((below.grad() == 0.0).all().item<bool>());
        CHECK((above.grad() == 1.0).all().item<bool>());
      }
      // maximum's gradient goes to the larger (tiny beats 0), leaky_relu keeps a
      // positive subnormal and passes its gradient, the inf norm is the largest |x|.
      {
        Tensor a = full({n}, static_cast<double>(tiny), {.requires_grad = true});
        Tensor b = zeros({n}, {.requires_grad = true});
        (maximum(a, b).sum() + leaky_relu(a, 0.5).sum()).backward();
        CHECK((a.grad() == 2.0).all().item<bool>());
        CHECK((b.grad() == 0.0).all().item<bool>());
        CHECK((leaky_relu(x, 0.5) == x).all().item<bool>());
        CHECK(norm(x, std::numeric_limits<double>::infinity()).item<float>() == tiny);
      }
      // float32 std of normal values whose squared deviations are subnormal:
      // the squares and the root are taken in double, as PyTorch's Welford sums.
      CHECK(stack({full({n}, 1e-20), full({n}, 3e-20)}, 1).std({1}).to(kFloat64).max().item<double>() ==
            doctest::Approx(std::sqrt(2.0) * 1e-20).epsilon(1e-6));
      // Max pooling picks the window's maximum, not its first element read as -0.
      const Tensor pool_in = stack({full({n}, -2.0 * tiny), negative}, 1).reshape({1, 1, 2 * n});
      const auto [pooled, at] = max_pool1d_with_indices(pool_in, 2);
      CHECK((pooled == negative.reshape({1, 1, n})).all().item<bool>());
      CHECK((remainder(at, 2.0) == 1.0).all().item<bool>());
      Tensor up = full({n}, static_cast<double>(tiny), {.dtype = kBFloat16, .requires_grad = true});
      up.relu().to(kFloat32).sum().backward();
      CHECK((up.grad().to(kFloat32) == 1.0).all().item<bool>());
      // Arithmetic still flushes: tiny * 1 is 0.
      CHECK((mul(x, 1.0) == 0.0).all().item<bool>());
    }
  }
}

// libm's functions take a subnormal input apart by its bits: under
// denormals-are-zero log(1e-310) was -745.1 (log's value is -713.8, log(0)'s
// -inf) and remainder(-1e-310, 2) gave -1e-310, outside [0, 2). These keep
// subnormals, so the default mode gives exactly what gradual underflow
// (PyTorch's default) gives, inside a flushing scope too.
TEST_CASE("float_mode: libm's functions of subnormal inputs give the same values as with flushing off") {
  ModeFixture fixture;
  const std::vector<std::pair<const char*, std::function<Tensor(const Tensor&)>>> ops = {
      {"log", [](const Tensor& x) { return log(x); }},
      {"log2", [](const Tensor& x) { return log2(x); }},
      {"log10", [](const Tensor& x) { return log10(x); }},
      {"erfinv", [](const Tensor& x) { return erfinv(x); }},
      {"pow -0.5", [](const Tensor& x) { return pow(x, -0.5); }},
      {"pow 0.25", [](const Tensor& x) { return pow(x, 0.25); }},
      {"pow tensor", [](const Tensor& x) { return pow(x, full_like(x, 0.3)); }},
      {"pow of tensor base", [](const Tensor& x) { return pow(full_like(x, 0.5), x); }},
      {"fmod", [](const Tensor& x) { return fmod(x, 2.0); }},
      {"fmod by tiny", [](const Tensor& x) { return fmod(full_like(x, 1.0), x); }},
      {"remainder", [](const Tensor& x) { return remainder(x, 2.0); }},
      {"remainder tensor", [](const Tensor& x) { return remainder(x, full_like(x, 2.0)); }},
      {"atan2 of tiny, tiny", [](const Tensor& x) { return atan2(x, x); }},
      {"atan2 of tiny, -1", [](const Tensor& x) { return atan2(x, full_like(x, -1.0)); }},
      {"atan2 of 1, tiny", [](const Tensor& x) { return atan2(full_like(x, 1.0), x); }},
  };
  for (const int threads : {1, 2}) {
    set_num_threads(threads);
    for (const DType dtype : {kFloat32, kFloat64}) {
      const double tiny = dtype == kFloat32 ? 1e-40 : 1e-310;
      for (const std::int64_t n : {std::int64_t{3}, parallel_threshold()}) {
        // Both signs, strided views (the general loop), and 2n elements in a
        // row (split among the threads).
        const Tensor x =
            stack({full({n}, tiny, {.dtype = kFloat64}), full({n}, -tiny, {.dtype = kFloat64})}, 1).to(dtype);
        const std::vector<Tensor> inputs =
            n == 3 ? std::vector<Tensor>{x.select(1, 0), x.select(1, 1), x} : std::vector<Tensor>{x};
        for (const Tensor& t : inputs) {
          for (const auto& op : ops) {
            const char* name = op.first;  // a plain local: Clang 14's CAPTURE cannot name a structured binding
            const auto& f = op.second;
            CAPTURE(threads);
            CAPTURE(dtype_name(dtype));
            CAPTURE(n);
            CAPTURE(name);
            set_flush_denormal(false);
            const std::vector<double> exact = f(t).to(kFloat64).to_vector<double>();
            ModeFixture::reset();  // the default: kernels flush
            const std::vector<double> flushing = f(t).to(kFloat64).to_vector<double>();
            std::vector<double> scoped;
            {
              FlushDenormalGuard step;  // as inside an optimizer step
              scoped = f(t).to(kFloat64).to_vector<double>();
            }
            const auto differ = [&](const std::vector<double>& got) {
              std::size_t count = 0;
              for (std::size_t i = 0; i < exact.size(); ++i)
                count += std::isnan(exact[i]) ? !std::isnan(got[i]) : got[i] != exact[i];
              return count;
            };
            REQUIRE(exact.size() == flushing.size());
            CHECK(differ(flushing) == 0);
            CHECK(differ(scoped) == 0);
          }
        }
      }
    }
  }
  // The known values (1e-310 in float64), as PyTorch gives them.
  ModeFixture::reset();
  const Tensor t = full({1}, 1e-310, {.dtype = kFloat64});
  CHECK(log(t).item<double>() == doctest::Approx(-713.80137882815416).epsilon(1e-15));
  CHECK(remainder(neg(t), 2.0).item<double>() == 2.0);
  CHECK(atan2(t, t).item<double>() == doctest::Approx(0.78539816339744831).epsilon(1e-15));   // pi / 4, not NaN
  CHECK(atan2(t, full({1}, -1.0, {.dtype = kFloat64})).item<double>() == 3.141592653589793);  // +pi, not -pi
  // Arithmetic still flushes: 1e-310 * 1 is 0, and reciprocal, exp2 and
  // pow's arithmetic exponents (2, 0.5, -1) are arithmetic.
  CHECK(mul(t, 1.0).item<double>() == 0.0);
  CHECK(std::isinf(reciprocal(t).item<double>()));
  CHECK(pow(t, -1.0).item<double>() == reciprocal(t).item<double>());
  CHECK(exp2(full({1}, -1030.0, {.dtype = kFloat64})).item<double>() == 0.0);
}

// Same-shape arithmetic on at most 16 elements runs without the flush guard
// and again under it when any operand or result is near the subnormal range
// (binary.cpp: a scalar loop up to 4 elements, vector loops above). The
// strided copy of the same operands takes the general loop, always guarded:
// the two must agree bit for bit wherever the one tiny value sits, in each
// operand or the result, at both dtypes, with flushing on and off.
template <class T>
void check_small_arith_flushes_as_guarded() {
  const int e = std::numeric_limits<T>::min_exponent;  // min() is 2^(e - 1)
  const T denormal = std::ldexp(T(1), e - 4);          // subnormal
  const T half = std::ldexp(T(1), (e - 1) / 2);        // its square is near min()
  struct Op {
    const char* name;
    std::function<Tensor(const Tensor&, const Tensor&)> fn;
    T (*scalar)(T, T);  // the same operation on two scalars, the oracle below
  };
  const std::vector<Op> ops = {
      {"add", [](const Tensor& a, const Tensor& b) { return add(a, b); }, [](T x, T y) { return x + y; }},
      {"sub", [](const Tensor& a, const Tensor& b) { return sub(a, b); }, [](T x, T y) { return x - y; }},
      {"mul", [](const Tensor& a, const Tensor& b) { return mul(a, b); }, [](T x, T y) { return x * y; }},
      {"div", [](const Tensor& a, const Tensor& b) { return div(a, b); }, [](T x, T y) { return x / y; }}};
  // (x, y) at the tiny slot: a subnormal operand on either side, a product
  // that lands exactly on min() (normal: kept), products and quotients of
  // normals that underflow, and a difference of normals that underflows.
  const std::vector<std::pair<T, T>> tiny_pairs = {
      {denormal, T(64)}, {T(64), denormal},     {-denormal, T(0.5)},
      {half, half},      {half, half * T(0.5)}, {std::ldexp(T(1), e), std::ldexp(T(1.5), e - 1)}};
  // Column 0 of an [n, 2] tensor: the same values, a stride of 2, made
  // without a kernel that could flush them on the way.
  const auto make = [](const std::vector<T>& v, bool strided) {
    const auto n = static_cast<std::int64_t>(v.size());
    if (!strided) return tensor(v, {n});
    std::vector<T> both;
    for (T value : v) both.insert(both.end(), {value, T(7)});
    return tensor(both, {n, 2}).select(1, 0);
  };
  for (bool flush : {true, false}) {
    detail::kernel_flush_denormal = flush;
    for (std::int64_t n = 1; n <= 17; ++n)
      for (std::int64_t at = 0; at < n; at += std::max<std::int64_t>(1, n / 3))
        for (const auto& pair : tiny_pairs)
          for (const Op& op : ops) {
            std::vector<T> xs(static_cast<std::size_t>(n), T(1.5)), ys(static_cast<std::size_t>(n), T(0.75));
            xs[static_cast<std::size_t>(at)] = pair.first;
            ys[static_cast<std::size_t>(at)] = pair.second;
            const Tensor x = make(xs, false), y = make(ys, false);
            const Tensor general = op.fn(make(xs, true), make(ys, true));
            const Tensor flat = op.fn(x, y);
            CAPTURE(flush);
            CAPTURE(n);
            CAPTURE(at);
            CAPTURE(op.name);
            CAPTURE(static_cast<double>(pair.first));
            CAPTURE(static_cast<double>(pair.second));
            const auto a = flat.template to_vector<T>(), b = general.contiguous().template to_vector<T>();
            REQUIRE(a.size() == b.size());
            CHECK(std::memcmp(a.data(), b.data(), a.size() * sizeof(T)) == 0);
            // And each element as one scalar operation under the mode the
            // kernels take (FTZ | DAZ when flushing): at n = 1 the strided
            // view above is contiguous too, so this is the independent check.
            std::vector<T> want(a.size());
            const unsigned csr = _mm_getcsr();
            _mm_setcsr(flush ? (csr | kFtzDaz) : (csr & ~kFtzDaz));
            for (std::size_t i = 0; i < want.size(); ++i) {
              volatile T xv = xs[i], yv = ys[i];
              want[i] = op.scalar(xv, yv);
            }
            _mm_setcsr(csr);
            CHECK(std::memcmp(a.data(), want.data(), a.size() * sizeof(T)) == 0);
          }
  }
}

TEST_CASE("float_mode: small same-shape arithmetic flushes exactly where the guarded loop does") {
  ModeFixture fixture;
  _mm_setcsr(_mm_getcsr() & ~kFtzDaz);  // a caller with IEEE gradual underflow
  check_small_arith_flushes_as_guarded<float>();
  check_small_arith_flushes_as_guarded<double>();
  CHECK((_mm_getcsr() & kFtzDaz) == 0);
}

TEST_CASE("float_mode: the caller's MXCSR comes back from ops and optimizer steps") {
  ModeFixture fixture;
  set_num_threads(2);
  for (const Case& c : kernel_cases())
    for (std::int64_t n : {std::int64_t{7}, std::int64_t{3 * parallel_threshold()}}) {
      CAPTURE(c.name);
      CAPTURE(n);
      check_restores([&] { (void)c.run(n); });
    }
  Tensor w = randn({300, 300}).set_requires_grad();
  Tensor x = randn({16, 300});
  optim::Adam adam({w}, {.lr = 1e-3});
  optim::SGD sgd({w}, {.lr = 1e-3, .momentum = 0.9});
  check_restores([&] {
    w.set_grad({});
    tanh(mm(x, w)).sum().backward();
    adam.step();
    sgd.step();
  });
}

TEST_CASE("float_mode: the caller's MXCSR comes back when the step throws") {
  ModeFixture fixture;
  Tensor ok = randn({4}).set_requires_grad();
  Tensor bad = randn({3}).set_requires_grad();
  ok.set_grad(ones({4}));
  bad.mutable_grad() = ones({2});  // a gradient that does not match: the step throws after the first update
  optim::Adam opt({ok, bad}, {.lr = 1e-3});
  check_restores([&] { CHECK_THROWS_AS(opt.step(), ShapeError); });
  check_restores([&] { CHECK_THROWS_AS(mm(ones({2, 3}), ones({2, 3})), ShapeError); });
}

TEST_CASE("float_mode: optimizer steps flush subnormal state and are bit-identical on normal numbers") {
  ModeFixture fixture;
  using Make = std::function<std::unique_ptr<optim::Optimizer>(Tensor)>;
  const std::vector<std::pair<const char*, Make>> optimizers{
      {"Adam", [](Tensor p) { return std::make_unique<optim::Adam>(std::vector{p}, optim::AdamOptions{.lr = 1e-3}); }},
      {"AdamW amsgrad",
       [](Tensor p) {
         return std::make_unique<optim::AdamW>(std::vector{p}, optim::AdamWOptions{.lr = 1e-3, .amsgrad = true});
       }},
      {"SGD momentum",
       [](Tensor p) {
         return std::make_unique<optim::SGD>(std::vector{p}, optim::SGDOptions{.lr = 0.1, .momentum = 0.9});
       }},
      {"RMSprop",
       [](Tensor p) { return std::make_unique<optim::RMSprop>(std::vector{p}, optim::RMSpropOptions{.lr = 1e-2}); }},
      {"Adagrad",
       [](Tensor p) { return std::make_unique<optim::Adagrad>(std::vector{p}, optim::AdagradOptions{.lr = 1e-2}); }},
  };
  // Plain references, not a structured binding: Clang 14 cannot capture one
  // in doctest's CAPTURE lambdas or in the lambda below.
  for (const auto& entry : optimizers) {
    const auto& name = entry.first;
    const auto& make = entry.second;
    CAPTURE(name);
    // Normal numbers: 20 steps with flushing and without give the same bits.
    auto run = [&](bool flush, const Tensor& grad_scale) {
      set_flush_denormal(flush);
      _mm_setcsr(_mm_getcsr() & ~kFtzDaz);  // the kernels' own guard, not the caller's mode
      manual_seed(7);
      Tensor p = randn({1000}).set_requires_grad();
      auto opt = make(p);
      for (int i = 0; i < 20; ++i) {
        p.set_grad(randn({1000}) * grad_scale);
        opt->step();
      }
      return p.detach().clone();
    };
    const Tensor normal = scalar_tensor(1.0);
    CHECK(bit_equal(run(true, normal), run(false, normal)));

    // Gradients of 1e-20: g * g (1e-40) underflows. Flushed, the second
    // moments are zero; kept, they are subnormal. Past parallel_threshold()
    // Adam's update runs on a team of 2, whose workers must flush too.
    set_num_threads(2);
    for (std::int64_t n : {std::int64_t{8}, 3 * parallel_threshold() + 5}) {
      CAPTURE(n);
      ModeFixture::reset();  // default: kernels flush, caller's mode untouched
      Tensor p = zeros({n}).set_requires_grad();
      p.set_grad(full({n}, 1e-20));
      auto opt = make(p);
      opt->step();
      const auto state = opt->state_dict().tensors;
      bool found = false;
      for (const auto& item : state) {
        const std::string& key = item.first;
        const Tensor& t = item.second;
        if (key.find("exp_avg_sq") == std::string::npos && key.find("square_avg") == std::string::npos &&
            key.find(".sum") == std::string::npos)
          continue;
        found = true;
        CAPTURE(key);
        CHECK(all_zero(t));
      }
      if (std::string(name).starts_with("SGD")) {
        // SGD has no squares: a subnormal step (lr * 1e-38) on a subnormal weight.
        Tensor q = full({n}, kTiny).set_requires_grad();
        q.set_grad(full({n}, 1e-37));
        auto sgd = make(q);
        sgd->step();
        CHECK(all_zero(q.detach()));
        found = true;
      }
      CHECK(found);
    }
  }
}

TEST_CASE("float_mode: set_flush_denormal reaches every OpenMP thread, also ones made later") {
  ModeFixture fixture;
  auto team_modes = [] {
    std::vector<unsigned> modes(static_cast<std::size_t>(get_num_threads()), 1u);
#pragma omp parallel num_threads(get_num_threads())
    modes[static_cast<std::size_t>(omp_get_thread_num())] = _mm_getcsr() & kFtzDaz;
    return modes;
  };
  set_num_threads(2);
  set_flush_denormal(true);
  CHECK(team_modes() == std::vector<unsigned>{kFtzDaz, kFtzDaz});
  set_flush_denormal(false);
  CHECK(team_modes() == std::vector<unsigned>{0u, 0u});

  set_num_threads(1);
  set_flush_denormal(true);
  set_num_threads(3);  // brings a thread that did not exist at the call
  CHECK(team_modes() == std::vector<unsigned>{kFtzDaz, kFtzDaz, kFtzDaz});
}

TEST_CASE("float_mode: reads_as_zero reads a value as the kernels' arithmetic does") {
  ModeFixture fixture;
  const auto zeros = [](const Tensor& t) { return Tensor(kernel::reads_as_zero(t)).to_vector<bool>(); };
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const Tensor f32 = tensor({0.0, -0.0, 1e-39, -1e-39, 1.0, nan}, {6}, kFloat32);
  const Tensor f64 = tensor({0.0, 1e-310, 1e-300}, {3}, kFloat64);
  const Tensor bf16 = tensor({1e-39, 1.0}, {2}, kBFloat16);  // a float32 subnormal once widened
  const Tensor f16 = tensor({1e-6, 0.0}, {2}, kFloat16);     // subnormal in float16, normal in float32
  // Default: kernels flush, so subnormals read as zero.
  CHECK(zeros(f32) == std::vector<bool>{true, true, true, true, false, false});
  CHECK(zeros(f64) == std::vector<bool>{true, true, false});
  CHECK(zeros(bf16) == std::vector<bool>{true, false});
  CHECK(zeros(f16) == std::vector<bool>{false, true});
  CHECK(zeros(tensor({0.0, 1.0}, {2}, kInt64)) == std::vector<bool>{true, false});
  CHECK(zeros(tensor({false, true}, {2})) == std::vector<bool>{true, false});
  // IEEE: only +-0.
  set_flush_denormal(false);
  CHECK(zeros(f32) == std::vector<bool>{true, true, false, false, false, false});
  CHECK(zeros(f64) == std::vector<bool>{true, false, false});
  CHECK(zeros(bf16) == std::vector<bool>{false, false});
  // Flushing everywhere: subnormals read as zero again.
  set_flush_denormal(true);
  CHECK(zeros(f32) == std::vector<bool>{true, true, true, true, false, false});
}

// Gradients whose formulas test for zero (or for ties) before dividing or
// multiplying: a subnormal reads the same in the test as in the arithmetic,
// so the default mode gives the gradient of the inputs read as zero (never
// 0/0 or 0 * inf), and IEEE mode the exact one.
TEST_CASE("float_mode: gradients meet subnormals without NaN, and ties are IEEE's") {
  ModeFixture fixture;
  const auto grad_of = [](const Tensor& x, const std::function<Tensor(const Tensor&)>& f) {
    const Tensor leaf = x.detach().set_requires_grad();
    const Tensor y = f(leaf);
    return grad({y.sum()}, {leaf})[0].to(kFloat64).to_vector<double>();
  };
  const Tensor x = tensor({1e-39, 2.0}, {2}, kFloat32);
  const auto prod_all = [](const Tensor& t) { return prod(t, 0); };
  CHECK(grad_of(x, prod_all) == std::vector<double>{2.0, 0.0});
  CHECK(grad_of(tensor({2.0, 1e-39}, {2}, kFloat32), [](const Tensor& t) { return cumprod(t, 0); }) ==
        std::vector<double>{1.0, 2.0});
  const Tensor tiny = tensor({1e-39, 2e-39}, {2}, kFloat32);
  CHECK(grad_of(tiny, [](const Tensor& t) { return amax(t, {0}); }) == std::vector<double>{0.0, 1.0});
  CHECK(grad_of(tiny, [](const Tensor& t) { return linalg::vector_norm(t, INFINITY); }) ==
        std::vector<double>{0.0, 1.0});
  const auto finite = [](const std::vector<double>& v) {
    return std::all_of(v.begin(), v.end(), [](double e) { return std::isfinite(e); });
  };
  // Exponent 3e-40: 0 as the product reads it, and x^(e - 1) = inf.
  CHECK(grad_of(tensor({1e-39}, {1}, kFloat32),
                [](const Tensor& t) { return pow(t, tensor({3e-40}, {1}, kFloat32)); }) == std::vector<double>{0.0});
  CHECK(grad_of(tensor({0.0, 0.5}, {2}, kFloat32), [](const Tensor& t) { return pow(t, 1e-40); }) ==
        std::vector<double>{0.0, 0.0});
  CHECK(finite(
      grad_of(tensor({1e-39, 1.0}, {2}, kFloat32), [](const Tensor& t) { return linalg::vector_norm(t, 0.01); })));
  CHECK(finite(
      grad_of(tensor({1.1, 0.4, 1e-310, 1e-310}, {2, 2}, kFloat64), [](const Tensor& t) { return linalg::det(t); })));
  CHECK(finite(linalg::pinv(tensor({2e-38, 0.0, 0.0, 1e-38}, {2, 2}, kFloat32)).to(kFloat64).to_vector<double>()));
  // IEEE mode: the exact gradients.
  set_flush_denormal(false);
  CHECK(grad_of(x, prod_all) == std::vector<double>{2.0, static_cast<double>(1e-39f)});
  CHECK(grad_of(tiny, [](const Tensor& t) { return amax(t, {0}); }) == std::vector<double>{0.0, 1.0});
}

// Gradients whose formula squared or raised a small input (addcdiv's t2^2,
// atan2's a^2 + b^2, the p-norm's |x|^(p-1) and y^(1-p)) underflowed or
// overflowed where the gradient does not: inf or NaN in the default mode and
// even in IEEE mode. Now as ratios, finite and close to the exact values in
// both; kl_div's t log t reads a subnormal target as the arithmetic does.
TEST_CASE("float_mode: gradients of tiny inputs whose squares underflow stay finite and right") {
  ModeFixture fixture;
  const auto grads = [](std::vector<Tensor> xs, const std::function<Tensor(const std::vector<Tensor>&)>& f) {
    for (auto& x : xs) x = x.detach().set_requires_grad();
    std::vector<std::vector<double>> out;
    for (const Tensor& g : grad({f(xs).sum()}, xs)) out.push_back(g.to(kFloat64).to_vector<double>());
    return out;
  };
  const auto close = [](double got, double want) { return std::abs(got - want) <= 1e-5 * std::abs(want); };
  for (const bool ieee : {false, true}) {
    CAPTURE(ieee);
    set_flush_denormal(!ieee);  // true: the default mode's flushing kernels, as set_flush_denormal(true)
    const Tensor small = tensor({1e-25}, {1}, kFloat32);
    // addcdiv(0, t1, t2, 1.5): d/dt2 = -1.5 t1 / t2^2 = -1.5e25.
    const auto g =
        grads({small, small}, [](const std::vector<Tensor>& v) { return addcdiv(zeros_like(v[0]), v[0], v[1], 1.5); });
    CHECK(close(g[1][0], -1.5e25));
    CHECK(close(g[0][0], 1.5e25));
    // atan2(a, b) at a = b: d/da = b / (a^2 + b^2) = 1 / (2a).
    const auto at = grads({small, small}, [](const std::vector<Tensor>& v) { return atan2(v[0], v[1]); });
    CHECK(close(at[0][0], 5e24));
    CHECK(close(at[1][0], -5e24));
    // The 3-norm of [1e-20, 2e-20]: d/dx_i = (|x_i| / y)^2.
    const auto n = grads({tensor({1e-20, 2e-20}, {2}, kFloat32)},
                         [](const std::vector<Tensor>& v) { return linalg::vector_norm(v[0], 3.0); });
    const double y = std::cbrt(9.0);
    CHECK(close(n[0][0], 1 / (y * y)));
    CHECK(close(n[0][1], 4 / (y * y)));
  }
  // Only input requiring grad: tensor2 is not saved, and nothing needs it.
  {
    const Tensor x = tensor({1.0, 2.0}, {2}, kFloat32).set_requires_grad();
    const Tensor c = tensor({3.0, 4.0}, {2}, kFloat32);
    CHECK(grad({addcdiv(x, c, c, 1.5).sum()}, {x})[0].to_vector<double>() == std::vector<double>{1.0, 1.0});
  }
  // p < 1 keeps the factors apart: |x| / y underflows for [1e-36, 1e10] at
  // p = 0.5 (the gradient 1e23, 1), and one zero makes y = 0 for p < 0 (the
  // gradient 0 there, as PyTorch).
  set_flush_denormal(false);
  const auto half = grads({tensor({1e-36, 1e10}, {2}, kFloat32)},
                          [](const std::vector<Tensor>& v) { return linalg::vector_norm(v[0], 0.5); });
  CHECK(close(half[0][0], 1e23));
  CHECK(close(half[0][1], 1.0));
  for (const bool ieee : {false, true}) {
    set_flush_denormal(!ieee);
    CHECK(grads({tensor({0.0, 2.0}, {2}, kFloat32)}, [](const std::vector<Tensor>& v) {
            return linalg::vector_norm(v[0], -1.0);
          })[0] == std::vector<double>{0.0, 0.0});
    CHECK(grads({tensor({0.0, 2.0, 3.0}, {3}, kFloat64)}, [](const std::vector<Tensor>& v) {
            return linalg::vector_norm(v[0], -0.5);
          })[0] == std::vector<double>{0.0, 0.0, 0.0});
  }
  // kl_div with a subnormal target: the gradient of t log t where t reads as
  // 0 is 0 (not 0 / 0), leaving -input / N.
  set_flush_denormal(true);
  const auto kl = grads({tensor({-0.5, -1.0}, {2}, kFloat64), tensor({1e-310, 0.5}, {2}, kFloat64)},
                        [](const std::vector<Tensor>& v) { return nn::functional::kl_div(v[0], v[1]); });
  CHECK(kl[1][0] == 0.25);  // (0 - input) / 2, the mean over two elements
}

// A reduction's split is fixed by its shape, not by the threshold in force
// (which a passive OpenMP wait policy raises): the same bits either way.
TEST_CASE("float_mode: a reduction's bits do not depend on the parallel threshold") {
  ModeFixture fixture;
  const Tensor x = randn({100003}, {.dtype = kFloat64});
  const std::int64_t saved = detail::g_parallel_threshold.load();
  std::vector<double> sums;
  for (const std::int64_t threshold : {kParallelThreshold, kPassiveParallelThreshold})
    for (const int threads : {1, 2}) {
      detail::g_parallel_threshold.store(threshold);
      set_num_threads(threads);
      sums.push_back(Tensor(kernel::sum(x, {}, false)).item<double>());
    }
  detail::g_parallel_threshold.store(saved);
  for (const double s : sums) CHECK(std::memcmp(&s, &sums[0], sizeof s) == 0);
}

#endif  // __SSE__

}  // namespace test_float_mode
