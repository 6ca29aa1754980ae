#pragma once
/// @file
/// User-defined differentiable functions, as LibTorch's torch::autograd::Function.
///
/// @code
/// struct Cube : tg::autograd::Function<Cube> {
///   static tg::Tensor forward(tg::autograd::AutogradContext* ctx, const tg::Tensor& x) {
///     ctx->save_for_backward({x});
///     return x * x * x;
///   }
///   static std::vector<tg::Tensor> backward(tg::autograd::AutogradContext* ctx, std::vector<tg::Tensor> grads) {
///     auto x = ctx->get_saved_variables()[0];   // y = x^3;  dx = dy * 3 x^2
///     return {grads[0] * 3 * x * x};
///   }
/// };
/// tg::Tensor y = Cube::apply(x);
/// @endcode
///
/// forward runs with grad mode off (nothing inside is recorded) and returns a
/// Tensor or a std::vector<Tensor>. Its arguments may be tensors, vectors of
/// tensors, and anything else (doubles, ints, options), which are passed
/// through. If grad mode is on and a tensor argument requires grad, one node is
/// recorded whose backward calls Derived::backward with one gradient per output
/// (zeros where none flowed; undefined for an output forward returned
/// undefined, as PyTorch passes None). backward returns one gradient per tensor argument
/// (in order, a vector argument counting as its elements), or one per argument
/// with undefined tensors at the non-tensor positions; undefined means "no
/// gradient". Which inputs need one: AutogradContext::needs_argument_grad
/// counts as the one-per-argument list, needs_tensor_grad as the one-per-tensor
/// list; needs_input_grad answers only where the two agree (no non-tensor
/// argument up to its index) and throws elsewhere, so that an index meant one
/// way is never read the other way. A gradient may carry broadcast dims, which are
/// summed away as for built-in ops, but is never reshaped or converted: one whose
/// shape cannot be reduced to its input's, or whose dtype is not its input's, is
/// a tg::AutogradError (PyTorch 1.13 converts the dtype). When backward uses differentiable ops,
/// create_graph gives higher-order gradients.
///
/// Saved tensors are checked like the built-in ops' (an in-place change after
/// saving is an error; saving an output keeps no reference cycle). An output
/// that shares memory with a tensor argument (the argument itself, or a view
/// of it) or with another output cannot be modified in place when grad is
/// involved, nor used once such an alias was modified in place, as in
/// PyTorch: backward is yours and could not account for either. Not
/// supported: in-place modification of inputs inside forward (mark_dirty), and
/// non-differentiable outputs other than integer/bool ones.
///
/// The node is named (graphs, errors, and printing as `grad_fn=<NameBackward>`)
/// after the type, or after `static constexpr std::string_view kName` when
/// the Function declares one.
#include <cxxabi.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>
#include <type_traits>
#include <typeinfo>
#include <unordered_map>
#include <utility>
#include <variant>
#include <vector>

#include <fmt/format.h>

#include <tapegrad/autograd/function.h>
#include <tapegrad/autograd/grad_mode.h>
#include <tapegrad/autograd/node.h>
#include <tapegrad/autograd/views.h>
#include <tapegrad/core/error.h>
#include <tapegrad/core/profiler.h>

namespace tg::autograd {

/// A non-tensor value kept for backward in AutogradContext::saved_data.
class SavedValue {
 public:
  SavedValue() = default;
  /// A number or a flag: `ctx->saved_data["alpha"] = alpha;`.
  ///@{
  SavedValue(double v) : v_(v) {}
  SavedValue(float v) : v_(static_cast<double>(v)) {}
  SavedValue(std::int64_t v) : v_(v) {}
  SavedValue(int v) : v_(static_cast<std::int64_t>(v)) {}
  SavedValue(bool v) : v_(v) {}
  ///@}
  /// Anything else backward needs (a callable, a vector of words), shared.
  template <class T>
  SavedValue(std::shared_ptr<T> object) : v_(Object{std::move(object), &typeid(T)}) {}

