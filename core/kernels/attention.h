#pragma once
// Fused scaled dot-product attention (memory-efficient / flash attention on
// the CPU): softmax(q k^T * scale + mask) v computed tile by tile with an
// online softmax (running row max and sum). Above 256 keys, no more than
// one [64, 128] tile of scores per thread exists at a time (fewer query rows
// when the features are many); the forward keeps only the output and each
// query row's logsumexp, and the backward recomputes the tiles from them. Up
// to 256 keys, one [64 or fewer, S] tile spans every key (no rescaling), and
// the forward may keep the weights for the backward instead
// (attention_forward's keep_weights; float32 for 16-bit inputs): at most 256
// values per query row, so memory stays linear in L. Every tile product is one GEMM (blas.h), which
// reads keys and values transposed once per call.
//
// Shapes (PyTorch 2.x): q [..., L, E], k [..., S, E], v [..., S, Ev]; the
// batch dims "..." of q, k and v broadcast together. The mask, when defined,
// broadcasts to [..., L, S]: bool (true = attend) or of q's dtype (added to
// the scores). is_causal lets query i attend keys j <= i (the top-left
// aligned lower triangle, torch.ones(L, S).tril(), also when L != S) and
// may not be combined with a mask. A query row that may attend no key at
// all gives a zero output row with zero gradients (PyTorch's math path gives
// NaN there): that is a row whose scores are all -inf after masking, and
// only that. A NaN or +inf score in a row makes the row's output, logsumexp
// and gradients NaN, as softmax does (torch 1.13). A bool mask and is_causal
// select: the scores of keys they exclude are never looked at, so a NaN there
// does not reach the row (PyTorch's math path adds -inf to it and gets NaN).
// A float mask is added, NaN + -inf staying NaN. Under is_causal the tiles
// wholly above the diagonal (blocks of 64 or fewer) are skipped: a NaN in q, k or v
// does not reach an output or gradient through their zero weights, as it does
// through the math path's products (0 * NaN is NaN); and a query row made NaN
// by its own NaN reaches dv only for the keys of the tiles visited, not those
// of skipped tiles, where PyTorch's math path makes every key's dv NaN.
//
// Dropout (p > 0) zeroes each attention weight with probability p and scales
// the rest by 1 / (1 - p). Its mask is a hash of (seed, batch, i, j), not a
// stored tensor: the backward regenerates the same tiles, and one seed gives
// one mask.
#include <cstdint>
#include <tuple>

#include <tapegrad/core/tensor.h>

namespace tg::kernel {

struct AttentionOptions {
  TensorBase mask{};  // undefined, bool, or q's dtype; broadcasts to [..., L, S]
  bool is_causal = false;
  double scale = 0;  // already resolved (the caller's default is 1 / sqrt(E))
  double dropout_p = 0;
  std::uint64_t dropout_seed = 0;
};

// The checked broadcast batch shape of q, k, v (and the mask): the result
// has shape [*batch, L, Ev]. ShapeError / DTypeError / ValueError naming
// scaled_dot_product_attention otherwise.
Dims attention_batch_shape(const TensorBase& q, const TensorBase& k, const TensorBase& v,
                           const AttentionOptions& options);

// What the forward gives: out [*batch, L, Ev] and logsumexp [*batch, L] (a
// fully masked row's logsumexp is -inf, a NaN row's NaN). out has q's dtype;
// the logsumexp is float32 for float16 and bfloat16 inputs (the backward's
// exp(s - lse) needs its precision and range), else q's dtype. weights, when
// keep_weights was asked and S <= 256 keys (so that it costs at most 256
// values per query row, linear in L): the softmax weights before dropout,
// [*batch, L, S] in the logsumexp's dtype, for attention_backward, which
// then recomputes no scores; their entries for keys that is_causal excludes
// from a query's block of rows are not written (an internal layout).
struct AttentionForward {
  TensorBase out, logsumexp, weights;
};
AttentionForward attention_forward(const TensorBase& q, const TensorBase& k, const TensorBase& v,
                                   const AttentionOptions& options, bool keep_weights = false);

// {dq [*batch, L, E], dk [*batch, S, E], dv [*batch, S, Ev]} (the broadcast
// batch shape: the caller sums them back to each input's shape). weights:
// the forward's kept weights, or undefined to recompute them.
std::tuple<TensorBase, TensorBase, TensorBase> attention_backward(const TensorBase& dout, const TensorBase& q,
                                                                  const TensorBase& k, const TensorBase& v,
                                                                  const TensorBase& out, const TensorBase& logsumexp,
                                                                  const TensorBase& weights,
                                                                  const AttentionOptions& options);

// The dropout multipliers (0 or 1 / (1 - p)) that attention_forward applies,
// as a tensor [*batch, L, S] of `dtype`: for the unfused (math) path.
TensorBase attention_dropout_mask(const Dims& batch, std::int64_t L, std::int64_t S, DType dtype, double p,
                                  std::uint64_t seed);

}  // namespace tg::kernel
