#pragma once
/// @file
/// MultiheadAttention and the Transformer family, with PyTorch's parameter
/// names and layouts, so that a torch state_dict loads by name:
///
/// - self_attn.in_proj_weight [3E, E], self_attn.in_proj_bias [3E],
///   self_attn.out_proj.weight [E, E], self_attn.out_proj.bias [E],
/// - linear1.*, linear2.*, norm1.*, norm2.* (norm3.* in decoder layers),
/// - layers.0.*, ..., norm.* in TransformerEncoder / TransformerDecoder,
/// - encoder.*, decoder.* in Transformer.
///
/// The submodules are PyTorch's too, in its order, so named_modules() lists
/// the same tree: a layer's dropouts are Dropout children (dropout, dropout1,
/// dropout2, and dropout3 in decoder layers) that train() and eval() reach.
///
/// @code
/// tg::nn::TransformerEncoder encoder(512, 8, 6, {.batch_first = true});
/// tg::Tensor y = encoder(x, {}, padding_mask);  // x [N, L, 512]
/// @endcode
///
/// Submodules are held through std::shared_ptr, so these modules can be moved
/// and stored in a ModuleList (as TransformerEncoder stores its layers).
///
/// Masks follow torch.nn.MultiheadAttention: a bool attn_mask or
/// key_padding_mask is true where attending is NOT allowed (the opposite of
/// scaled_dot_product_attention's bool mask); a float mask is added to the
/// scores. A query that may attend nothing gives zeros (PyTorch: NaN).
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <tuple>

#include <tapegrad/nn/container.h>
#include <tapegrad/nn/dropout.h>
#include <tapegrad/nn/linear.h>
#include <tapegrad/nn/module.h>
#include <tapegrad/nn/normalization.h>

namespace tg::nn {

/// Options of MultiheadAttention, as torch.nn.MultiheadAttention's keyword arguments.
struct MultiheadAttentionOptions {
  double dropout = 0;                  ///< on the attention weights, in training only
  bool bias = true;                    ///< biases on the input and output projections
  std::optional<std::int64_t> kdim{};  ///< key features (default: embed_dim)
  std::optional<std::int64_t> vdim{};  ///< value features (default: embed_dim)
  bool batch_first = false;            ///< [N, L, E] instead of [L, N, E]
};

/// What MultiheadAttention::forward returns: the outputs and the attention weights ([N, L, S] averaged over heads, or
/// [N, H, L, S]; undefined unless need_weights).
using AttentionResult = std::tuple<Tensor, Tensor>;

/// Multi-head attention, as torch.nn.MultiheadAttention (same parameter
/// names and layouts; masks as the description of transformer.h says).
class MultiheadAttention : public Module {
 public:
  /// Attention over embed_dim features split into num_heads heads.
  /// @param embed_dim the query's features (E)
  /// @param num_heads the number of heads, which divides embed_dim
  /// @param options   dropout, bias, kdim, vdim, batch_first
  /// @throws tg::ValueError for an embed_dim not divisible by num_heads, a
  ///   non-positive kdim or vdim, or dropout outside [0, 1].
  MultiheadAttention(std::int64_t embed_dim, std::int64_t num_heads, MultiheadAttentionOptions options = {});