  /// The number saved (an integer converts). @throws tg::ValueError for anything else.
  double to_double() const {
    if (auto* d = std::get_if<double>(&v_)) return *d;
    if (auto* i = std::get_if<std::int64_t>(&v_)) return static_cast<double>(*i);
    throw ValueError("saved_data: the value is not a number");
  }
  /// The integer saved. @throws tg::ValueError for anything else.
  std::int64_t to_int() const {
    if (auto* i = std::get_if<std::int64_t>(&v_)) return *i;
    throw ValueError("saved_data: the value is not an integer");
  }
  /// The flag saved. @throws tg::ValueError for anything else.
  bool to_bool() const {
    if (auto* b = std::get_if<bool>(&v_)) return *b;
    throw ValueError("saved_data: the value is not a bool");
  }
  /// The object saved, as its own type T. @throws tg::ValueError when it is not a T.
  template <class T>
  std::shared_ptr<const T> to_object() const {
    auto* o = std::get_if<Object>(&v_);
    if (!o || *o->type != typeid(T))
      throw ValueError(fmt::format("saved_data: the value is not an object of type {}", typeid(T).name()));
    return std::static_pointer_cast<const T>(o->ptr);
  }

 private:
  struct Object {
    std::shared_ptr<const void> ptr;
    const std::type_info* type;
  };
  std::variant<std::monostate, double, std::int64_t, bool, Object> v_;
};

/// What a custom Function's forward leaves for its backward: saved tensors
/// (checked against in-place changes, as the built-in ops' are) and other values.
class AutogradContext {
 public:
  /// Tensors backward will read: inputs, outputs, or intermediates.
  void save_for_backward(std::vector<Tensor> tensors) { to_save_ = std::move(tensors); }
  /// The saved tensors, checked against in-place modification since saving.
  std::vector<Tensor> get_saved_variables() const {
    auto owner = node_.lock();
    std::vector<Tensor> out;
    out.reserve(saved_.size());
    for (const auto& s : saved_) out.push_back(s.unpack(owner));
    return out;
  }
  /// Whether forward's argument `i` needs a gradient, counting every
  /// argument as backward's one-per-argument result does (a vector argument
  /// counts as its elements; a non-tensor argument never needs one), as
  /// PyTorch's `ctx.needs_input_grad[i]`.
  /// @throws tg::IndexError when forward has no argument `i`.
  bool needs_argument_grad(std::size_t i) const {
    if (i >= is_tensor_.size()) throw_out_of_range("needs_argument_grad", i, is_tensor_.size(), "arguments");
    if (!is_tensor_[i]) return false;
    std::size_t tensor_index = 0;
    for (std::size_t k = 0; k < i; ++k) tensor_index += is_tensor_[k] ? 1 : 0;
    return needs_input_grad_[tensor_index];
  }
  /// Whether tensor argument `k` needs a gradient, counting only the tensor
  /// arguments as backward's one-per-tensor result does (LibTorch's
  /// `ctx->needs_input_grad(k)`).
  /// @throws tg::IndexError when forward has no tensor argument `k`.
  bool needs_tensor_grad(std::size_t k) const {
    if (k >= needs_input_grad_.size())
      throw_out_of_range("needs_tensor_grad", k, needs_input_grad_.size(), "tensor arguments");
    return needs_input_grad_[k];
  }
  /// needs_argument_grad(i), which is needs_tensor_grad(i), when arguments 0
  /// to `i` are all tensors, so that both ways of counting agree. Otherwise
  /// the index could mean either (PyTorch counts every argument, LibTorch
  /// only tensors, and backward may return either list): rather than guess,
  /// this throws, and the caller picks needs_argument_grad or
  /// needs_tensor_grad to match what its backward returns.
  /// @throws tg::IndexError when forward has no argument `i`;
  ///   tg::AutogradError when an argument before `i`, or `i` itself, is not a tensor.
  bool needs_input_grad(std::size_t i) const {
    if (i >= is_tensor_.size()) throw_out_of_range("needs_input_grad", i, is_tensor_.size(), "arguments");
    for (std::size_t k = 0; k <= i; ++k) {
      if (is_tensor_[k]) continue;
      throw AutogradError(fmt::format(
          "{}: needs_input_grad({}) is ambiguous: forward's argument {} is not a tensor, so {} means argument {} "
          "({}) counting every argument, but another tensor argument counting tensors only. Call "
          "ctx->needs_argument_grad({}) when backward returns one gradient per argument, or "
          "ctx->needs_tensor_grad({}) when it returns one per tensor argument",
          function_name(), i, k, i, i, is_tensor_[i] ? "a tensor" : "not a tensor", i, i));
    }
    return needs_input_grad_[i];
  }

