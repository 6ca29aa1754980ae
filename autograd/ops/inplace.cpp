// The in-place Tensor members: add_, sub_, mul_, div_, zero_, fill_, copy_,
// clamp_, relu_, masked_fill_, and detail::assign_result_, which makes the
// others (exp_, pow_, lerp_, ...) from their out-of-place ops (inplace_math.cpp).
//
// Every one bumps the storage's version counter, so a tensor saved for
// backward and modified afterwards is caught when backward unpacks it. Our
// own nodes save copies where they must read a value they overwrite (mul_
// and div_ keep the old self when the other operand needs a gradient), so
// modifying the result again in place before backward is allowed, as in
// PyTorch.
//
// With grad mode on:
// - a leaf that requires grad cannot be modified (its .grad would describe a
//   value that no longer exists); optimizers update under NoGradGuard;
// - a tensor that requires grad, or whose other operand does, is "rebased" as
//   in PyTorch: a node for the in-place op is recorded with edges to the
//   tensor's previous grad_fn and to the other operand, and becomes the
//   tensor's grad_fn;
// - a view of a tensor in a graph is modified as in PyTorch: the op is
//   recorded on the view, then the base's history is rewritten through a
//   CopySlices node, and every view of the base sees the change
//   (autograd/views.h). A view of a leaf that requires grad, and a view made
//   with grad mode off of a tensor that requires grad, cannot be modified;
// - a tensor that does not require grad and shares its memory with tensors
//   that do not follow its history (ones made by detach(), views made with
//   grad mode off, pieces of split and chunk, a custom Function's outputs, a
//   copy saved for backward) cannot take a value that requires grad: their
//   histories would be wrong. The other views made with grad mode on follow
//   (as in PyTorch): they remake their grad_fn from the base's.
#include <string_view>

#include <fmt/format.h>

#include <tapegrad/autograd/function.h>
#include <tapegrad/autograd/grad_mode.h>
#include <tapegrad/autograd/ops.h>
#include <tapegrad/autograd/views.h>
#include <tapegrad/core/kernels/copy.h>
#include <tapegrad/core/kernels/inplace.h>
#include <tapegrad/core/profiler.h>

