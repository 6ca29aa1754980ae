#include <tapegrad/optim/adam.h>

#include <algorithm>
#include <cmath>
#include <type_traits>

#include <tapegrad/core/kernels/vector_math.h>
#include <tapegrad/optim/adam_family.h>

namespace tg::optim {

namespace {

// Per-step constants of the update, in the parameter's dtype.
template <class T>
struct AdamConstants {
  T beta1, beta2, one_minus_beta1, one_minus_beta2, weight_decay, eps, decay_factor, step_size, bias_correction2_sqrt,
      sign;
};

// The update of one parameter's n elements. The options that change the
// formula are template flags, so the common case (no weight decay, no
// amsgrad) is a branch-free loop over unaliased arrays that the compiler
// vectorises; with runtime branches inside it stayed scalar and Adam took
// half of the seed model's training step.
template <class T, bool kL2, bool kDecoupled, bool kAmsgrad>
[[gnu::always_inline]] inline void adam_loop(std::int64_t n, T* __restrict p, const T* __restrict grad, T* __restrict m,
                                             T* __restrict v, T* __restrict v_max, const AdamConstants<T> c) {
  for (std::int64_t i = 0; i < n; ++i) {
    T g = c.sign * grad[i];
    if constexpr (kL2) g += c.weight_decay * p[i];      // Adam: L2 penalty in the gradient
    if constexpr (kDecoupled) p[i] *= c.decay_factor;   // AdamW: shrink the weight itself
    m[i] = c.beta1 * m[i] + c.one_minus_beta1 * g;      // first moment
    v[i] = c.beta2 * v[i] + c.one_minus_beta2 * g * g;  // second moment
    T second = v[i];
    if constexpr (kAmsgrad) second = v_max[i] = std::max(v_max[i], v[i]);
    p[i] -= c.step_size * m[i] / (std::sqrt(second) / c.bias_correction2_sqrt + c.eps);
  }
}

// The same loop on 8 floats (4 doubles) at a time, used where the vector
// functions run on AVX2 (vec::isa(), the library's one CPU check, which tests
// can switch). Its square roots and divisions bound Adam (a third of the seed
// model's step with SSE's 4-wide ones). No FMA: AVX2's sqrt, div, mul and add
// round as SSE's and the scalar ones do, so the bits are the same on any CPU.
// Safe beside baseline code: both loops have internal linkage, so the linker
// never mistakes one copy for the other.
template <class T, bool kL2, bool kDecoupled, bool kAmsgrad>
[[gnu::target("avx2")]] void adam_loop_avx2(std::int64_t n, T* __restrict p, const T* __restrict grad, T* __restrict m,
                                            T* __restrict v, T* __restrict v_max, const AdamConstants<T> c) {
  adam_loop<T, kL2, kDecoupled, kAmsgrad>(n, p, grad, m, v, v_max, c);
}

// Calls f(std::bool_constant<b>{}).
template <class F>
void with_flag(bool b, F&& f) {
  if (b) f(std::true_type{});
  else f(std::false_type{});
}

// One Adam or AdamW update of one parameter; `decoupled` is AdamW's weight decay.
template <class Options>
void adam_update(const Options& o, AdamState& s, detail::ParamUpdate& u, bool decoupled, const char* who) {
  ++s.step;
  detail::zeros_once(s.exp_avg, s.exp_avg_sq, u.data);
  if (o.amsgrad && !s.max_exp_avg_sq.defined()) s.max_exp_avg_sq = zeros_like(u.data);
  const double t = static_cast<double>(s.step);
  const double bias_correction1 = 1 - std::pow(o.betas[0], t);
  const double bias_correction2 = 1 - std::pow(o.betas[1], t);
  dispatch_floating(u.data.dtype(), who, [&]<class T>() {
    const AdamConstants<T> c{
        .beta1 = static_cast<T>(o.betas[0]),
        .beta2 = static_cast<T>(o.betas[1]),
        .one_minus_beta1 = static_cast<T>(1 - o.betas[0]),
        .one_minus_beta2 = static_cast<T>(1 - o.betas[1]),
        .weight_decay = static_cast<T>(o.weight_decay),
        .eps = static_cast<T>(o.eps),
        .decay_factor = static_cast<T>(1 - o.lr * o.weight_decay),
        .step_size = static_cast<T>(o.lr / bias_correction1),
        .bias_correction2_sqrt = static_cast<T>(std::sqrt(bias_correction2)),
        .sign = o.maximize ? T(-1) : T(1),
    };
    T* p = u.data.data_ptr<T>();
    const T* grad = u.grad.data_ptr<T>();
    T* m = s.exp_avg.data_ptr<T>();
    T* v = s.exp_avg_sq.data_ptr<T>();
    T* v_max = o.amsgrad ? s.max_exp_avg_sq.data_ptr<T>() : nullptr;
    const std::int64_t n = u.data.numel();
    with_flag(o.weight_decay != 0 && !decoupled, [&](auto l2) {
      with_flag(o.weight_decay != 0 && decoupled, [&](auto decoupled_decay) {
        with_flag(o.amsgrad, [&](auto amsgrad) {
          constexpr bool kL2 = decltype(l2)::value, kDecoupled = decltype(decoupled_decay)::value,
                         kAmsgrad = decltype(amsgrad)::value;
          const bool wide = kernel::vec::isa() == kernel::vec::Isa::kAvx2;
          detail::for_each_range(n, [&](std::int64_t begin, std::int64_t end) {
            T* const vm = v_max ? v_max + begin : nullptr;
            if (wide)
              adam_loop_avx2<T, kL2, kDecoupled, kAmsgrad>(end - begin, p + begin, grad + begin, m + begin, v + begin,
                                                           vm, c);
            else
              adam_loop<T, kL2, kDecoupled, kAmsgrad>(end - begin, p + begin, grad + begin, m + begin, v + begin, vm,
                                                      c);
          });
        });
      });
    });
  });
}

}  // namespace

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
  for_each_update([](const AdamOptions& o, AdamState& s, detail::ParamUpdate& u) {
    adam_update(o, s, u, /*decoupled=*/false, "Adam");
  });
}

void Adam::set_momentum(std::size_t group, double beta1) { detail::set_beta1(*this, group, beta1); }

AdamW::AdamW(std::vector<Tensor> params, AdamWOptions options)
    : AdamW(std::vector<ParamGroup<AdamWOptions>>{{std::move(params), options}}) {}

AdamW::AdamW(std::vector<ParamGroup<AdamWOptions>> groups) : OptimizerWithState(std::move(groups)) { init(name()); }

void AdamW::step() {
  for_each_update([](const AdamWOptions& o, AdamState& s, detail::ParamUpdate& u) {
    adam_update(o, s, u, /*decoupled=*/true, "AdamW");
  });
}

void AdamW::set_momentum(std::size_t group, double beta1) { detail::set_beta1(*this, group, beta1); }

}  // namespace tg::optim
