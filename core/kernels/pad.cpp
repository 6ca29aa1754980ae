#include <tapegrad/core/kernels/pad.h>

#include <algorithm>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <tapegrad/core/kernels/copy.h>
#include <tapegrad/core/kernels/shape.h>

namespace tg::kernel {

namespace {

// The dim that pad[2k], pad[2k + 1] apply to: the last dim first, as PyTorch.
int padded_dim(const TensorBase& x, std::size_t k) { return x.dim() - 1 - static_cast<int>(k); }

}  // namespace

PadMode pad_mode(std::string_view mode) {
  if (mode == "constant") return PadMode::constant;
  if (mode == "reflect") return PadMode::reflect;
  if (mode == "replicate") return PadMode::replicate;
  if (mode == "circular") return PadMode::circular;
  throw ValueError(fmt::format("pad: unknown mode '{}'; expected constant, reflect, replicate or circular", mode));
}

void check_pad(const TensorBase& x, const std::vector<std::int64_t>& pad, PadMode mode) {
  if (pad.size() % 2 != 0)
    throw ShapeError(
        fmt::format("pad: the pad list [{}] has odd length {}; it holds (before, after) pairs, last dim first",
                    fmt::join(pad, ", "), pad.size()));
  if (pad.size() / 2 > static_cast<std::size_t>(x.dim()))
    throw ShapeError(fmt::format("pad: the pad list [{}] pads {} dims of a tensor of shape {}", fmt::join(pad, ", "),
                                 pad.size() / 2, shape_str(x.sizes())));
  for (std::size_t k = 0; k < pad.size() / 2; ++k) {
    const int d = padded_dim(x, k);
    const std::int64_t s = x.size(d), before = pad[2 * k], after = pad[2 * k + 1];
    std::int64_t out = 0;
    if (__builtin_add_overflow(s, before, &out) || __builtin_add_overflow(out, after, &out))
      throw ShapeError(fmt::format("pad: padding ({}, {}) of dim {} (shape {}) overflows int64", before, after, d,
                                   shape_str(x.sizes())));
    if (out < 0)
      throw ShapeError(fmt::format("pad: padding ({}, {}) of dim {} of size {} (shape {}) leaves a negative size {}",
                                   before, after, d, s, shape_str(x.sizes()), out));
    const std::int64_t most = std::max(before, after);
    if (mode == PadMode::reflect && most >= s)
      throw ShapeError(fmt::format("pad: reflect padding ({}, {}) of dim {} must be less than its size {} (shape {})",
                                   before, after, d, s, shape_str(x.sizes())));
    if (mode == PadMode::circular && most > s)
      throw ShapeError(
          fmt::format("pad: circular padding ({}, {}) of dim {} wraps around more than once (size {}, "
                      "shape {})",
                      before, after, d, s, shape_str(x.sizes())));
    if (mode == PadMode::circular && out > 0 &&
        s - std::max<std::int64_t>(-before, 0) - std::max<std::int64_t>(-after, 0) <= 0)
      throw ShapeError(
          fmt::format("pad: circular padding ({}, {}) of dim {} crops all of its {} elements, leaving "
                      "nothing to wrap around (shape {})",
                      before, after, d, s, shape_str(x.sizes())));
    if (mode == PadMode::replicate && s == 0 && out > 0)
      throw ShapeError(fmt::format("pad: replicate padding of the empty dim {} (shape {}) has nothing to replicate", d,
                                   shape_str(x.sizes())));
  }
  Dims shape = x.shape();
  for (std::size_t k = 0; k < pad.size() / 2; ++k) shape[padded_dim(x, k)] += pad[2 * k] + pad[2 * k + 1];
  // Before the index tensors (one per padded dim) are built: their own error
  // would not name pad.
  if (!tensor_size_fits(shape))
    throw ShapeError(
        fmt::format("pad: padding [{}] of input {} gives output shape {}, more elements than a tensor "
                    "can hold",
                    fmt::join(pad, ", "), shape_str(x.sizes()), shape_str(shape)));
}

TensorBase pad_index(std::int64_t size, std::int64_t before, std::int64_t after, PadMode mode) {
  const std::int64_t n = size + before + after;
  TensorBase index = make_tensor({n}, kInt64);
  std::int64_t* p = index.data_ptr<std::int64_t>();
  // Circular wraps around what is left after negative pads crop, as PyTorch:
  // pad (-1, 2) of [0 1 2 3] is [1 2 3 1 2].
  const std::int64_t crop_lo = std::max<std::int64_t>(-before, 0);
  const std::int64_t kept = size - crop_lo - std::max<std::int64_t>(-after, 0);
  for (std::int64_t o = 0; o < n; ++o) {
    if (mode == PadMode::circular) {
      const std::int64_t j = o - std::max<std::int64_t>(before, 0);
      p[o] = crop_lo + ((j % kept) + kept) % kept;
      continue;
    }
    std::int64_t i = o - before;  // where output position o reads x, before the mode folds it in
    if (i < 0 || i >= size) {
      switch (mode) {
        case PadMode::reflect:
          i = i < 0 ? -i : 2 * (size - 1) - i;
          break;
        case PadMode::replicate:
          i = std::clamp<std::int64_t>(i, 0, size - 1);
          break;
        case PadMode::circular:
          i = ((i % size) + size) % size;
          break;
        case PadMode::constant:
          throw ValueError(fmt::format("pad_index: constant mode position {} reads outside size {}", o, size));
      }
    }
    p[o] = i;
  }
  return index;
}

TensorBase pad_constant(const TensorBase& x, const std::vector<std::int64_t>& pad, double value) {
  check_pad(x, pad, PadMode::constant);
  Dims shape = x.shape();
  for (std::size_t k = 0; k < pad.size() / 2; ++k) shape[padded_dim(x, k)] += pad[2 * k] + pad[2 * k + 1];
  TensorBase out = make_tensor(shape, x.dtype());
  fill_(out, value, "pad");
  // The part of x that survives the (possibly negative) pads, and where it lands.
  TensorBase src = x, dst = out;
  for (std::size_t k = 0; k < pad.size() / 2; ++k) {
    const int d = padded_dim(x, k);
    const std::int64_t before = pad[2 * k], after = pad[2 * k + 1];
    const std::int64_t skip = std::max<std::int64_t>(0, -before);
    const std::int64_t length = x.size(d) - skip - std::max<std::int64_t>(0, -after);
    if (length <= 0) return out;
    src = slice(src, {d, skip, length, 1});
    dst = slice(dst, {d, std::max<std::int64_t>(0, before), length, 1});
  }
  if (src.numel() > 0) copy_(dst, src);
  return out;
}

TensorBase repeat_interleave_index(const TensorBase& repeats, std::int64_t n, const char* op) {
  if (repeats.is_floating_point() || repeats.dtype() == kBool)
    throw DTypeError(fmt::format("{}: repeats must be an integer tensor, got {}", op, dtype_name(repeats.dtype())));
  if (repeats.dim() > 1)
    throw ShapeError(fmt::format("{}: repeats must be 0-d or 1-D, got shape {}", op, shape_str(repeats.sizes())));
  const TensorBase r = contiguous(to(repeats, kInt64));
  const std::int64_t* p = r.data_ptr<std::int64_t>();
  return repeat_interleave_index(std::vector<std::int64_t>(p, p + r.numel()), n, op);
}

TensorBase repeat_interleave_index(const std::vector<std::int64_t>& repeats, std::int64_t n, const char* op) {
  if (repeats.size() != 1 && static_cast<std::int64_t>(repeats.size()) != n)
    throw ShapeError(
        fmt::format("{}: {} repeats for a dim of size {}; give one, or one per element", op, repeats.size(), n));
  std::int64_t total = 0;
  for (std::int64_t i = 0; i < n; ++i) {
    const std::int64_t r = repeats.size() == 1 ? repeats[0] : repeats[i];
    if (r < 0) throw ValueError(fmt::format("{}: repeats hold the negative count {}", op, r));
    if (__builtin_add_overflow(total, r, &total))
      throw ShapeError(fmt::format("{}: the repeated size overflows int64", op));
  }
  check_output_size(op, Dims{total});
  TensorBase index = make_tensor({total}, kInt64);
  std::int64_t* out = index.data_ptr<std::int64_t>();
  for (std::int64_t i = 0; i < n; ++i) {
    const std::int64_t r = repeats.size() == 1 ? repeats[0] : repeats[i];
    out = std::fill_n(out, r, i);
  }
  return index;
}

}  // namespace tg::kernel
