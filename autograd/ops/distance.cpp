// normalize, cosine_similarity and pairwise_distance, as
// torch.nn.functional's (PyTorch 1.13). Each is written with the
// differentiable ops (norm, clamp_min, div, mul, sum), so gradients of every
// order come from theirs; what they add is PyTorch's argument rules (dtypes,
// broadcasting, the reduced dim) and errors that name them.
#include <algorithm>
#include <cstdint>

#include <fmt/format.h>

#include <tapegrad/autograd/ops.h>
#include <tapegrad/core/dtype_check.h>
#include <tapegrad/core/error.h>
#include <tapegrad/core/kernels/elementwise.h>
#include <tapegrad/core/profiler.h>

namespace tg {

namespace {

// x converted to dtype, unless it already has it (the conversion is recorded).
Tensor as_dtype(const Tensor& x, DType dtype) { return x.dtype() == dtype ? x : x.to(dtype); }

// max(n, eps) with PyTorch 1.13's gradient: its cosine_similarity clamps the
// norm in place under no_grad, which also changes the norm that the norm's
// backward divides by, so the gradient is x / max(n, eps), not x / n (the
// test's "norm below eps" case shows it). With s = n / max(n, eps) held
// constant that is s * n + (max(n, eps) - s * n), the second term constant:
// where n >= eps, s = 1 and the value is exactly n, first and second
// derivatives those of the norm.
Tensor clamp_norm(const Tensor& n, double eps) {
  const TensorBase clamped = kernel::clamp(n.detach(), eps, std::nullopt);
  const Tensor s(kernel::div(n.detach(), clamped));
  const Tensor scaled = mul(n, s);
  return add(scaled, Tensor(kernel::sub(clamped, scaled.detach())));
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
  const DType common = kernel::result_type(x1, x2);
  if (!is_floating(common))
    throw DTypeError(fmt::format(
        "cosine_similarity: expected the common dtype of x1 ({} {}) and x2 ({} {}) to be floating point, got {}",
        dtype_name(x1.dtype()), shape_str(x1.shape()), dtype_name(x2.dtype()), shape_str(x2.shape()),
        dtype_name(common)));
  const Dims shape = broadcast_shapes(x1.shape(), x2.shape(), "cosine_similarity");
  const Tensor a = expand(as_dtype(x1, common), shape), b = expand(as_dtype(x2, common), shape);
  const Tensor na = detail::norm_dims(a, 2, DimList{dim}, /*keepdim=*/true, "cosine_similarity");
  const Tensor nb = detail::norm_dims(b, 2, DimList{dim}, /*keepdim=*/true, "cosine_similarity");
  return sum(mul(div(a, clamp_norm(na, eps)), div(b, clamp_norm(nb, eps))), DimList{dim});
}

// ||x1 - x2 + eps||_p over the last dim of the broadcast shape, as PyTorch 1.13.
Tensor pairwise_distance(const Tensor& x1, const Tensor& x2, double p, double eps, StrictBool keepdim) {
  TG_PROFILE_OP("pairwise_distance", x1, x2);
  const DType common = kernel::result_type(x1, x2);
  if (!is_floating(common))
    throw DTypeError(fmt::format(
        "pairwise_distance: expected the common dtype of x1 ({} {}) and x2 ({} {}) to be floating point, got {}",
        dtype_name(x1.dtype()), shape_str(x1.shape()), dtype_name(x2.dtype()), shape_str(x2.shape()),
        dtype_name(common)));
  static_cast<void>(broadcast_shapes(x1.shape(), x2.shape(), "pairwise_distance"));  // its error names this op
  const std::int64_t last = std::max(x1.dim(), x2.dim()) - 1;
  return detail::norm_dims(add(sub(x1, x2), eps), p, DimList{last}, keepdim, "pairwise_distance");
}

}  // namespace tg
