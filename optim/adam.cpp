#include <tapegrad/optim/adam.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <limits>
#include <type_traits>
#include <utility>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

#include <tapegrad/core/kernels/vector_math.h>
#include <tapegrad/optim/adam_family.h>

namespace tg::optim {

namespace {

// Per-step constants of the update, in the parameter's dtype.
template <class T>
struct AdamConstants {
  T beta1, beta2, one_minus_beta1, one_minus_beta2, weight_decay, eps, decay_factor, step_size, bias_correction2_sqrt,
      sign;
  T inverse_bias_correction2_sqrt;  // RN(1 / bias_correction2_sqrt), in T
};

// s / c, correctly rounded, with c's rounded reciprocal r = RN(1 / c) in
// place of the divider: q = s r, then twice q += (s - q c) r with FMAs.
// Markstein's theorem (as in Muller et al., Handbook of Floating-Point
// Arithmetic, on the Itanium's division): when q is within an ulp of s / c
// and r within half an ulp of 1 / c, s - q c is exact and q + (s - q c) r
// rounds to s / c rounded. One correction brings s r, which may be off by up
// to one and a half ulps, within that ulp; the second rounds correctly. The
// conditions hold for Adam's operands: s = sqrt(v) is 0 or at least
// sqrt(the smallest subnormal) and at most sqrt(the largest finite), and c =
// sqrt(1 - beta2^t) lies in [2^-40, 1] (the caller checks, and divides
// otherwise), so nothing overflows and the residual s - q c is exactly
// representable (a subnormal residual flushed to zero under FTZ is far below
// half an ulp of q). A zero, infinite or NaN s takes s r, which is then s / c.
// Checked beyond the proof: every float s against 15 constants c, the
// division's bits wherever s could be sqrt(v) (a throwaway program), and
// tests/optim/test_optimizers.cpp over both dtypes' ranges. Adam's square
// root and two divisions per element share one divider, which bounds the
// loop; this moves one division to the FMA units (the seed model's step 60.5
// -> 56.5 us, docs/performance.md, round thirteen).
template <class T>
[[gnu::always_inline]] inline T divide_by_constant(T s, T c, T r) {
  const T q0 = s * r;
  T q = std::fma(std::fma(-q0, c, s), r, q0);
  q = std::fma(std::fma(-q, c, s), r, q);
  return std::abs(q0) > T(0) && std::abs(q0) < std::numeric_limits<T>::infinity() ? q : q0;
}

// The update of one parameter's n elements. The options that change the
// formula (Flags: l2, decoupled, amsgrad) are std::bool_constant for float
// and double, so the common case (no weight decay, no amsgrad) is a
// branch-free loop over unaliased arrays that the compiler vectorises (with
// run-time branches inside it stayed scalar and Adam took half of the seed
// model's step); for 16-bit floats, whose arithmetic converts through scalar
// code anyway, they are run-time bools, one copy of the loop instead of eight.
template <bool kReciprocal = false, class T, class Flags>
[[gnu::always_inline]] inline void adam_loop(std::int64_t n, T* __restrict p, const T* __restrict grad, T* __restrict m,
                                             T* __restrict v, T* __restrict v_max, const AdamConstants<T> c, Flags f) {
  for (std::int64_t i = 0; i < n; ++i) {
    T g = c.sign * grad[i];
    if (f.l2) g += c.weight_decay * p[i];               // Adam: L2 penalty in the gradient
    if (f.decoupled) p[i] *= c.decay_factor;            // AdamW: shrink the weight itself
    m[i] = c.beta1 * m[i] + c.one_minus_beta1 * g;      // first moment
    v[i] = c.beta2 * v[i] + c.one_minus_beta2 * g * g;  // second moment
    T second = v[i];
    if (f.amsgrad) second = v_max[i] = std::max(v_max[i], v[i]);
    const T root = std::sqrt(second);
    T scaled;
    if constexpr (kReciprocal)
      scaled = divide_by_constant(root, c.bias_correction2_sqrt, c.inverse_bias_correction2_sqrt);
    else scaled = root / c.bias_correction2_sqrt;
    p[i] -= c.step_size * m[i] / (scaled + c.eps);
  }
}

template <class L2, class Decoupled, class Amsgrad>
struct AdamFlags {
  L2 l2;
  Decoupled decoupled;
  Amsgrad amsgrad;
};

// The same loop on 8 floats (4 doubles) at a time, used where the vector
// functions run on AVX2 (vec::isa(), the library's one CPU check, which tests
// can switch). Its square roots and divisions bound Adam (a third of the seed
// model's step with SSE's 4-wide ones). FMA only where written out, in
// divide_by_constant (optim/adam.cpp is built with -ffp-contract=off): AVX2's
// sqrt, div, mul and add round as SSE's and the scalar ones do, and
// divide_by_constant's result is the division's, so the bits are the same on
// any CPU.
// Safe beside baseline code: both loops have internal linkage, so the linker
// never mistakes one copy for the other. x86-64 only (the target attribute
// means nothing elsewhere); it runs only when isa() says AVX2, which needs
// SLEEF too (a definition private to core/, so not tested here: an earlier
// test of it here compiled this loop out everywhere).
#if defined(__x86_64__)
#define TG_ADAM_AVX2 1
template <class T, class Flags>
[[gnu::target("avx2,fma")]] void adam_loop_avx2(std::int64_t n, T* __restrict p, const T* __restrict grad,
                                                T* __restrict m, T* __restrict v, T* __restrict v_max,
                                                const AdamConstants<T> c, Flags f) {
  adam_loop</*kReciprocal=*/true>(n, p, grad, m, v, v_max, c, f);
}
#endif

// float32 on AVX-512: 16 elements a vector, on Intel's cores with some
// square roots on the FMA units. A 16-float square root or division takes
// the divider about twice as long as an 8-float one (11.8 and 9.9 cycles
// against 5.6 and 4.6 on a Sapphire Rapids core), so the AVX2 loop's two per
// element (sqrt(v) and m over the denominator) bound it at the same speed on
// AVX-512, while the FMA units do twice AVX2's work there. So one square
// root in three moves to them (adam_loop_avx512 says why not all, and why
// not on AMD's cores), the division by the bias correction stays there
// (divide_by_constant), and the divider keeps the other roots and the one
// division. Same bits as the loops above (IEEE's square root, see
// sqrt_on_fma). The tail is masked: its lanes read zeros and the division,
// the one operation that could raise a flag on them (0 / eps with eps = 0),
// is masked too.
#if defined(__x86_64__)
#define TG_ADAM_AVX512 1

// Every lane. The maskz forms with it are the plain instructions; the plain
// intrinsics start from _mm512_undefined_ps, which GCC 12 reports as maybe
// uninitialized in a function with a target attribute.
constexpr __mmask16 kAllLanes = 0xffff;

// sqrt(v), correctly rounded, for v in [0, FLT_MAX] (the caller sends NaN
// and infinity to the divider): rsqrt14's estimate y ~ 1/sqrt(v), one
// Goldschmidt step on s = v y and h = y / 2, then s += (v - s^2) h. v below
// 2^-60 is scaled by 2^100 first and its root by 2^-50 after (both exact),
// so no residual v - s^2 is subnormal; a subnormal v read as zero under DAZ
// scales to zero, whose root is the divider's there too. rsqrt14 reads
// max(v, FLT_MIN), so v = +0 gives s = +0, not 0 * inf.
// Checked against the divider's square root for every float in [0, FLT_MAX],
// with and without FTZ/DAZ: 0 differences (a throwaway program, 1 s;
// without the last correction 2.7e8 differ, without the scaling 1.8e6);
// tests/optim/test_optimizers.cpp samples the same through
// detail::adam_sqrt_avx512.
[[gnu::target("avx512f")]] [[gnu::always_inline]] inline __m512 sqrt_on_fma(__m512 v) {
  const __mmask16 tiny = _mm512_cmp_ps_mask(v, _mm512_set1_ps(0x1p-60f), _CMP_LT_OQ);
  const __m512 vs = _mm512_mask_mul_ps(v, tiny, v, _mm512_set1_ps(0x1p100f));
  const __m512 y = _mm512_maskz_rsqrt14_ps(kAllLanes, _mm512_maskz_max_ps(kAllLanes, vs, _mm512_set1_ps(0x1p-126f)));
  __m512 s = _mm512_mul_ps(vs, y);
  __m512 h = _mm512_mul_ps(y, _mm512_set1_ps(0.5f));
  const __m512 r = _mm512_fnmadd_ps(s, h, _mm512_set1_ps(0.5f));
  s = _mm512_fmadd_ps(s, r, s);
  h = _mm512_fmadd_ps(h, r, h);
  s = _mm512_fmadd_ps(_mm512_fnmadd_ps(s, s, vs), h, s);
  return _mm512_mask_mul_ps(s, tiny, s, _mm512_set1_ps(0x1p-50f));
}

// sqrt(v) for any v: on the FMA units when every lane is in [+0, FLT_MAX] (as
// bits: below +inf's), else (-0, a negative number, an infinity or a NaN in
// some lane) on the divider.
[[gnu::target("avx512f")]] [[gnu::always_inline]] inline __m512 adam_sqrt(__m512 v) {
  const __mmask16 finite = _mm512_cmplt_epu32_mask(_mm512_castps_si512(v), _mm512_set1_epi32(0x7f800000));
  return finite == kAllLanes ? sqrt_on_fma(v) : _mm512_maskz_sqrt_ps(kAllLanes, v);
}

// out = sqrt(v) through adam_sqrt, for the test of detail::adam_sqrt_avx512.
[[gnu::target("avx512f")]] void run_sqrt_avx512(const float* v, float* out, std::int64_t n) {
  for (std::int64_t i = 0; i < n; i += 16) {
    const __mmask16 k = n - i >= 16 ? kAllLanes : __mmask16((1u << (n - i)) - 1);
    _mm512_mask_storeu_ps(out + i, k, adam_sqrt(_mm512_maskz_loadu_ps(k, v + i)));
  }
}

// One vector of the update: 16 elements from i, the lanes in k. kFmaRoot
// takes the square root on the FMA units (adam_sqrt), else on the divider.
template <bool kFmaRoot, class Flags>
[[gnu::target("avx512f")]] [[gnu::always_inline]] inline void adam_vector_avx512(
    std::int64_t i, __mmask16 k, float* __restrict p, const float* __restrict grad, float* __restrict m,
    float* __restrict v, float* __restrict v_max, const AdamConstants<float>& c, Flags f) {
  const __m512 sign = _mm512_set1_ps(c.sign), bc = _mm512_set1_ps(c.bias_correction2_sqrt),
               inverse_bc = _mm512_set1_ps(c.inverse_bias_correction2_sqrt);
  __m512 pv = _mm512_maskz_loadu_ps(k, p + i);
  __m512 g = _mm512_mul_ps(sign, _mm512_maskz_loadu_ps(k, grad + i));
  if (f.l2) g = _mm512_add_ps(g, _mm512_mul_ps(_mm512_set1_ps(c.weight_decay), pv));
  if (f.decoupled) pv = _mm512_mul_ps(pv, _mm512_set1_ps(c.decay_factor));
  const __m512 mv = _mm512_add_ps(_mm512_mul_ps(_mm512_set1_ps(c.beta1), _mm512_maskz_loadu_ps(k, m + i)),
                                  _mm512_mul_ps(_mm512_set1_ps(c.one_minus_beta1), g));
  const __m512 vv = _mm512_add_ps(_mm512_mul_ps(_mm512_set1_ps(c.beta2), _mm512_maskz_loadu_ps(k, v + i)),
                                  _mm512_mul_ps(_mm512_mul_ps(_mm512_set1_ps(c.one_minus_beta2), g), g));
  __m512 second = vv;
  if (f.amsgrad) {
    // std::max(v_max, v): v_max unless v_max < v (a NaN v leaves v_max).
    second = _mm512_maskz_max_ps(kAllLanes, vv, _mm512_maskz_loadu_ps(k, v_max + i));
    _mm512_mask_storeu_ps(v_max + i, k, second);
  }
  const __m512 root = kFmaRoot ? adam_sqrt(second) : _mm512_maskz_sqrt_ps(kAllLanes, second);
  // divide_by_constant(root, bc, inverse_bc): q when q0 is finite and not
  // zero (as bits, since root is never below zero but -0: 0 < bits - 1 <
  // bits(FLT_MAX)), else q0.
  const __m512 q0 = _mm512_mul_ps(root, inverse_bc);
  __m512 q = _mm512_fmadd_ps(_mm512_fnmadd_ps(q0, bc, root), inverse_bc, q0);
  q = _mm512_fmadd_ps(_mm512_fnmadd_ps(q, bc, root), inverse_bc, q);
  const __mmask16 regular = _mm512_cmplt_epu32_mask(_mm512_sub_epi32(_mm512_castps_si512(q0), _mm512_set1_epi32(1)),
                                                    _mm512_set1_epi32(0x7f7fffff));
  const __m512 scaled = _mm512_mask_blend_ps(regular, q0, q);
  const __m512 update = _mm512_maskz_div_ps(k, _mm512_mul_ps(_mm512_set1_ps(c.step_size), mv),
                                            _mm512_add_ps(scaled, _mm512_set1_ps(c.eps)));
  _mm512_mask_storeu_ps(p + i, k, _mm512_sub_ps(pv, update));
  _mm512_mask_storeu_ps(m + i, k, mv);
  _mm512_mask_storeu_ps(v + i, k, vv);
}

// The loop. On Intel cores (Sapphire Rapids measured), in each group of
// three vectors one square root runs on the FMA units and two on the
// divider, which then has about as much to do (two square roots and three
// divisions, 12 and 10 cycles each) as the FMA units (one root's eleven
// operations and three vectors' twenty others), where AVX2's loop left them
// half idle. A throwaway program over arrays of the seed model's size
// (27,888 floats, in L2) timed 22 cycles per 16 elements with every root on
// the divider, 25.5 with every root on the FMA units (which then wait on each
// other's long chains), 20.6 with one in three. On AMD's Zen 4 the FMA units
// are 256 bits wide (a 512-bit operation takes both halves' turns) and the
// divider keeps up: the same program took 9.5 us with every root on the
// divider, 11.0 with one in four, 11.4 with one in three, 16.0 with all on
// the FMA units (an AMD EPYC 9004-series VM), so there every root stays on
// the divider (fma_roots false).
template <class Flags>
[[gnu::target("avx512f")]] void adam_loop_avx512(std::int64_t n, float* __restrict p, const float* __restrict grad,
                                                 float* __restrict m, float* __restrict v, float* __restrict v_max,
                                                 const AdamConstants<float> c, Flags f, bool fma_roots) {
  std::int64_t i = 0;
  if (fma_roots) {
    for (; i + 48 <= n; i += 48) {
      adam_vector_avx512<true>(i, kAllLanes, p, grad, m, v, v_max, c, f);
      adam_vector_avx512<false>(i + 16, kAllLanes, p, grad, m, v, v_max, c, f);
      adam_vector_avx512<false>(i + 32, kAllLanes, p, grad, m, v, v_max, c, f);
    }
  } else {
    for (; i + 16 <= n; i += 16) adam_vector_avx512<false>(i, kAllLanes, p, grad, m, v, v_max, c, f);
  }
  for (; i < n; i += 16) {
    const __mmask16 k = n - i >= 16 ? kAllLanes : __mmask16((1u << (n - i)) - 1);
    adam_vector_avx512<false>(i, k, p, grad, m, v, v_max, c, f);
  }
}

// Whether adam_loop_avx512 sends some square roots to the FMA units: on
// Intel's cores, not on AMD's (above); an unknown vendor keeps the divider,
// which is never wrong, only perhaps slower. Only Sapphire Rapids and Zen 4
// were measured; other cores of each vendor (Zen 5's FMA units are 512 bits
// wide) follow it untested. detail::adam_fma_roots overrides.
bool adam_fma_roots() {
  const int chosen = detail::adam_fma_roots.load(std::memory_order_relaxed);
  return chosen < 0 ? kernel::vec::cpu_vendor() == kernel::vec::Vendor::kIntel : chosen != 0;
}
#endif

// Runs the loop over [0, n) in ranges (for_each_range), on AVX2 where the
// vector functions use it (float and double: 16-bit floats would gain nothing),
// on AVX-512 for float.
template <class T, class Flags>
void run_adam(std::int64_t n, T* p, const T* grad, T* m, T* v, T* v_max, const AdamConstants<T>& c, Flags f) {
#ifdef TG_ADAM_AVX2
  if constexpr (std::is_same_v<T, float> || std::is_same_v<T, double>) {
    // divide_by_constant's condition on c, which betas in [0, 1) always meet
    // (c >= sqrt(1 - beta2) >= 2^-27); the baseline loop divides otherwise.
    const bool reciprocal = c.bias_correction2_sqrt >= T(0x1p-40) && c.bias_correction2_sqrt <= T(1);
    if constexpr (std::is_same_v<T, float>)
      if (kernel::vec::isa() == kernel::vec::Isa::kAvx512 && reciprocal) {
        const bool fma_roots = adam_fma_roots();
        detail::for_each_range(n, [&](std::int64_t begin, std::int64_t end) {
          adam_loop_avx512(end - begin, p + begin, grad + begin, m + begin, v + begin, v_max ? v_max + begin : nullptr,
                           c, f, fma_roots);
        });
        return;
      }
    if (kernel::vec::uses_avx2() && reciprocal) {
      detail::for_each_range(n, [&](std::int64_t begin, std::int64_t end) {
        adam_loop_avx2(end - begin, p + begin, grad + begin, m + begin, v + begin, v_max ? v_max + begin : nullptr, c,
                       f);
      });
      return;
    }
  }
#endif
  detail::for_each_range(n, [&](std::int64_t begin, std::int64_t end) {
    adam_loop(end - begin, p + begin, grad + begin, m + begin, v + begin, v_max ? v_max + begin : nullptr, c, f);
  });
}

// What Adam and AdamW share of their options; one update function for both,
// so each loop is compiled once, and only for the combinations that occur (a
// decay is the L2 penalty or the decoupled one, never both).
struct AdamHyper {
  double lr;
  std::array<double, 2> betas;
  double eps, weight_decay;
  bool amsgrad, maximize;
  bool decoupled;  // AdamW's weight decay
};

template <class Options>
AdamHyper hyper(const Options& o, bool decoupled) {
  return {o.lr, o.betas, o.eps, o.weight_decay, o.amsgrad, o.maximize, decoupled};
}

// 1 - beta1^t and 1 - beta2^t, computed once for the parameters of one
// step() that share the betas and the step count (usually all of them): two
// pow calls per parameter were 1 % of the seed model's step.
class BiasCorrections {
 public:
  std::pair<double, double> at(const std::array<double, 2>& betas, std::int64_t step) {
    if (step != step_ || betas != betas_) {
      const double t = static_cast<double>(step);
      corrections_ = {1 - std::pow(betas[0], t), 1 - std::pow(betas[1], t)};
      step_ = step;
      betas_ = betas;
    }
    return corrections_;
  }

