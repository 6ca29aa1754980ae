#pragma once
// MultiheadAttention and the Transformer family, with PyTorch's parameter
// names and layouts, so that a torch state_dict loads by name:
//
//   self_attn.in_proj_weight [3E, E], self_attn.in_proj_bias [3E],
//   self_attn.out_proj.weight [E, E], self_attn.out_proj.bias [E],
//   linear1.*, linear2.*, norm1.*, norm2.* (norm3.* in decoder layers),
//   layers.0.*, ..., norm.* in TransformerEncoder / TransformerDecoder,
//   encoder.*, decoder.* in Transformer.
//
// Submodules are held through std::shared_ptr, so these modules can be moved
// and stored in a ModuleList (as TransformerEncoder stores its layers).
//
// Masks follow torch.nn.MultiheadAttention: a bool attn_mask or
// key_padding_mask is true where attending is NOT allowed (the opposite of
// scaled_dot_product_attention's bool mask); a float mask is added to the
// scores. A query that may attend nothing gives zeros (PyTorch: NaN).
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <tuple>

#include <tapegrad/nn/container.h>
#include <tapegrad/nn/linear.h>
#include <tapegrad/nn/module.h>
#include <tapegrad/nn/normalization.h>

namespace tg::nn {

struct MultiheadAttentionOptions {
  double dropout = 0;  // on the attention weights, in training only
  bool bias = true;
  std::optional<std::int64_t> kdim{};  // key features (default: embed_dim)
  std::optional<std::int64_t> vdim{};  // value features (default: embed_dim)
  bool batch_first = false;            // [N, L, E] instead of [L, N, E]
};

// Outputs and the attention weights ([N, L, S] averaged over heads, or
// [N, H, L, S]; undefined unless need_weights).
using AttentionResult = std::tuple<Tensor, Tensor>;

class MultiheadAttention : public Module {
 public:
  MultiheadAttention(std::int64_t embed_dim, std::int64_t num_heads, MultiheadAttentionOptions options = {});

  // query [L, N, E] ([N, L, E] batch_first, or unbatched [L, E]), key [S, N,
  // kdim], value [S, N, vdim]. key_padding_mask [N, S] ([S] unbatched).
  // attn_mask [L, S] or [N * num_heads, L, S]. is_causal (without attn_mask):
  // query i attends keys j <= i. Without need_weights the fused
  // scaled_dot_product_attention runs; with it, the math path that forms
  // the weights.
  AttentionResult forward(const Tensor& query, const Tensor& key, const Tensor& value,
                          const Tensor& key_padding_mask = {}, StrictBool need_weights = true,
                          const Tensor& attn_mask = {}, StrictBool average_attn_weights = true,
                          StrictBool is_causal = false);
  // Self-attention of x without masks: the output alone.
  Tensor forward(const Tensor& x) override;
  AttentionResult operator()(const Tensor& query, const Tensor& key, const Tensor& value,
                             const Tensor& key_padding_mask = {}, StrictBool need_weights = true,
                             const Tensor& attn_mask = {}, StrictBool average_attn_weights = true,
                             StrictBool is_causal = false) {
    return forward(query, key, value, key_padding_mask, need_weights, attn_mask, average_attn_weights, is_causal);
  }
  std::string type_name() const override { return "MultiheadAttention"; }
  void reset_parameters();

  std::int64_t embed_dim, num_heads, head_dim, kdim, vdim;
  double dropout;
  bool batch_first;
  // in_proj_weight when kdim == vdim == embed_dim, else the three separate ones.
  Tensor in_proj_weight, q_proj_weight, k_proj_weight, v_proj_weight;
  Tensor in_proj_bias;  // [3 E] or undefined
  std::shared_ptr<Linear> out_proj;
};

struct TransformerLayerOptions {
  std::int64_t dim_feedforward = 2048;
  double dropout = 0.1;
  std::string activation = "relu";  // "relu" or "gelu"
  double layer_norm_eps = 1e-5;
  bool batch_first = false;
  bool norm_first = false;  // pre-norm: x + f(norm(x)) instead of norm(x + f(x))
  bool bias = true;         // of the linear layers and the attention's projections
};

class TransformerEncoderLayer : public Module {
 public:
  TransformerEncoderLayer(std::int64_t d_model, std::int64_t nhead, TransformerLayerOptions options = {});
  Tensor forward(const Tensor& src, const Tensor& src_mask, const Tensor& src_key_padding_mask = {},
                 StrictBool is_causal = false);
  Tensor forward(const Tensor& src) override { return forward(src, {}, {}); }
  Tensor operator()(const Tensor& src, const Tensor& src_mask = {}, const Tensor& src_key_padding_mask = {},
                    StrictBool is_causal = false) {
    return forward(src, src_mask, src_key_padding_mask, is_causal);
  }
  std::string type_name() const override { return "TransformerEncoderLayer"; }

  TransformerLayerOptions options;
  std::shared_ptr<MultiheadAttention> self_attn;
  std::shared_ptr<Linear> linear1, linear2;
  std::shared_ptr<LayerNorm> norm1, norm2;