  std::unordered_map<std::string, SavedValue> saved_data;  ///< non-tensor values for backward, by name

 private:
  template <class>
  friend struct Function;
  template <class>
  friend class CustomNode;

  [[noreturn]] void throw_out_of_range(const char* what, std::size_t i, std::size_t n, const char* counted) const {
    throw IndexError(
        fmt::format("{}: {}({}) is out of range: forward has {} {}", function_name(), what, i, n, counted));
  }
  std::string function_name() const { return name_of_ ? name_of_() : std::string("custom Function"); }

  std::vector<Tensor> to_save_;
  std::vector<SavedTensor> saved_;
  std::vector<bool> needs_input_grad_;  // per tensor argument
  std::vector<bool> is_tensor_;         // per argument: whether it is a tensor
  std::string (*name_of_)() = nullptr;  // the Function's type name, for errors (demangled only then)
  std::weak_ptr<Node> node_;
};

namespace detail {

template <class T>
std::string type_name() {
  int status = 0;
  std::unique_ptr<char, void (*)(void*)> name(abi::__cxa_demangle(typeid(T).name(), nullptr, nullptr, &status),
                                              std::free);
  return status == 0 && name ? name.get() : typeid(T).name();
}

// What a Function's node is called in graphs, errors and printing: its
// `static constexpr std::string_view kName` when it has one, else its type's
// name.
template <class T>
std::string function_name() {
  if constexpr (requires { T::kName; }) return std::string(T::kName);
  else return type_name<T>();
}

template <class T>
inline constexpr bool is_tensor_v = std::is_same_v<std::remove_cvref_t<T>, Tensor>;
template <class T>
inline constexpr bool is_tensor_list_v = std::is_same_v<std::remove_cvref_t<T>, std::vector<Tensor>>;

/// Flattens the arguments: the tensors, and for every argument position
/// whether it held a tensor (a vector argument is one position per element).
struct ArgumentList {
  std::vector<Tensor> tensors;
  std::vector<bool> is_tensor;
  template <class A>
  void add(const A& a) {
    if constexpr (is_tensor_v<A>) {
      tensors.push_back(a);
      is_tensor.push_back(true);
    } else if constexpr (is_tensor_list_v<A>) {
      for (const auto& t : a) {
        tensors.push_back(t);
        is_tensor.push_back(true);
      }
    } else {
      is_tensor.push_back(false);
    }
  }
};

inline std::vector<Tensor> as_list(const Tensor& t) { return {t}; }

/// Whether Backward::add can bring a gradient of shape `g` to `shape`: the
/// same number of elements, or `shape` broadcasts to `g`.
inline std::vector<Tensor> as_list(std::vector<Tensor> ts) { return ts; }

}  // namespace detail

/// The node a Function<Derived> records: its apply() calls Derived::backward
/// and checks what it returns (one gradient per tensor argument, or per
/// argument; shapes and dtypes of the inputs).
template <class Derived>
class CustomNode final : public Node {
 public:
  /// `is_tensor_argument[k]`: whether argument k of forward is a tensor.
  explicit CustomNode(std::vector<bool> is_tensor_argument) : is_tensor_(std::move(is_tensor_argument)) {}

