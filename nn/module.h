#pragma once
/// @file
/// tg::nn::Module: a model is a plain class whose members are tensors and
/// submodules, registered once by name in the constructor:
///
/// @code
/// struct Net : tg::nn::Module {
///   tg::nn::Linear fc1{784, 32}, fc2{32, 10};
///   Net() { register_module("fc1", fc1); register_module("fc2", fc2); }
///   tg::Tensor forward(const tg::Tensor& x) { return fc2(tg::relu(fc1(x))); }
/// };
/// @endcode
///
/// Parameters and buffers are tensor handles: the member and the registry
/// alias one tensor, so loading a state dict or converting the dtype changes
/// the member too. Modules move (copying is disabled): the submodules a module
/// registered by reference move with it, so a moved Net refers to its own new
/// members, and Net can live in a std::vector, a ModuleList or a Sequential
/// (docs/modules.md explains the design).
///
/// A module whose forward takes several inputs derives from Callable<Self> to
/// be called as `block(x, mask)`:
///
/// @code
/// struct Block : tg::nn::Callable<Block> {
///   using Module::forward;  // keeps Clang's -Woverloaded-virtual quiet
///   tg::Tensor forward(const tg::Tensor& x, const tg::Tensor& mask);
/// };
/// @endcode
#include <concepts>
#include <functional>
#include <iosfwd>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include <tapegrad/autograd/tensor.h>

namespace tg::nn {

/// Parameters and buffers by dotted name ("fc1.weight"), as PyTorch's state_dict().
using StateDict = std::map<std::string, Tensor>;

/// The keys a non-strict Module::load_state_dict left aside, as PyTorch's
/// `_IncompatibleKeys(missing_keys, unexpected_keys)`: both empty when every
/// key matched (and always after a strict load, which throws otherwise).
struct IncompatibleKeys {
  /// The module's parameters and buffers the state lacks (they keep their
  /// values), in PyTorch's order: each module's parameters, then its buffers,
  /// then its children's, depth first.
  std::vector<std::string> missing_keys;
  /// The state's keys that name nothing in the module (ignored), sorted.
  std::vector<std::string> unexpected_keys;
  /// Whether both lists are empty.
  bool empty() const { return missing_keys.empty() && unexpected_keys.empty(); }
  /// Equal lists.
  friend bool operator==(const IncompatibleKeys&, const IncompatibleKeys&) = default;
};

/// The base of every layer and model, as torch.nn.Module: see the description
/// of module.h.
class Module {
 public:
  Module() = default;
  virtual ~Module();
  Module(const Module&) = delete;
  Module& operator=(const Module&) = delete;
  /// Moves the module; the submodules it registered by reference that are
  /// its members move with it, and its parents keep a valid child (see
  /// docs/modules.md). Copying is disabled.
  ///@{
  Module(Module&& other);
  Module& operator=(Module&& other);
  ///@}

  /// Single-tensor forward, for modules that have one (Sequential calls it);
  /// `m(x)` calls it, and refuses an undefined x with a tg::ValueError naming
  /// the module. The base's forward throws tg::Error: override it.
  ///@{
  virtual Tensor forward(const Tensor& input);
  Tensor operator()(const Tensor& input) {
    if (!input.defined()) throw_undefined_input();
    return forward(input);
  }
  ///@}
  /// Any other arguments need the module's own type to reach its forward,
  /// which this base cannot know in C++20: Callable<Self> supplies it.
  template <class... Args>
  requires(sizeof...(Args) != 1) void operator()(Args&&...) {
    static_assert(sizeof...(Args) == 1,
                  "a module whose forward takes several inputs derives from tg::nn::Callable<ItsType> "
                  "to be called as m(x, mask)");
  }

  /// What printing shows: the type name and the text inside its parentheses. The name is "Linear" (by
  /// default the C++ class name without its namespaces), the text "in_features=784, out_features=32, bias=True".
  ///@{
  virtual std::string type_name() const;
  virtual std::string extra_repr() const { return {}; }
  ///@}

  /// The registered parameters, buffers and direct submodules, in registration order.
  /// The named_ forms give their dotted names ("fc1.weight"); with recurse=false only this module's own.
  ///@{
  std::vector<Tensor> parameters(bool recurse = true) const;
  std::vector<std::pair<std::string, Tensor>> named_parameters(bool recurse = true) const;
  std::vector<Tensor> buffers(bool recurse = true) const;
  std::vector<std::pair<std::string, Tensor>> named_buffers(bool recurse = true) const;
  std::vector<Module*> children() const;
  std::vector<std::pair<std::string, Module*>> named_children() const;
  ///@}
  /// This module and all below it, depth first, parents before children. A
  /// submodule registered at two paths is listed once, at the first (so are
  /// parameters and buffers), as in PyTorch.
  ///@{
  std::vector<Module*> modules();
  std::vector<std::pair<std::string, Module*>> named_modules();
  ///@}

