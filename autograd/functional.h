#pragma once
/// @file
/// Higher-level differentiation of whole functions, as torch.autograd.functional.
///
/// @code
/// Tensor J = tg::autograd::jacobian([](const Tensor& x) { return x * x; }, x);  // [n, n], diag(2x)
/// Tensor H = tg::autograd::hessian([](const Tensor& x) { return (x * x * x).sum(); }, x);  // diag(6x)
/// auto [y, g] = tg::autograd::vjp(f, x, v);  // y = f(x), g = v^T J
/// auto [y, d] = tg::autograd::jvp(f, x, u);  // y = f(x), d = J u
/// auto [s, h] = tg::autograd::hvp(loss, x, u);  // s = loss(x), h = H u
/// @endcode
///
/// Shapes follow PyTorch: jacobian(f, x) has shape f(x).shape + x.shape and
/// hessian(f, x) has shape x.shape + x.shape. The vector forms take and return
/// lists: jacobian(f, {x0, x1})[i][j] = d f_i / d x_j, of shape
/// f_i.shape + x_j.shape.
///
/// The inputs are differentiated as they are, not through their history: with
/// create_graph=false the results are plain tensors (no graph); with
/// create_graph=true they are recorded and depend on the inputs' history, so
/// they can be differentiated again. An output that does not depend on an
/// input gets a zero block, or an AutogradError with strict=true.
///
/// jvp has no forward-mode engine behind it: it is computed with two reverse
/// passes (the "double-vjp" trick): g(u) = J^T u is linear in u, and the
/// gradient of <g(u), v> with respect to u is J v.
#include <functional>
#include <utility>
#include <vector>

#include <tapegrad/autograd/tensor.h>

namespace tg::autograd {

/// Options of jacobian(), hessian(), vjp(), jvp(), hvp() and vhp().
struct FunctionalOptions {
  bool create_graph = false;  ///< record the computation, so the results can be differentiated again
  bool strict = false;        ///< throw when an output does not depend on an input
};

using TensorFunction = std::function<Tensor(const Tensor&)>;  ///< one tensor to one tensor
/// Several tensors to several tensors.
using TensorListFunction = std::function<std::vector<Tensor>(const std::vector<Tensor>&)>;
using ScalarListFunction = std::function<Tensor(const std::vector<Tensor>&)>;  ///< several tensors to a scalar

/// The Jacobian of `fn` at `input`: shape fn(input).shape + input.shape; for
/// lists, result[i][j] = d fn_i / d x_j.
/// @throws tg::AutogradError with strict=true when an output does not depend on an input.
///@{
Tensor jacobian(const TensorFunction& fn, const Tensor& input, FunctionalOptions options = {});
std::vector<std::vector<Tensor>> jacobian(const TensorListFunction& fn, const std::vector<Tensor>& inputs,
                                          FunctionalOptions options = {});
///@}

/// The Hessian of `fn` at `input`, of shape input.shape + input.shape; fn must
/// return a single-element tensor.
/// @throws tg::ShapeError when fn's output has more than one element.
Tensor hessian(const TensorFunction& fn, const Tensor& input, FunctionalOptions options = {});
/// result[i][j] = d^2 fn / d x_i d x_j, of shape x_i.shape + x_j.shape.
std::vector<std::vector<Tensor>> hessian(const ScalarListFunction& fn, const std::vector<Tensor>& inputs,
                                         FunctionalOptions options = {});

/// (fn(input), v^T J). v has fn's output shape; it may be omitted when the
/// output has one element.
/// @throws tg::ShapeError when v's shape differs from the output's,
///   tg::AutogradError when its dtype does (PyTorch converts v).
///@{
std::pair<Tensor, Tensor> vjp(const TensorFunction& fn, const Tensor& input, const Tensor& v = {},
                              FunctionalOptions options = {});
std::pair<std::vector<Tensor>, std::vector<Tensor>> vjp(const TensorListFunction& fn, const std::vector<Tensor>& inputs,
                                                        const std::vector<Tensor>& v = {},
                                                        FunctionalOptions options = {});
///@}

/// (fn(input), J v). v has the input's shape; it may be omitted when the input
/// has one element.
/// @throws tg::ShapeError when v's shape differs from the input's,
///   tg::AutogradError when its dtype does (PyTorch converts v).
///@{
std::pair<Tensor, Tensor> jvp(const TensorFunction& fn, const Tensor& input, const Tensor& v = {},
                              FunctionalOptions options = {});
std::pair<std::vector<Tensor>, std::vector<Tensor>> jvp(const TensorListFunction& fn, const std::vector<Tensor>& inputs,
                                                        const std::vector<Tensor>& v = {},
                                                        FunctionalOptions options = {});
///@}

/// (fn(input), H v) and (fn(input), v^T H), as torch.autograd.functional's
/// hvp and vhp: H is the Hessian of `fn`, which must return a single-element
/// tensor, and v has the input's shape (it may be omitted when the input has
/// one element). vhp takes two reverse passes (the gradient of <grad fn, v>);
/// hvp three, as PyTorch's, through jvp of the gradient, so it holds for a
/// Hessian that is not symmetric (a function whose second derivatives are
/// not continuous). For lists, v has one tensor per input and the result one
/// per input.
/// @throws tg::ShapeError when fn's output has more than one element or v's
///   shape differs from the input's; tg::AutogradError when v's dtype does.
///@{
std::pair<Tensor, Tensor> hvp(const TensorFunction& fn, const Tensor& input, const Tensor& v = {},
                              FunctionalOptions options = {});
std::pair<Tensor, std::vector<Tensor>> hvp(const ScalarListFunction& fn, const std::vector<Tensor>& inputs,
                                           const std::vector<Tensor>& v = {}, FunctionalOptions options = {});
std::pair<Tensor, Tensor> vhp(const TensorFunction& fn, const Tensor& input, const Tensor& v = {},
                              FunctionalOptions options = {});
std::pair<Tensor, std::vector<Tensor>> vhp(const ScalarListFunction& fn, const std::vector<Tensor>& inputs,
                                           const std::vector<Tensor>& v = {}, FunctionalOptions options = {});
///@}

}  // namespace tg::autograd
