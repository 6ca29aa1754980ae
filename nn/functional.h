#pragma once
// tg::nn::functional: the operations behind the nn modules, as plain
// functions for code that prefers them (torch.nn.functional):
//
//   namespace F = tg::nn::functional;
//   auto h = F::relu(F::conv2d(x, w, b, /*stride=*/1, /*padding=*/1));
//
// The activations forward to the ops of autograd/ops.h. conv2d, the pools,
// the normalisations, dropout and embedding are differentiable ops of their
// own (autograd/ops/conv.cpp, pool.cpp, normalization.cpp, dropout.cpp,
// embedding.cpp): forward, backward and shape rule together. The losses are
// declared in nn/loss.h, included at the end.
#include <concepts>
#include <cstdint>
#include <optional>
#include <tuple>

#include <tapegrad/autograd/ops.h>
#include <tapegrad/autograd/tensor.h>

namespace tg {
class Generator;
}

namespace tg::nn {

// A height and width: `3` means {3, 3}, `{3, 5}` means height 3, width 5.
struct Size2 {
  std::int64_t h = 0;
  std::int64_t w = 0;
  Size2(std::int64_t both) : h(both), w(both) {}  // NOLINT: implicit on purpose, as PyTorch's int-or-tuple
  Size2(std::int64_t height, std::int64_t width) : h(height), w(width) {}
  friend bool operator==(const Size2&, const Size2&) = default;
};

}  // namespace tg::nn

namespace tg::nn::functional {

// ---- activations (autograd/ops.h) ---------------------------------------------
inline Tensor relu(const Tensor& x) { return tg::relu(x); }
inline Tensor leaky_relu(const Tensor& x, double negative_slope = 0.01) { return tg::leaky_relu(x, negative_slope); }
inline Tensor gelu(const Tensor& x) { return tg::gelu(x); }
inline Tensor sigmoid(const Tensor& x) { return tg::sigmoid(x); }
inline Tensor tanh(const Tensor& x) { return tg::tanh(x); }
inline Tensor softmax(const Tensor& x, std::int64_t dim) { return tg::softmax(x, dim); }
inline Tensor log_softmax(const Tensor& x, std::int64_t dim) { return tg::log_softmax(x, dim); }

// ---- shapes and affine maps ---------------------------------------------------
inline Tensor flatten(const Tensor& x, std::int64_t start_dim = 1, std::int64_t end_dim = -1) {
  return tg::flatten(x, start_dim, end_dim);
}
// x @ weight^T + bias: one GEMM with the bias folded in.
inline Tensor linear(const Tensor& x, const Tensor& weight, const Tensor& bias = {}) {
  return tg::linear(x, weight, bias);
}

// ---- dropout (autograd/ops/dropout.cpp) ----------------------------------------
// Training: each element is zeroed with probability p and the survivors are
// scaled by 1 / (1 - p), drawing from `generator` (default: the global one,
// seeded by tg::manual_seed). Not training, or p == 0: x itself.
Tensor dropout(const Tensor& x, double p = 0.5, StrictBool training = true, Generator* generator = nullptr);
// `dropout(x, training)` would read the flag as p = 1 and zero everything.
template <class B, class... Rest>
  requires std::same_as<B, bool>
Tensor dropout(const Tensor& x, B p, Rest&&... rest) = delete;

// ---- convolution (autograd/ops/conv.cpp) ---------------------------------------
// x [N, C, H, W] (or unbatched [C, H, W]), weight [O, C, kh, kw], bias [O]
// or undefined. Zero padding. Each image is unfolded (im2col) into one buffer
// and multiplied by the weight in one GEMM; backward folds the input gradient
// back (col2im) and takes the weight gradient by GEMM.
Tensor conv2d(const Tensor& x, const Tensor& weight, const Tensor& bias = {}, Size2 stride = 1, Size2 padding = 0,
              Size2 dilation = 1);

// ---- pooling (autograd/ops/pool.cpp) --------------------------------------------
// x [N, C, H, W] or [C, H, W]. stride defaults to the kernel size. Padding is
// at most half the (dilated) kernel, as PyTorch; the output size rounds down.
// max_pool2d's gradient goes to the first maximum of each window.
Tensor max_pool2d(const Tensor& x, Size2 kernel_size, std::optional<Size2> stride = {}, Size2 padding = 0,
                  Size2 dilation = 1);
// Also the argmax of each window as a flat index into its input plane (H * W).
std::tuple<Tensor, Tensor> max_pool2d_with_indices(const Tensor& x, Size2 kernel_size,
                                                   std::optional<Size2> stride = {}, Size2 padding = 0,
                                                   Size2 dilation = 1);
// count_include_pad: padded zeros count in each window's divisor (PyTorch's
// default); otherwise only the input elements do.
// The flags below are StrictBool: a number in their place (`batch_norm(x, rm,
// rv, w, b, 0.1)`, meant as the momentum) would otherwise read as true.
Tensor avg_pool2d(const Tensor& x, Size2 kernel_size, std::optional<Size2> stride = {}, Size2 padding = 0,
                  StrictBool count_include_pad = true);

// ---- normalisation (autograd/ops/normalization.cpp) ------------------------------
// Normalises over the last normalized_shape.size() dims of x, which must equal
// normalized_shape; weight and bias (either may be undefined) have that shape.
Tensor layer_norm(const Tensor& x, Dims normalized_shape, const Tensor& weight = {}, const Tensor& bias = {},
                  double eps = 1e-5);
// x [N, C, ...] normalised per channel C. Training (or without running
// statistics): batch mean and biased variance, and when running_mean and
// running_var are given they are updated in place,
//   running = (1 - momentum) * running + momentum * batch   (unbiased variance).
// Otherwise the running statistics are used. weight, bias [C] may be undefined.
Tensor batch_norm(const Tensor& x, const Tensor& running_mean, const Tensor& running_var, const Tensor& weight = {},
                  const Tensor& bias = {}, StrictBool training = false, double momentum = 0.1, double eps = 1e-5);

// ---- embedding (autograd/ops/embedding.cpp) --------------------------------------
// Rows of weight [num_embeddings, dim] picked by int64 indices of any shape:
// the result is [*indices.shape, dim]. The row padding_idx (negative counts
// from the end) receives no gradient.
Tensor embedding(const Tensor& indices, const Tensor& weight, std::optional<std::int64_t> padding_idx = {});

}  // namespace tg::nn::functional

// The losses (another file, the same namespace).
#include <tapegrad/nn/loss.h>
