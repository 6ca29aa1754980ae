#include <tapegrad/autograd/views.h>

#include <span>
#include <vector>

#include <fmt/format.h>

#include <tapegrad/autograd/function.h>
#include <tapegrad/autograd/ops.h>

namespace tg::autograd {
namespace {

// For each element of `view` (row-major), the row-major index of the element
// of `base` at the same memory location. The view lies inside the base's
// memory by construction. Where several base elements share a location (a
// base made by detach() of an expanded tensor), the first one is taken: such
// a base cannot be written through a view in grad mode (check_inplace_on_view),
// so only a view's gradient is routed, to one of equal elements.
Tensor index_in_base(const Tensor& base, const Tensor& view) {
  // Storage positions of a tensor's elements, in row-major order.
  auto for_each_position = [](const Tensor& t, auto&& f) {
    const int nd = t.dim();
    const std::int64_t n = t.numel();
    Dims counter = Dims::filled(nd, 0);
    std::int64_t pos = t.storage_offset();
    for (std::int64_t i = 0; i < n; ++i) {
      f(i, pos);
      for (int d = nd - 1; d >= 0; --d) {
        if (++counter[d] < t.size(d)) {
          pos += t.stride(d);
          break;
        }
        pos -= (t.size(d) - 1) * t.stride(d);
        counter[d] = 0;
      }
    }
  };
  std::vector<std::int64_t> index(static_cast<std::size_t>(view.numel()));
  if (base.is_contiguous()) {
    // The common case, without a table as large as the base: a base element's
    // index is its distance from the base's first element.
    for_each_position(view, [&](std::int64_t i, std::int64_t pos) {
      index[static_cast<std::size_t>(i)] = pos - base.storage_offset();
    });
    return tensor(index, {view.numel()}, kInt64);
  }
  std::int64_t lo = base.storage_offset(), hi = base.storage_offset();
  if (base.numel() > 0)
    for (int d = 0; d < base.dim(); ++d) {
      const std::int64_t reach = (base.size(d) - 1) * base.stride(d);
      (reach < 0 ? lo : hi) += reach;
    }
  std::vector<std::int64_t> element_at(static_cast<std::size_t>(base.numel() > 0 ? hi - lo + 1 : 0), -1);
  for_each_position(base, [&](std::int64_t i, std::int64_t pos) {
    auto& slot = element_at[static_cast<std::size_t>(pos - lo)];
    if (slot < 0) slot = i;
  });
  for_each_position(view, [&](std::int64_t i, std::int64_t pos) {
    const std::int64_t k = pos - lo;
    if (k < 0 || k > hi - lo || element_at[static_cast<std::size_t>(k)] < 0)
      throw AutogradError(fmt::format(
          "as_strided: a view of shape {} (strides {}, offset {}) reaches memory outside its base of shape {} "
          "(strides {}, offset {})",
          shape_str(view.sizes()), shape_str(view.strides()), view.storage_offset(), shape_str(base.sizes()),
          shape_str(base.strides()), base.storage_offset()));
    index[static_cast<std::size_t>(i)] = element_at[static_cast<std::size_t>(k)];
  });
  return tensor(index, {view.numel()}, kInt64);
}

// bool [n]: true at the positions listed in `index` (int64).
Tensor mask_of(std::int64_t n, const Tensor& index) {
  Tensor mask = zeros({n}, {.dtype = kBool});
  bool* out = mask.data_ptr<bool>();
  const std::int64_t* at = index.data_ptr<std::int64_t>();
  for (std::int64_t i = 0; i < index.numel(); ++i) out[at[i]] = true;
  return mask;
}

// The view's gradient added into zeros shaped like the base, at the view's
// elements (repeats, as in an expanded view, accumulate). scatter_add's
// backward is a gather, so gradients of any order flow through it.
Tensor into_base(const Tensor& grad, const Tensor& index, const Dims& base_shape) {
  const Tensor flat = tg::reshape(grad, {grad.numel()});
  Tensor r = tg::scatter_add(zeros({base_shape.product()}, {.dtype = grad.dtype()}), 0, index, flat);
  return tg::reshape(r, base_shape);
}

// Makes `view`'s grad_fn from its base's current history.
void regenerate(const Tensor& view, const Tensor& base) {
  Tensor handle = view;  // shares view's TensorImpl: attach() sets its grad_fn
  record("as_strided", {&base}, {&handle}, [index = index_in_base(base, view)](Backward& bw) {
    // y = the base's elements at the view's memory locations;  dbase = zeros with dy added there
    bw.add(0, into_base(bw.grad(), index, bw.input_shape(0)));
  });
}

// The base's grad_fn after an in-place op on a view of it: the op's node
// (`fn`, whose input 0 is the view before the op) applied to the view's
// region of the base's gradient, the rest passed through unchanged.
class CopySlices final : public Node {
 public:
  CopySlices(std::shared_ptr<Node> fn, Tensor index, Dims view_shape)
      : fn_(std::move(fn)), index_(std::move(index)), view_shape_(std::move(view_shape)) {}

