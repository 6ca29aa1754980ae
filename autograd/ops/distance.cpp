// normalize, cosine_similarity and pairwise_distance, as
// torch.nn.functional's (PyTorch 1.13). Each is written with the
// differentiable ops (norm, clamp_min, div, mul, sum), so gradients of every
// order come from theirs, but for cosine_similarity's clamped norm, recorded
// to give PyTorch's gradients; what they add is PyTorch's argument rules
// (dtypes, broadcasting, the reduced dim) and errors that name them.
#include <algorithm>
#include <cstdint>

#include <fmt/format.h>

#include <tapegrad/autograd/function.h>
#include <tapegrad/autograd/grad_mode.h>
#include <tapegrad/autograd/ops.h>
#include <tapegrad/core/dtype_check.h>
#include <tapegrad/core/error.h>
#include <tapegrad/core/kernels/elementwise.h>
#include <tapegrad/core/profiler.h>

namespace tg {

namespace {

using autograd::Backward;
using autograd::SavedTensor;

// x converted to dtype, unless it already has it (the conversion is recorded).
Tensor as_dtype(const Tensor& x, DType dtype) { return x.dtype() == dtype ? x : x.to(dtype); }

// max(||x||_2 along dim, eps), kept, with PyTorch 1.13's gradient: its
// cosine_similarity clamps the norm in place under no_grad, so the norm's
// backward, x * g / r, reads the clamped r. Recorded with r saved as this
// op's output, so a second derivative differentiates that r again, as
// PyTorch's double backward does (where ||x|| >= eps it is the norm's).
Tensor clamped_norm(const Tensor& x, std::int64_t dim, double eps) {
  Tensor r;
  {
    NoGradGuard no_grad;
    r = clamp_min(detail::norm_dims(x, 2, DimList{dim}, /*keepdim=*/true, "cosine_similarity"), eps);
  }
  if (autograd::needs_grad(x))
    autograd::record("cosine_similarity_norm", {&x}, {&r},
                     [sx = SavedTensor(x, false), sr = SavedTensor(r, true)](Backward& bw) {
                       bw.add(0, mul(bw.unpack(sx), div(bw.grad(), bw.unpack(sr))));
                     });
  return r;
}

// The common dtype of x1 and x2, which must be floating for `op`.
DType floating_result_type(const Tensor& x1, const Tensor& x2, const char* op) {
  const DType common = kernel::result_type(x1, x2);
  if (!is_floating(common))
    throw DTypeError(
        fmt::format("{}: expected the common dtype of x1 ({} {}) and x2 ({} {}) to be floating point, got {}", op,
                    dtype_name(x1.dtype()), shape_str(x1.shape()), dtype_name(x2.dtype()), shape_str(x2.shape()),
                    dtype_name(common)));
  return common;
}

}  // namespace

// x / max(||x||_p, eps) along dim, as torch.nn.functional.normalize; the
// clamp is an ordinary one (no gradient through the norm where it is below eps).
Tensor normalize(const Tensor& x, double p, std::int64_t dim, double eps) {
  TG_PROFILE_OP("normalize", x);
  check_dtype(x, "normalize", DTypeClass::Floating);
  const Tensor n = detail::norm_dims(x, p, DimList{dim}, /*keepdim=*/true, "normalize");
  return div(x, clamp_min(n, eps));
}

// <x1 / max(||x1||, eps), x2 / max(||x2||, eps)> along dim, after broadcasting
// x1 with x2 and converting both to their common (floating) dtype, as PyTorch 1.13.
Tensor cosine_similarity(const Tensor& x1, const Tensor& x2, std::int64_t dim, double eps) {
  TG_PROFILE_OP("cosine_similarity", x1, x2);
  const DType common = floating_result_type(x1, x2, "cosine_similarity");
  const Dims shape = broadcast_shapes(x1.shape(), x2.shape(), "cosine_similarity");
  const Tensor a = expand(as_dtype(x1, common), shape), b = expand(as_dtype(x2, common), shape);
  return sum(mul(div(a, clamped_norm(a, dim, eps)), div(b, clamped_norm(b, dim, eps))), DimList{dim});
}

// ||x1 - x2 + eps||_p over the last dim of the broadcast shape, as PyTorch 1.13.
Tensor pairwise_distance(const Tensor& x1, const Tensor& x2, double p, double eps, StrictBool keepdim) {
  TG_PROFILE_OP("pairwise_distance", x1, x2);
  // Integer inputs are welcome: x1 - x2 + eps is floating, as in PyTorch.
  static_cast<void>(broadcast_shapes(x1.shape(), x2.shape(), "pairwise_distance"));  // its error names this op
  const std::int64_t last = std::max(x1.dim(), x2.dim()) - 1;
  return detail::norm_dims(add(sub(x1, x2), eps), p, DimList{last}, keepdim, "pairwise_distance");
}

}  // namespace tg
