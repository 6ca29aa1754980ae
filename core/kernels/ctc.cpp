// The CTC loss kernels (declared, with their formulas, in ctc.h): the alpha
// and beta recursions of one sample at a time, in log space.
#include <tapegrad/core/kernels/ctc.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include <fmt/format.h>

#include <tapegrad/core/dims.h>
#include <tapegrad/core/error.h>
#include <tapegrad/core/kernels/copy.h>

namespace tg::kernel {

namespace {

constexpr double kNegInf = -std::numeric_limits<double>::infinity();

// log(exp(a) + exp(b) + exp(c)), exact when all are -inf.
double log_sum_exp3(double a, double b, double c) {
  double m = std::max({a, b, c});
  if (m == kNegInf) m = 0;
  return std::log(std::exp(a - m) + std::exp(b - m) + std::exp(c - m)) + m;
}

std::vector<std::int64_t> lengths_of(const char* name, const TensorBase& t, std::int64_t n) {
  if (!is_integer(t.dtype()))
    throw DTypeError(fmt::format("ctc_loss: {} must be an integer tensor of {} elements (one per sample), got {} {}",
                                 name, n, dtype_name(t.dtype()), shape_str(t.sizes())));
  if (t.dim() != 1 || t.numel() != n)
    throw ShapeError(fmt::format("ctc_loss: {} must be an integer tensor of {} elements (one per sample), got {} {}",
                                 name, n, dtype_name(t.dtype()), shape_str(t.sizes())));
  return t.to_vector<std::int64_t>();
}

// l'_s: blank at even s, the target's (s - 1) / 2-th label at odd s.
std::int64_t target_prime(const std::int64_t* targets, std::int64_t s, std::int64_t blank) {
  return s % 2 == 0 ? blank : targets[s / 2];
}

}  // namespace

CTCLayout ctc_layout(const TensorBase& log_probs, const TensorBase& targets, const TensorBase& input_lengths,
                     const TensorBase& target_lengths, std::int64_t blank) {
  if (log_probs.dim() != 3)
    throw ShapeError(fmt::format("ctc_loss: expected log_probs [T, N, C] (time, batch, classes), got {}",
                                 shape_str(log_probs.sizes())));
  if (!log_probs.is_floating_point())
    throw DTypeError(fmt::format("ctc_loss: expected floating-point log_probs, got {}", dtype_name(log_probs.dtype())));
  CTCLayout l;
  l.T = log_probs.size(0), l.N = log_probs.size(1), l.C = log_probs.size(2), l.blank = blank;
  if (blank < 0 || blank >= l.C)
    throw ValueError(
        fmt::format("ctc_loss: blank {} is not a class of log_probs {}", blank, shape_str(log_probs.sizes())));
  l.input_lengths = lengths_of("input_lengths", input_lengths, l.N);
  l.target_lengths = lengths_of("target_lengths", target_lengths, l.N);
  if (!is_integer(targets.dtype()))
    throw DTypeError(fmt::format("ctc_loss: expected integer targets, got {}", dtype_name(targets.dtype())));
  for (std::int64_t b = 0; b < l.N; ++b) {
    const std::int64_t il = l.input_lengths[static_cast<std::size_t>(b)];
    const std::int64_t tl = l.target_lengths[static_cast<std::size_t>(b)];
    if (il < 0 || il > l.T)
      throw ValueError(fmt::format("ctc_loss: input_lengths[{}] = {} is not in [0, T = {}]", b, il, l.T));
    if (tl < 0) throw ValueError(fmt::format("ctc_loss: target_lengths[{}] = {} is negative", b, tl));
    l.max_target_length = std::max(l.max_target_length, tl);
  }
  l.targets = contiguous(targets.dtype() == kInt64 ? targets : to(targets, kInt64));
  std::int64_t offset = 0;
  if (targets.dim() == 2) {
    if (targets.size(0) != l.N)
      throw ShapeError(fmt::format("ctc_loss: padded targets {} must have one row per sample ({})",
                                   shape_str(targets.sizes()), l.N));
    for (std::int64_t b = 0; b < l.N; ++b) {
      if (l.target_lengths[static_cast<std::size_t>(b)] > targets.size(1))
        throw ValueError(fmt::format("ctc_loss: target_lengths[{}] = {} exceeds the padded targets' length {}", b,
                                     l.target_lengths[static_cast<std::size_t>(b)], targets.size(1)));
      l.target_offsets.push_back(b * targets.size(1));
    }
  } else if (targets.dim() == 1) {
    for (std::int64_t b = 0; b < l.N; ++b) {
      l.target_offsets.push_back(offset);
      if (add_overflows(offset, l.target_lengths[static_cast<std::size_t>(b)], &offset))
        throw ShapeError(
            fmt::format("ctc_loss: concatenated targets have {} elements but target_lengths sum past int64 (at "
                        "target_lengths[{}] = {})",
                        targets.numel(), b, l.target_lengths[static_cast<std::size_t>(b)]));
    }
    if (offset != targets.numel())
      throw ShapeError(fmt::format("ctc_loss: concatenated targets have {} elements but target_lengths sum to {}",
                                   targets.numel(), offset));
  } else {
    throw ShapeError(fmt::format("ctc_loss: expected targets [N, S] (padded) or 1-D (concatenated), got {}",
                                 shape_str(targets.sizes())));
  }
  const std::int64_t* tp = l.targets.data_ptr<std::int64_t>();
  for (std::int64_t b = 0; b < l.N; ++b)
    for (std::int64_t i = 0; i < l.target_lengths[static_cast<std::size_t>(b)]; ++i) {
      const std::int64_t label = tp[l.target_offsets[static_cast<std::size_t>(b)] + i];
      if (label < 0 || label >= l.C)
        throw IndexError(
            fmt::format("ctc_loss: target {} of sample {} is {}, not a class in [0, {})", i, b, label, l.C));
    }
  return l;
}

CTCForward ctc_loss(const TensorBase& log_probs_in, const CTCLayout& l) {
  const TensorBase log_probs = contiguous(log_probs_in);
  const std::int64_t S = 2 * l.max_target_length + 1;
  CTCForward out{make_tensor({l.N}, log_probs.dtype()), make_tensor({l.N, l.T, S}, log_probs.dtype())};
  dispatch_floating(log_probs.dtype(), "ctc_loss", [&]<class T>() {
    const T* lp = log_probs.data_ptr<T>();
    T* alpha_all = out.log_alpha.data_ptr<T>();
    T* nll = out.neg_log_likelihood.data_ptr<T>();
    std::fill(alpha_all, alpha_all + out.log_alpha.numel(), static_cast<T>(kNegInf));
    for (std::int64_t b = 0; b < l.N; ++b) {
      const std::int64_t il = l.input_lengths[static_cast<std::size_t>(b)];
      const std::int64_t tl = l.target_lengths[static_cast<std::size_t>(b)];
      const std::int64_t* tg = l.targets.data_ptr<std::int64_t>() + l.target_offsets[static_cast<std::size_t>(b)];
      T* alpha = alpha_all + b * l.T * S;
      auto lp_at = [&](std::int64_t t, std::int64_t c) { return static_cast<double>(lp[(t * l.N + b) * l.C + c]); };
      if (il == 0) {  // no frames: the empty target is certain, any other impossible (as PyTorch)
        nll[b] = tl == 0 ? T(0) : std::numeric_limits<T>::infinity();
        continue;
      }
      alpha[0] = static_cast<T>(lp_at(0, l.blank));
      if (tl > 0) alpha[1] = static_cast<T>(lp_at(0, tg[0]));
      for (std::int64_t t = 1; t < il; ++t)
        for (std::int64_t s = 0; s <= 2 * tl; ++s) {
          const std::int64_t c = target_prime(tg, s, l.blank);
          const T* prev = alpha + (t - 1) * S;
          const double a1 = prev[s];
          const double a2 = s > 0 ? static_cast<double>(prev[s - 1]) : kNegInf;
          const double a3 = s > 1 && target_prime(tg, s - 2, l.blank) != c ? static_cast<double>(prev[s - 2]) : kNegInf;
          alpha[t * S + s] = static_cast<T>(log_sum_exp3(a1, a2, a3) + lp_at(t, c));
        }
      const T* last = alpha + (il - 1) * S;
      const double l1 = last[2 * tl], l2 = tl > 0 ? static_cast<double>(last[2 * tl - 1]) : kNegInf;
      nll[b] = static_cast<T>(-log_sum_exp3(l1, l2, kNegInf));
    }
  });
  return out;
}

TensorBase ctc_loss_backward(const TensorBase& grad_out_in, const TensorBase& log_probs_in, const CTCLayout& l,
                             const TensorBase& neg_log_likelihood, const TensorBase& log_alpha, bool zero_infinity) {
  const TensorBase log_probs = contiguous(log_probs_in), grad_out = contiguous(grad_out_in);
  const std::int64_t S = 2 * l.max_target_length + 1;
  TensorBase grad = make_tensor(log_probs.shape(), log_probs.dtype());
  dispatch_floating(log_probs.dtype(), "ctc_loss", [&]<class T>() {
    const T* lp = log_probs.data_ptr<T>();
    const T* alpha_all = log_alpha.data_ptr<T>();
    const T* nll_all = neg_log_likelihood.data_ptr<T>();
    const T* gout = grad_out.data_ptr<T>();
    T* g = grad.data_ptr<T>();
    std::vector<double> beta(static_cast<std::size_t>(l.T * S));
    std::vector<double> ab(static_cast<std::size_t>(l.T * l.C));  // ab_t(c), log space
    for (std::int64_t b = 0; b < l.N; ++b) {
      const std::int64_t il = l.input_lengths[static_cast<std::size_t>(b)];
      const std::int64_t tl = l.target_lengths[static_cast<std::size_t>(b)];
      const std::int64_t* tg = l.targets.data_ptr<std::int64_t>() + l.target_offsets[static_cast<std::size_t>(b)];
      const T* alpha = alpha_all + b * l.T * S;
      const double nll = nll_all[b];
      auto lp_at = [&](std::int64_t t, std::int64_t c) { return static_cast<double>(lp[(t * l.N + b) * l.C + c]); };
      auto grad_at = [&](std::int64_t t, std::int64_t c) -> T& { return g[(t * l.N + b) * l.C + c]; };
      if (il == 0 || (zero_infinity && nll == std::numeric_limits<double>::infinity())) {  // nothing flows back
        for (std::int64_t t = 0; t < l.T; ++t)
          for (std::int64_t c = 0; c < l.C; ++c) grad_at(t, c) = T(0);
        continue;
      }
      std::fill(beta.begin(), beta.end(), kNegInf);
      std::fill(ab.begin(), ab.end(), kNegInf);
      // beta at the last step; ab there is assigned, as PyTorch does, not accumulated.
      beta[static_cast<std::size_t>((il - 1) * S + 2 * tl)] = lp_at(il - 1, l.blank);
      ab[static_cast<std::size_t>((il - 1) * l.C + l.blank)] =
          alpha[(il - 1) * S + 2 * tl] + beta[static_cast<std::size_t>((il - 1) * S + 2 * tl)];
      if (tl > 0) {
        const std::int64_t c = target_prime(tg, 2 * tl - 1, l.blank);
        const std::size_t at = static_cast<std::size_t>((il - 1) * S + 2 * tl - 1);
        beta[at] = lp_at(il - 1, c);
        ab[static_cast<std::size_t>((il - 1) * l.C + c)] = alpha[at] + beta[at];
      }
      for (std::int64_t t = il - 2; t >= 0; --t)
        for (std::int64_t s = 2 * tl; s >= 0; --s) {
          const std::int64_t c = target_prime(tg, s, l.blank);
          const double* next = beta.data() + (t + 1) * S;
          const double b1 = next[s];
          const double b2 = s < 2 * tl ? next[s + 1] : kNegInf;
          const double b3 = s < 2 * tl - 1 && target_prime(tg, s + 2, l.blank) != c ? next[s + 2] : kNegInf;
          const double value = log_sum_exp3(b1, b2, b3) + lp_at(t, c);
          beta[static_cast<std::size_t>(t * S + s)] = value;
          const double alpha_beta = alpha[t * S + s] + value;
          double& acc = ab[static_cast<std::size_t>(t * l.C + c)];
          if (acc == kNegInf) {
            acc = alpha_beta;
          } else {
            const double m = std::max(acc, alpha_beta);
            acc = std::log(std::exp(acc - m) + std::exp(alpha_beta - m)) + m;
          }
        }
      const double scale = gout[b];
      for (std::int64_t t = 0; t < l.T; ++t)
        for (std::int64_t c = 0; c < l.C; ++c) {
          if (t >= il) {
            grad_at(t, c) = T(0);
            continue;
          }
          const double p = lp_at(t, c);
          grad_at(t, c) =
              static_cast<T>((std::exp(p) - std::exp(ab[static_cast<std::size_t>(t * l.C + c)] + nll - p)) * scale);
        }
    }
  });
  return grad;
}

}  // namespace tg::kernel
