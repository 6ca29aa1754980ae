// The character-level GPT of examples/char_gpt, in a header of its own so
// that bench/bench_gpt.cpp times the very model the example trains: token +
// position embeddings, pre-norm Transformer blocks (causal self-attention
// through the fused scaled_dot_product_attention, a GELU MLP), a final
// LayerNorm and a head tied to the token embedding.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include <tapegrad/tapegrad.h>

namespace char_gpt {

/// The model's shape: the example's defaults (its --block, --d-model, --layers, --heads, --dropout).
struct Shape {
  std::int64_t block = 64;    ///< context length in characters
  std::int64_t d_model = 96;  ///< embedding width
  std::int64_t layers = 3;    ///< Transformer blocks
  std::int64_t heads = 4;     ///< attention heads
  double dropout = 0.1;       ///< dropout in the blocks
};

/// A decoder-only Transformer over a vocabulary of `vocab` characters.
struct CharGPT : tg::nn::Module {
  std::int64_t block;
  std::shared_ptr<tg::nn::Embedding> tok_emb;
  tg::Tensor pos_emb;
  std::shared_ptr<tg::nn::TransformerEncoder> blocks;  // pre-norm layers and the final LayerNorm

  /// Initialises the embeddings from N(0, 0.02) and the blocks as nn::TransformerEncoder does.
  CharGPT(std::int64_t vocab, const Shape& s) : block(s.block) {
    tok_emb = register_module("tok_emb", std::make_shared<tg::nn::Embedding>(vocab, s.d_model));
    tg::nn::init::normal_(tok_emb->weight, 0, 0.02);  // also the output head: keep logits small at the start
    pos_emb = register_parameter("pos_emb", tg::zeros({s.block, s.d_model}));
    tg::nn::init::normal_(pos_emb, 0, 0.02);
    tg::nn::TransformerLayerOptions layer;
    layer.dim_feedforward = 4 * s.d_model;
    layer.dropout = s.dropout;
    layer.activation = "gelu";
    layer.batch_first = true;
    layer.norm_first = true;
    blocks = register_module("blocks", std::make_shared<tg::nn::TransformerEncoder>(s.d_model, s.heads, s.layers, layer,
                                                                                    /*final_norm=*/true));
  }
  /// idx [B, T] (T <= block) -> logits [B, T, vocab].
  tg::Tensor forward(const tg::Tensor& idx) override {
    const tg::Tensor x = tg::add((*tok_emb)(idx), pos_emb.narrow(0, 0, idx.size(1)));
    const tg::Tensor h = blocks->forward(x, {}, {}, /*is_causal=*/true);
    return tg::linear(h, tok_emb->weight);  // the head shares the token embedding
  }
  std::string type_name() const override { return "CharGPT"; }
};

}  // namespace char_gpt
