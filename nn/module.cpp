#include <tapegrad/nn/module.h>

#include <cxxabi.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <iterator>
#include <map>
#include <memory>
#include <mutex>
#include <ostream>
#include <set>
#include <typeinfo>

#include <fmt/format.h>

#include <tapegrad/autograd/grad_mode.h>
#include <tapegrad/autograd/node.h>
#include <tapegrad/autograd/ops.h>

namespace tg::nn {

namespace {

// Which parent registered which child by reference, and where a moved-out
// child's content went. C++ moves a class's base before its members, so when
// a parent moves, its Module base runs first: it takes over its entries and
// marks them pending; the moves of its members then find the pending entries
// under their old addresses and re-aim the new parent at the new members. A
// child that moves on its own (no pending entry) leaves its parents pointing
// at the moved-from object, which is given a successor: the module now
// holding its content. If the moved-from object dies while it has one (a
// std::vector of modules reallocating), its parents follow the successor; a
// child that dies with none leaves its parents' lists, so no parent ever
// holds a dangling child.
//
// The entries are keyed by address, so they must never outlive their
// objects (another module may be built at the same address). Invariants,
// kept under the mutex:
// - every object named anywhere in these tables has linked_ set, and linked_
//   is never cleared while the object lives: its destructor removes every
//   entry that names it (as child, parent, moved-from or successor);
// - `links` holds one (child, parent) entry for each by-reference entry of
//   child in parent->children_;
// - a `successors` key is still some parent's child (else it is erased: it
//   would never be followed), and is not its own successor.
struct Link {
  Module* parent;
  bool pending;  // the parent moved and this child has not moved with it yet
};
struct Tables {
  std::mutex mutex;
  std::multimap<const Module*, Link> links;     // child -> parent
  std::map<const Module*, Module*> successors;  // moved-from child -> the module holding its content
};
// One table for the process: moves are rare (construction time), and may
// happen on any thread. Never destroyed: a module with static storage
// duration (a global model) can die after any function-local static, and
// its destructor still needs the tables.
Tables& tables() {
  static auto* t = new Tables;
  return *t;
}

// Erases the links naming `parent` as the parent of its children held by
// reference (owned children are never linked). The tables' lock is held.
template <class Children>
void unlink_children(Tables& t, const Children& children, const Module* parent) {
  for (const auto& c : children) {
    if (c.owned) continue;
    auto [first, last] = t.links.equal_range(c.module);
    for (auto it = first; it != last;) it = it->second.parent == parent ? t.links.erase(it) : std::next(it);
  }
}

}  // namespace

Module::Module(Module&& other)
    : parameters_(std::move(other.parameters_)),
      buffers_(std::move(other.buffers_)),
      zero_if_missing_(std::move(other.zero_if_missing_)),
      training_(other.training_) {
  if (!other.linked_) {
    children_ = std::move(other.children_);
    other.children_.clear();
    return;
  }
  std::lock_guard lock(tables().mutex);
  children_ = std::move(other.children_);
  other.children_.clear();
  follow_move(other);
}

Module& Module::operator=(Module&& other) {
  if (this == &other) return *this;
  parameters_ = std::move(other.parameters_);
  buffers_ = std::move(other.buffers_);
  zero_if_missing_ = std::move(other.zero_if_missing_);
  training_ = other.training_;
  // Destroyed after the lock is released: an owned child's destructor takes it.
  std::vector<Child> old_children = std::move(children_);
  children_.clear();
  if (linked_ || other.linked_) {
    auto& t = tables();
    std::lock_guard lock(t.mutex);
    // The children this module had are no longer its own.
    unlink_children(t, old_children, this);
    // The content that moved into this module earlier is destroyed now: a
    // parent of the module it came from drops it when that dies.
    std::erase_if(t.successors, [this](const auto& entry) { return entry.second == this; });
    children_ = std::move(other.children_);
    other.children_.clear();
    follow_move(other);
  } else {
    children_ = std::move(other.children_);
    other.children_.clear();
  }
  return *this;
}

Module::~Module() {
  if (linked_) forget_links();
}

void Module::follow_move(const Module& from) {
  if (!from.linked_) return;
  auto& t = tables();
  // As a parent: the entries of the children it took over name it now,
  // pending until those children move too.
  for (const auto& c : children_) {
    if (c.owned) continue;
    auto [first, last] = t.links.equal_range(c.module);
    for (auto it = first; it != last; ++it)
      if (it->second.parent == &from) {
        it->second = {this, true};
        linked_ = true;
      }
  }
  // As a child moved with its parent: that parent refers to this object now,
  // for all of its entries (registered twice, once after its own move: both).
  std::vector<Module*> moved_parents;
  auto [first, last] = t.links.equal_range(&from);
  for (auto it = first; it != last; ++it)
    if (it->second.pending) moved_parents.push_back(it->second.parent);
  for (auto it = t.links.lower_bound(&from); it != t.links.end() && it->first == &from;) {
    if (std::find(moved_parents.begin(), moved_parents.end(), it->second.parent) == moved_parents.end()) {
      ++it;
      continue;
    }
    // Re-keyed in place: a node moved from one key to another allocates nothing.
    auto node = t.links.extract(it++);
    node.key() = this;
    node.mapped().pending = false;
    t.links.insert(std::move(node));
    linked_ = true;
  }
  for (Module* parent : moved_parents)
    for (auto& c : parent->children_)
      if (!c.owned && c.module == &from) c.module = this;
  // Content that had moved into `from` lives on here now.
  for (auto& entry : t.successors)
    if (entry.second == &from) {
      entry.second = this;
      linked_ = true;
    }
  if (t.links.contains(&from)) {
    // Still a child under its old address: this module is its successor.
    t.successors[&from] = this;
    linked_ = true;
  } else {
    // No parent refers to `from` any more, so nothing would follow it.
    t.successors.erase(&from);
  }
  // Moved out and back (tmp = std::move(l); l = std::move(tmp)): the content
  // is home again, and a module is never its own successor.
  if (auto self = t.successors.find(this); self != t.successors.end() && self->second == this) t.successors.erase(self);
}

void Module::forget_links() {
  auto& t = tables();
  std::lock_guard lock(t.mutex);
  // The child pointers are used as keys only: members die before the parent.
  unlink_children(t, children_, this);
  // As a child still registered in parents (which outlive their entries):
  // they follow this module's successor if it has one, else forget it.
  Module* successor = nullptr;
  if (auto s = t.successors.find(this); s != t.successors.end()) {
    successor = s->second;
    t.successors.erase(s);
  }
  std::erase_if(t.successors, [this](const auto& entry) { return entry.second == this; });
  std::vector<Module*> parents;
  auto [first, last] = t.links.equal_range(this);
  for (auto it = first; it != last; ++it) parents.push_back(it->second.parent);
  t.links.erase(this);
  for (Module* parent : parents) {
    // The successor may since have come to contain the parent (registered
    // it): following it then would make a loop, so the parent drops it.
    bool follow = successor != nullptr;
    if (follow)
      for (Module* m : successor->modules()) follow = follow && m != parent;
    if (follow) {
      for (auto& c : parent->children_)
        if (!c.owned && c.module == this) c.module = successor;
      t.links.emplace(successor, Link{parent, false});
      successor->linked_ = true;
    } else {
      std::erase_if(parent->children_, [this](const Child& c) { return !c.owned && c.module == this; });
    }
  }
}

std::string Module::type_name() const {
  const char* mangled = typeid(*this).name();
  int status = 0;
  std::unique_ptr<char, void (*)(void*)> demangled(abi::__cxa_demangle(mangled, nullptr, nullptr, &status), std::free);
  std::string name = status == 0 && demangled ? demangled.get() : mangled;
  // "ns::Net" -> "Net", as PyTorch prints the class name alone.
  const auto colon = name.rfind("::", name.find('<'));
  return colon == std::string::npos ? name : name.substr(colon + 2);
}

void Module::throw_undefined_input() const {
  throw ValueError(fmt::format("{}: the input is undefined (default-constructed or reset)", type_name()));
}

Tensor Module::forward(const Tensor&) {
  throw Error(fmt::format("{}: this module has no single-tensor forward(); call its own forward", type_name()));
}

void Module::check_new_name(const std::string& name, const char* what) const {
  if (name.empty() || name.find('.') != std::string::npos)
    throw ValueError(fmt::format("{}: {} name '{}' must be non-empty and contain no '.'", type_name(), what, name));
  auto taken = [&](const std::vector<Slot>& slots) {
    for (const auto& slot : slots)
      if (slot.name == name) return true;
    return false;
  };
  bool child_taken = false;
  for (const auto& c : children_) child_taken = child_taken || c.name == name;
  if (taken(parameters_) || taken(buffers_) || child_taken)
    throw ValueError(fmt::format("{}: the name '{}' is already registered", type_name(), name));
}

// A parameter computed from other tensors (x * 2) would never get a .grad()
// (its gradient flows on to x) and no optimizer could update it; PyTorch's
// nn.Parameter(y) makes a new leaf instead. Refused with the way out.
void Module::check_leaf(const std::string& name, const Tensor& tensor) const {
  if (tensor.defined() && !tensor.is_leaf())
    throw ValueError(
        fmt::format("{}: parameter '{}' must be a leaf tensor, got the result of {} (register "
                    "x.detach() to make a new leaf sharing its memory)",
                    type_name(), name, tensor.grad_fn_name()));
}

Tensor Module::register_parameter(const std::string& name, Tensor tensor, bool requires_grad) {
  check_new_name(name, "parameter");
  check_leaf(name, tensor);
  if (tensor.defined() && requires_grad) tensor.set_requires_grad(true);
  parameters_.push_back({name, tensor, nullptr, {}});
  return tensor;
}

Tensor Module::register_buffer(const std::string& name, Tensor tensor) {
  check_new_name(name, "buffer");
  buffers_.push_back({name, tensor, nullptr, {}});
  return tensor;
}

void Module::register_parameter_at(const std::string& name, MemberGetter at, Tensor tensor, bool requires_grad) {
  at(*this) = register_parameter(name, std::move(tensor), requires_grad);
  link_last(parameters_, std::move(at));
}

void Module::link_last(std::vector<Slot>& slots, MemberGetter getter) {
  Slot& slot = slots.back();
  slot.member = std::move(getter);
  slot.registered = slot.tensor.defined() ? slot.tensor.impl_ptr() : nullptr;
  slot.tensor = Tensor();  // the member holds it
}

void Module::throw_not_member_of(const std::string& name) const {
  throw ValueError(
      fmt::format("{}: '{}' is registered through a member pointer of a class this module is not", type_name(), name));
}

void Module::replace_parameter(const std::string& name, const Tensor& tensor) {
  check_leaf(name, tensor);
  for (auto& slot : parameters_)
    if (slot.name == name) {
      if (slot.member) {
        slot.member(*this) = tensor;
        slot.registered = tensor.defined() ? tensor.impl_ptr() : nullptr;
      } else {
        slot.tensor = tensor;
      }
      return;
    }
  throw ValueError(fmt::format("{}: no parameter named '{}'", type_name(), name));
}

void Module::add_child(const std::string& name, Module* child, std::shared_ptr<Module> owned) {
  check_new_name(name, "submodule");
  if (child == this)
    throw ValueError(fmt::format("{}: cannot register '{}': a module cannot be its own child", type_name(), name));
  // A cycle would make every recursive walk (parameters(), state_dict(),
  // repr(), ...) endless, and owned children in a cycle would never be freed.
  // The child's tree is still acyclic here, so this walk ends.
  for (const auto& [path, m] : child->named_modules())
    if (m == this)
      throw ValueError(fmt::format(
          "{}: cannot register '{}' ({}): it already contains this module (at '{}.{}'), which would make a cycle",
          type_name(), name, child->type_name(), name, path));
  const bool by_reference = !owned;
  // The entry first, then its link: a parent never has a link without the
  // entry it describes, even when an allocation throws.
  children_.push_back({name, child, std::move(owned)});
  if (!by_reference) return;
  try {
    auto& t = tables();
    std::lock_guard lock(t.mutex);
    t.links.emplace(child, Link{this, false});
    linked_ = true;
    child->linked_ = true;
  } catch (...) {
    children_.pop_back();
    throw;
  }
}

const Tensor& Module::current(const Slot& slot) const {
  // The member is this module's own: reading it does not change the module.
  return slot.member ? slot.member(const_cast<Module&>(*this)) : slot.tensor;
}

// A module's parameters, then its buffers, then its children's in turn:
// PyTorch's state_dict order (and its missing_keys').
void Module::collect(const std::string& prefix, Gather what, bool recurse,
                     std::vector<std::pair<std::string, Tensor>>& out) const {
  const auto add = [&](const std::vector<Slot>& slots) {
    for (const auto& slot : slots)
      if (const Tensor& t = current(slot); t.defined()) {
        // A member assigned the result of an op (weight = w * 2) would never
        // get a .grad(): refused when the parameters are listed, as PyTorch
        // refuses the assignment. Only a member assigned another tensor: a
        // registered parameter changed in place (an EMA update outside
        // NoGradGuard) is listed as before, as PyTorch lists it.
        if (what == Gather::kParameters && slot.member && !t.is_leaf() && slot.registered.lock().get() != t.impl())
          throw ValueError(
              fmt::format("{}: parameter '{}' was assigned the result of {}, which would never get a "
                          "gradient; assign a leaf (x.detach()) or an undefined tensor",
                          type_name(), slot.name, t.grad_fn_name()));
        out.emplace_back(prefix + slot.name, t);
      }
  };
  if (what != Gather::kBuffers) add(parameters_);
  if (what != Gather::kParameters) add(buffers_);
  if (!recurse) return;
  for (const auto& c : children_) c.module->collect(prefix + c.name + ".", what, true, out);
}

std::vector<std::pair<std::string, Tensor>> Module::named_parameters(bool recurse) const {
  std::vector<std::pair<std::string, Tensor>> out;
  collect("", Gather::kParameters, recurse, out);
  // A tensor shared by two modules (tied weights) is listed once.
  std::vector<std::pair<std::string, Tensor>> unique;
  std::set<const TensorImpl*> seen;
  for (auto& entry : out)
    if (seen.insert(entry.second.impl()).second) unique.push_back(std::move(entry));
  return unique;
}

std::vector<Tensor> Module::parameters(bool recurse) const {
  std::vector<Tensor> out;
  for (auto& [name, t] : named_parameters(recurse)) out.push_back(t);
  return out;
}

std::vector<std::pair<std::string, Tensor>> Module::named_buffers(bool recurse) const {
  std::vector<std::pair<std::string, Tensor>> out;
  collect("", Gather::kBuffers, recurse, out);
  // As parameters: a buffer reached along two paths (a submodule registered
  // twice) is listed once, at its first path, as PyTorch does.
  std::vector<std::pair<std::string, Tensor>> unique;
  std::set<const TensorImpl*> seen;
  for (auto& entry : out)
    if (seen.insert(entry.second.impl()).second) unique.push_back(std::move(entry));
  return unique;
}

std::vector<Tensor> Module::buffers(bool recurse) const {
  std::vector<Tensor> out;
  for (auto& [name, t] : named_buffers(recurse)) out.push_back(t);
  return out;
}

std::vector<Module*> Module::children() const {
  std::vector<Module*> out;
  for (const auto& [name, child] : named_children()) out.push_back(child);
  return out;
}

std::vector<std::pair<std::string, Module*>> Module::named_children() const {
  // A child registered under two names is listed once, under the first, as
  // PyTorch's named_children and our named_modules do.
  std::vector<std::pair<std::string, Module*>> out;
  for (const auto& c : children_)
    if (std::none_of(out.begin(), out.end(), [&c](const auto& seen) { return seen.second == c.module; }))
      out.emplace_back(c.name, c.module);
  return out;
}

std::vector<std::pair<std::string, Module*>> Module::named_modules() {
  std::vector<std::pair<std::string, Module*>> out;
  // Iterative pre-order walk.
  std::vector<std::pair<std::string, Module*>> stack{{"", this}};
  // A submodule registered at two paths is listed once, at its first path,
  // as PyTorch does; so train(), to() and the rest visit it once.
  std::set<const Module*> seen;
  while (!stack.empty()) {
    auto [prefix, m] = stack.back();
    stack.pop_back();
    if (!seen.insert(m).second) continue;
    out.emplace_back(prefix, m);
    for (auto it = m->children_.rbegin(); it != m->children_.rend(); ++it)
      stack.emplace_back(prefix.empty() ? it->name : prefix + "." + it->name, it->module);
  }
  return out;
}

std::vector<Module*> Module::modules() {
  std::vector<Module*> out;
  for (auto& [name, m] : named_modules()) out.push_back(m);
  return out;
}

void Module::train(bool on) {
  for (Module* m : modules()) m->training_ = on;
}

void Module::zero_grad(bool set_to_none) { autograd::zero_grad(parameters(), set_to_none); }

Module& Module::requires_grad_(bool requires_grad) {
  for (auto& t : parameters()) t.set_requires_grad(requires_grad);
  return *this;
}

Module& Module::apply(const std::function<void(Module&)>& fn) {
  require_function(fn, type_name() + ".apply", "the function");
  for (Module* child : children()) child->apply(fn);
  fn(*this);
  return *this;
}

void Module::to(DType dtype) {
  // As PyTorch's Module.to: only floating dtypes, since integer parameters
  // could not be trained (and buffers would lose their fractions).
  if (!is_floating(dtype))
    throw DTypeError(fmt::format("{}.to: only floating dtypes ({}) are accepted, got {}", type_name(),
                                 kFloatingDTypeNames, dtype_name(dtype)));
  NoGradGuard no_grad;
  auto convert = [dtype](Tensor t) {
    if (!t.defined() || !t.is_floating_point() || t.dtype() == dtype) return;
    // Swap the data inside the shared TensorImpl, so every handle (the
    // module's member, the registry, an optimizer's list) sees the change.
    Tensor converted = t.to(dtype).contiguous();
    // The gradient follows, as PyTorch's Module.to converts param.grad too.
    const Tensor grad = t.grad().defined() ? t.grad().to(dtype).contiguous() : Tensor();
    TensorImpl* impl = t.impl();
    // Its own memory from now on: no longer a view following a base's, and
    // the views of it left in the old memory follow nothing there.
    if (auto* m = static_cast<autograd::AutogradMeta*>(impl->autograd.get()))
      m->set_view(Tensor(), autograd::AutogradMeta::ViewKind::kPlain, nullptr);
    impl->storage->forget_followers();
    converted.storage()->continue_versions_of(*impl->storage);
    impl->storage = converted.storage();
    impl->dtype = dtype;
    impl->offset = converted.storage_offset();
    impl->strides = Dims(converted.strides());
    if (grad.defined()) t.mutable_grad() = grad;
  };
  for (auto& t : parameters()) convert(t);
  for (auto& t : buffers()) convert(t);
}

StateDict Module::state_dict() const {
  StateDict out;
  std::vector<std::pair<std::string, Tensor>> all;
  collect("", Gather::kBoth, true, all);
  for (auto& [name, t] : all) out.emplace(name, t.detach());
  return out;
}

IncompatibleKeys Module::load_state_dict(const StateDict& state, bool strict) {
  std::vector<std::pair<std::string, Tensor>> own;
  collect("", Gather::kBoth, true, own);
  std::set<std::string> optional;
  for (const auto& [path, m] : named_modules())
    for (const std::string& n : m->zero_if_missing_) optional.insert(path.empty() ? n : path + "." + n);
  std::vector<std::string> missing, unexpected, mismatched;
  std::vector<Tensor> zeroed;
  std::set<std::string> own_names;
  for (const auto& [name, t] : own) {
    own_names.insert(name);
    auto it = state.find(name);
    if (it == state.end()) {
      if (optional.contains(name)) zeroed.push_back(t);
      else missing.push_back(name);
    } else if (!it->second.defined() || it->second.shape() != t.shape()) {
      mismatched.push_back(fmt::format("{}: expected shape {}, got {}", name, shape_str(t.sizes()),
                                       it->second.defined() ? shape_str(it->second.sizes()) : "undefined"));
    }
  }
  for (const auto& [name, t] : state)
    if (!own_names.contains(name)) unexpected.push_back(name);
  // A shape mismatch fails in either mode, as PyTorch's (which raises after
  // copying what matched; this loads nothing).
  const bool bad = !mismatched.empty() || (strict && (!missing.empty() || !unexpected.empty()));
  if (bad) {
    std::string msg = fmt::format("{}: load_state_dict failed; nothing was loaded", type_name());
    if (!missing.empty()) msg += fmt::format("\n  missing keys: {}", fmt::join(missing, ", "));
    if (!unexpected.empty()) msg += fmt::format("\n  unexpected keys: {}", fmt::join(unexpected, ", "));
    if (!mismatched.empty()) msg += fmt::format("\n  shape mismatches: {}", fmt::join(mismatched, "; "));
    if (!mismatched.empty()) throw ShapeError(msg);
    throw ValueError(msg);
  }
  NoGradGuard no_grad;
  for (auto& [name, t] : own) {
    auto it = state.find(name);
    if (it != state.end()) t.copy_(it->second);
  }
  for (Tensor& t : zeroed) t.zero_();
  return {std::move(missing), std::move(unexpected)};
}

void Module::repr_into(std::string& out, int indent) const {
  const std::string pad(static_cast<std::size_t>(indent + 2), ' ');
  out += type_name() + "(";
  // As PyTorch: a one-line extra_repr and no children stay on one line;
  // otherwise each of its lines, then each child, on a line of its own.
  const std::string extra = extra_repr();
  if (children_.empty() && extra.find('\n') == std::string::npos) {
    out += extra + ")";
    return;
  }
  out += "\n";
  if (!extra.empty())
    for (std::size_t begin = 0; begin <= extra.size();) {
      const std::size_t end = std::min(extra.find('\n', begin), extra.size());
      out += pad + extra.substr(begin, end - begin) + "\n";
      begin = end + 1;
    }
  for (const auto& c : children_) {
    out += pad + "(" + c.name + "): ";
    c.module->repr_into(out, indent + 2);
    out += "\n";
  }
  out += std::string(static_cast<std::size_t>(indent), ' ') + ")";
}

std::string Module::repr() const {
  std::string out;
  repr_into(out, 0);
  return out;
}

std::ostream& operator<<(std::ostream& os, const Module& module) { return os << module.repr(); }

namespace detail {
std::string py_float(double v) {
  // Python writes a whole float with ".0" below 1e16 and in exponent form past it.
  if (std::isfinite(v) && v == std::floor(v) && std::fabs(v) < 1e16) return fmt::format("{:.1f}", v);
  return fmt::format("{}", v);
}
const char* py_bool(bool b) { return b ? "True" : "False"; }
}  // namespace detail

}  // namespace tg::nn