namespace tg {
namespace {

using autograd::Backward;
using autograd::SavedTensor;

// Another live tensor sees this memory and would not follow a change of its
// history (one made by detach(), a view made with grad mode off, a piece of
// split, a copy saved for backward, a leaf view that requires grad): every
// sharer of the storage but `t` and the followers, the plain views that remake
// their history from their base's (autograd/views.h, Storage::followers). `t`
// may be a follower itself. Both counts are relaxed loads, which the
// language does not order: a view made or dropped on another thread while
// this runs may be miscounted either way, but making or dropping a view of
// memory that is being written in place is a race in the caller's program
// already.
bool memory_has_untracked_alias(const Tensor& t) {
  const auto* m = static_cast<const autograd::AutogradMeta*>(t.impl()->autograd.get());
  const long sharers = t.storage().use_count() - 1;
  const long followers = t.storage()->followers();
  const long self_follows = m && m->followed_storage == t.storage().get() ? 1 : 0;
  return sharers > followers - self_follows;
}

// Checks whether the in-place op `op` on `self` may run with grad mode as it
// is, and says whether it must be recorded.
bool must_record(const Tensor& self, const char* op, std::initializer_list<const Tensor*> others = {}) {
  // Refused as every op refuses it, before the checks below read its autograd
  // state (an undefined self crashed them).
  for (const Tensor* t : others)
    if (!t->defined()) throw Error(fmt::format("{}: an operand is undefined (default-constructed or reset)", op));
  if (!self.defined())
    throw Error(fmt::format("{}: the tensor being modified is undefined (default-constructed or reset)", op));
  if (!is_grad_enabled()) return false;
  const auto* m = autograd::meta_of(self);
  if (m && !m->grad_fn && m->requires_grad)
    throw AutogradError(fmt::format(
        "{}: a leaf tensor that requires grad (shape {}) cannot be modified in place while grad mode is on; "
        "modify it under tg::NoGradGuard (as optimizers do) or work on a clone()",
        op, shape_str(self.sizes())));
  const bool self_requires = autograd::requires_grad_of(self);
  bool other_requires = false;
  for (const Tensor* o : others) other_requires = other_requires || autograd::requires_grad_of(*o);
  // A view of a tensor in a graph: recorded, then the base's history is rewritten.
  if (autograd::check_inplace_on_view(self, op, self_requires || other_requires)) return true;
  if (!self_requires && !other_requires) return false;
  if (!self_requires && memory_has_untracked_alias(self))
    throw AutogradError(fmt::format(
        "{}: the tensor being modified (shape {}) does not require grad but shares its memory with another tensor "
        "that does not follow its history (one made by detach(), a view made with grad mode off, a leaf view that "
        "requires grad, or a copy saved for backward); writing a value that requires grad into it would leave the "
        "other tensor's history wrong. Call clone() first",
        op, shape_str(self.sizes())));
  return true;
}

// Records the in-place op's node as self's grad_fn, with edges to `inputs`
// (self's history before the op and the other operands, or for
// assign_result_ the out-of-place result); for a view, then rewrites its
// base's history (autograd/views.h). Every input or other `operand` that is
// a view of self's memory is made stale.
template <class F>
void record_inplace(const char* op, std::initializer_list<const Tensor*> inputs, Tensor& self, F&& backward,
                    std::initializer_list<const Tensor*> operands = {}) {
  autograd::keep_view_history(self);
  autograd::record(op, inputs, {&self}, std::forward<F>(backward));
  autograd::rebase_view_history(self);
  for (auto list : {inputs, operands})
    for (const Tensor* operand : list)
      if (operand != &self && operand->defined() && !operand->is_same(self) && operand->storage() == self.storage())
        autograd::forget_view_history(*operand);
}

// Only floating tensors carry gradients: an in-place op writing into an
// integer or bool tensor is never recorded.
bool differentiable(const Tensor& self) { return self.is_floating_point(); }

void add_impl(Tensor& self, const Tensor& other, double alpha, const char* op) {
  const bool record = must_record(self, op, {&other}) && differentiable(self);
  kernel::add_(self, other, alpha, op);
  self.storage()->bump_version();
  if (record)
    record_inplace(op, {&self, &other}, self, [alpha](Backward& bw) {
      // self += alpha * other;  dself = dy, dother = alpha * dy (summed to other's shape)
      bw.add(0, bw.grad());
      if (bw.needs(1)) bw.add(1, alpha == 1 ? bw.grad() : tg::mul(bw.grad(), alpha));
    });
}

void add_scalar_impl(Tensor& self, double other, const char* op) {
  const bool record = must_record(self, op) && differentiable(self);
  kernel::add_(self, other, op);
  self.storage()->bump_version();
  if (record)
    record_inplace(op, {&self}, self, [](Backward& bw) {
      // self += c;  dself = dy
      bw.add(0, bw.grad());
    });
}

void fill_impl(Tensor& self, double value, const char* op) {
  const bool record = must_record(self, op) && differentiable(self);
  kernel::check_writable(self, op);
  kernel::fill_(self, value, op);
  self.storage()->bump_version();
  if (record)
    record_inplace(op, {&self}, self, [](Backward& bw) {
      // self = c;  dself = 0
      bw.add(0, zeros_like(bw.grad()));
    });
}

}  // namespace

Tensor& Tensor::add_(const Tensor& other, double alpha) {
  TG_PROFILE_OP("add_", *this, other);
  add_impl(*this, other, alpha, "add_");
  return *this;
}

Tensor& Tensor::add_(double other) {
  TG_PROFILE_OP("add_", *this);
  add_scalar_impl(*this, other, "add_");
  return *this;
}

Tensor& Tensor::sub_(const Tensor& other, double alpha) {
  TG_PROFILE_OP("sub_", *this, other);
  add_impl(*this, other, -alpha, "sub_");
  return *this;
}

Tensor& Tensor::sub_(double other) {
  TG_PROFILE_OP("sub_", *this);
  add_scalar_impl(*this, -other, "sub_");
  return *this;
}

Tensor& Tensor::mul_(const Tensor& other_in) {
  TG_PROFILE_OP("mul_", *this, other_in);
  const bool record = must_record(*this, "mul_", {&other_in}) && differentiable(*this);
  SavedTensor saved_other, saved_self;
  if (record) {
    // A differentiable copy of whatever backward reads and this op overwrites.
    const Tensor other = other_in.storage() == storage() ? tg::clone(other_in) : other_in;
    if (autograd::requires_grad_of(*this)) saved_other = SavedTensor(other, false);
    if (autograd::requires_grad_of(other_in)) saved_self = SavedTensor(tg::clone(*this), false);
  }
  kernel::mul_(*this, other_in, "mul_");
  storage()->bump_version();
  if (record)
    record_inplace("mul_", {this, &other_in}, *this, [saved_other, saved_self](Backward& bw) {
      // self *= other;  dself = dy * other, dother = dy * self_before (summed to other's shape)
      if (bw.needs(0)) bw.add(0, tg::mul(bw.grad(), bw.unpack(saved_other)));
      if (bw.needs(1)) bw.add(1, tg::mul(bw.grad(), bw.unpack(saved_self)));
    });
  return *this;
}

Tensor& Tensor::mul_(double other) {
  TG_PROFILE_OP("mul_", *this);
  const bool record = must_record(*this, "mul_") && differentiable(*this);
  kernel::mul_(*this, other, "mul_");
  storage()->bump_version();
  if (record)
    record_inplace("mul_", {this}, *this, [other](Backward& bw) {
      // self *= c;  dself = dy * c
      bw.add(0, tg::mul(bw.grad(), other));
    });
  return *this;
}

Tensor& Tensor::div_(const Tensor& other_in) {
  TG_PROFILE_OP("div_", *this, other_in);
  const bool record = must_record(*this, "div_", {&other_in}) && differentiable(*this);
  SavedTensor saved_other, saved_self;
  if (record) {
    // As mul_: differentiable copies of what backward reads and this op
    // overwrites, so a later in-place op on self does not break backward.
    // y = self_before / other is made again from the copy: the result's bits
    // when self and other share a dtype; with a wider other, the quotient
    // before the kernel rounded it to self's dtype (as an out-of-place div's
    // gradient would use).
    const Tensor other = other_in.storage() == storage() ? tg::clone(other_in) : other_in;
    saved_other = SavedTensor(other, false);
    if (autograd::requires_grad_of(other_in)) saved_self = SavedTensor(tg::clone(*this), false);
  }
  kernel::div_(*this, other_in, "div_");
  storage()->bump_version();
  if (record) {
    record_inplace("div_", {this, &other_in}, *this, [saved_other, saved_self](Backward& bw) {
      // self /= other, y = self_before / other;  dself = dy / other, dother = -dy * y / other (summed to other's shape)
      const Tensor other = bw.unpack(saved_other);
      if (bw.needs(0)) bw.add(0, tg::div(bw.grad(), other));
      if (bw.needs(1)) {
        const Tensor y = tg::div(bw.unpack(saved_self), other);
        bw.add(1, tg::neg(tg::div(tg::mul(bw.grad(), y), other)));
      }
    });
  }
  return *this;
}

Tensor& Tensor::div_(double other) {
  TG_PROFILE_OP("div_", *this);
  const bool record = must_record(*this, "div_") && differentiable(*this);
  kernel::div_(*this, other, "div_");
  storage()->bump_version();
  if (record)
    record_inplace("div_", {this}, *this, [other](Backward& bw) {
      // self /= c;  dself = dy / c
      bw.add(0, tg::div(bw.grad(), other));
    });
  return *this;
}

Tensor& Tensor::zero_() {
  TG_PROFILE_OP("zero_", *this);
  fill_impl(*this, 0, "zero_");
  return *this;
}

Tensor& Tensor::fill_(double value) {
  TG_PROFILE_OP("fill_", *this);
  fill_impl(*this, value, "fill_");
  return *this;
}

Tensor& Tensor::copy_(const Tensor& src) {
  TG_PROFILE_OP("copy_", *this, src);
  const bool record = must_record(*this, "copy_", {&src}) && differentiable(*this);
  kernel::check_writable(*this, "copy_");
  kernel::copy_(*this, kernel::unaliased(*this, src));
  storage()->bump_version();
  if (record)
    record_inplace("copy_", {this, &src}, *this, [](Backward& bw) {
      // self = src (broadcast, converted);  dself = 0, dsrc = dy (summed to src's shape, cast to its dtype)
      if (bw.needs(0)) bw.add(0, zeros_like(bw.grad()));
      bw.add(1, bw.grad());
    });
  return *this;
}

Tensor& Tensor::clamp_(std::optional<double> min, std::optional<double> max) {
  TG_PROFILE_OP("clamp_", *this);
  const bool record = must_record(*this, "clamp_") && differentiable(*this);
  // The gradient passes where the value was inside [min, max]: decide before overwriting.
  Tensor mask = record && (min || max) ? kernel::clamp_mask(*this, min, max) : Tensor();
  kernel::clamp_(*this, min, max, "clamp_");
  storage()->bump_version();
  if (record)
    record_inplace("clamp_", {this}, *this, [mask](Backward& bw) {
      // self = clamp(self, min, max);  dself = dy * [min <= self_before <= max]
      bw.add(0, tg::mul(bw.grad(), mask));
    });
  return *this;
}

Tensor& Tensor::relu_() {
  TG_PROFILE_OP("relu_", *this);
  const bool record = must_record(*this, "relu_") && differentiable(*this);
  Tensor mask = record ? kernel::positive_mask(*this) : Tensor();
  kernel::relu_(*this, "relu_");
  storage()->bump_version();
  if (record)
    record_inplace("relu_", {this}, *this, [mask](Backward& bw) {
      // self = max(self, 0);  dself = dy * [self_before > 0]  (0 at 0)
      bw.add(0, tg::mul(bw.grad(), mask));
    });
  return *this;
}

Tensor& Tensor::masked_fill_(const Tensor& mask, double value) {
  TG_PROFILE_OP("masked_fill_", *this, mask);
  const bool record = must_record(*this, "masked_fill_") && differentiable(*this);
  kernel::masked_fill_(*this, mask, value, "masked_fill_");
  storage()->bump_version();
  if (record) {
    // The mask is read by backward: keep our own copy, so a later change to
    // the caller's mask cannot alter the gradient.
    Tensor kept = kernel::clone(mask);
    record_inplace("masked_fill_", {this}, *this, [kept](Backward& bw) {
      // self[mask] = c;  dself = dy where !mask, 0 where mask
      bw.add(0, tg::masked_fill(bw.grad(), kept, 0));
    });
  }
  return *this;
}

}  // namespace tg