  /// Derived::backward with one gradient per output (zeros where none
  /// flowed, undefined for an undefined output).
  /// @throws tg::AutogradError when backward returns the wrong number of
  ///   gradients, or one of the wrong shape or dtype.
  GradList apply(GradList& grads) override {
    if (released()) throw_backward_twice(name());
    std::vector<Tensor> grad_outputs(output_shapes_.size());
    for (std::size_t i = 0; i < grad_outputs.size(); ++i)
      if (output_defined_[i])
        grad_outputs[i] =
            i < grads.size() && grads[i].defined() ? grads[i] : zeros(output_shapes_[i], {.dtype = output_dtypes_[i]});
    std::vector<Tensor> returned = Derived::backward(&ctx_, std::move(grad_outputs));
    const std::size_t n_tensors = next_edges().size();
    if (returned.size() != n_tensors && returned.size() != is_tensor_.size())
      throw AutogradError(
          n_tensors == is_tensor_.size()
              ? fmt::format("{}: backward returned {} gradients; expected {} (one per argument)", name(),
                            returned.size(), n_tensors)
              : fmt::format(
                    "{}: backward returned {} gradients; expected {} (one per tensor argument) or {} (one per argument)",
                    name(), returned.size(), n_tensors, is_tensor_.size()));
    if (returned.size() != n_tensors) {  // one per argument: keep the tensor positions
      std::vector<Tensor> by_tensor;
      for (std::size_t k = 0; k < returned.size(); ++k) {
        if (is_tensor_[k]) by_tensor.push_back(returned[k]);
        else if (returned[k].defined())
          throw AutogradError(
              fmt::format("{}: backward returned a gradient for argument {}, which is not a tensor", name(), k));
      }
      returned = std::move(by_tensor);
    }
    GradList grad_inputs(n_tensors);
    Backward bw(*this, grads, grad_inputs, shared_from_this());
    for (std::size_t i = 0; i < n_tensors; ++i) {
      const Tensor& g = returned[i];
      if (!g.defined() || !needs_input_grad(i)) continue;
      const Dims& shape = input_shape(i);
      // As PyTorch: a gradient may still carry broadcast dims (they are
      // summed away), but it is never reshaped or converted.
      if (!expandable_to(shape, g.shape()) || g.dtype() != input_dtype(i))
        throw AutogradError(fmt::format(
            "{}: backward returned a gradient of shape {} and dtype {} for input {}, which has shape {} and dtype {}",
            name(), shape_str(g.sizes()), dtype_name(g.dtype()), i, shape_str(shape), dtype_name(input_dtype(i))));
      bw.add(i, g);
    }
    return grad_inputs;
  }

  /// The Function's C++ type name ("Softplus").
  std::string_view name() const override { return name_; }
  /// Frees the saved tensors once backward has run (without retain_graph).
  void release_saved() override {
    for (auto& s : ctx_.saved_) s.release();
  }

 private:
  template <class>
  friend struct Function;