  /// Training mode (on by default) for this module and all below it. Dropout
  /// drops and batch norm uses batch statistics; eval() is train(false).
  ///@{
  void train(bool on = true);
  void eval() { train(false); }
  bool is_training() const { return training_; }
  ///@}

  /// Drops (set_to_none, PyTorch 2's default; 1.13's was false) or zeroes every parameter's .grad().
  void zero_grad(bool set_to_none = true);
  /// Sets requires_grad on every parameter of the tree (freezing it with
  /// false), as torch's Module.requires_grad_. @returns *this
  Module& requires_grad_(bool requires_grad = true);
  /// Calls `fn` on every submodule (depth first) and then on this module, as
  /// torch's Module.apply (a custom initialisation, say). @returns *this
  Module& apply(const std::function<void(Module&)>& fn);
  /// Converts every floating parameter and buffer in place, and a parameter's
  /// .grad() with it (as PyTorch's). Only floating dtypes (DTypeError
  /// otherwise). Optimizers keep working: they hold the same tensors and
  /// convert their state at the next step.
  void to(DType dtype);

  /// Every parameter and buffer by dotted name (the tensors themselves, not copies).
  StateDict state_dict() const;
  /// Copies `state`'s tensors into the parameters and buffers of the same
  /// names (converting the dtype), as PyTorch's load_state_dict. Strict:
  /// missing keys, unexpected keys and shape mismatches are reported together
  /// in one ValueError/ShapeError, and nothing is changed unless all match.
  /// Non-strict loads the keys that match and returns the others; a shape
  /// mismatch (or an undefined tensor) is still a ShapeError, as in PyTorch,
  /// and then nothing is loaded. A BatchNorm's num_batches_tracked may be
  /// omitted in either mode: it is then zeroed and not reported as missing.
  /// @returns the missing and unexpected keys (both empty after a strict load).
  /// @throws tg::ValueError (strict: missing or unexpected keys) or
  ///   tg::ShapeError (any mode: a shape mismatch), listing every mismatch.
  IncompatibleKeys load_state_dict(const StateDict& state, bool strict = true);

  /// The module tree, as PyTorch prints it.
  std::string repr() const;

 protected:
  /// Registers a parameter or a buffer under `name`. A parameter is trained (in parameters()), a
  /// buffer is state that is saved but not trained, such as running statistics.
  /// Returns the registered tensor (the same handle the caller should keep).
  /// @throws tg::ValueError for a name already used, empty or dotted, or a
  ///   parameter that is not a leaf (the result of an op: register x.detach()).
  ///@{
  Tensor register_parameter(const std::string& name, Tensor tensor, bool requires_grad = true);
  Tensor register_buffer(const std::string& name, Tensor tensor);
  ///@}
  /// Registers a member (`&Net::weight`) as a parameter or buffer under
  /// `name` and sets it to `tensor`. The registry then reads the member
  /// itself, so assigning it later, as PyTorch's `head.weight =
  /// tok.weight` ties two layers, is what parameters(), state_dict() and
  /// save see; with the other form the registry keeps the first handle.
  /// The layers with named parameter members (Linear, Conv*, Embedding, the
  /// normalizations, the RNN cells, MultiheadAttention) register them this way.
  /// @throws as the other form
  ///@{
  template <class M>
  void register_parameter(const std::string& name, Tensor M::*member, Tensor tensor, bool requires_grad = true) {
    check_member_of<M>(name);
    static_cast<M&>(*this).*member = register_parameter(name, std::move(tensor), requires_grad);
    link_last(parameters_, member_getter(member));
  }
  template <class M>
  void register_buffer(const std::string& name, Tensor M::*member, Tensor tensor) {
    check_member_of<M>(name);
    static_cast<M&>(*this).*member = register_buffer(name, std::move(tensor));
    link_last(buffers_, member_getter(member));
  }
  ///@}
  /// As the member form, for a tensor held inside a member (an RNN's list
  /// of weights, all_weights[l][k]): `at` reaches it in this module, and the
  /// registry reads it there, so assigning it is seen as for a member.
  void register_parameter_at(const std::string& name, std::function<Tensor&(Module&)> at, Tensor tensor,
                             bool requires_grad = true);
  /// Lets a state dict omit the registered buffer `name`: load_state_dict then
  /// sets it to zero, as PyTorch does for BatchNorm's num_batches_tracked,
  /// which checkpoints of older PyTorch versions lack.
  void zero_if_missing(const std::string& name) { zero_if_missing_.push_back(name); }
  /// A submodule that is a member of this object (not owned). It moves with
  /// this module; moved out alone it stays registered where it was (the
  /// moved-from object) until that dies, and the parent then follows it to
  /// where it moved, or drops it if it is gone (docs/modules.md). Registering
  /// this module itself, or one that already contains it, is a ValueError:
  /// the tree may share submodules but never loop.
  template <class M>
  M& register_module(const std::string& name, M& child) {
    add_child(name, &child, nullptr);
    return child;
  }
  /// A submodule owned by this module.
  template <class M>
  std::shared_ptr<M> register_module(const std::string& name, std::shared_ptr<M> child) {
    add_child(name, child.get(), child);
    return child;
  }
  /// Replaces a registered parameter's tensor (same name), e.g. after resizing.
  void replace_parameter(const std::string& name, const Tensor& tensor);
  /// The ValueError for calling a module on an undefined input, naming its
  /// type (the ops inside would not say which module it was).
  [[noreturn]] void throw_undefined_input() const;

