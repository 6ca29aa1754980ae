#pragma once
/// @file
/// The neural-network ops (PyTorch's torch::conv2d, torch::max_pool2d, ...):
/// differentiable ops like those of ops.h, which includes this header. Each
/// family lives in one file of autograd/ops/ (forward kernel call, backward
/// formula, shape rule together; kernels in core/kernels/ of the same name).
/// tg::nn::functional forwards to them.
///
/// @code
/// tg::Tensor x = tg::randn({8, 3, 32, 32});
/// tg::Tensor w = tg::randn({16, 3, 3, 3}, {.requires_grad = true});
/// tg::Tensor y = tg::max_pool2d(tg::relu(tg::conv2d(x, w, {}, 1, 1)), 2);  // [8, 16, 16, 16]
/// @endcode
#include <concepts>
#include <cstdint>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include <tapegrad/autograd/tensor.h>
#include <tapegrad/core/args.h>
#include <tapegrad/core/tensor.h>

namespace tg {

class Generator;

// ---- autograd/ops/dropout.cpp ----------------------------------------------------
/// Dropout, as torch.nn.functional.dropout.
/// Training: each element is zeroed with probability p and the survivors are
/// scaled by 1 / (1 - p), drawing from `generator` (default: the global one,
/// seeded by tg::manual_seed). Not training, or p == 0: x itself.
/// @param x         a floating-point input
/// @param p         the probability of zeroing an element, in [0, 1]
/// @param training  whether to drop (otherwise x is returned)
/// @param generator the generator, or null for the default one
/// @throws tg::ValueError for p outside [0, 1], tg::DTypeError for a non-floating x.
Tensor dropout(const Tensor& x, double p = 0.5, StrictBool training = true, Generator* generator = nullptr);
/// Deleted: `dropout(x, training)` would read the flag as p = 1 and zero everything.
template <class B, class... Rest>
requires std::same_as<B, bool> Tensor dropout(const Tensor& x, B p, Rest&&... rest)
= delete;

// ---- autograd/ops/attention.cpp ------------------------------------------------------
/// Scaled dot-product attention, as torch.nn.functional.scaled_dot_product_attention.
/// @code
/// tg::Tensor out = tg::scaled_dot_product_attention(q, k, v, {}, 0.0, true);  // causal
/// @endcode
/// softmax(query key^T * scale + attn_mask) value, as PyTorch 2's
/// torch.nn.functional.scaled_dot_product_attention: query [..., L, E],
/// key [..., S, E], value [..., S, Ev] -> [..., L, Ev], batch dims broadcast.
/// attn_mask broadcasts to [..., L, S]: bool (true = attend) or of query's
/// dtype (added to the scores; it gets a gradient when it requires one).
/// is_causal: query i attends keys j <= i (top-left aligned, as
/// torch.ones(L, S).tril()); not together with attn_mask. scale defaults to
/// 1 / sqrt(E). dropout_p > 0 drops attention weights (always, as PyTorch's
/// function; modules pass 0 in eval mode), drawing one seed from `generator`
/// (default: the global one), so one seed gives one mask.
/// One fused op (core/kernels/attention.h): tiles of scores with an online
/// softmax, never the whole [L, S] matrix when S > 256 keys (its backward
/// recomputes the tiles); up to 256 keys, one tile of every key per block of
/// query rows, and the weights are kept for the backward (at most 256 values
/// per query row, linear in L). A query row that attends no key (its scores all
/// -inf after masking) gives zeros (and zero gradients), where PyTorch's math
/// path gives NaN. A NaN or +inf score makes its row NaN, values and
/// gradients, as in PyTorch; a bool mask or is_causal excludes a key's score
/// altogether (a NaN there does not reach the row), a float mask is added.
/// float16 and bfloat16 compute in float32, the result rounded once.
/// @param query     [..., L, E]
/// @param key       [..., S, E]
/// @param value     [..., S, Ev]
/// @param attn_mask bool or additive, broadcast to [..., L, S]; undefined for none
/// @param dropout_p the probability of dropping an attention weight
/// @param is_causal mask keys after each query (not with attn_mask)
/// @param scale     the factor of the scores (default 1 / sqrt(E))
/// @param generator the generator of the dropout, or null for the default one
/// @throws tg::ShapeError for sizes that disagree, tg::DTypeError for mixed or
///   non-floating dtypes, tg::ValueError for dropout_p outside [0, 1].
Tensor scaled_dot_product_attention(const Tensor& query, const Tensor& key, const Tensor& value,
                                    const Tensor& attn_mask = {}, double dropout_p = 0, StrictBool is_causal = false,
                                    std::optional<double> scale = {}, Generator* generator = nullptr);
/// The same by the unfused math path (the whole score matrix), also returning
/// the attention weights [..., L, S] (after dropout): for need_weights and
/// for checking the fused op. The same generator state gives the same
/// dropout mask as scaled_dot_product_attention.
std::tuple<Tensor, Tensor> scaled_dot_product_attention_math(const Tensor& query, const Tensor& key,
                                                             const Tensor& value, const Tensor& attn_mask = {},
                                                             double dropout_p = 0, StrictBool is_causal = false,
                                                             std::optional<double> scale = {},
                                                             Generator* generator = nullptr);

// ---- autograd/ops/conv.cpp ----------------------------------------------------------
/// 2-D convolution (cross-correlation), as torch.nn.functional.conv2d.
/// x [N, C, H, W] (or unbatched [C, H, W]), weight [O, C / groups, kh, kw],
/// bias [O] or undefined. Zero padding. Each image is unfolded (im2col) into
/// one buffer and multiplied by the weight in one GEMM per group; backward
/// folds the input gradient back (col2im) and takes the weight gradient by GEMM.
/// @param x        [N, C, H, W] or [C, H, W]
/// @param weight   [O, C / groups, kh, kw]
/// @param bias     [O], or undefined for none
/// @param stride   the step of the kernel
/// @param padding  zeros added on each side, or "same" (stride 1 only: the
///                 output as large as the input; d (k - 1) zeros in all, the
///                 odd one after) or "valid" (none), as PyTorch
/// @param dilation the spacing of the kernel's taps
/// @param groups   the number of channel groups
/// @throws tg::ShapeError for shapes that do not fit, tg::DTypeError for mixed or non-floating dtypes,
///   tg::ValueError for another padding name or "same" with a stride.
Tensor conv2d(const Tensor& x, const Tensor& weight, const Tensor& bias = {}, Size2 stride = 1,
              ConvPadding2 padding = 0, Size2 dilation = 1, std::int64_t groups = 1);
/// 1-D convolution, as torch.nn.functional.conv1d.
/// x [N, C, L] (or [C, L]), weight [O, C / groups, k]: conv2d on a height of 1.
/// @param x        [N, C, L] or [C, L]
/// @param weight   [O, C / groups, k]
/// @param bias     [O], or undefined for none
/// @param stride   the step of the kernel
/// @param padding  zeros added on each side, or "same" or "valid" as conv2d's
/// @param dilation the spacing of the kernel's taps
/// @param groups   the number of channel groups
/// @throws tg::ShapeError for shapes that do not fit, tg::DTypeError for mixed or non-floating dtypes,
///   tg::ValueError for another padding name or "same" with a stride.
Tensor conv1d(const Tensor& x, const Tensor& weight, const Tensor& bias = {}, std::int64_t stride = 1,
              ConvPadding1 padding = 0, std::int64_t dilation = 1, std::int64_t groups = 1);
namespace detail {
/// A convolution's padding name checked as PyTorch checks it, naming `who`
/// (the op, or the module when it is built): "same" or "valid", and "same"
/// only without a stride (`strided`: some stride above 1, `stride` as printed).
/// @throws tg::ValueError otherwise
void check_conv_padding_name(const char* who, const std::string& name, bool strided, const std::string& stride);
}  // namespace detail
/// 2-D transposed convolution, as torch.nn.functional.conv_transpose2d.
/// The transposed convolutions (PyTorch's argument order: output_padding, then
/// groups, then dilation): x [N, Cin, H, W] (or [Cin, H, W]), weight
/// [Cin, Cout / groups, kh, kw], bias [Cout]; the output is
/// [N, Cout, (H - 1) stride - 2 padding + dilation (kh - 1) + output_padding + 1, ...].
/// They are conv2d's input gradient, and differentiate as such to any order.
/// @param x              the input
/// @param weight         [Cin, Cout / groups, kernel...]
/// @param bias           [Cout], or undefined for none
/// @param stride         the step of the kernel
/// @param padding        removed from each side of the output
/// @param output_padding added to one side of the output (below stride or dilation)
/// @param groups         the number of channel groups
/// @param dilation       the spacing of the kernel's taps
/// @throws tg::ShapeError for shapes that do not fit, tg::DTypeError for mixed or non-floating dtypes.
Tensor conv_transpose2d(const Tensor& x, const Tensor& weight, const Tensor& bias = {}, Size2 stride = 1,
                        Size2 padding = 0, Size2 output_padding = 0, std::int64_t groups = 1, Size2 dilation = 1);
/// 1-D transposed convolution, as torch.nn.functional.conv_transpose1d.
/// x [N, Cin, L] (or [Cin, L]), weight [Cin, Cout / groups, k].
/// @param x              the input
/// @param weight         [Cin, Cout / groups, kernel...]
/// @param bias           [Cout], or undefined for none
/// @param stride         the step of the kernel
/// @param padding        removed from each side of the output
/// @param output_padding added to one side of the output (below stride or dilation)
/// @param groups         the number of channel groups
/// @param dilation       the spacing of the kernel's taps
/// @throws tg::ShapeError for shapes that do not fit, tg::DTypeError for mixed or non-floating dtypes.
Tensor conv_transpose1d(const Tensor& x, const Tensor& weight, const Tensor& bias = {}, std::int64_t stride = 1,
                        std::int64_t padding = 0, std::int64_t output_padding = 0, std::int64_t groups = 1,
                        std::int64_t dilation = 1);

// ---- autograd/ops/pool.cpp ----------------------------------------------------------
/// 2-D max pooling, as torch.nn.functional.max_pool2d.
/// x [N, C, H, W] or [C, H, W]. stride defaults to the kernel size. Padding is
/// at most half the kernel size (not dilated), as PyTorch 1.13. The output
/// size is PyTorch's: (H + 2 padding - dilation (kernel - 1) - 1) / stride + 1
/// rounded down, or up with ceil_mode, where a last window that would start
/// in the right padding is dropped (so with ceil_mode a kernel
/// longer than the padded input is fine while one window starts inside it).
/// max_pool2d's gradient goes to the first maximum of each
/// window, or to its last NaN (as PyTorch's CPU kernel). With dilation a window can hold only padding: its output is
/// -inf, its index -1, and it passes no gradient.
/// @param x           [N, C, H, W] or [C, H, W], floating point
/// @param kernel_size the window
/// @param stride      the step (default: kernel_size)
/// @param padding     implicit -inf padding, at most half the kernel size
/// @param dilation    the spacing of the window's taps
/// @param ceil_mode   round the output size up rather than down
/// @throws tg::ValueError for a non-positive kernel, stride or dilation or too
///   large a padding, tg::ShapeError for an input smaller than the window (an
///   output size below 1) or not 3-D or 4-D.
Tensor max_pool2d(const Tensor& x, Size2 kernel_size, OptionalSize2 stride = {}, Size2 padding = 0, Size2 dilation = 1,
                  StrictBool ceil_mode = false);
/// max_pool2d that also returns the int64 indices, as torch's return_indices=True.
/// Also the argmax of each window as a flat index into its input plane (H * W).
std::tuple<Tensor, Tensor> max_pool2d_with_indices(const Tensor& x, Size2 kernel_size, OptionalSize2 stride = {},
                                                   Size2 padding = 0, Size2 dilation = 1, StrictBool ceil_mode = false);
/// 1-D max pooling, as torch.nn.functional.max_pool1d: x [N, C, L] or [C, L],
/// max_pool2d on a height of 1 (the same output sizes, NaN rule and errors).
/// @param x           [N, C, L] or [C, L], floating point
/// @param kernel_size the window
/// @param stride      the step (default: kernel_size)
/// @param padding     implicit -inf padding, at most half the kernel size
/// @param dilation    the spacing of the window's taps
/// @param ceil_mode   round the output size up rather than down
/// @throws as max_pool2d, and tg::ShapeError for an input not 2-D or 3-D.
Tensor max_pool1d(const Tensor& x, std::int64_t kernel_size, std::optional<std::int64_t> stride = {},
                  std::int64_t padding = 0, std::int64_t dilation = 1, StrictBool ceil_mode = false);
/// max_pool1d that also returns the int64 indices (positions along L), as torch's return_indices=True.
std::tuple<Tensor, Tensor> max_pool1d_with_indices(const Tensor& x, std::int64_t kernel_size,
                                                   std::optional<std::int64_t> stride = {}, std::int64_t padding = 0,
                                                   std::int64_t dilation = 1, StrictBool ceil_mode = false);
// The flags below are StrictBool: a number in their place (`batch_norm(x, rm,
// rv, w, b, 0.1)`, meant as the momentum) would otherwise read as true.
/// 2-D average pooling, as torch.nn.functional.avg_pool2d.
/// count_include_pad: padded zeros count in each window's divisor (PyTorch's
/// default); otherwise only the input elements do. ceil_mode: the output size
/// as max_pool2d's; a last window reaching past the right padding divides by
/// what it covers of the padded input (PyTorch 1.13's rule).
/// ceil_mode comes after count_include_pad, unlike PyTorch's positional
/// order: it was added later, and both are flags, so putting it before
/// would silently change the meaning of existing calls.
/// @param x                 the input, floating point
/// @param kernel_size       the window
/// @param stride            the step (default: kernel_size)
/// @param padding           zeros added on each side, at most half the kernel
/// @param count_include_pad whether padded zeros count in the divisor
/// @param ceil_mode         round the output size up rather than down
/// @throws tg::ValueError for a non-positive kernel or stride or too large a
///   padding, tg::ShapeError for an input smaller than the window.
Tensor avg_pool2d(const Tensor& x, Size2 kernel_size, OptionalSize2 stride = {}, Size2 padding = 0,
                  StrictBool count_include_pad = true, StrictBool ceil_mode = false);
/// 1-D average pooling, as torch.nn.functional.avg_pool1d.
/// x [N, C, L] or [C, L]: avg_pool2d on a height of 1 (ceil_mode last, as avg_pool2d).
/// @param x                 the input, floating point
/// @param kernel_size       the window
/// @param stride            the step (default: kernel_size)
/// @param padding           zeros added on each side, at most half the kernel
/// @param count_include_pad whether padded zeros count in the divisor
/// @param ceil_mode         round the output size up rather than down
/// @throws tg::ValueError for a non-positive kernel or stride or too large a
///   padding, tg::ShapeError for an input smaller than the window.
Tensor avg_pool1d(const Tensor& x, std::int64_t kernel_size, std::optional<std::int64_t> stride = {},
                  std::int64_t padding = 0, StrictBool count_include_pad = true, StrictBool ceil_mode = false);
/// 2-D adaptive max pooling to a fixed output size, as torch.nn.functional.adaptive_max_pool2d.
/// x [N, C, H, W] or [C, H, W] -> [N, C, Ho, Wo]: output row i is the maximum
/// over input rows [floor(i H / Ho), ceil((i + 1) H / Ho)), and so for columns
/// (PyTorch's bins); the gradient goes to each bin's first maximum, or its last NaN.
/// @param x           [N, C, H, W] or [C, H, W], floating point
/// @param output_size (Ho, Wo)
/// @throws tg::ValueError for a negative output size, tg::ShapeError for an empty input.
Tensor adaptive_max_pool2d(const Tensor& x, Size2 output_size);
/// adaptive_max_pool2d that also returns the int64 indices (flat into each H * W plane),
/// as torch's return_indices=True.
std::tuple<Tensor, Tensor> adaptive_max_pool2d_with_indices(const Tensor& x, Size2 output_size);
/// 1-D adaptive max pooling, as torch.nn.functional.adaptive_max_pool1d.
/// x [N, C, L] or [C, L] -> [N, C, output_size].
/// @param x           [N, C, L] or [C, L], floating point
/// @param output_size the output's length
/// @throws tg::ValueError for a negative output size, tg::ShapeError for an empty input.
Tensor adaptive_max_pool1d(const Tensor& x, std::int64_t output_size);
/// adaptive_max_pool1d that also returns the int64 indices (positions along L),
/// as torch's return_indices=True.
std::tuple<Tensor, Tensor> adaptive_max_pool1d_with_indices(const Tensor& x, std::int64_t output_size);
/// 2-D adaptive average pooling to a fixed output size, as torch.nn.functional.adaptive_avg_pool2d.
/// x [N, C, H, W] or [C, H, W] -> [N, C, Ho, Wo]: output row i averages input
/// rows [floor(i H / Ho), ceil((i + 1) H / Ho)), and so for columns (PyTorch's
/// bins, which overlap when Ho does not divide H).
/// @param x           [N, C, H, W] or [C, H, W], floating point
/// @param output_size (Ho, Wo)
/// @throws tg::ValueError for a negative output size, tg::ShapeError for an empty input.
Tensor adaptive_avg_pool2d(const Tensor& x, Size2 output_size);
/// 1-D adaptive average pooling, as torch.nn.functional.adaptive_avg_pool1d.
/// x [N, C, L] or [C, L] -> [N, C, output_size].
/// @param x           [N, C, L] or [C, L], floating point
/// @param output_size the output's length
/// @throws tg::ValueError for a negative output size, tg::ShapeError for an empty input.
Tensor adaptive_avg_pool1d(const Tensor& x, std::int64_t output_size);

// ---- autograd/ops/resample.cpp ------------------------------------------------------
/// Options of interpolate().
/// torch.nn.functional.interpolate's arguments (antialias aside):
/// @code
/// F::interpolate(x, {.size = {8, 8}, .mode = "bilinear"})
/// F::interpolate(x, {.scale_factor = {2.5}, .mode = "linear", .align_corners = true})
/// @endcode
struct InterpolateOptions {
  std::vector<std::int64_t> size{};    ///< output spatial sizes: one for all, or one per spatial dim
  std::vector<double> scale_factor{};  ///< or factors: output size floor(input size * factor)
  std::string mode = "nearest";        ///< "nearest" (3-D to 5-D input), "linear" (3-D), "bilinear" (4-D)
  /// Linear modes: sample corners to corners ((in - 1) / (out - 1) apart);
  /// unset means false, and setting it with "nearest" is an error, as PyTorch.
  std::optional<bool> align_corners{};
  /// With scale_factor: place samples by in / out instead of 1 / scale_factor.
  bool recompute_scale_factor = false;
};
/// Resampling, as torch.nn.functional.interpolate (see InterpolateOptions).
/// x [N, C, spatial...] resampled to new spatial sizes. Exactly one of size and
/// scale_factor. Sources as PyTorch's kernels: 'nearest' takes
/// floor(j * in / out) (PyTorch's legacy nearest, computed in float as it is);
/// 'linear'/'bilinear' weigh the two neighbours of (j + 0.5) in / out - 0.5
/// (align_corners: j (in - 1) / (out - 1)). With a scale factor, 1 / factor
/// stands for in / out unless recompute_scale_factor.
/// @param x       [N, C, spatial...]
/// @param options size or scale_factor, mode, align_corners, recompute_scale_factor
/// @throws tg::ValueError for an unknown mode, both or neither of size and
///   scale_factor, or a non-positive factor; tg::ShapeError for an input rank the mode does not take.
Tensor interpolate(const Tensor& x, const InterpolateOptions& options);
/// Rearranges channels into space, as torch.nn.functional.pixel_shuffle.
/// [*, C r^2, H, W] -> [*, C, H r, W r]: channel c r^2 + i r + j goes to
/// pixel (h r + i, w r + j) of channel c.
/// @param x              [*, C r^2, H, W]
/// @param upscale_factor r, > 0
/// @throws tg::ValueError for r <= 0, tg::ShapeError for an input of fewer than 3 dims or channels not divisible by
/// r^2.
Tensor pixel_shuffle(const Tensor& x, std::int64_t upscale_factor);
/// pixel_shuffle's inverse, as torch.nn.functional.pixel_unshuffle: [*, C, H r, W r] -> [*, C r^2, H, W].
/// @param x                [*, C, H r, W r]
/// @param downscale_factor r, > 0
/// @throws tg::ValueError for r <= 0, tg::ShapeError for an input of fewer than 3 dims or H, W not divisible by r.
Tensor pixel_unshuffle(const Tensor& x, std::int64_t downscale_factor);

// ---- autograd/ops/normalization.cpp ------------------------------------------------
/// Layer normalisation, as torch.nn.functional.layer_norm (biased variance).
/// Normalises over the last normalized_shape.size() dims of x, which must equal
/// normalized_shape; weight and bias (either may be undefined) have that shape.
/// @param x                a floating-point input
/// @param normalized_shape the trailing shape normalised over
/// @param weight           the scale, or undefined
/// @param bias             the shift, or undefined
/// @param eps              added to the variance
/// @throws tg::ShapeError when x does not end with normalized_shape, tg::DTypeError for a non-floating x.
Tensor layer_norm(const Tensor& x, Dims normalized_shape, const Tensor& weight = {}, const Tensor& bias = {},
                  double eps = 1e-5);
/// RMS normalisation, as torch.nn.functional.rms_norm.
/// x * rsqrt(mean(x^2) + eps) * weight over the last normalized_shape.size()
/// dims (no centring, no bias); eps defaults to the machine epsilon of x's
/// dtype (torch.finfo(x.dtype).eps), as PyTorch. weight may be undefined.
/// @param x                a floating-point input
/// @param normalized_shape the trailing shape normalised over
/// @param weight           the scale, or undefined
/// @param eps              added to mean(x^2); nothing: the dtype's machine epsilon
/// @throws tg::ShapeError when x does not end with normalized_shape, tg::DTypeError for a non-floating x.
Tensor rms_norm(const Tensor& x, Dims normalized_shape, const Tensor& weight = {},
                std::optional<double> eps = std::nullopt);
/// Group normalisation, as torch.nn.functional.group_norm.
/// x [N, C, ...]: the C channels split into num_groups groups (C divisible by
/// num_groups), each sample's group normalised over its channels and positions
/// (biased variance), then weight and bias [C] (either may be undefined) per channel.
/// @param x          [N, C, ...], floating point
/// @param num_groups the number of groups, dividing C
/// @param weight     [C] scale, or undefined
/// @param bias       [C] shift, or undefined
/// @param eps        added to the variance
/// @throws tg::ShapeError when C is not divisible by num_groups, tg::ValueError for num_groups <= 0.
Tensor group_norm(const Tensor& x, std::int64_t num_groups, const Tensor& weight = {}, const Tensor& bias = {},
                  double eps = 1e-5);
/// Batch normalisation, as torch.nn.functional.batch_norm.
/// x [N, C, ...] normalised per channel C. Training (or without running
/// statistics): batch mean and biased variance, and when running_mean and
/// running_var are given they are updated in place,
///   running = (1 - momentum) * running + momentum * batch   (unbiased variance),
/// except by an empty input (an empty batch or no channels), which gives an
/// empty output and leaves them as they are, as PyTorch. Otherwise the running statistics are used. weight, bias [C]
/// may be undefined.
/// @param x            [N, C, ...], floating point
/// @param running_mean [C] or undefined; updated in place when training
/// @param running_var  [C] or undefined; updated in place when training
/// @param weight       [C] scale, or undefined
/// @param bias         [C] shift, or undefined
/// @param training     use (and update) batch statistics
/// @param momentum     the weight of the batch statistics in the update
/// @param eps          added to the variance
/// @throws tg::ValueError when only one running statistic is given or a training
///   batch has one value per channel, tg::DTypeError for a non-floating x.
Tensor batch_norm(const Tensor& x, const Tensor& running_mean, const Tensor& running_var, const Tensor& weight = {},
                  const Tensor& bias = {}, StrictBool training = false, double momentum = 0.1, double eps = 1e-5);

/// Instance normalisation, as torch.nn.functional.instance_norm: each (sample,
/// channel) of x [N, C, ...] normalised over its positions (biased variance),
/// then weight and bias [C] (either may be undefined) per channel. With
/// use_input_stats (the default) the statistics are the input's own, and when
/// running_mean and running_var are given they are updated in place with the
/// batch mean of the per-instance statistics (the variance unbiased):
///   running = (1 - momentum) * running + momentum * mean over N.
/// Without use_input_stats the running statistics normalise every instance.
/// @param x               [N, C, ...], floating point, with more than one position per instance
/// @param running_mean    [C] or undefined
/// @param running_var     [C] or undefined
/// @param weight          [C] scale, or undefined
/// @param bias            [C] shift, or undefined
/// @param use_input_stats normalise by each instance's statistics (and update the running ones)
/// @param momentum        the weight of the batch in the update
/// @param eps             added to the variance
/// @throws tg::ShapeError for x of fewer than 2 dims or parameters not [C],
///   tg::ValueError for one position per instance with use_input_stats, for
///   only one running statistic, or for no running statistics without
///   use_input_stats, tg::DTypeError for a non-floating x.
Tensor instance_norm(const Tensor& x, const Tensor& running_mean = {}, const Tensor& running_var = {},
                     const Tensor& weight = {}, const Tensor& bias = {}, StrictBool use_input_stats = true,
                     double momentum = 0.1, double eps = 1e-5);

// ---- autograd/ops/distance.cpp -------------------------------------------------------
/// x / max(||x||_p, eps) along dim, as torch.nn.functional.normalize.
/// @throws tg::DTypeError for a non-floating x, tg::IndexError for dim out of range.
Tensor normalize(const Tensor& x, double p = 2, std::int64_t dim = 1, double eps = 1e-12);
/// The cosine of the angle between x1 and x2 along dim, as
/// torch.nn.functional.cosine_similarity (PyTorch 1.13): x1 and x2 broadcast
/// and converted to their common dtype, which must be floating point; each
/// divided by max(its 2-norm, eps), then the product summed along dim. Where
/// a norm is below eps the gradient is PyTorch 1.13's (its clamp also
/// rescales the norm's own derivative, to x / eps).
/// @throws tg::ShapeError for shapes that do not broadcast, tg::DTypeError
///   for an integer common dtype, tg::IndexError for dim out of range.
Tensor cosine_similarity(const Tensor& x1, const Tensor& x2, std::int64_t dim = 1, double eps = 1e-8);
/// ||x1 - x2 + eps||_p over the last dim of the broadcast shape, as
/// torch.nn.functional.pairwise_distance.
/// @throws tg::ShapeError for shapes that do not broadcast, tg::DTypeError for an integer common dtype.
Tensor pairwise_distance(const Tensor& x1, const Tensor& x2, double p = 2, double eps = 1e-6,
                         StrictBool keepdim = false);

// ---- autograd/ops/embedding.cpp ----------------------------------------------------
/// An embedding lookup, as torch.nn.functional.embedding.
/// Rows of weight [num_embeddings, dim] picked by int64 (or int32) indices of any shape:
/// the result is [*indices.shape, dim]. The row padding_idx (negative counts
/// from the end) receives no gradient. With max_norm, each looked-up row whose
/// norm_type-norm exceeds max_norm is first scaled down to it, in place in
/// weight and unrecorded, as PyTorch. scale_grad_by_freq divides each row's
/// gradient by how often its index occurs in `indices`; higher derivatives
/// scale once, as PyTorch's (the scaled gradient is no true derivative).
/// @param indices            int64 or int32 indices of any shape
/// @param weight             [num_embeddings, dim]
/// @param padding_idx        a row that gets no gradient
/// @param max_norm           renormalise looked-up rows to at most this norm
/// @param norm_type          the p of max_norm's norm
/// @param scale_grad_by_freq divide gradients by index frequency
/// @throws tg::IndexError for an index out of range, tg::DTypeError for
///   indices neither int64 nor int32, tg::ValueError for a bad padding_idx, max_norm or norm_type.
Tensor embedding(const Tensor& indices, const Tensor& weight, std::optional<std::int64_t> padding_idx = {},
                 std::optional<double> max_norm = {}, double norm_type = 2, StrictBool scale_grad_by_freq = false);

// ---- autograd/ops/loss.cpp ----------------------------------------------------------
// Every loss works in float32 and float64. Reduction (core/args.h) says how
// per-element losses become the result.

/// Options of cross_entropy(), as torch.nn.CrossEntropyLoss's arguments.
struct CrossEntropyLossOptions {
  Tensor weight{};                        ///< [C] rescales each class; undefined: all 1
  std::int64_t ignore_index = -100;       ///< class-index targets equal to it add nothing
  double label_smoothing = 0;             ///< in [0, 1]
  Reduction reduction = Reduction::Mean;  ///< how the per-sample losses are combined
};

/// Options of nll_loss().
struct NLLLossOptions {
  Tensor weight{};                        ///< [C] rescales each class; undefined: all 1
  std::int64_t ignore_index = -100;       ///< targets equal to it add nothing
  Reduction reduction = Reduction::Mean;  ///< how the per-sample losses are combined
};

/// Options of mse_loss().
struct MSELossOptions {
  Reduction reduction = Reduction::Mean;  ///< how the per-element losses are combined
};

/// Options of l1_loss().
struct L1LossOptions {
  Reduction reduction = Reduction::Mean;  ///< how the per-element losses are combined
};

/// Options of huber_loss().
struct HuberLossOptions {
  Reduction reduction = Reduction::Mean;  ///< how the per-element losses are combined
  double delta = 1.0;                     ///< > 0: quadratic inside |x - y| < delta, linear outside
};

/// Options of binary_cross_entropy().
struct BCELossOptions {
  Tensor weight{};                        ///< broadcasts to the input's shape
  Reduction reduction = Reduction::Mean;  ///< how the per-element losses are combined
};

/// Options of binary_cross_entropy_with_logits().
struct BCEWithLogitsLossOptions {
  Tensor weight{};                        ///< broadcasts to the input's shape
  Tensor pos_weight{};                    ///< weight of the positive term, broadcast along the last dim (e.g. [C])
  Reduction reduction = Reduction::Mean;  ///< how the per-element losses are combined
};

/// `loss` itself, its mean, or its sum, as PyTorch's reduction argument.
/// @param loss      the per-element losses
/// @param reduction None, Mean or Sum
Tensor reduce_loss(const Tensor& loss, Reduction reduction);

/// Cross-entropy of logits against class indices or probabilities, as torch.nn.functional.cross_entropy.
/// @code
/// tg::Tensor loss = tg::cross_entropy(logits, labels, {.label_smoothing = 0.1});
/// @endcode
/// Softmax cross-entropy of `input` logits [N, C] (or [C], or [N, C, d1, ...])
/// against either
///   - int64 class indices [N] (or [], or [N, d1, ...]) in [0, C), or
///   - float class probabilities with the input's shape.
/// One fused, numerically stable op (log-softmax and the negative
/// log-likelihood together); finite for logits of any magnitude.
/// Mean reduction divides by the summed weights of the targets that are not
/// ignore_index (class indices) or by the number of rows (probabilities), as
/// PyTorch. `weight` and class-index targets get no gradient.
/// @param input   logits [N, C], [C] or [N, C, d1, ...]
/// @param target  int64 class indices or class probabilities
/// @param options weight, ignore_index, label_smoothing and reduction
/// @throws tg::ShapeError for a target or weight of the wrong shape,
///   tg::DTypeError for a non-floating input, tg::ValueError for label_smoothing outside [0, 1].
Tensor cross_entropy(const Tensor& input, const Tensor& target, const CrossEntropyLossOptions& options = {});

/// The negative log-likelihood loss, as torch.nn.functional.nll_loss.
/// Negative log-likelihood of log-probabilities `input` [N, C] (or [C], or
/// [N, C, d1, ...]) at int64 class indices `target`: -weight[t] * input[n, t].
/// @param input   log-probabilities [N, C], [C] or [N, C, d1, ...]
/// @param target  int64 class indices [N], [] or [N, d1, ...]
/// @param options weight, ignore_index and reduction
/// @throws tg::ShapeError for a target or weight of the wrong shape, tg::IndexError for a class out of range.
Tensor nll_loss(const Tensor& input, const Tensor& target, const NLLLossOptions& options = {});

/// The mean squared error and the mean absolute error, as torch.nn.functional.mse_loss / l1_loss.
/// (input - target)^2 and |input - target|, reduced; input and target have one shape.
/// @throws tg::ShapeError when input and target shapes disagree, tg::DTypeError for a non-floating input.
///@{
Tensor mse_loss(const Tensor& input, const Tensor& target, const MSELossOptions& options = {});
Tensor l1_loss(const Tensor& input, const Tensor& target, const L1LossOptions& options = {});
///@}

/// The Huber loss, as torch.nn.functional.huber_loss:
/// 0.5 d^2 where |d| < delta, else delta * (|d| - 0.5 delta), d = input - target.
/// @param input   the predictions
/// @param target  the targets, of input's shape
/// @param options delta and reduction
/// @throws tg::ValueError for delta <= 0, tg::ShapeError when the shapes differ.
Tensor huber_loss(const Tensor& input, const Tensor& target, const HuberLossOptions& options = {});

/// Binary cross-entropy of probabilities, as torch.nn.functional.binary_cross_entropy:
/// -weight * (t log(x) + (1 - t) log(1 - x)) for probabilities x in [0, 1],
/// each log clamped at -100 as PyTorch (so x = 0 or 1 gives a finite loss).
/// Input values outside [0, 1] are a ValueError naming the first such value.
/// @param input   probabilities in [0, 1]
/// @param target  targets of input's shape
/// @param options weight and reduction
/// @throws tg::ValueError for an input outside [0, 1], tg::ShapeError when the shapes differ.
Tensor binary_cross_entropy(const Tensor& input, const Tensor& target, const BCELossOptions& options = {});

/// Binary cross-entropy of logits, as torch.nn.functional.binary_cross_entropy_with_logits,
/// computed stably as
///   (1 - t) x + (1 + (pos_weight - 1) t) softplus(-x),
/// never forming sigmoid(x); finite for logits of any magnitude.
/// @param input   logits
/// @param target  targets of input's shape
/// @param options weight, pos_weight and reduction
/// @throws tg::ShapeError when input and target shapes differ, tg::DTypeError for a non-floating input.
Tensor binary_cross_entropy_with_logits(const Tensor& input, const Tensor& target,
                                        const BCEWithLogitsLossOptions& options = {});

// ---- more losses (autograd/ops/loss.cpp), composed of differentiable ops ------------
// Each is PyTorch's formula with its defaults; where PyTorch broadcasts the
// input against the target (with a warning at most), these ask for one shape,
// as mse_loss does.

// KLDivLoss's reduction has a fourth choice: BatchMean, the sum divided by
// input.size(0) (by 1 for a 0-d input), which is the true KL divergence per
// sample; Mean divides by the number of elements, as PyTorch's default does.
// ---- autograd/ops/ctc_loss.cpp --------------------------------------------------------
/// Options of ctc_loss().
struct CTCLossOptions {
  std::int64_t blank = 0;                 ///< the blank class
  Reduction reduction = Reduction::Mean;  ///< how the per-element losses are combined
  bool zero_infinity = false;             ///< impossible alignments (inf) count 0, and give 0 gradient
};
/// The CTC loss, as torch.nn.functional.ctc_loss.
/// Connectionist temporal classification: log_probs [T, N, C] (time, batch,
/// classes; log-softmax outputs), targets [N, S] padded or 1-D concatenated
/// (integer labels in [0, C)), input_lengths and target_lengths integer [N].
/// Per sample, -log of the summed probability of all alignments (inf when
/// there is none); mean divides each by its target length (at least 1) before
/// averaging over the batch, as PyTorch. The gradient w.r.t. log_probs is
/// PyTorch's, which assumes log_probs came from log_softmax. Differentiable
/// once: a second derivative is an AutogradError, as in PyTorch.
Tensor ctc_loss(const Tensor& log_probs, const Tensor& targets, const Tensor& input_lengths,
                const Tensor& target_lengths, const CTCLossOptions& options = {});

/// kl_div's reduction: Reduction's three and BatchMean (the sum divided by input.size(0)).
enum class KLDivReduction { None, Mean, Sum, BatchMean };
/// The PyTorch spelling: "none", "mean", "sum" or "batchmean".
constexpr const char* reduction_name(KLDivReduction reduction) {  // "none", "mean", "sum", "batchmean"
  switch (reduction) {
    case KLDivReduction::None:
      return "none";
    case KLDivReduction::Mean:
      return "mean";
    case KLDivReduction::Sum:
      return "sum";
    case KLDivReduction::BatchMean:
      return "batchmean";
  }
  return "?";
}

/// Options of kl_div().
struct KLDivLossOptions {
  KLDivReduction reduction = KLDivReduction::Mean;  ///< how the per-element losses are combined
  bool log_target = false;                          ///< the target holds log-probabilities
};

/// Options of smooth_l1_loss().
struct SmoothL1LossOptions {
  Reduction reduction = Reduction::Mean;  ///< how the per-element losses are combined
  double beta = 1.0;                      ///< >= 0: quadratic inside |x - y| < beta; 0 is l1_loss
};

/// Options of cosine_embedding_loss().
struct CosineEmbeddingLossOptions {
  double margin = 0;                      ///< the margin of the hinge
  Reduction reduction = Reduction::Mean;  ///< how the per-element losses are combined
};

/// Options of margin_ranking_loss().
struct MarginRankingLossOptions {
  double margin = 0;                      ///< the margin of the hinge
  Reduction reduction = Reduction::Mean;  ///< how the per-element losses are combined
};

/// Options of triplet_margin_loss().
struct TripletMarginLossOptions {
  double margin = 1.0;                    ///< the margin of the hinge
  double p = 2;                           ///< the norm of the distances, > 0
  double eps = 1e-6;                      ///< added to the differences before the norm, as pairwise_distance
  bool swap = false;                      ///< use min(d(a, n), d(p, n)) as the negative distance
  Reduction reduction = Reduction::Mean;  ///< how the per-element losses are combined
};

/// Options of poisson_nll_loss().
struct PoissonNLLLossOptions {
  bool log_input = true;                  ///< the input is log(rate): exp(x) - t x; else x - t log(x + eps)
  bool full = false;                      ///< add Stirling's t log t - t + 0.5 log(2 pi t) where t > 1
  double eps = 1e-8;                      ///< keeps log(x + eps) finite when log_input is false
  Reduction reduction = Reduction::Mean;  ///< how the per-element losses are combined
};

/// Options of gaussian_nll_loss().
struct GaussianNLLLossOptions {
  bool full = false;                      ///< add 0.5 log(2 pi)
  double eps = 1e-6;                      ///< var is clamped at eps in value only (the gradient passes as if unclamped)
  Reduction reduction = Reduction::Mean;  ///< how the per-element losses are combined
};

/// Options of multilabel_soft_margin_loss().
struct MultiLabelSoftMarginLossOptions {
  Tensor weight{};                        ///< [C] (broadcasts to the input's shape): rescales each class
  Reduction reduction = Reduction::Mean;  ///< how the per-element losses are combined
};

/// The Kullback-Leibler divergence loss, as torch.nn.functional.kl_div:
/// target (log target) - target input, elementwise (0 where the target is 0),
/// with input log-probabilities; input and target have one shape.
/// @param input   log-probabilities
/// @param target  probabilities (log-probabilities with log_target), of input's shape
/// @param options reduction and log_target
/// @throws tg::ShapeError when input and target shapes differ, tg::DTypeError for a non-floating input.
Tensor kl_div(const Tensor& input, const Tensor& target, const KLDivLossOptions& options = {});

/// The smooth L1 loss, as torch.nn.functional.smooth_l1_loss:
/// 0.5 d^2 / beta where |d| < beta, else |d| - 0.5 beta, d = input - target.
/// @param input   the predictions
/// @param target  the targets, of input's shape
/// @param options beta and reduction
/// @throws tg::ValueError for a negative beta, tg::ShapeError when the shapes differ.
Tensor smooth_l1_loss(const Tensor& input, const Tensor& target, const SmoothL1LossOptions& options = {});

/// The cosine embedding loss, as torch.nn.functional.cosine_embedding_loss:
/// 1 - cos(x1, x2) where target is 1, max(0, cos - margin) where it is -1 (0
/// elsewhere), per row: x1, x2 [N, D] with target [N], or [D] with a 0-d target.
/// cos = x1.x2 / sqrt((|x1|^2 + 1e-12)(|x2|^2 + 1e-12)).
Tensor cosine_embedding_loss(const Tensor& input1, const Tensor& input2, const Tensor& target,
                             const CosineEmbeddingLossOptions& options = {});

/// The margin ranking loss, as torch.nn.functional.margin_ranking_loss:
/// max(0, -target (input1 - input2) + margin); the three have one shape.
Tensor margin_ranking_loss(const Tensor& input1, const Tensor& input2, const Tensor& target,
                           const MarginRankingLossOptions& options = {});

/// The triplet margin loss, as torch.nn.functional.triplet_margin_loss:
/// max(0, margin + d(a, p) - d(a, n)), d(x, y) = |x - y + eps|_p over the last
/// dim; anchor, positive and negative have one shape ([N, D] or [D]).
Tensor triplet_margin_loss(const Tensor& anchor, const Tensor& positive, const Tensor& negative,
                           const TripletMarginLossOptions& options = {});

/// The negative log-likelihood of target counts under Poisson(rate), as
/// torch.nn.functional.poisson_nll_loss.
/// @param input   log-rates (rates without log_input)
/// @param target  counts, of input's shape
/// @param options log_input, full, eps and reduction
/// @throws tg::ShapeError when input and target shapes differ, tg::DTypeError for a non-floating input.
Tensor poisson_nll_loss(const Tensor& input, const Tensor& target, const PoissonNLLLossOptions& options = {});

/// The Gaussian negative log-likelihood, as torch.nn.functional.gaussian_nll_loss:
/// 0.5 (log(var) + (input - target)^2 / var) (+ 0.5 log(2 pi) if full). var has
/// the input's shape, or that shape without its last dim, or with a last dim of
/// 1 (one variance shared by the last dim). A negative var is a ValueError.
Tensor gaussian_nll_loss(const Tensor& input, const Tensor& target, const Tensor& var,
                         const GaussianNLLLossOptions& options = {});

/// The multi-label soft margin loss, as torch.nn.functional.multilabel_soft_margin_loss:
/// -(t log sigmoid(x) + (1 - t) log sigmoid(-x)), weighted, averaged over the
/// last (class) dim: one loss per sample of an [N, C] (or [C]) input.
/// @param input   logits [N, C] or [C]
/// @param target  0/1 labels of input's shape
/// @param options weight and reduction
/// @throws tg::ShapeError when input and target shapes differ, tg::DTypeError for a non-floating input.
Tensor multilabel_soft_margin_loss(const Tensor& input, const Tensor& target,
                                   const MultiLabelSoftMarginLossOptions& options = {});

}  // namespace tg