  /// The attention outputs (and weights), as torch.nn.MultiheadAttention.forward:
  /// query [L, N, E] ([N, L, E] batch_first, or unbatched [L, E]), key [S, N,
  /// kdim], value [S, N, vdim]. key_padding_mask [N, S] ([S] unbatched).
  /// attn_mask [L, S] or [N * num_heads, L, S]. is_causal (without attn_mask):
  /// query i attends keys j <= i. Without need_weights the fused
  /// scaled_dot_product_attention runs; with it, the math path that forms
  /// the weights.
  /// @param query                [L, N, E] (or as above)
  /// @param key                  [S, N, kdim]
  /// @param value                [S, N, vdim]
  /// @param key_padding_mask     [N, S]: true (or -inf) at keys to ignore; undefined for none
  /// @param need_weights         also return the attention weights
  /// @param attn_mask            [L, S] or [N * num_heads, L, S]; undefined for none
  /// @param average_attn_weights average the weights over heads
  /// @param is_causal            mask keys after each query (not with attn_mask)
  /// @throws tg::ShapeError for inputs or masks of the wrong shape or an undefined
  ///   query, key or value (named), tg::ValueError for both attn_mask and is_causal.
  AttentionResult forward(const Tensor& query, const Tensor& key, const Tensor& value,
                          const Tensor& key_padding_mask = {}, StrictBool need_weights = true,
                          const Tensor& attn_mask = {}, StrictBool average_attn_weights = true,
                          StrictBool is_causal = false);
  /// Self-attention of x without masks: the output alone.
  Tensor forward(const Tensor& x) override;
  /// forward() with the same arguments.
  AttentionResult operator()(const Tensor& query, const Tensor& key, const Tensor& value,
                             const Tensor& key_padding_mask = {}, StrictBool need_weights = true,
                             const Tensor& attn_mask = {}, StrictBool average_attn_weights = true,
                             StrictBool is_causal = false) {
    return forward(query, key, value, key_padding_mask, need_weights, attn_mask, average_attn_weights, is_causal);
  }
  std::string type_name() const override { return "MultiheadAttention"; }
  /// Initialises the parameters again, as the constructor does.
  void reset_parameters();

  /// The sizes: E, the heads, E / heads, and the key's and value's features.
  ///@{
  std::int64_t embed_dim, num_heads, head_dim, kdim, vdim;
  ///@}
  double dropout;    ///< the attention weights' dropout probability (training only)
  bool batch_first;  ///< inputs are [N, L, E]
  /// The input projections: in_proj_weight [3E, E] when kdim == vdim ==
  /// embed_dim, else the three separate ones (the others undefined).
  ///@{
  Tensor in_proj_weight, q_proj_weight, k_proj_weight, v_proj_weight;
  ///@}
  Tensor in_proj_bias;               ///< [3 E] or undefined
  std::shared_ptr<Linear> out_proj;  ///< the output projection [E, E]
};

/// Options of the Transformer layers (torch.nn.TransformerEncoderLayer's keyword arguments).
struct TransformerLayerOptions {
  std::int64_t dim_feedforward = 2048;  ///< the feed-forward block's hidden size
  double dropout = 0.1;                 ///< dropout probability (training only)
  std::string activation = "relu";      ///< "relu" or "gelu"
  double layer_norm_eps = 1e-5;         ///< the LayerNorms' eps
  bool batch_first = false;             ///< inputs are [N, L, E]
  bool norm_first = false;              ///< pre-norm: x + f(norm(x)) instead of norm(x + f(x))
  bool bias = true;  ///< of the linear layers, the attention's projections and the LayerNorms (final ones too)
};

/// Self-attention and a feed-forward block, each with a residual and a
/// LayerNorm, as torch.nn.TransformerEncoderLayer.
class TransformerEncoderLayer : public Module {
 public:
  /// A layer with freshly initialised parameters.
  /// @param d_model the model's features (E)
  /// @param nhead   the attention heads
  /// @param options the feed-forward size, dropout, activation and layout
  /// @throws tg::ValueError for an activation other than "relu" or "gelu", or bad attention sizes.
  TransformerEncoderLayer(std::int64_t d_model, std::int64_t nhead, TransformerLayerOptions options = {});
  /// The layer's output for src [L, N, E] ([N, L, E] batch_first, or [L, E]).
  /// @param src                  the input sequence
  /// @param src_mask             attention mask [L, L] (or per head); undefined for none
  /// @param src_key_padding_mask [N, L]: true at positions to ignore; undefined for none
  /// @param is_causal            causal self-attention (instead of src_mask)
  /// @throws tg::ShapeError for an undefined src (named), or as MultiheadAttention::forward.
  Tensor forward(const Tensor& src, const Tensor& src_mask, const Tensor& src_key_padding_mask = {},
                 StrictBool is_causal = false);
  Tensor forward(const Tensor& src) override { return forward(src, {}, {}); }
  /// forward() with the same arguments.
  Tensor operator()(const Tensor& src, const Tensor& src_mask = {}, const Tensor& src_key_padding_mask = {},
                    StrictBool is_causal = false) {
    return forward(src, src_mask, src_key_padding_mask, is_causal);
  }
  std::string type_name() const override { return "TransformerEncoderLayer"; }