 private:
  Tensor self_attention_block(const Tensor& x, const Tensor& mask, const Tensor& padding, bool is_causal);
  Tensor feed_forward_block(const Tensor& x);
};

class TransformerDecoderLayer : public Module {
 public:
  using Module::forward;  // the single-input one: not defined for this module
  TransformerDecoderLayer(std::int64_t d_model, std::int64_t nhead, TransformerLayerOptions options = {});
  Tensor forward(const Tensor& tgt, const Tensor& memory, const Tensor& tgt_mask = {}, const Tensor& memory_mask = {},
                 const Tensor& tgt_key_padding_mask = {}, const Tensor& memory_key_padding_mask = {},
                 StrictBool tgt_is_causal = false);
  Tensor operator()(const Tensor& tgt, const Tensor& memory, const Tensor& tgt_mask = {},
                    const Tensor& memory_mask = {}, const Tensor& tgt_key_padding_mask = {},
                    const Tensor& memory_key_padding_mask = {}, StrictBool tgt_is_causal = false) {
    return forward(tgt, memory, tgt_mask, memory_mask, tgt_key_padding_mask, memory_key_padding_mask, tgt_is_causal);
  }
  std::string type_name() const override { return "TransformerDecoderLayer"; }

  TransformerLayerOptions options;
  std::shared_ptr<MultiheadAttention> self_attn, multihead_attn;
  std::shared_ptr<Linear> linear1, linear2;
  std::shared_ptr<LayerNorm> norm1, norm2, norm3;

 private:
  Tensor feed_forward_block(const Tensor& x);
};

// num_layers encoder layers ("layers.0", ...), each built from the same
// arguments (independently initialised; PyTorch deep-copies one layer, so
// its layers start equal), then the final LayerNorm "norm" when `final_norm`.
class TransformerEncoder : public Module {
 public:
  TransformerEncoder(std::int64_t d_model, std::int64_t nhead, std::int64_t num_layers,
                     TransformerLayerOptions options = {}, bool final_norm = false);
  Tensor forward(const Tensor& src, const Tensor& mask, const Tensor& src_key_padding_mask = {},
                 StrictBool is_causal = false);
  Tensor forward(const Tensor& src) override { return forward(src, {}, {}); }
  Tensor operator()(const Tensor& src, const Tensor& mask = {}, const Tensor& src_key_padding_mask = {},
                    StrictBool is_causal = false) {
    return forward(src, mask, src_key_padding_mask, is_causal);
  }
  std::string type_name() const override { return "TransformerEncoder"; }
  TransformerEncoderLayer& layer(std::size_t i) const { return layers->at<TransformerEncoderLayer>(i); }

  std::shared_ptr<ModuleList> layers;
  std::shared_ptr<LayerNorm> norm;  // or null
};

class TransformerDecoder : public Module {
 public:
  using Module::forward;  // the single-input one: not defined for this module
  TransformerDecoder(std::int64_t d_model, std::int64_t nhead, std::int64_t num_layers,
                     TransformerLayerOptions options = {}, bool final_norm = false);
  Tensor forward(const Tensor& tgt, const Tensor& memory, const Tensor& tgt_mask = {}, const Tensor& memory_mask = {},
                 const Tensor& tgt_key_padding_mask = {}, const Tensor& memory_key_padding_mask = {},
                 StrictBool tgt_is_causal = false);
  Tensor operator()(const Tensor& tgt, const Tensor& memory, const Tensor& tgt_mask = {},
                    const Tensor& memory_mask = {}, const Tensor& tgt_key_padding_mask = {},
                    const Tensor& memory_key_padding_mask = {}, StrictBool tgt_is_causal = false) {
    return forward(tgt, memory, tgt_mask, memory_mask, tgt_key_padding_mask, memory_key_padding_mask, tgt_is_causal);
  }
  std::string type_name() const override { return "TransformerDecoder"; }
  TransformerDecoderLayer& layer(std::size_t i) const { return layers->at<TransformerDecoderLayer>(i); }

  std::shared_ptr<ModuleList> layers;
  std::shared_ptr<LayerNorm> norm;  // or null
};

struct TransformerOptions {
  std::int64_t d_model = 512;
  std::int64_t nhead = 8;
  std::int64_t num_encoder_layers = 6;
  std::int64_t num_decoder_layers = 6;
  TransformerLayerOptions layer{};
};

// Encoder and decoder, each with a final LayerNorm, as torch.nn.Transformer;
// every parameter of 2 or more dims is then re-initialised by xavier_uniform_.
class Transformer : public Module {
 public:
  using Module::forward;  // the single-input one: not defined for this module
  explicit Transformer(TransformerOptions options = {});
  Tensor forward(const Tensor& src, const Tensor& tgt, const Tensor& src_mask = {}, const Tensor& tgt_mask = {},
                 const Tensor& memory_mask = {}, const Tensor& src_key_padding_mask = {},
                 const Tensor& tgt_key_padding_mask = {}, const Tensor& memory_key_padding_mask = {});
  Tensor operator()(const Tensor& src, const Tensor& tgt, const Tensor& src_mask = {}, const Tensor& tgt_mask = {},
                    const Tensor& memory_mask = {}, const Tensor& src_key_padding_mask = {},
                    const Tensor& tgt_key_padding_mask = {}, const Tensor& memory_key_padding_mask = {}) {
    return forward(src, tgt, src_mask, tgt_mask, memory_mask, src_key_padding_mask, tgt_key_padding_mask,
                   memory_key_padding_mask);
  }
  std::string type_name() const override { return "Transformer"; }
  // [sz, sz] float32: 0 on and below the diagonal, -inf above.
  static Tensor generate_square_subsequent_mask(std::int64_t sz, DType dtype = kFloat32);

  TransformerOptions options;
  std::shared_ptr<TransformerEncoder> encoder;
  std::shared_ptr<TransformerDecoder> decoder;
};

}  // namespace tg::nn