  GradList apply(GradList& grads) override {
    if (!fn_) throw_backward_twice(name());
    const Tensor& g = grads[0];
    const Dims& base_shape = input_shape(0);
    const Tensor flat = tg::reshape(g, {g.numel()});
    GradList view_grads;
    view_grads.push_back(tg::reshape(tg::index_select(flat, 0, index_), view_shape_));
    GradList fn_grads = fn_->apply(view_grads);
    GradList out(next_edges().size());
    if (needs_input_grad(0)) {
      // dbase = g outside the view; inside it, the op's gradient for the view's old value (0 if none)
      Tensor inside = fn_grads[0].defined() ? into_base(fn_grads[0], index_, {base_shape.product()})
                                            : zeros({base_shape.product()}, {.dtype = g.dtype()});
      // Made here, not kept: a loop writing rows of a large buffer would
      // otherwise keep one buffer-sized mask per row.
      const Tensor in_view = mask_of(base_shape.product(), index_);
      out[0] = tg::reshape(tg::where(in_view, inside, flat), base_shape);
    }
    for (std::size_t i = 1; i < out.size() && i < fn_grads.size(); ++i) out[i] = std::move(fn_grads[i]);
    return out;
  }
  std::string_view name() const override { return "CopySlices"; }
  void release_saved() override {
    if (fn_) fn_->release_saved();
    fn_.reset();
  }