  TransformerLayerOptions options;                ///< as constructed
  std::shared_ptr<MultiheadAttention> self_attn;  ///< the self-attention
  /// The feed-forward block: d_model -> dim_feedforward -> d_model.
  ///@{
  std::shared_ptr<Linear> linear1, linear2;
  ///@}
  /// After (or, norm_first, before) the attention and the feed-forward block.
  ///@{
  std::shared_ptr<LayerNorm> norm1, norm2;
  ///@}
  /// Dropouts of probability options.dropout, as PyTorch's: inside the
  /// feed-forward block (after the activation), after the self-attention,
  /// after the feed-forward block.
  ///@{
  std::shared_ptr<Dropout> dropout, dropout1, dropout2;
  ///@}

 private:
  Tensor self_attention_block(const Tensor& x, const Tensor& mask, const Tensor& padding, bool is_causal);
};

/// Self-attention, attention over the encoder's output (memory) and a
/// feed-forward block, as torch.nn.TransformerDecoderLayer.
class TransformerDecoderLayer : public Module {
 public:
  using Module::forward;  // the single-input one: not defined for this module
  /// A layer with freshly initialised parameters.
  /// @param d_model the model's features (E)
  /// @param nhead   the attention heads
  /// @param options the feed-forward size, dropout, activation and layout
  /// @throws tg::ValueError for an activation other than "relu" or "gelu", or bad attention sizes.
  TransformerDecoderLayer(std::int64_t d_model, std::int64_t nhead, TransformerLayerOptions options = {});
  /// The layer's output for tgt [T, N, E] attending memory [S, N, E] (or batch_first / unbatched).
  /// @param tgt                     the target sequence
  /// @param memory                  the encoder's output
  /// @param tgt_mask                self-attention mask; undefined for none
  /// @param memory_mask             memory attention mask; undefined for none
  /// @param tgt_key_padding_mask    [N, T]: true at target positions to ignore
  /// @param memory_key_padding_mask [N, S]: true at memory positions to ignore
  /// @param tgt_is_causal           causal self-attention (instead of tgt_mask)
  /// @throws tg::ShapeError for an undefined tgt or memory (named), or as MultiheadAttention::forward.
  Tensor forward(const Tensor& tgt, const Tensor& memory, const Tensor& tgt_mask = {}, const Tensor& memory_mask = {},
                 const Tensor& tgt_key_padding_mask = {}, const Tensor& memory_key_padding_mask = {},
                 StrictBool tgt_is_causal = false);
  /// forward() with the same arguments.
  Tensor operator()(const Tensor& tgt, const Tensor& memory, const Tensor& tgt_mask = {},
                    const Tensor& memory_mask = {}, const Tensor& tgt_key_padding_mask = {},
                    const Tensor& memory_key_padding_mask = {}, StrictBool tgt_is_causal = false) {
    return forward(tgt, memory, tgt_mask, memory_mask, tgt_key_padding_mask, memory_key_padding_mask, tgt_is_causal);
  }
  std::string type_name() const override { return "TransformerDecoderLayer"; }

