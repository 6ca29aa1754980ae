// ctc_loss: the per-sample negative log-likelihood of the targets under all
// alignments (kernels and formulas: core/kernels/ctc.h), then PyTorch's
// reductions with the differentiable ops:
//   zero_infinity: inf -> 0;  mean: mean over samples of nll / max(target length, 1);  sum;  none.
// Differentiable once, as in PyTorch: the gradient is the kernel's formula,
// and differentiating it again (create_graph, then a backward through the
// gradient) is an AutogradError.
#include <algorithm>
#include <limits>

#include <fmt/format.h>

#include <tapegrad/autograd/function.h>
#include <tapegrad/autograd/ops.h>
#include <tapegrad/core/kernels/ctc.h>
#include <tapegrad/core/profiler.h>

namespace tg {

using autograd::Backward;
using autograd::SavedTensor;

namespace {

// [N] negative log-likelihoods, inf where no alignment exists (zeroed in the
// gradient with zero_infinity).
Tensor ctc_neg_log_likelihood(const Tensor& log_probs, const kernel::CTCLayout& layout, bool zero_infinity) {
  kernel::CTCForward fw = kernel::ctc_loss(log_probs, layout);
  Tensor nll = fw.neg_log_likelihood;
  if (autograd::needs_grad(log_probs)) {
    autograd::record("ctc_loss", {&log_probs}, {&nll},
                     [slp = SavedTensor(log_probs, false), layout, zero_infinity, nll_value = Tensor(nll.detach()),
                      log_alpha = Tensor(fw.log_alpha)](Backward& bw) {
                       // nll [N] of log_probs [T, N, C]: d log_probs [T, N, C] by PyTorch's formula (ctc.h).
                       const Tensor lp = bw.unpack(slp), dy = bw.grad();
                       Tensor grad = kernel::ctc_loss_backward(dy, lp, layout, nll_value, log_alpha, zero_infinity);
                       if (autograd::needs_grad(dy, lp))
                         autograd::record("ctc_loss_backward", {&dy, &lp}, {&grad}, [](Backward&) {
                           throw AutogradError(
                               "ctc_loss: the double backward (the gradient of ctc_loss's gradient) is not "
                               "supported, as in PyTorch");
                         });
                       bw.add(0, grad);
                     });
  }
  return nll;
}

}  // namespace

Tensor ctc_loss(const Tensor& log_probs, const Tensor& targets, const Tensor& input_lengths,
                const Tensor& target_lengths, const CTCLossOptions& options) {
  TG_PROFILE_OP("ctc_loss", log_probs, targets, input_lengths, target_lengths);
  const kernel::CTCLayout layout = kernel::ctc_layout(log_probs, targets, input_lengths, target_lengths, options.blank);
  Tensor loss = ctc_neg_log_likelihood(log_probs, layout, options.zero_infinity);
  if (options.zero_infinity) loss = tg::where(tg::isinf(loss), 0.0, loss);
  switch (options.reduction) {
    case Reduction::None:
      return loss;
    case Reduction::Sum:
      return tg::sum(loss);
    case Reduction::Mean:
      break;
  }
  std::vector<double> divisors;
  for (std::int64_t length : layout.target_lengths)
    divisors.push_back(static_cast<double>(std::max<std::int64_t>(length, 1)));
  const Tensor lengths = tg::tensor(divisors, {layout.N}, {.dtype = loss.dtype()});
  return tg::mean(tg::div(loss, lengths));
}

}  // namespace tg
