// The autograd members of tg::Tensor.
#include <mutex>

#include <fmt/format.h>

#include <tapegrad/autograd/engine.h>
#include <tapegrad/autograd/function.h>
#include <tapegrad/autograd/ops.h>

namespace tg {

using autograd::ensure_meta;
using autograd::meta_of;

namespace {
// The autograd entry points that change state refuse an undefined tensor
// with a message instead of dereferencing nothing.
void require_defined(const Tensor& t, const char* op) {
  if (!t.defined()) throw AutogradError(fmt::format("{}: the tensor is undefined (default-constructed or reset)", op));
}
}  // namespace

bool Tensor::requires_grad() const { return autograd::requires_grad_of(*this); }

Tensor& Tensor::set_requires_grad(bool requires_grad) {
  require_defined(*this, "set_requires_grad");
  auto* m = meta_of(*this);
  if (m && m->grad_fn) {
    if (!requires_grad)
      throw AutogradError(
          "set_requires_grad: cannot turn off requires_grad on a non-leaf tensor; use detach() to get a tensor "
          "without history");
    return *this;
  }
  if (requires_grad && !is_floating_point())
    throw DTypeError(fmt::format("set_requires_grad: only floating-point tensors can require gradients, got {}",
                                 dtype_name(dtype())));
  // A leaf view that requires grad stops following its base: a node saving
  // it (a leaf is saved as itself) would otherwise own the base, whose
  // history may come to own that node.
  if (requires_grad && m) m->set_view(Tensor(), autograd::AutogradMeta::ViewKind::kPlain, nullptr);
  if (requires_grad || m) ensure_meta(*this).requires_grad = requires_grad;
  return *this;
}

const Tensor& Tensor::grad() const {
  static const Tensor undefined;
  auto* m = meta_of(*this);
  return m ? m->grad : undefined;
}

Tensor& Tensor::mutable_grad() {
  require_defined(*this, "mutable_grad");
  return ensure_meta(*this).grad;
}

void Tensor::set_grad(const Tensor& grad) const {
  require_defined(*this, "set_grad");
  if (grad.defined() && (grad.shape() != shape() || grad.dtype() != dtype()))
    throw AutogradError(
        fmt::format("set_grad: expected a gradient of shape {} and dtype {} (the tensor's), got shape {} and dtype {}",
                    shape_str(sizes()), dtype_name(dtype()), shape_str(grad.sizes()), dtype_name(grad.dtype())));
  ensure_meta(*this).grad = grad;
}

void autograd::zero_grad(std::span<const Tensor> tensors, bool set_to_none) {
  for (Tensor t : tensors) {  // a handle copy: mutable_grad() needs a non-const one
    if (!t.defined() || !t.grad().defined()) continue;
    if (set_to_none) {
      t.mutable_grad().reset();
    } else {
      NoGradGuard no_grad;
      t.mutable_grad() = t.grad().detach();
      t.mutable_grad().zero_();
    }
  }
}

bool Tensor::is_leaf() const {
  auto* m = meta_of(*this);
  return !m || !m->grad_fn;
}

std::shared_ptr<autograd::Node> Tensor::grad_fn() const {
  auto* m = meta_of(*this);
  return m ? m->grad_fn : nullptr;
}

std::string_view Tensor::grad_fn_name() const {
  auto* m = meta_of(*this);
  return m && m->grad_fn ? m->grad_fn->name() : std::string_view();
}

// `self` owns this state; going through its Tensor refreshes a view's history
// first, as every other query does.
bool autograd::AutogradMeta::requires_grad_for(const TensorBase& self) { return Tensor(self).requires_grad(); }
std::string_view autograd::AutogradMeta::grad_fn_name_for(const TensorBase& self) {
  return Tensor(self).grad_fn_name();
}

std::uint32_t Tensor::output_nr() const {
  auto* m = meta_of(*this);
  return m ? m->output_nr : 0;
}

void Tensor::backward(const Tensor& gradient, bool retain_graph, bool create_graph,
                      const std::vector<Tensor>& inputs) const {
  require_defined(*this, "backward");
  tg::backward({*this}, gradient.defined() ? std::vector<Tensor>{gradient} : std::vector<Tensor>{}, retain_graph,
               create_graph, inputs);
}

void Tensor::retain_grad() const {
  require_defined(*this, "retain_grad");
  if (!requires_grad()) throw AutogradError("retain_grad: the tensor does not require grad");
  if (is_leaf()) return;  // leaves keep their grad anyway
  auto& m = ensure_meta(*this);
  if (m.retains_grad) return;
  m.retains_grad = true;
  autograd::install_retain_hook(*this, m);
}

void autograd::install_retain_hook(const Tensor& t, AutogradMeta& m) {
  std::weak_ptr<TensorImpl> weak = t.impl_ptr();
  const Node* fn = m.grad_fn.get();
  const std::uint32_t nr = m.output_nr;
  // Under the node's lock, as the engine runs its hooks (recursive: a hook
  // running on this thread may register another).
  std::lock_guard lock(m.grad_fn->mutex());
  m.grad_fn->output_hooks().emplace_back(nr, [weak, fn, nr](const Tensor& g) {
    auto impl = weak.lock();
    if (!impl) return Tensor();
    const Tensor self(impl);
    auto& meta = ensure_meta(self);
    // An older grad_fn of self (before an in-place op): its gradient is not
    // the current value's.
    if (meta.grad_fn.get() != fn || meta.output_nr != nr) return Tensor();
    // tg::clone and tg::add are recorded under create_graph, so the retained
    // gradient can be differentiated again (a gradient penalty), as PyTorch's.
    meta.grad = meta.grad.defined() ? tg::add(meta.grad, g) : tg::clone(g);
    return Tensor();
  });
}

bool Tensor::retains_grad() const {
  auto* m = meta_of(*this);
  return m && m->retains_grad;
}

unsigned Tensor::register_hook(std::function<Tensor(const Tensor&)> hook) const {
  require_defined(*this, "register_hook");
  require_function<AutogradError>(hook, "register_hook", "the hook");
  if (!requires_grad())
    throw AutogradError("register_hook: cannot register a hook on a tensor that does not require grad");
  auto& m = ensure_meta(*this);
  if (m.grad_fn) {
    std::lock_guard lock(m.grad_fn->mutex());  // as the engine runs the node's hooks
    auto& hooks = m.grad_fn->output_hooks();
    hooks.emplace_back(m.output_nr, std::move(hook));
    return static_cast<unsigned>(hooks.size() - 1);
  }
  // A leaf's hooks run in its AccumulateGrad under that node's lock, maybe
  // on another thread's backward right now: added under it too.
  const std::shared_ptr<autograd::Node> acc = autograd::gradient_edge(*this).fn;
  std::lock_guard lock(acc->mutex());
  m.hooks.push_back(std::move(hook));
  return static_cast<unsigned>(m.hooks.size() - 1);
}

void Tensor::remove_hook(unsigned position) const {
  require_defined(*this, "remove_hook");
  auto* m = meta_of(*this);
  // A removed hook stays in its list, emptied, so later positions keep
  // their meaning; the engine skips empty hooks.
  autograd::TensorHook* hook = nullptr;
  std::unique_lock<autograd::LogicalThreadMutex> lock;
  if (m && m->grad_fn) {
    lock = std::unique_lock(m->grad_fn->mutex());
    auto& hooks = m->grad_fn->output_hooks();
    if (position < hooks.size() && hooks[position].first == m->output_nr) hook = &hooks[position].second;
  } else if (m && m->requires_grad) {  // a leaf's hooks: only one that requires grad has any
    lock = std::unique_lock(autograd::gradient_edge(*this).fn->mutex());  // as register_hook
    if (position < m->hooks.size()) hook = &m->hooks[position];
  }
  if (!hook || !*hook)
    throw AutogradError(fmt::format("remove_hook: this tensor (shape {}) has no hook at position {}{}",
                                    shape_str(sizes()), position, hook ? " (it was removed already)" : ""));
  *hook = nullptr;
}

void Tensor::register_post_accumulate_grad_hook(std::function<void(const Tensor&)> hook) const {
  require_defined(*this, "register_post_accumulate_grad_hook");
  require_function<AutogradError>(hook, "register_post_accumulate_grad_hook", "the hook");
  if (!requires_grad())
    throw AutogradError(fmt::format("register_post_accumulate_grad_hook: the tensor (shape {}) does not require grad",
                                    shape_str(sizes())));
  auto& m = ensure_meta(*this);
  if (m.grad_fn)
    throw AutogradError(fmt::format(
        "register_post_accumulate_grad_hook: the tensor (shape {}) is not a leaf (it has grad_fn {}); only leaves "
        "accumulate gradients",
        shape_str(sizes()), m.grad_fn->name()));
  const std::shared_ptr<autograd::Node> acc = autograd::gradient_edge(*this).fn;  // as register_hook
  std::lock_guard lock(acc->mutex());
  m.post_accumulate_hooks.push_back(std::move(hook));
}

Tensor Tensor::detach() const {
  require_defined(*this, "detach");
  return make_view(*this, shape(), Dims(strides()), storage_offset());
}

Tensor& Tensor::detach_() {
  require_defined(*this, "detach_");
  auto* m = meta_of(*this);
  if (!m) return *this;  // never tracked: nothing to drop
  if (m->view_base.defined())
    throw AutogradError(fmt::format(
        "detach_: this tensor (shape {}) is a view of another tensor and cannot be detached in place; use detach()",
        shape_str(sizes())));
  // The old grad_fn keeps its retain hook, which checks that grad_fn is
  // still this tensor's before writing .grad(): it stops writing.
  m->grad_fn.reset();
  m->output_nr = 0;
  m->requires_grad = false;
  m->retains_grad = false;
  return *this;
}

}  // namespace tg