 private:
  struct Child {
    std::string name;
    Module* module;
    std::shared_ptr<Module> owned;
  };
  void add_child(const std::string& name, Module* child, std::shared_ptr<Module> owned);
  void check_new_name(const std::string& name, const char* what) const;
  void check_leaf(const std::string& name, const Tensor& tensor) const;
  // Which registered tensors collect() gathers.
  enum class Gather { kParameters, kBuffers, kBoth };
  void collect(const std::string& prefix, Gather what, bool recurse,
               std::vector<std::pair<std::string, Tensor>>& out) const;
  void repr_into(std::string& out, int indent) const;
  // Keeps the by-reference bookkeeping (module.cpp) true when this object
  // takes `from`'s content: parents that moved follow their moving members,
  // and a child moved out alone becomes its old object's successor. Called
  // with the tables' lock held.
  void follow_move(const Module& from);
  // Removes every entry naming this dying module; its parents follow its
  // successor, if it has one, or drop it.
  void forget_links();

  // A registered tensor: its name, its handle, and for a member registered
  // as one (register_parameter(name, &M::member, ...)) how to reach that
  // member in this module, which then holds the current tensor (the slot
  // keeps no handle of its own: a tied-away weight is freed), and which
  // tensor was registered there (weakly: expired once replaced and freed).
  using MemberGetter = std::function<Tensor&(Module&)>;
  struct Slot {
    std::string name;
    Tensor tensor;
    MemberGetter member;
    std::weak_ptr<TensorImpl> registered;
  };
  template <class M>
  static MemberGetter member_getter(Tensor M::*member) {
    return [member](Module& m) -> Tensor& { return static_cast<M&>(m).*member; };
  }
  static void link_last(std::vector<Slot>& slots, MemberGetter getter);
  // A member pointer of a class this module is not would make every read of
  // it undefined: refused when registered.
  template <class M>
  void check_member_of(const std::string& name) const {
    if (dynamic_cast<const M*>(this) == nullptr) throw_not_member_of(name);
  }
  [[noreturn]] void throw_not_member_of(const std::string& name) const;
  // The slot's current tensor: its member's, if it has one.
  const Tensor& current(const Slot& slot) const;

  std::vector<Slot> parameters_;
  std::vector<Slot> buffers_;
  std::vector<std::string> zero_if_missing_;  ///< buffers a loaded state may omit (see zero_if_missing)
  std::vector<Child> children_;
  bool training_ = true;
  // Whether this object was ever named in the by-reference tables (as a
  // parent, a child or a successor). Never cleared while it lives, so its
  // destructor always removes what names it; most modules never are, and
  // skip the tables' lock on destruction.
  bool linked_ = false;
};

/// A module called with its forward's own arguments: `m(x, mask)`,
/// `lstm(x, {h0, c0})`. Self is the deriving class (CRTP).
template <class Self>
class Callable : public Module {
 public:
  /// Calls Self::forward with these arguments.
  /// Calls Self::forward with these arguments (unchecked: a forward of
  /// several inputs may take an undefined one as "none").
  template <class... Args>
  decltype(auto) operator()(Args&&... args) {
    return static_cast<Self&>(*this).forward(std::forward<Args>(args)...);
  }
};

/// Prints repr(): `std::cout << model` or `fmt::format("{}", model)`.
std::ostream& operator<<(std::ostream& os, const Module& module);

namespace detail {
/// Python's repr of a float option in extra_repr: 1.0, 0.5, 1e-05, 1e+20.
std::string py_float(double v);
/// Python's spelling of a bool: True, False.
const char* py_bool(bool b);
}  // namespace detail

}  // namespace tg::nn

/// @cond FMT_SPECIALIZATIONS
// fmt's formatter for modules (Doxygen cannot place it in fmt).
template <class M, class Char>
requires std::derived_from<M, tg::nn::Module>
struct fmt::formatter<M, Char> : fmt::formatter<std::string_view, Char> {
  template <class Context>
  auto format(const M& module, Context& ctx) const {
    return fmt::formatter<std::string_view, Char>::format(module.repr(), ctx);
  }
};
/// @endcond
