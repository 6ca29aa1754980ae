// pad, repeat_interleave and mode. Kernels and checks: core/kernels/pad.h,
// core/kernels/sort.h. The modes of pad that read x everywhere (reflect,
// replicate, circular) and repeat_interleave are index_select with a computed
// index, so their gradients (index_add) and higher ones come from it.
#include <fmt/format.h>

#include <tapegrad/autograd/function.h>
#include <tapegrad/autograd/ops.h>
#include <tapegrad/core/kernels/copy.h>
#include <tapegrad/core/kernels/index.h>
#include <tapegrad/core/kernels/pad.h>
#include <tapegrad/core/kernels/shape.h>
#include <tapegrad/core/kernels/sort.h>
#include <tapegrad/core/profiler.h>

namespace tg {

using autograd::Backward;

Tensor pad(const Tensor& x, const std::vector<std::int64_t>& pad, std::string_view mode, double value) {
  TG_PROFILE_OP("pad", x);
  const kernel::PadMode m = kernel::pad_mode(mode);
  kernel::check_pad(x, pad, m);
  if (m == kernel::PadMode::constant) {
    Tensor y = kernel::pad_constant(x, pad, value);
    if (autograd::needs_grad(x)) {
      std::vector<std::int64_t> crop(pad.size());
      for (std::size_t i = 0; i < pad.size(); ++i) crop[i] = -pad[i];
      autograd::record("pad", {&x}, {&y}, [crop](Backward& bw) {
        // y = x with `pad` around it (negative pads crop);  dx = dy with the opposite pads, zeros where x was cropped
        bw.add(0, tg::pad(bw.grad(), crop, "constant", 0));
      });
    }
    return y;
  }
  Tensor y = x;
  for (std::size_t k = 0; k < pad.size() / 2; ++k) {
    const int d = x.dim() - 1 - static_cast<int>(k);
    if (pad[2 * k] == 0 && pad[2 * k + 1] == 0) continue;
    y = tg::index_select(y, d, kernel::pad_index(x.size(d), pad[2 * k], pad[2 * k + 1], m));
  }
  return y.is_same(x) ? tg::clone(x) : y;
}

namespace {

Tensor repeat_along(const Tensor& x, std::optional<std::int64_t> dim, const auto& make_index) {
  if (!dim) return tg::index_select(tg::reshape(x, {-1}), 0, make_index(x.numel()));
  const int d = wrap_dim(*dim, x.dim(), "repeat_interleave");
  const Tensor t = x.dim() == 0 ? tg::reshape(x, {1}) : x;
  return tg::index_select(t, d, make_index(t.size(d)));
}

}  // namespace

Tensor repeat_interleave(const Tensor& x, std::int64_t repeats, std::optional<std::int64_t> dim) {
  TG_PROFILE_OP("repeat_interleave", x);
  return repeat_along(x, dim, [&](std::int64_t n) {
    return Tensor(kernel::repeat_interleave_index(std::vector<std::int64_t>{repeats}, n, "repeat_interleave"));
  });
}

Tensor repeat_interleave(const Tensor& x, const Tensor& repeats, std::optional<std::int64_t> dim) {
  TG_PROFILE_OP("repeat_interleave", x, repeats);
  return repeat_along(
      x, dim, [&](std::int64_t n) { return Tensor(kernel::repeat_interleave_index(repeats, n, "repeat_interleave")); });
}

Tensor repeat_interleave(const Tensor& repeats) {
  TG_PROFILE_OP("repeat_interleave", repeats);
  if (repeats.dim() != 1)
    throw ShapeError(
        fmt::format("repeat_interleave: repeats alone must be 1-D, got shape {}", shape_str(repeats.sizes())));
  return kernel::repeat_interleave_index(repeats, repeats.numel(), "repeat_interleave");
}

std::tuple<Tensor, Tensor> mode(const Tensor& x, std::int64_t dim, StrictBool keepdim) {
  TG_PROFILE_OP("mode", x);
  const int d = wrap_dim(dim, x.dim(), "mode");
  if (x.dim() > 0 && x.size(d) == 0)
    throw IndexError(fmt::format("mode: dimension {} of shape {} is empty; there is no mode", d, shape_str(x.sizes())));
  const Tensor idx = kernel::mode_index(x, d);
  if (x.dim() == 0) return {tg::clone(x), idx};
  Tensor v = tg::gather(x, d, idx);
  if (keepdim) return {v, idx};
  return {tg::squeeze(v, d), kernel::squeeze(idx, d)};
}

}  // namespace tg
