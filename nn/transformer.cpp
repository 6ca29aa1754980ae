#include <tapegrad/nn/transformer.h>

#include <cmath>
#include <limits>

#include <fmt/format.h>

#include <tapegrad/autograd/ops.h>
#include <tapegrad/core/dims.h>
#include <tapegrad/core/storage.h>
#include <tapegrad/nn/functional.h>
#include <tapegrad/nn/init.h>

namespace tg::nn {

namespace {

constexpr double kNegInf = -std::numeric_limits<double>::infinity();

// A MultiheadAttention mask (bool: true = not allowed; float: added) as
// scaled_dot_product_attention's (bool: true = allowed; float: added).
Tensor to_sdpa_mask(const Tensor& mask) { return mask.dtype() == kBool ? tg::logical_not(mask) : mask; }

// Two sdpa masks as one: both bool -> and; otherwise both as additive floats.
Tensor merge_masks(const Tensor& a, const Tensor& b, DType dtype) {
  if (!a.defined()) return b;
  if (!b.defined()) return a;
  if (a.dtype() == kBool && b.dtype() == kBool) return tg::logical_and(a, b);
  const auto additive = [dtype](const Tensor& m) {
    return m.dtype() == kBool ? tg::where(m, tg::zeros({}, {.dtype = dtype}), kNegInf) : m;
  };
  return tg::add(additive(a), additive(b));
}

Tensor activate(const std::string& activation, const Tensor& x) {
  return activation == "gelu" ? tg::gelu(x) : tg::relu(x);
}

void check_activation(const std::string& activation, const char* who) {
  if (activation != "relu" && activation != "gelu")
    throw ValueError(fmt::format("{}: activation should be \"relu\" or \"gelu\", not \"{}\"", who, activation));
}

// A module's tensor argument that has to be given: an error naming the
// module and the argument, as RNN's input check reports "undefined" (Tensor's
// own "tensor is undefined" names neither).
void require_defined(const char* module, const char* arg, const Tensor& t) {
  if (!t.defined()) throw ShapeError(fmt::format("{}: {} is undefined (a tensor is required)", module, arg));
}

MultiheadAttentionOptions attention_options(const TransformerLayerOptions& o) {
  return {.dropout = o.dropout, .bias = o.bias, .kdim = {}, .vdim = {}, .batch_first = o.batch_first};
}

// linear2(dropout(activation(linear1(x)))): both layers' feed-forward block,
// before the dropout that follows it.
Tensor feed_forward(const std::string& activation, Linear& linear1, Dropout& dropout, Linear& linear2,
                    const Tensor& x) {
  return linear2(dropout(activate(activation, linear1(x))));
}

}  // namespace

// ---- MultiheadAttention ---------------------------------------------------------

MultiheadAttention::MultiheadAttention(std::int64_t embed_dim_, std::int64_t num_heads_, MultiheadAttentionOptions o)
    : embed_dim(embed_dim_),
      num_heads(num_heads_),
      head_dim(0),
      kdim(o.kdim.value_or(embed_dim_)),
      vdim(o.vdim.value_or(embed_dim_)),
      dropout(o.dropout),
      batch_first(o.batch_first) {
  if (embed_dim <= 0 || num_heads <= 0 || embed_dim % num_heads != 0)
    throw ValueError(fmt::format("MultiheadAttention: embed_dim ({}) must be positive and divisible by num_heads ({})",
                                 embed_dim, num_heads));
  if (kdim <= 0 || vdim <= 0)
    throw ValueError(fmt::format("MultiheadAttention: kdim ({}) and vdim ({}) must be positive", kdim, vdim));
  if (!(dropout >= 0 && dropout <= 1))
    throw ValueError(fmt::format("MultiheadAttention: dropout has to be between 0 and 1, got {}", dropout));
  // The packed in-projection stacks q, k and v: 3 * embed_dim rows.
  std::int64_t rows = 0;
  if (mul_overflows(embed_dim, 3, &rows))
    throw ShapeError(
        fmt::format("MultiheadAttention: embed_dim {} times 3 (the packed q, k and v projections) is more "
                    "rows than int64 can count",
                    embed_dim));
  head_dim = embed_dim / num_heads;
  if (kdim == embed_dim && vdim == embed_dim) {
    register_parameter("in_proj_weight", &MultiheadAttention::in_proj_weight, empty({3 * embed_dim, embed_dim}));
  } else {
    register_parameter("q_proj_weight", &MultiheadAttention::q_proj_weight, empty({embed_dim, embed_dim}));
    register_parameter("k_proj_weight", &MultiheadAttention::k_proj_weight, empty({embed_dim, kdim}));
    register_parameter("v_proj_weight", &MultiheadAttention::v_proj_weight, empty({embed_dim, vdim}));
  }
  if (o.bias) register_parameter("in_proj_bias", &MultiheadAttention::in_proj_bias, empty({3 * embed_dim}));
  out_proj = register_module("out_proj", std::make_shared<Linear>(embed_dim, embed_dim, StrictBool(o.bias)));
  reset_parameters();
}

void MultiheadAttention::reset_parameters() {
  if (in_proj_weight.defined()) {
    init::xavier_uniform_(in_proj_weight);
  } else {
    init::xavier_uniform_(q_proj_weight);
    init::xavier_uniform_(k_proj_weight);
    init::xavier_uniform_(v_proj_weight);
  }
  if (in_proj_bias.defined()) init::zeros_(in_proj_bias);
  if (out_proj->bias.defined()) init::zeros_(out_proj->bias);
}

Tensor MultiheadAttention::forward(const Tensor& x) { return std::get<0>(forward(x, x, x, {}, false)); }

AttentionResult MultiheadAttention::forward(const Tensor& query, const Tensor& key, const Tensor& value,
                                            const Tensor& key_padding_mask, StrictBool need_weights,
                                            const Tensor& attn_mask, StrictBool average_attn_weights,
                                            StrictBool is_causal) {
  require_defined("MultiheadAttention", "query", query);
  require_defined("MultiheadAttention", "key", key);
  require_defined("MultiheadAttention", "value", value);
  const bool batched = query.dim() == 3;
  if ((query.dim() != 2 && query.dim() != 3) || key.dim() != query.dim() || value.dim() != query.dim())
    throw ShapeError(
        fmt::format("MultiheadAttention: query, key and value must all be 3-D (batched) or all 2-D "
                    "(unbatched), got {}, {} and {}",
                    shape_str(query.sizes()), shape_str(key.sizes()), shape_str(value.sizes())));
  // Everything below works batch first: [N, L, E].
  const auto to_nle = [&](const Tensor& t) {
    if (!batched) return t.unsqueeze(0);
    return batch_first ? t : t.transpose(0, 1);
  };
  const Tensor q_in = to_nle(query), k_in = to_nle(key), v_in = to_nle(value);
  const std::int64_t N = q_in.size(0), L = q_in.size(1), S = k_in.size(1);
  if (q_in.size(2) != embed_dim || k_in.size(2) != kdim || v_in.size(2) != vdim || k_in.size(0) != N ||
      v_in.size(0) != N || v_in.size(1) != S)
    throw ShapeError(
        fmt::format("MultiheadAttention: expected query [.., {}], key [.., {}] and value [.., {}] "
                    "with one batch size and key/value of one length (batch_first={}), got {}, {} "
                    "and {}",
                    embed_dim, kdim, vdim, batch_first, shape_str(query.sizes()), shape_str(key.sizes()),
                    shape_str(value.sizes())));
  // Dtypes named here, not by the ops below (linear, the attention), which
  // know nothing of the module's arguments.
  const DType dtype = (in_proj_weight.defined() ? in_proj_weight : q_proj_weight).dtype();
  if (query.dtype() != dtype || key.dtype() != dtype || value.dtype() != dtype)
    throw DTypeError(
        fmt::format("MultiheadAttention: query, key and value must have the parameters' dtype {}, got "
                    "{}, {} and {}",
                    dtype_name(dtype), dtype_name(query.dtype()), dtype_name(key.dtype()), dtype_name(value.dtype())));
  for (const auto& [mask_name, m] :
       {std::pair{"attn_mask", &attn_mask}, std::pair{"key_padding_mask", &key_padding_mask}})
    if (m->defined() && m->dtype() != kBool && m->dtype() != dtype)
      throw DTypeError(fmt::format("MultiheadAttention: {} must be bool or {} (the query's dtype), got {}", mask_name,
                                   dtype_name(dtype), dtype_name(m->dtype())));
  Tensor q, k, v;  // [N, H, len, head_dim]
  if (in_proj_weight.defined() && query.is_same(key) && key.is_same(value)) {
    // Self-attention: one product for the three projections, as PyTorch's
    // packed in-projection (PyTorch's arithmetic, and backward sums one input
    // gradient instead of three; no faster in the GPT step, round six of
    // docs/performance.md). unbind, not three selects: its backward writes
    // the three gradients into one tensor where each select's wrote a zero
    // tensor of the whole [N, L, 3 * E] and the engine added them.
    const Tensor qkv = tg::linear(q_in, in_proj_weight, in_proj_bias).view({N, L, 3, num_heads, head_dim});
    const std::vector<Tensor> heads = tg::unbind(qkv, 2);
    q = heads[0].transpose(1, 2);
    k = heads[1].transpose(1, 2);
    v = heads[2].transpose(1, 2);
  } else {
    Tensor w_q, w_k, w_v, b_q, b_k, b_v;
    if (in_proj_weight.defined()) {
      const auto w = tg::chunk(in_proj_weight, 3, 0);
      w_q = w[0], w_k = w[1], w_v = w[2];
    } else {
      w_q = q_proj_weight, w_k = k_proj_weight, w_v = v_proj_weight;
    }
    if (in_proj_bias.defined()) {
      const auto b = tg::chunk(in_proj_bias, 3, 0);
      b_q = b[0], b_k = b[1], b_v = b[2];
    }
    const auto heads = [&](const Tensor& t, std::int64_t len) {
      return t.view({N, len, num_heads, head_dim}).transpose(1, 2);
    };
    q = heads(tg::linear(q_in, w_q, b_q), L);
    k = heads(tg::linear(k_in, w_k, b_k), S);
    v = heads(tg::linear(v_in, w_v, b_v), S);
  }

  Tensor mask;
  if (attn_mask.defined()) {
    if (is_causal)
      throw ValueError(fmt::format("MultiheadAttention: give either attn_mask {} or is_causal, not both",
                                   shape_str(attn_mask.sizes())));
    const bool per_head =
        attn_mask.dim() == 3 && attn_mask.size(0) == N * num_heads && attn_mask.size(1) == L && attn_mask.size(2) == S;
    if (!(attn_mask.dim() == 2 && attn_mask.size(0) == L && attn_mask.size(1) == S) && !per_head)
      throw ShapeError(
          fmt::format("MultiheadAttention: attn_mask must be [L, S] = [{}, {}] or [N * num_heads, L, "
                      "S] = [{}, {}, {}], got {}",
                      L, S, N * num_heads, L, S, shape_str(attn_mask.sizes())));
    mask = to_sdpa_mask(per_head ? attn_mask.reshape({N, num_heads, L, S}) : attn_mask);
  }
  bool causal = is_causal;
  if (key_padding_mask.defined()) {
    const Dims expected = batched ? Dims{N, S} : Dims{S};
    if (key_padding_mask.shape() != expected)
      throw ShapeError(fmt::format("MultiheadAttention: key_padding_mask must be {}, got {}", shape_str(expected),
                                   shape_str(key_padding_mask.sizes())));
    if (causal) {  // the triangle has to join the padding mask in one tensor
      mask = tg::tril(tg::ones({L, S}, {.dtype = kBool}));
      causal = false;
    }
    mask = merge_masks(mask, to_sdpa_mask(key_padding_mask.reshape({N, 1, 1, S})), q.dtype());
  }
  const double p = is_training() ? dropout : 0.0;
  Tensor out, weights;
  if (need_weights) {
    std::tie(out, weights) = tg::scaled_dot_product_attention_math(q, k, v, mask, p, causal);
    if (average_attn_weights) weights = tg::mean(weights, Dims{1});
    if (!batched) weights = weights.squeeze(0);
  } else {
    out = tg::scaled_dot_product_attention(q, k, v, mask, p, causal);
  }
  out = (*out_proj)(out.transpose(1, 2).reshape({N, L, embed_dim}));
  if (!batched) out = out.squeeze(0);
  else if (!batch_first) out = out.transpose(0, 1);
  return {out, weights};
}

// ---- TransformerEncoderLayer ----------------------------------------------------

TransformerEncoderLayer::TransformerEncoderLayer(std::int64_t d_model, std::int64_t nhead, TransformerLayerOptions o)
    : options(std::move(o)) {
  check_activation(options.activation, "TransformerEncoderLayer");
  self_attn =
      register_module("self_attn", std::make_shared<MultiheadAttention>(d_model, nhead, attention_options(options)));
  linear1 =
      register_module("linear1", std::make_shared<Linear>(d_model, options.dim_feedforward, StrictBool(options.bias)));
  // PyTorch's order of registration, so that named_modules() is the same.
  dropout = register_module("dropout", std::make_shared<Dropout>(options.dropout));
  linear2 =
      register_module("linear2", std::make_shared<Linear>(options.dim_feedforward, d_model, StrictBool(options.bias)));
  const LayerNormOptions ln{.eps = options.layer_norm_eps, .elementwise_affine = true, .bias = options.bias};
  norm1 = register_module("norm1", std::make_shared<LayerNorm>(d_model, ln));
  norm2 = register_module("norm2", std::make_shared<LayerNorm>(d_model, ln));
  dropout1 = register_module("dropout1", std::make_shared<Dropout>(options.dropout));
  dropout2 = register_module("dropout2", std::make_shared<Dropout>(options.dropout));
}

Tensor TransformerEncoderLayer::self_attention_block(const Tensor& x, const Tensor& mask, const Tensor& padding,
                                                     bool is_causal) {
  return (*dropout1)(std::get<0>(self_attn->forward(x, x, x, padding, false, mask, true, is_causal)));
}

Tensor TransformerEncoderLayer::forward(const Tensor& src, const Tensor& src_mask, const Tensor& padding,
                                        StrictBool is_causal) {
  require_defined("TransformerEncoderLayer", "src", src);
  const auto ff = [this](const Tensor& x) {
    return (*dropout2)(feed_forward(options.activation, *linear1, *dropout, *linear2, x));
  };
  Tensor x = src;
  if (options.norm_first) {
    x = tg::add(x, self_attention_block((*norm1)(x), src_mask, padding, is_causal));
    return tg::add(x, ff((*norm2)(x)));
  }
  x = (*norm1)(tg::add(x, self_attention_block(x, src_mask, padding, is_causal)));
  return (*norm2)(tg::add(x, ff(x)));
}

// ---- TransformerDecoderLayer ----------------------------------------------------

TransformerDecoderLayer::TransformerDecoderLayer(std::int64_t d_model, std::int64_t nhead, TransformerLayerOptions o)
    : options(std::move(o)) {
  check_activation(options.activation, "TransformerDecoderLayer");
  self_attn =
      register_module("self_attn", std::make_shared<MultiheadAttention>(d_model, nhead, attention_options(options)));
  multihead_attn = register_module("multihead_attn",
                                   std::make_shared<MultiheadAttention>(d_model, nhead, attention_options(options)));
  linear1 =
      register_module("linear1", std::make_shared<Linear>(d_model, options.dim_feedforward, StrictBool(options.bias)));
  dropout = register_module("dropout", std::make_shared<Dropout>(options.dropout));
  linear2 =
      register_module("linear2", std::make_shared<Linear>(options.dim_feedforward, d_model, StrictBool(options.bias)));
  const LayerNormOptions ln{.eps = options.layer_norm_eps, .elementwise_affine = true, .bias = options.bias};
  norm1 = register_module("norm1", std::make_shared<LayerNorm>(d_model, ln));
  norm2 = register_module("norm2", std::make_shared<LayerNorm>(d_model, ln));
  norm3 = register_module("norm3", std::make_shared<LayerNorm>(d_model, ln));
  dropout1 = register_module("dropout1", std::make_shared<Dropout>(options.dropout));
  dropout2 = register_module("dropout2", std::make_shared<Dropout>(options.dropout));
  dropout3 = register_module("dropout3", std::make_shared<Dropout>(options.dropout));
}

Tensor TransformerDecoderLayer::forward(const Tensor& tgt, const Tensor& memory, const Tensor& tgt_mask,
                                        const Tensor& memory_mask, const Tensor& tgt_padding,
                                        const Tensor& memory_padding, StrictBool tgt_is_causal) {
  require_defined("TransformerDecoderLayer", "tgt", tgt);
  require_defined("TransformerDecoderLayer", "memory", memory);
  const auto sa = [&](const Tensor& x) {
    return (*dropout1)(std::get<0>(self_attn->forward(x, x, x, tgt_padding, false, tgt_mask, true, tgt_is_causal)));
  };
  const auto mha = [&](const Tensor& x) {
    return (*dropout2)(std::get<0>(multihead_attn->forward(x, memory, memory, memory_padding, false, memory_mask)));
  };
  const auto ff = [this](const Tensor& x) {
    return (*dropout3)(feed_forward(options.activation, *linear1, *dropout, *linear2, x));
  };
  Tensor x = tgt;
  if (options.norm_first) {
    x = tg::add(x, sa((*norm1)(x)));
    x = tg::add(x, mha((*norm2)(x)));
    return tg::add(x, ff((*norm3)(x)));
  }
  x = (*norm1)(tg::add(x, sa(x)));
  x = (*norm2)(tg::add(x, mha(x)));
  return (*norm3)(tg::add(x, ff(x)));
}

// ---- stacks ---------------------------------------------------------------------

namespace {

// Before a stack makes the rest of its num_layers layers (copies of `first`):
// OutOfMemoryError when their parameters could never fit in memory. Without
// it, a num_layers of 2^40 small layers looped for ever, allocating.
void check_stack_size(const char* stack, std::int64_t num_layers, const Module& first) {
  if (num_layers <= 1) return;
  std::size_t bytes = 0;
  for (const Tensor& p : first.parameters()) bytes += static_cast<std::size_t>(p.numel()) * p.element_size();
  check_allocation(static_cast<std::size_t>(num_layers - 1), bytes, stack);
}

}  // namespace

TransformerEncoder::TransformerEncoder(std::int64_t d_model, std::int64_t nhead, std::int64_t num_layers,
                                       TransformerLayerOptions o, bool final_norm) {
  if (num_layers < 0) throw ValueError(fmt::format("TransformerEncoder: num_layers must be >= 0, got {}", num_layers));
  layers = register_module("layers", std::make_shared<ModuleList>());
  for (std::int64_t i = 0; i < num_layers; ++i) {
    layers->push_back(std::make_shared<TransformerEncoderLayer>(d_model, nhead, o));
    if (i == 0) check_stack_size("TransformerEncoder", num_layers, layer(0));
  }
  if (final_norm)
    norm = register_module(
        "norm", std::make_shared<LayerNorm>(d_model, LayerNormOptions{.eps = o.layer_norm_eps, .bias = o.bias}));
}

Tensor TransformerEncoder::forward(const Tensor& src, const Tensor& mask, const Tensor& padding, StrictBool is_causal) {
  require_defined("TransformerEncoder", "src", src);
  Tensor x = src;
  for (std::size_t i = 0; i < layers->size(); ++i) x = layer(i).forward(x, mask, padding, is_causal);
  return norm ? (*norm)(x) : x;
}

TransformerDecoder::TransformerDecoder(std::int64_t d_model, std::int64_t nhead, std::int64_t num_layers,
                                       TransformerLayerOptions o, bool final_norm) {
  if (num_layers < 0) throw ValueError(fmt::format("TransformerDecoder: num_layers must be >= 0, got {}", num_layers));
  layers = register_module("layers", std::make_shared<ModuleList>());
  for (std::int64_t i = 0; i < num_layers; ++i) {
    layers->push_back(std::make_shared<TransformerDecoderLayer>(d_model, nhead, o));
    if (i == 0) check_stack_size("TransformerDecoder", num_layers, layer(0));
  }
  if (final_norm)
    norm = register_module(
        "norm", std::make_shared<LayerNorm>(d_model, LayerNormOptions{.eps = o.layer_norm_eps, .bias = o.bias}));
}

Tensor TransformerDecoder::forward(const Tensor& tgt, const Tensor& memory, const Tensor& tgt_mask,
                                   const Tensor& memory_mask, const Tensor& tgt_padding, const Tensor& memory_padding,
                                   StrictBool tgt_is_causal) {
  require_defined("TransformerDecoder", "tgt", tgt);
  require_defined("TransformerDecoder", "memory", memory);
  Tensor x = tgt;
  for (std::size_t i = 0; i < layers->size(); ++i)
    x = layer(i).forward(x, memory, tgt_mask, memory_mask, tgt_padding, memory_padding, tgt_is_causal);
  return norm ? (*norm)(x) : x;
}

Transformer::Transformer(TransformerOptions o) : options(std::move(o)) {
  encoder =
      register_module("encoder", std::make_shared<TransformerEncoder>(options.d_model, options.nhead,
                                                                      options.num_encoder_layers, options.layer, true));
  decoder =
      register_module("decoder", std::make_shared<TransformerDecoder>(options.d_model, options.nhead,
                                                                      options.num_decoder_layers, options.layer, true));
  for (const Tensor& p : parameters())
    if (p.dim() > 1) init::xavier_uniform_(p);
}

Tensor Transformer::forward(const Tensor& src, const Tensor& tgt, const Tensor& src_mask, const Tensor& tgt_mask,
                            const Tensor& memory_mask, const Tensor& src_padding, const Tensor& tgt_padding,
                            const Tensor& memory_padding) {
  require_defined("Transformer", "src", src);
  require_defined("Transformer", "tgt", tgt);
  const Tensor memory = encoder->forward(src, src_mask, src_padding);
  return decoder->forward(tgt, memory, tgt_mask, memory_mask, tgt_padding, memory_padding);
}

Tensor Transformer::generate_square_subsequent_mask(std::int64_t sz, DType dtype) {
  // The mask holds -inf: an integer or bool mask cannot, and float32
  // instead of the dtype asked for would be a silent surprise.
  if (!is_floating(dtype))
    throw DTypeError(
        fmt::format("Transformer::generate_square_subsequent_mask: dtype must be floating, got {}", dtype_name(dtype)));
  if (sz < 0)
    throw ShapeError(fmt::format("Transformer::generate_square_subsequent_mask: sz must be >= 0, got {}", sz));
  const Tensor allowed = tg::tril(tg::ones({sz, sz}, {.dtype = kBool}));
  return tg::where(allowed, tg::zeros({}, {.dtype = dtype}), kNegInf);
}

}  // namespace tg::nn