  std::string name_ = detail::function_name<Derived>();
  AutogradContext ctx_;
  std::vector<bool> is_tensor_;
  std::vector<Dims> output_shapes_;
  std::vector<DType> output_dtypes_;
  std::vector<bool> output_defined_;
};

namespace detail {
// `out` itself, or, when it is one of `inputs` and requires grad, an alias of
// it that does not (Function::apply without recording).
inline Tensor detach_if_input(Tensor out, const std::vector<Tensor>& inputs) {
  if (!out.defined() || !out.requires_grad()) return out;
  for (const auto& t : inputs)
    if (t.defined() && t.is_same(out)) return out.detach();
  return out;
}
}  // namespace detail

/// The base of a user-defined differentiable function (see the description of
/// custom_function.h): Derived has static forward(AutogradContext*, args...) and
/// backward(AutogradContext*, std::vector<Tensor> grads).
template <class Derived>
struct Function {
  /// Runs Derived::forward with recording off and, when grad mode is on and a
  /// tensor argument requires grad, records one CustomNode for its backward.
  /// Returns what forward returns (a Tensor or a std::vector<Tensor>).
  template <class... Args>
  static auto apply(Args&&... args) {
    detail::ArgumentList arguments;
    (arguments.add(args), ...);
    // The profiler's event for the forward, like a built-in op's TG_PROFILE_OP.
    profiler::RecordScope profile_scope(profiler::enabled() ? detail::function_name<Derived>() : std::string(),
                                        profiler::EventKind::kForward, arguments.tensors);
    const bool record = needs_grad_list(arguments.tensors);

    AutogradContext local;
    std::shared_ptr<CustomNode<Derived>> node;
    if (record) node = std::make_shared<CustomNode<Derived>>(arguments.is_tensor);
    AutogradContext& ctx = node ? node->ctx_ : local;
    for (const auto& t : arguments.tensors) ctx.needs_input_grad_.push_back(record && requires_grad_of(t));
    ctx.is_tensor_ = arguments.is_tensor;
    ctx.name_of_ = &detail::function_name<Derived>;

    using Result = decltype(Derived::forward(&ctx, std::forward<Args>(args)...));
    static_assert(std::is_same_v<std::remove_cvref_t<Result>, Tensor> ||
                      std::is_same_v<std::remove_cvref_t<Result>, std::vector<Tensor>>,
                  "forward must return a Tensor or a std::vector<Tensor>");
    std::remove_cvref_t<Result> result;
    {
      NoGradGuard no_grad;
      result = Derived::forward(&ctx, std::forward<Args>(args)...);
    }
    if (!record) {
      // Under NoGradGuard an input returned as is would still require grad,
      // and ops on it outside the guard would record into the input's graph:
      // hand out an alias that does not, as PyTorch does.
      if constexpr (std::is_same_v<std::remove_cvref_t<Result>, Tensor>) {
        return detail::detach_if_input(std::move(result), arguments.tensors);
      } else {
        for (auto& out : result) out = detail::detach_if_input(std::move(out), arguments.tensors);
        return result;
      }
    }

    std::vector<Tensor> outputs = detail::as_list(result);
    const std::vector<Tensor> returned = outputs;  // as forward made them, to recognise saved outputs
    std::vector<Tensor*> slots;
    for (auto& out : outputs) {
      if (!out.defined() || !out.is_floating_point()) {
        slots.push_back(nullptr);
        continue;
      }
      // An input returned as is, or an output carrying autograd state, must
      // not have it overwritten: hand out an alias instead.
      const bool is_input = std::any_of(arguments.tensors.begin(), arguments.tensors.end(),
                                        [&out](const Tensor& t) { return t.defined() && t.is_same(out); });
      if (is_input || meta_of(out)) out = make_view(out, out.shape(), Dims(out.strides()), out.storage_offset());
      slots.push_back(&out);
    }
    for (const auto& out : outputs) {
      node->output_shapes_.push_back(out.defined() ? out.shape() : Dims());
      node->output_dtypes_.push_back(out.defined() ? out.dtype() : kFloat64);
      node->output_defined_.push_back(out.defined());
    }
    attach(node, std::span<const Tensor>(arguments.tensors), std::span<Tensor* const>(slots));
    mark_custom_function_views(std::span<const Tensor>(arguments.tensors), std::span<Tensor* const>(slots));
    node->ctx_.node_ = node;
    for (const auto& t : ctx.to_save_) {
      std::size_t k = 0;
      while (k < returned.size() && !(returned[k].defined() && returned[k].is_same(t))) ++k;
      // Saving an output as an input would make it own its own grad_fn: a cycle.
      if (k < returned.size() && slots[k]) node->ctx_.saved_.emplace_back(outputs[k], true);
      else node->ctx_.saved_.emplace_back(t, false);
    }
    ctx.to_save_.clear();
    // Saved after attach (an output saved as one needs its output_nr), so
    // the pictures' list of what was saved goes to this node here, not to
    // the next op recorded on the thread.
    if (is_graph_detail_enabled()) [[unlikely]]
      node->set_saved_info(take_pending_saved_info());

    if constexpr (std::is_same_v<std::remove_cvref_t<Result>, Tensor>) return outputs[0];
    else return outputs;
  }
};

}  // namespace tg::autograd