 private:
  std::shared_ptr<Node> fn_;
  Tensor index_;  // int64 [view numel]: the base element under each view element
  Dims view_shape_;
};

}  // namespace

namespace {

using ViewKind = AutogradMeta::ViewKind;

// Why a view of kind `kind` cannot follow an in-place change made while
// grad is involved: PyTorch forbids both cases, as ambiguous (no-grad views)
// or unsupported (pieces of split and chunk).
const char* why_view_cannot_follow(ViewKind kind) {
  switch (kind) {
    case ViewKind::kNoGrad:
      return "was made with grad mode off of a tensor that requires grad; whether an in-place change should be "
             "part of its history is ambiguous, so it is forbidden (as in PyTorch). Make the view and the in-place "
             "op both under tg::NoGradGuard (not recorded) or both outside it (recorded)";
    case ViewKind::kCustomFunction:
      return "is an output of a custom autograd Function that shares memory with one of its inputs or another of "
             "its outputs (or a view of one); its backward is the Function's, which cannot account for an in-place "
             "change of either, so "
             "this is forbidden when grad is involved (as in PyTorch). Return a clone() from forward, or modify a "
             "clone() of the output";
    default:
      return "is one of the pieces returned by split, chunk or unbind (or a view of one); such views cannot follow an "
             "in-place change when grad is involved (as in PyTorch). Take the piece with narrow() or slice() "
             "instead, or build the result out of place";
  }
}

}  // namespace

void refresh_view(const Tensor& view, AutogradMeta& m) {
  const std::uint32_t version = view.version();
  if (version == m.view_version.load(std::memory_order_acquire)) return;
  // regenerate() below reads this view again on this thread: let it through.
  thread_local const AutogradMeta* refreshing = nullptr;
  if (refreshing == &m) return;
  std::lock_guard lock(m.accumulator_mutex);
  if (version == m.view_version.load(std::memory_order_relaxed)) return;  // another thread refreshed it
  if (m.view_kind != ViewKind::kPlain) {
    // A custom Function's output has a history of its own even when the
    // input it shares memory with has none.
    const bool grad_involved =
        m.view_kind == ViewKind::kCustomFunction ? m.grad_fn != nullptr : requires_grad_of(m.view_base);
    if (!is_grad_enabled() || !grad_involved) return;
    throw AutogradError(fmt::format("a view (shape {}) whose memory was modified in place since it was made {}",
                                    shape_str(view.sizes()), why_view_cannot_follow(m.view_kind)));
  }
  // A base moved to other memory since (nn::Module::to) no longer holds this
  // view's elements: its history cannot describe them.
  if (m.view_base.storage() != view.storage() && is_grad_enabled() && requires_grad_of(m.view_base))
    throw AutogradError(
        fmt::format("a view (shape {}) whose memory was modified in place since it was made no longer lies in its base "
                    "(shape {}), whose memory was replaced (nn::Module::to); make the view again from the base",
                    shape_str(view.sizes()), shape_str(m.view_base.sizes())));
  // A base that does not require grad has no history to make one from; the
  // view keeps its (empty) grad_fn.
  if (requires_grad_of(m.view_base) && m.view_base.storage() == view.storage()) {
    struct Reset {
      const AutogradMeta* previous = refreshing;
      ~Reset() { refreshing = previous; }
    } reset;
    refreshing = &m;
    regenerate(view, m.view_base);
  }
  m.view_version.store(version, std::memory_order_release);
}

void track_view(const Tensor& input, Tensor& view) {
  if (view.is_same(input) || view.storage() != input.storage() || !view.is_floating_point()) return;
  const bool grad_mode = is_grad_enabled();
  if (!grad_mode && !requires_grad_of(input)) return;
  auto* in = static_cast<AutogradMeta*>(input.impl()->autograd.get());
  const bool input_is_view = in && in->view_base.defined();
  const Tensor& base = input_is_view ? in->view_base : input;
  // A base whose memory was swapped since (nn::Module::to) no longer has
  // this view in it: the view is then an alias tracked by nothing.
  if (base.storage() != view.storage()) return;
  auto& m = ensure_meta(view);
  m.set_view(base,
             !grad_mode      ? ViewKind::kNoGrad
             : input_is_view ? in->view_kind
                             : ViewKind::kPlain,
             view.storage().get());
  m.view_version.store(view.version(), std::memory_order_relaxed);
}

void mark_multi_output_views(std::span<Tensor> pieces) {
  for (auto& piece : pieces) {
    auto* m = static_cast<AutogradMeta*>(piece.impl()->autograd.get());
    if (m && m->view_base.defined() && m->view_kind == ViewKind::kPlain)
      m->set_view(m->view_base, ViewKind::kMultiOutput, piece.storage().get());
  }
}

void mark_custom_function_views(std::span<const Tensor> inputs, std::span<Tensor* const> outputs) {
  const auto mark = [](Tensor& out, Tensor base) {
    auto& m = ensure_meta(out);
    m.set_view(std::move(base), ViewKind::kCustomFunction, out.storage().get());
    m.view_version.store(out.version(), std::memory_order_relaxed);
  };
  // Outputs sharing memory with each other (an output and a view of it, two
  // views of one temporary) share one base per memory: the whole memory, as
  // a tensor that no one else holds and that has no history.
  std::vector<Tensor> shared_bases;
  for (std::size_t i = 0; i < outputs.size(); ++i) {
    Tensor* out = outputs[i];
    if (!out || !out->defined()) continue;
    const auto input = std::find_if(inputs.begin(), inputs.end(), [&](const Tensor& in) {
      return in.defined() && in.storage() && in.storage() == out->storage();
    });
    if (input != inputs.end()) {
      const auto* in_meta = static_cast<const AutogradMeta*>(input->impl()->autograd.get());
      mark(*out, in_meta && in_meta->view_base.defined() ? in_meta->view_base : *input);
      continue;
    }
    const bool overlaps_another = std::any_of(outputs.begin(), outputs.end(), [&](const Tensor* other) {
      return other && other != out && other->defined() && other->storage() == out->storage();
    });
    if (!overlaps_another) continue;
    auto base = std::find_if(shared_bases.begin(), shared_bases.end(),
                             [&](const Tensor& b) { return b.storage() == out->storage(); });
    if (base == shared_bases.end()) {
      const auto elements = static_cast<std::int64_t>(out->storage()->nbytes() / out->element_size());
      base = shared_bases.insert(shared_bases.end(), make_view(*out, {elements}, {1}, 0));
    }
    mark(*out, *base);
  }
}

bool check_inplace_on_view(const Tensor& self, const char* op, bool any_requires_grad) {
  auto* m = static_cast<AutogradMeta*>(self.impl()->autograd.get());
  if (!m || !m->view_base.defined()) return false;
  const Tensor& base = m->view_base;
  // A no-grad view of a tensor that requires grad is refused even when
  // nothing else requires grad: in PyTorch such a view requires grad itself.
  if ((m->view_kind == ViewKind::kNoGrad && requires_grad_of(base)) ||
      ((m->view_kind == ViewKind::kMultiOutput || m->view_kind == ViewKind::kCustomFunction) && any_requires_grad))
    throw AutogradError(fmt::format("{}: the tensor being modified in place (shape {}) is a view that {}", op,
                                    shape_str(self.sizes()), why_view_cannot_follow(m->view_kind)));
  if (m->view_kind == ViewKind::kNoGrad) return false;
  const bool same_memory = base.storage() == self.storage();
  // Whether or not anything else requires grad: a view taken before its base
  // was made to require grad is still a view of that leaf (PyTorch's view
  // requires grad with its base, and this write is refused there too).
  if (same_memory && base.is_leaf() && base.requires_grad())
    throw AutogradError(fmt::format(
        "{}: a view (shape {}) of a leaf tensor that requires grad (shape {}) is being modified in place; modify "
        "the leaf under tg::NoGradGuard (as optimizers do) or work on a clone()",
        op, shape_str(self.sizes()), shape_str(base.sizes())));
  if (!any_requires_grad) return false;
  if (!same_memory)
    throw AutogradError(fmt::format(
        "{}: the tensor being modified in place (shape {}) is a view of a tensor (shape {}) whose memory was "
        "replaced since (nn::Module::to), so the view no longer lies in it; make the view again from the base",
        op, shape_str(self.sizes()), shape_str(base.sizes())));
  // The base's gradient is routed by memory location, which needs one base
  // element per location.
  for (int d = 0; d < base.dim(); ++d)
    if (base.stride(d) == 0 && base.size(d) > 1)
      throw AutogradError(fmt::format(
          "{}: the tensor being modified (shape {}) is a view of a tensor (shape {}, strides {}) that is expanded "
          "along dim {}, so its gradient cannot be routed; call clone() on that tensor first",
          op, shape_str(self.sizes()), shape_str(base.sizes()), shape_str(base.strides()), d));
  return true;
}

void keep_view_history(const Tensor& self) {
  auto* m = static_cast<AutogradMeta*>(self.impl()->autograd.get());
  if (m && m->view_base.defined()) m->view_version.store(self.version(), std::memory_order_relaxed);
}

void forget_view_history(const Tensor& operand) {
  auto* m = static_cast<AutogradMeta*>(operand.impl()->autograd.get());
  if (m && m->view_base.defined()) m->view_version.store(operand.version() - 1, std::memory_order_relaxed);
}

void rebase_view_history(const Tensor& self) {
  auto* m = static_cast<AutogradMeta*>(self.impl()->autograd.get());
  if (!m || !m->view_base.defined() || !m->grad_fn) return;
  const Tensor base = m->view_base;
  std::shared_ptr<Node> fn = m->grad_fn;
  auto copy =
      std::allocate_shared<CopySlices>(CachingAllocator<CopySlices>{}, fn, index_in_base(base, self), self.shape());
  // Inputs: the base before the op, then the op's other operands.
  auto& edges = copy->next_edges();
  auto& metas = copy->input_metas();
  edges.push_back(gradient_edge(base));
  metas.push_back({base.shape(), base.dtype()});
  for (std::size_t i = 1; i < fn->next_edges().size(); ++i) {
    edges.push_back(fn->next_edges()[i]);
    metas.push_back(fn->input_metas()[i]);
  }
  copy->set_topological_nr_from_edges();
  copy->set_sequence_nr(next_sequence_nr());
  if (is_anomaly_enabled()) copy->set_recording_site(capture_recording_frames());
  auto& bm = ensure_meta(base);
  bm.grad_fn = copy;
  bm.output_nr = 0;
  bm.requires_grad = false;
  if (bm.retains_grad) install_retain_hook(base, bm);
  m->view_version.store(self.version(), std::memory_order_relaxed);
  regenerate(self, base);
}

}  // namespace tg::autograd