  TransformerLayerOptions options;  ///< as constructed
  /// The self-attention and the attention over memory.
  ///@{
  std::shared_ptr<MultiheadAttention> self_attn, multihead_attn;
  ///@}
  /// The feed-forward block: d_model -> dim_feedforward -> d_model.
  ///@{
  std::shared_ptr<Linear> linear1, linear2;
  ///@}
  /// One per block (self-attention, memory attention, feed-forward).
  ///@{
  std::shared_ptr<LayerNorm> norm1, norm2, norm3;
  ///@}
  /// Dropouts of probability options.dropout, as PyTorch's: inside the
  /// feed-forward block (after the activation), then after each block
  /// (self-attention, memory attention, feed-forward).
  ///@{
  std::shared_ptr<Dropout> dropout, dropout1, dropout2, dropout3;
  ///@}
};

/// A stack of TransformerEncoderLayer, as torch.nn.TransformerEncoder:
/// num_layers encoder layers ("layers.0", ...), each built from the same
/// arguments (independently initialised; PyTorch deep-copies one layer, so
/// its layers start equal), then the final LayerNorm "norm" when `final_norm`.
class TransformerEncoder : public Module {
 public:
  /// num_layers layers built from d_model, nhead and options.
  /// @param d_model    the model's features
  /// @param nhead      the attention heads
  /// @param num_layers the number of layers, >= 0
  /// @param options    each layer's options
  /// @param final_norm add a final LayerNorm
  /// @throws tg::ValueError for a negative num_layers, or as TransformerEncoderLayer.
  TransformerEncoder(std::int64_t d_model, std::int64_t nhead, std::int64_t num_layers,
                     TransformerLayerOptions options = {}, bool final_norm = false);
  /// The layers applied in turn (then norm), each with the same masks, as
  /// TransformerEncoderLayer::forward.
  /// @param src                  the input sequence
  /// @param mask                 attention mask; undefined for none
  /// @param src_key_padding_mask true at positions to ignore; undefined for none
  /// @param is_causal            causal self-attention
  Tensor forward(const Tensor& src, const Tensor& mask, const Tensor& src_key_padding_mask = {},
                 StrictBool is_causal = false);
  Tensor forward(const Tensor& src) override { return forward(src, {}, {}); }
  /// forward() with the same arguments.
  Tensor operator()(const Tensor& src, const Tensor& mask = {}, const Tensor& src_key_padding_mask = {},
                    StrictBool is_causal = false) {
    return forward(src, mask, src_key_padding_mask, is_causal);
  }
  std::string type_name() const override { return "TransformerEncoder"; }
  /// Layer i.
  TransformerEncoderLayer& layer(std::size_t i) const { return layers->at<TransformerEncoderLayer>(i); }

  std::shared_ptr<ModuleList> layers;  ///< the layers ("layers.0", ...)
  std::shared_ptr<LayerNorm> norm;     ///< the final LayerNorm, or null
};

/// A stack of TransformerDecoderLayer (then a LayerNorm "norm" when
/// `final_norm`), as torch.nn.TransformerDecoder.
class TransformerDecoder : public Module {
 public:
  using Module::forward;  // the single-input one: not defined for this module
  /// num_layers layers built from d_model, nhead and options.
  /// @param d_model    the model's features
  /// @param nhead      the attention heads
  /// @param num_layers the number of layers, >= 0
  /// @param options    each layer's options
  /// @param final_norm add a final LayerNorm
  /// @throws tg::ValueError for a negative num_layers, or as TransformerDecoderLayer.
  TransformerDecoder(std::int64_t d_model, std::int64_t nhead, std::int64_t num_layers,
                     TransformerLayerOptions options = {}, bool final_norm = false);
  /// The layers applied in turn (then norm), each with the same arguments, as
  /// TransformerDecoderLayer::forward.
  Tensor forward(const Tensor& tgt, const Tensor& memory, const Tensor& tgt_mask = {}, const Tensor& memory_mask = {},
                 const Tensor& tgt_key_padding_mask = {}, const Tensor& memory_key_padding_mask = {},
                 StrictBool tgt_is_causal = false);
  /// forward() with the same arguments.
  Tensor operator()(const Tensor& tgt, const Tensor& memory, const Tensor& tgt_mask = {},
                    const Tensor& memory_mask = {}, const Tensor& tgt_key_padding_mask = {},
                    const Tensor& memory_key_padding_mask = {}, StrictBool tgt_is_causal = false) {
    return forward(tgt, memory, tgt_mask, memory_mask, tgt_key_padding_mask, memory_key_padding_mask, tgt_is_causal);
  }
  std::string type_name() const override { return "TransformerDecoder"; }
  /// Layer i.
  TransformerDecoderLayer& layer(std::size_t i) const { return layers->at<TransformerDecoderLayer>(i); }

