#pragma once
// The CTC loss kernels (autograd/ops/ctc_loss.cpp records them). For one
// sample with input length L, targets l_1..l_S and the extended target
// l' = (blank, l_1, blank, l_2, ..., l_S, blank) of length 2S + 1, in log space:
//   alpha_0(0) = lp_0(blank), alpha_0(1) = lp_0(l_1),
//   alpha_t(s) = lp_t(l'_s) + logsumexp(alpha_{t-1}(s), alpha_{t-1}(s-1),
//                                       alpha_{t-1}(s-2) if l'_s != l'_{s-2}),
//   nll = -logsumexp(alpha_{L-1}(2S), alpha_{L-1}(2S-1)),
// beta the same recursion run backward from t = L - 1. The gradient is
// PyTorch's (LossCTC.cpp): with ab_t(c) = logsumexp over s with l'_s = c of alpha_t(s) + beta_t(s),
//   d nll / d lp_t(c) = exp(lp_t(c)) - exp(ab_t(c) + nll - lp_t(c))   for t < L, 0 after,
// which is the derivative through a log_softmax that produced lp (the exp(lp)
// term vanishes there): it is not the partial derivative in lp alone.
#include <cstdint>
#include <vector>

#include <tapegrad/core/tensor.h>

namespace tg::kernel {

// Checked arguments of ctc_loss: the lengths as numbers and where each
// sample's targets start in the (contiguous int64) targets.
struct CTCLayout {
  std::int64_t T = 0, N = 0, C = 0, max_target_length = 0, blank = 0;
  std::vector<std::int64_t> input_lengths, target_lengths, target_offsets;
  TensorBase targets;  // contiguous int64, 1-D (concatenated) or 2-D (padded)
};
// log_probs [T, N, C] floating; targets [N, S] padded or 1-D concatenated
// (sum of target_lengths elements), integer, each in [0, C); input_lengths,
// target_lengths integer [N] with 1 <= input length <= T and 0 <= target
// length (<= S when padded); blank in [0, C). Throws naming ctc_loss.
CTCLayout ctc_layout(const TensorBase& log_probs, const TensorBase& targets, const TensorBase& input_lengths,
                     const TensorBase& target_lengths, std::int64_t blank);

struct CTCForward {
  TensorBase neg_log_likelihood;  // [N], inf where no alignment exists
  TensorBase log_alpha;           // [N, T, 2 * max_target_length + 1]
};
CTCForward ctc_loss(const TensorBase& log_probs, const CTCLayout& layout);

// The gradient of sum_b grad_out[b] * nll[b] by the formula above, [T, N, C];
// with zero_infinity, 0 for samples whose nll is inf.
TensorBase ctc_loss_backward(const TensorBase& grad_out, const TensorBase& log_probs, const CTCLayout& layout,
                             const TensorBase& neg_log_likelihood, const TensorBase& log_alpha, bool zero_infinity);

}  // namespace tg::kernel