namespace tg::detail {

void assign_random_(Tensor& self, const std::function<TensorBase()>& draw, const char* op) {
  const bool record = must_record(self, op) && differentiable(self);
  kernel::check_writable(self, op);
  kernel::copy_(self, draw());
  self.storage()->bump_version();
  if (record)
    record_inplace(op, {&self}, self, [](Backward& bw) {
      // self = random values;  dself = 0
      bw.add(0, zeros_like(bw.grad()));
    });
}

namespace {

// An error of the out-of-place op, named after the in-place one the user
// called ("pow_: pow: ..."), with its type kept.
template <class F>
Tensor naming_errors(const char* op, F&& f) {
  const auto named = [op](const std::exception& e) {
    const std::string_view what = e.what();
    return what.starts_with(std::string(op) + ":") ? std::string(what) : fmt::format("{}: {}", op, what);
  };
  try {
    return f();
  } catch (const ShapeError& e) {
    throw ShapeError(named(e));
  } catch (const DTypeError& e) {
    throw DTypeError(named(e));
  } catch (const ValueError& e) {
    throw ValueError(named(e));
  }
}

}  // namespace

// self = f(self, operands), the in-place op built from its out-of-place one.
// The out-of-place result y is computed first, then copied into self: an
// operand overlapping self's memory is read before anything is written
// (a.pow_(a.t())). Recorded, the op's node passes the gradient to y, whose
// node is f's own: the gradient and every higher one are the out-of-place
// op's by construction. What f's node saves must outlive the write: self when f's
// backward reads it, and operands sharing self's memory, go to f as
// differentiable copies (as PyTorch keeps a copy of the original self). When
// PyTorch's formula reads the result, the node keeps self after the write as
// a version guard, so a later in-place change of self is caught at backward
// exactly where PyTorch catches it (x.exp_() then x.add_(1)).
Tensor& assign_result_(Tensor& self, const char* op, std::initializer_list<const Tensor*> operands, Reads reads,
                       const std::function<Tensor(const Tensor& self, const std::vector<Tensor>& operands)>& f) {
  const bool record = must_record(self, op, operands) && differentiable(self);
  kernel::check_writable(self, op);
  for (const Tensor* o : operands)
    if (broadcast_shapes(self.shape(), o->shape(), op) != self.shape())
      throw ShapeError(
          fmt::format("{}: an operand of shape {} cannot be broadcast to the shape {} of the tensor "
                      "being modified",
                      op, shape_str(o->sizes()), shape_str(self.sizes())));
  const auto has = [reads](Reads r) { return (static_cast<unsigned>(reads) & static_cast<unsigned>(r)) != 0; };
  std::vector<Tensor> args;
  args.reserve(operands.size());
  Tensor y;
  if (record) {
    for (const Tensor* o : operands) args.push_back(o->storage() == self.storage() ? tg::clone(*o) : *o);
    y = naming_errors(op, [&] { return f(has(Reads::self) ? tg::clone(self) : self, args); });
  } else {
    // Nothing is recorded (grad mode off, or no gradient involved): f needs no copies.
    NoGradGuard no_grad;
    for (const Tensor* o : operands) args.push_back(*o);
    y = naming_errors(op, [&] { return f(self, args); });
  }
  kernel::check_result(self, y.dtype(), op);
  kernel::copy_(self, y);
  self.storage()->bump_version();
  if (record) {
    const SavedTensor result = has(Reads::result) ? SavedTensor::without_history(self) : SavedTensor();
    // Input 0 is self before the op, as for every in-place node (CopySlices
    // reads its gradient as the view's); it gets none: its whole gradient
    // goes through y's node.
    record_inplace(
        op, {&self, &y}, self,
        [result](Backward& bw) {
          // self = y = f(self_before, operands);  dy = dself (f's node takes it from there)
          if (result.defined()) (void)bw.unpack(result);  // throws if self changed since
          bw.add(1, bw.grad());
        },
        operands);
  }
  return self;
}

}  // namespace tg::detail
