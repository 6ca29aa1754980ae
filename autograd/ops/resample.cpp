// interpolate (nearest, linear, bilinear) and the pixel shuffles, composed of
// differentiable ops, so that their gradients of every order come from those:
//
//   nearest   y = x.index_select(d, src(j)) along each spatial dim d
//   linear    y = x.index_select(d, i0) * l0 + x.index_select(d, i1) * l1
//             (bilinear: that along W, then along H, which is the same
//             weighted sum of four neighbours that PyTorch forms)
//   pixel_shuffle / pixel_unshuffle: a reshape, a permute and a reshape.
//
// The source positions follow PyTorch's upsampling kernels exactly (where
// they round, these round the same way), including its use of 1 / scale_factor
// rather than in / out when a scale factor is given.
#include <algorithm>
#include <cmath>
#include <optional>
#include <vector>

#include <fmt/format.h>

#include <tapegrad/autograd/ops.h>
#include <tapegrad/core/kernels/shape.h>
#include <tapegrad/core/profiler.h>

namespace tg {

namespace {

enum class Mode { Nearest, Linear };

// The taps along one dim, written straight into tensors (allocated first, so
// that an impossible output size is an OutOfMemoryError, not a long loop).
// Linear: src = scale (j + 0.5) - 0.5 clamped at 0 (align_corners: src =
// j (in - 1) / (out - 1)), i0 = floor(src), i1 = i0 + 1 but within the
// input, l1 = src - i0, l0 = 1 - l1; l0 and l1 have shape [1, .., out, .., 1]
// along `dim` of a rank-`rank` tensor.
struct LinearTaps {
  Tensor i0, i1, l0, l1;
};

LinearTaps linear_taps(std::int64_t in, std::int64_t out, bool align_corners, std::optional<double> scale_factor,
                       std::int64_t dim, std::int64_t rank) {
  double scale = 0;
  if (align_corners) scale = out > 1 ? static_cast<double>(in - 1) / static_cast<double>(out - 1) : 0.0;
  else scale = scale_factor ? 1.0 / *scale_factor : static_cast<double>(in) / static_cast<double>(out);
  Dims along = Dims::filled(static_cast<int>(rank), 1);
  along[static_cast<int>(dim)] = out;
  LinearTaps taps{tg::empty({out}, kInt64), tg::empty({out}, kInt64), tg::empty(along, kFloat64),
                  tg::empty(along, kFloat64)};
  std::int64_t* i0 = taps.i0.data_ptr<std::int64_t>();
  std::int64_t* i1 = taps.i1.data_ptr<std::int64_t>();
  double* l0 = taps.l0.data_ptr<double>();
  double* l1 = taps.l1.data_ptr<double>();
  for (std::int64_t j = 0; j < out; ++j) {
    double src = align_corners ? scale * static_cast<double>(j) : scale * (static_cast<double>(j) + 0.5) - 0.5;
    src = std::max(src, 0.0);
    i0[j] = std::min(static_cast<std::int64_t>(src), in - 1);
    i1[j] = i0[j] < in - 1 ? i0[j] + 1 : i0[j];
    l1[j] = std::clamp(src - static_cast<double>(i0[j]), 0.0, 1.0);
    l0[j] = 1.0 - l1[j];
  }
  return taps;
}

// PyTorch 1.13's legacy 'nearest': src = min(floor(j * scale), in - 1),
// scale = 1 / scale_factor (when one is used) or in / out. Its kernels differ
// by rank, and tapegrad follows each (checked against torch 1.13):
//  - 2-D and 3-D inputs (nearest_idx): scale and product in float, and exact
//    copies for out = in and out = 2 in (shortcuts): with scale_factor 1.1 a
//    size of 7 stays 7 and is copied.
//  - 1-D inputs (compute_indices_weights_nearest): no shortcuts (size 7 with
//    scale_factor 1.1 reads 0 0 1 2 3 4 5), and the arithmetic in the input's
//    opmath type: double for a float64 input (the product then rounded to
//    float before the floor), float otherwise.
Tensor nearest_sources(std::int64_t in, std::int64_t out, std::optional<double> scale_factor, bool shortcuts,
                       bool in_double) {
  Tensor sources = tg::empty({out}, kInt64);
  std::int64_t* src = sources.data_ptr<std::int64_t>();
  // out / 2, not 2 * in: an expanded input's size may be near 2^63.
  if (shortcuts && (out == in || (out % 2 == 0 && out / 2 == in))) {
    for (std::int64_t j = 0; j < out; ++j) src[j] = out == in ? j : j >> 1;
    return sources;
  }
  if (in_double) {
    const double scale = scale_factor ? 1.0 / *scale_factor : static_cast<double>(in) / static_cast<double>(out);
    for (std::int64_t j = 0; j < out; ++j)
      src[j] =
          std::min(static_cast<std::int64_t>(std::floor(static_cast<float>(static_cast<double>(j) * scale))), in - 1);
    return sources;
  }
  const float scale =
      scale_factor ? static_cast<float>(1.0 / *scale_factor) : static_cast<float>(in) / static_cast<float>(out);
  for (std::int64_t j = 0; j < out; ++j)
    src[j] = std::min(static_cast<std::int64_t>(std::floor(static_cast<float>(j) * scale)), in - 1);
  return sources;
}

}  // namespace

Tensor interpolate(const Tensor& x, const InterpolateOptions& options) {
  TG_PROFILE_OP("interpolate", x);
  const std::string& mode_name = options.mode;
  Mode mode = Mode::Nearest;
  std::int64_t rank = 0;  // the input rank the mode needs, 0: 3, 4 or 5
  if (mode_name == "linear") {
    mode = Mode::Linear;
    rank = 3;
  } else if (mode_name == "bilinear") {
    mode = Mode::Linear;
    rank = 4;
  } else if (mode_name != "nearest") {
    throw ValueError(fmt::format("interpolate: mode '{}' is not one of 'nearest', 'linear', 'bilinear'", mode_name));
  }
  if (rank != 0 ? x.dim() != rank : (x.dim() < 3 || x.dim() > 5))
    throw ShapeError(fmt::format("interpolate: mode '{}' needs a {} input [N, C, spatial...], got {}", mode_name,
                                 rank != 0 ? fmt::format("{}-D", rank) : std::string("3-D, 4-D or 5-D"),
                                 shape_str(x.sizes())));
  if (options.align_corners && mode == Mode::Nearest)
    throw ValueError(
        "interpolate: align_corners can only be set with the interpolating modes 'linear' and "
        "'bilinear', not 'nearest'");
  if (!x.is_floating_point())  // as PyTorch's kernels (which take uint8 too, a dtype tapegrad lacks)
    throw DTypeError(
        fmt::format("interpolate: mode '{}' needs a floating-point input, got {}", mode_name, dtype_name(x.dtype())));
  const std::size_t spatial = static_cast<std::size_t>(x.dim() - 2);
  const bool by_size = !options.size.empty(), by_scale = !options.scale_factor.empty();
  if (by_size == by_scale) throw ValueError("interpolate: give exactly one of size and scale_factor");
  const std::size_t given = by_size ? options.size.size() : options.scale_factor.size();
  if (given != 1 && given != spatial)
    throw ValueError(fmt::format("interpolate: {} has {} values; input {} has {} spatial dim{} (give {})",
                                 by_size ? "size" : "scale_factor", given, shape_str(x.sizes()), spatial,
                                 spatial == 1 ? "" : "s", spatial == 1 ? "1" : fmt::format("1 or {}", spatial)));
  // Output sizes, and the scale factor the source positions use (none when
  // the size was given or recompute_scale_factor is set).
  std::vector<std::int64_t> out(spatial);
  std::vector<std::optional<double>> factor(spatial);
  for (std::size_t i = 0; i < spatial; ++i) {
    const std::int64_t in = x.size(static_cast<std::int64_t>(i) + 2);
    if (by_size) {
      out[i] = options.size[given == 1 ? 0 : i];
    } else {
      const double s = options.scale_factor[given == 1 ? 0 : i];
      const double o = std::floor(static_cast<double>(in) * s);
      if (!(s > 0) || !std::isfinite(s))
        throw ValueError(fmt::format("interpolate: scale_factor {} must be positive and finite (input {})", s,
                                     shape_str(x.sizes())));
      if (!(o < 9.2e18))
        throw ShapeError(
            fmt::format("interpolate: scale_factor {} makes spatial dim {} of input {} {:.3g} long, more "
                        "elements than a tensor can hold",
                        s, i, shape_str(x.sizes()), o));
      out[i] = static_cast<std::int64_t>(o);
      if (!options.recompute_scale_factor) factor[i] = s;
    }
    if (in < 1 || out[i] < 1)
      throw ShapeError(
          fmt::format("interpolate: input and output sizes must be positive, got input {} and output "
                      "size {} along spatial dim {}",
                      shape_str(x.sizes()), out[i], i));
  }
  Dims result_shape = x.sizes();
  for (std::size_t i = 0; i < spatial; ++i) result_shape[static_cast<int>(i) + 2] = out[i];
  // Before the source index tensors are built: their own error would name
  // neither interpolate nor the output asked for.
  if (!kernel::tensor_size_fits(result_shape))
    throw ShapeError(fmt::format("interpolate: input {} resized to {} has more elements than a tensor can hold",
                                 shape_str(x.sizes()), shape_str(result_shape)));
  // The last dim first, as PyTorch's separable kernels weight the innermost
  // dim first.
  Tensor y = x;
  for (std::size_t k = spatial; k-- > 0;) {
    const std::int64_t dim = static_cast<std::int64_t>(k) + 2, in = x.size(dim);
    if (mode == Mode::Nearest) {
      y = tg::index_select(y, dim,
                           nearest_sources(in, out[k], factor[k], /*shortcuts=*/spatial > 1,
                                           /*in_double=*/spatial == 1 && x.dtype() == kFloat64));
      continue;
    }
    // PyTorch 1.13's linear kernels leave a dim whose size does not change
    // as it is, whatever the scale factor (7 with scale_factor 1.1 stays
    // 0 1 2 ... 6, not a blend at 1 / 1.1 steps).
    if (out[k] == in) continue;
    const LinearTaps taps = linear_taps(in, out[k], options.align_corners.value_or(false), factor[k], dim, x.dim());
    y = tg::index_select(y, dim, taps.i0) * tg::to_dtype(taps.l0, x.dtype()) +
        tg::index_select(y, dim, taps.i1) * tg::to_dtype(taps.l1, x.dtype());
  }
  // Every dim kept: a copy, as PyTorch's, never x itself (an in-place op on
  // the result would change x).
  return y.is_same(x) ? tg::clone(x) : y;
}

Tensor pixel_shuffle(const Tensor& x, std::int64_t upscale_factor) {
  TG_PROFILE_OP("pixel_shuffle", x);
  const std::int64_t r = upscale_factor;
  if (x.dim() < 3)
    throw ShapeError(fmt::format("pixel_shuffle: expected an input of at least 3 dims [*, C r^2, H, W], got {}",
                                 shape_str(x.sizes())));
  if (r < 1 || r > 3037000499)  // r * r must fit int64
    throw ValueError(fmt::format("pixel_shuffle: upscale_factor ({}) must be positive and its square fit int64", r));
  const std::int64_t c = x.size(-3), h = x.size(-2), w = x.size(-1);
  if (c % (r * r) != 0)
    throw ShapeError(
        fmt::format("pixel_shuffle: the channels ({}) of input {} are not divisible by "
                    "upscale_factor^2 ({})",
                    c, shape_str(x.sizes()), r * r));
  const Dims batch(x.sizes().first(static_cast<std::size_t>(x.dim() - 3)));
  const std::int64_t b = static_cast<std::int64_t>(batch.size());
  // [*, C, r, r, H, W] -> [*, C, H, r, W, r] -> [*, C, H r, W r]
  Dims split = batch, order, merged = batch;
  for (std::int64_t v : {c / (r * r), r, r, h, w}) split.push_back(v);
  for (std::int64_t i = 0; i < b; ++i) order.push_back(i);
  for (std::int64_t i : {0, 3, 1, 4, 2}) order.push_back(b + i);
  std::int64_t hr = 0, wr = 0;
  if (mul_overflows(h, r, &hr) || mul_overflows(w, r, &wr))
    throw ShapeError(fmt::format("pixel_shuffle: input {} upscaled by {} is past int64", shape_str(x.sizes()), r));
  for (std::int64_t v : {c / (r * r), hr, wr}) merged.push_back(v);
  return tg::reshape(tg::permute(tg::reshape(x, split), order), merged);
}

Tensor pixel_unshuffle(const Tensor& x, std::int64_t downscale_factor) {
  TG_PROFILE_OP("pixel_unshuffle", x);
  const std::int64_t r = downscale_factor;
  if (x.dim() < 3)
    throw ShapeError(fmt::format("pixel_unshuffle: expected an input of at least 3 dims [*, C, H r, W r], got {}",
                                 shape_str(x.sizes())));
  if (r < 1 || r > 3037000499)
    throw ValueError(
        fmt::format("pixel_unshuffle: downscale_factor ({}) must be positive and its square fit int64", r));
  const std::int64_t c = x.size(-3), h = x.size(-2), w = x.size(-1);
  if (h % r != 0 || w % r != 0)
    throw ShapeError(
        fmt::format("pixel_unshuffle: the height and width of input {} are not divisible by "
                    "downscale_factor ({})",
                    shape_str(x.sizes()), r));
  const Dims batch(x.sizes().first(static_cast<std::size_t>(x.dim() - 3)));
  const std::int64_t b = static_cast<std::int64_t>(batch.size());
  // [*, C, H, r, W, r] -> [*, C, r, r, H, W] -> [*, C r^2, H, W]
  Dims split = batch, order, merged = batch;
  for (std::int64_t v : {c, h / r, r, w / r, r}) split.push_back(v);
  for (std::int64_t i = 0; i < b; ++i) order.push_back(i);
  for (std::int64_t i : {0, 2, 4, 1, 3}) order.push_back(b + i);
  std::int64_t cr = 0;
  if (mul_overflows(c, r * r, &cr))
    throw ShapeError(fmt::format("pixel_unshuffle: input {} downscaled by {} has more channels than int64 counts",
                                 shape_str(x.sizes()), r));
  for (std::int64_t v : {cr, h / r, w / r}) merged.push_back(v);
  return tg::reshape(tg::permute(tg::reshape(x, split), order), merged);
}

}  // namespace tg