 private:
  std::int64_t step_ = -1;
  std::array<double, 2> betas_{};
  std::pair<double, double> corrections_{};
};

// One Adam or AdamW update of one parameter.
void adam_update(const AdamHyper& o, AdamState& s, detail::ParamUpdate& u, BiasCorrections& corrections,
                 const char* who) {
  ++s.step;
  detail::zeros_once(s.exp_avg, s.exp_avg_sq, u.data);
  if (o.amsgrad && !s.max_exp_avg_sq.defined()) s.max_exp_avg_sq = zeros_like(u.data);
  // Plain locals, not a structured binding: Clang 14's lambdas cannot capture one.
  const std::pair<double, double> both = corrections.at(o.betas, s.step);
  const double bias_correction1 = both.first, bias_correction2 = both.second;
  dispatch_floating(u.data.dtype(), who, [&]<class T>() {
    const T bias_correction2_sqrt = static_cast<T>(std::sqrt(bias_correction2));
    const AdamConstants<T> c{
        .beta1 = static_cast<T>(o.betas[0]),
        .beta2 = static_cast<T>(o.betas[1]),
        .one_minus_beta1 = static_cast<T>(1 - o.betas[0]),
        .one_minus_beta2 = static_cast<T>(1 - o.betas[1]),
        .weight_decay = static_cast<T>(o.weight_decay),
        .eps = static_cast<T>(o.eps),
        .decay_factor = static_cast<T>(1 - o.lr * o.weight_decay),
        .step_size = static_cast<T>(o.lr / bias_correction1),
        .bias_correction2_sqrt = bias_correction2_sqrt,
        .sign = o.maximize ? T(-1) : T(1),
        .inverse_bias_correction2_sqrt = T(1) / bias_correction2_sqrt,
    };
    T* p = u.data.data_ptr<T>();
    const T* grad = u.grad.data_ptr<T>();
    T* m = s.exp_avg.data_ptr<T>();
    T* v = s.exp_avg_sq.data_ptr<T>();
    T* v_max = o.amsgrad ? s.max_exp_avg_sq.data_ptr<T>() : nullptr;
    const std::int64_t n = u.data.numel();
    const bool l2 = o.weight_decay != 0 && !o.decoupled, decoupled = o.weight_decay != 0 && o.decoupled;
    if constexpr (std::is_same_v<T, float> || std::is_same_v<T, double>) {
      using Yes = std::true_type;
      using No = std::false_type;
      const auto run = [&](auto amsgrad) {
        using Ams = decltype(amsgrad);
        if (l2) run_adam(n, p, grad, m, v, v_max, c, AdamFlags<Yes, No, Ams>{});
        else if (decoupled) run_adam(n, p, grad, m, v, v_max, c, AdamFlags<No, Yes, Ams>{});
        else run_adam(n, p, grad, m, v, v_max, c, AdamFlags<No, No, Ams>{});
      };
      if (o.amsgrad) run(Yes{});
      else run(No{});
    } else {
      run_adam(n, p, grad, m, v, v_max, c, AdamFlags<bool, bool, bool>{l2, decoupled, o.amsgrad});
    }
  });
}

}  // namespace

bool detail::adam_sqrt_avx512(const float* v, float* out, std::int64_t n) {
#ifdef TG_ADAM_AVX512
  if (kernel::vec::isa() != kernel::vec::Isa::kAvx512) return false;
  run_sqrt_avx512(v, out, n);
  return true;
#else
  (void)v, (void)out, (void)n;
  return false;
#endif
}

bool detail::adam_has_avx2_loop() {
#ifdef TG_ADAM_AVX2
  return true;
#else
  return false;
#endif
}

void AdamOptions::validate(const std::string& optimizer) const {
  detail::validate_adam_family(optimizer, lr, betas, eps, weight_decay);
}
void AdamWOptions::validate(const std::string& optimizer) const {
  detail::validate_adam_family(optimizer, lr, betas, eps, weight_decay);
}

Adam::Adam(std::vector<Tensor> params, AdamOptions options)
    : Adam(std::vector<ParamGroup<AdamOptions>>{{std::move(params), options}}) {}

Adam::Adam(std::vector<ParamGroup<AdamOptions>> groups) : OptimizerWithState(std::move(groups)) { init(name()); }

void Adam::step() {
  BiasCorrections corrections;
  for_each_update([&corrections](const AdamOptions& o, AdamState& s, detail::ParamUpdate& u) {
    adam_update(hyper(o, /*decoupled=*/false), s, u, corrections, "Adam");
  });
}

void Adam::set_momentum(std::size_t group, double beta1) { detail::set_beta1(*this, group, beta1); }

AdamW::AdamW(std::vector<Tensor> params, AdamWOptions options)
    : AdamW(std::vector<ParamGroup<AdamWOptions>>{{std::move(params), options}}) {}

AdamW::AdamW(std::vector<ParamGroup<AdamWOptions>> groups) : OptimizerWithState(std::move(groups)) { init(name()); }

void AdamW::step() {
  BiasCorrections corrections;
  for_each_update([&corrections](const AdamWOptions& o, AdamState& s, detail::ParamUpdate& u) {
    adam_update(hyper(o, /*decoupled=*/true), s, u, corrections, "AdamW");
  });
}

void AdamW::set_momentum(std::size_t group, double beta1) { detail::set_beta1(*this, group, beta1); }

}  // namespace tg::optim