  std::shared_ptr<ModuleList> layers;  ///< the layers ("layers.0", ...)
  std::shared_ptr<LayerNorm> norm;     ///< the final LayerNorm, or null
};

/// Options of Transformer, as torch.nn.Transformer's keyword arguments.
struct TransformerOptions {
  std::int64_t d_model = 512;           ///< the model's features
  std::int64_t nhead = 8;               ///< the attention heads
  std::int64_t num_encoder_layers = 6;  ///< the encoder's layers
  std::int64_t num_decoder_layers = 6;  ///< the decoder's layers
  TransformerLayerOptions layer{};      ///< every layer's options
};

/// An encoder-decoder Transformer, as torch.nn.Transformer: encoder and
/// decoder, each with a final LayerNorm;
/// every parameter of 2 or more dims is then re-initialised by xavier_uniform_.
class Transformer : public Module {
 public:
  using Module::forward;  // the single-input one: not defined for this module
  /// A Transformer with freshly initialised parameters.
  /// @throws tg::ValueError as TransformerEncoder and TransformerDecoder.
  explicit Transformer(TransformerOptions options = {});
  /// decoder(tgt, encoder(src, src_mask, src_key_padding_mask), ...), as torch.nn.Transformer.forward.
  /// @param src                     the encoder's input
  /// @param tgt                     the decoder's input
  /// @param src_mask                the encoder's attention mask
  /// @param tgt_mask                the decoder's self-attention mask
  /// @param memory_mask             the decoder's mask over the encoder's output
  /// @param src_key_padding_mask    true at src positions to ignore
  /// @param tgt_key_padding_mask    true at tgt positions to ignore
  /// @param memory_key_padding_mask true at memory positions to ignore
  /// @throws tg::ShapeError for an undefined src or tgt (named), or as the layers.
  Tensor forward(const Tensor& src, const Tensor& tgt, const Tensor& src_mask = {}, const Tensor& tgt_mask = {},
                 const Tensor& memory_mask = {}, const Tensor& src_key_padding_mask = {},
                 const Tensor& tgt_key_padding_mask = {}, const Tensor& memory_key_padding_mask = {});
  /// forward() with the same arguments.
  Tensor operator()(const Tensor& src, const Tensor& tgt, const Tensor& src_mask = {}, const Tensor& tgt_mask = {},
                    const Tensor& memory_mask = {}, const Tensor& src_key_padding_mask = {},
                    const Tensor& tgt_key_padding_mask = {}, const Tensor& memory_key_padding_mask = {}) {
    return forward(src, tgt, src_mask, tgt_mask, memory_mask, src_key_padding_mask, tgt_key_padding_mask,
                   memory_key_padding_mask);
  }
  std::string type_name() const override { return "Transformer"; }
  /// A causal mask, as torch.nn.Transformer.generate_square_subsequent_mask:
  /// [sz, sz] of dtype: 0 on and below the diagonal, -inf above. DTypeError
  /// for a dtype that is not floating, ShapeError for a negative sz.
  static Tensor generate_square_subsequent_mask(std::int64_t sz, DType dtype = kFloat32);

  TransformerOptions options;                   ///< as constructed
  std::shared_ptr<TransformerEncoder> encoder;  ///< the encoder (with its final norm)
  std::shared_ptr<TransformerDecoder> decoder;  ///< the decoder (with its final norm)
};

}  // namespace tg::nn
