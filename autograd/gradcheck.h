#pragma once
/// @file
/// Gradient checks: compare the Jacobian that backward computes with central
/// finite differences, in float64.
///
/// @code
/// auto fn = [](const std::vector<tg::Tensor>& in) { return tg::mul(in[0], in[1]).sum(); };
/// tg::gradcheck(fn, {x, y});      // true, or throws tg::AutogradError
/// tg::gradgradcheck(fn, {x, y});  // the same for the gradient of the gradient
/// @endcode
///
/// `fn` returns one tensor or a vector of them. Every floating input must be
/// float64 (finite differences in float32 are too inexact to check anything);
/// integer and bool inputs (indices, masks) are passed through unchanged.
/// Inputs that require grad are checked; floating outputs are differentiated.
///
/// How the numeric Jacobian is taken: each checked input is replaced by a
/// contiguous copy (a leaf that requires grad, so fn may call tg::grad itself,
/// as gradgradcheck does), and each of its elements is perturbed in place by
/// +-eps in that copy's storage. A copy is needed because a strided input may
/// alias: perturbing one storage element of an expanded input would move
/// several logical elements at once, while the analytic Jacobian (computed on
/// the inputs as given, which is what tests non-contiguous forwards and
/// backwards) has one column per logical element. fn's outputs on the copies
/// are also compared with its outputs on the original inputs. (With
/// GradcheckOptions::fast_mode each copy moves along one direction at once.)
///
/// Two checked inputs may be views of one storage when they reach disjoint
/// elements (`{w.select(0, 0), w.select(0, 1)}`, or the interleaved columns
/// `w[:, ::2]` and `w[:, 1::2]`). Inputs reaching a common element (one
/// tensor passed twice, a tensor and a view of it) are refused with a
/// tg::ValueError: their copies would move independently while the analytic
/// gradient counts them as one.
#include <concepts>
#include <cstdint>
#include <functional>
#include <string>
#include <type_traits>
#include <vector>

#include <tapegrad/autograd/tensor.h>

namespace tg {

/// Step and tolerances of gradcheck() and gradgradcheck().
struct GradcheckOptions {
  double eps = 1e-6;   ///< finite-difference step
  double atol = 1e-5;  ///< an entry passes when |analytic - numeric| <= atol + rtol * |numeric|
  double rtol = 1e-3;  ///< see atol
  /// Checks one random projection per input and output instead of the whole
  /// Jacobian, like PyTorch's `gradcheck(fast_mode=True)`: v^T J u from one
  /// backward per output against (f(x + eps u) - f(x - eps u)) / 2 eps from
  /// two forwards per input. The same forward and backward code runs as in
  /// the full check, at a cost that no longer grows with the number of
  /// elements. Unlike PyTorch, u and v are fixed-seed normal draws scaled to
  /// unit length (PyTorch: uniform, non-negative) and atol and rtol apply to
  /// each projection unscaled. A projection sums over entries, so an error
  /// confined to a few entries moves it less than it moves those entries:
  /// fast mode is a cheaper, weaker check. A mismatch names the input and
  /// output, not the entry (GradcheckResult::input_element and
  /// output_element stay empty); the full check finds the entry.
  bool fast_mode = false;
};

/// The function under test, from a callable returning a Tensor or a
/// std::vector<Tensor>.
class GradcheckFunction {
 public:
  using Fn = std::function<std::vector<Tensor>(const std::vector<Tensor>&)>;  ///< the normalized form
  /// Wraps `f`, a callable from the inputs to a Tensor or a std::vector<Tensor>.
  template <class F>
  requires std::invocable < F&, const std::vector<Tensor>
  & > GradcheckFunction(F f) {  // NOLINT: implicit on purpose, so lambdas pass directly
    // An empty std::function or a null pointer leaves fn_ empty, for
    // gradcheck to refuse by name (wrapped, it would only throw when called).
    if constexpr (std::is_pointer_v<F> || requires { typename F::result_type; })
      if (!f) return;
    if constexpr (std::is_convertible_v<std::invoke_result_t<F&, const std::vector<Tensor>&>, Tensor>)
      fn_ = [f = std::move(f)](const std::vector<Tensor>& in) mutable { return std::vector<Tensor>{f(in)}; };
    else fn_ = std::move(f);
  }
  /// Calls the function: its outputs, as a list.
  std::vector<Tensor> operator()(const std::vector<Tensor>& inputs) const { return fn_(inputs); }
  /// False when made from an empty std::function or a null pointer.
  explicit operator bool() const { return static_cast<bool>(fn_); }

 private:
  Fn fn_;
};

/// What a check found. When !ok, the fields describe the worst entry (the one
/// exceeding its tolerance by the most) and `message` says it all in words.
struct GradcheckResult {
  bool ok = true;                            ///< every entry within tolerance
  std::string message;                       ///< the worst entry in words (empty when ok)
  int input_index = -1;                      ///< the input of the worst entry
  int output_index = -1;                     ///< the output of the worst entry
  std::vector<std::int64_t> input_element;   ///< multi-dim index into the input
  std::vector<std::int64_t> output_element;  ///< multi-dim index into the output
  double analytic = 0;                       ///< what backward gave for it
  double numeric = 0;                        ///< what finite differences gave
  std::int64_t mismatches = 0;               ///< Jacobian entries (fast mode: projections) out of tolerance
};

/// Compares backward's Jacobian of `fn` at `inputs` with central finite
/// differences: true, or an exception.
/// @param fn      the function under test
/// @param inputs  float64 tensors (integer and bool ones pass through); those
///   that require grad are checked
/// @param options step and tolerances
/// @throws tg::AutogradError with GradcheckResult::message on a mismatch;
///   tg::DTypeError for a floating input that is not float64; tg::ValueError
///   for two checked inputs whose elements overlap in memory.
///
/// @code
/// auto fn = [](const std::vector<tg::Tensor>& in) { return (in[0] * in[1]).sum(); };
/// tg::gradcheck(fn, {x, y});  // x, y: float64, requires_grad
/// @endcode
bool gradcheck(const GradcheckFunction& fn, const std::vector<Tensor>& inputs, GradcheckOptions options = {});
/// gradcheck() that returns what it found instead of throwing on a mismatch.
/// @throws tg::DTypeError for a floating input that is not float64.
GradcheckResult gradcheck_result(const GradcheckFunction& fn, const std::vector<Tensor>& inputs,
                                 GradcheckOptions options = {});

/// Checks the gradient of the gradient: the function
/// @code
/// (inputs, grad_outputs) -> tg::grad(fn(inputs), inputs, grad_outputs, create_graph)
/// @endcode
/// goes through gradcheck. grad_outputs (one per output of fn, float64) are
/// drawn from a fixed-seed normal distribution when not given.
/// @throws tg::AutogradError with GradcheckResult::message on a mismatch.
bool gradgradcheck(const GradcheckFunction& fn, const std::vector<Tensor>& inputs,
                   const std::vector<Tensor>& grad_outputs = {}, GradcheckOptions options = {});
/// gradgradcheck() that returns what it found instead of throwing on a mismatch.
GradcheckResult gradgradcheck_result(const GradcheckFunction& fn, const std::vector<Tensor>& inputs,
                                     const std::vector<Tensor>& grad_outputs = {}, GradcheckOptions options = {});

}  // namespace tg
