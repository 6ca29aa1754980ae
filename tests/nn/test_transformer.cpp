// MultiheadAttention and the Transformer modules against torch 1.13's
// (tests/reference/transformer.json, written by
// tests/reference/make_transformer_reference.py): the torch parameters load
// by name (strict), then outputs, attention weights and the gradients of
// sum(out * w) for every parameter and float input, in float64, eval mode.
#include <doctest/doctest.h>

#include <cmath>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <tapegrad/autograd/ops.h>
#include <tapegrad/core/error.h>
#include <tapegrad/nn/container.h>
#include <tapegrad/nn/transformer.h>

#include "support/reference.h"

namespace test_transformer {

using tg::Dims;
using tg::Tensor;
namespace nn = tg::nn;
using nlohmann::json;

namespace {

constexpr double kTol = 1e-10;

Tensor from_entry(const json& e) {
  const Dims shape(e.at("shape").get<std::vector<std::int64_t>>());
  const bool is_bool = e.at("dtype").get<std::string>() == "bool";
  // null stands for -inf (the causal masks' entries), which JSON cannot spell.
  std::vector<double> values;
  for (const auto& v : e.at("values")) values.push_back(v.is_null() ? -INFINITY : v.get<double>());
  return tg::tensor(values, shape, is_bool ? tg::kBool : tg::kFloat64);
}

template <class T>
T config_or(const json& config, const char* key, T fallback) {
  return config.contains(key) ? config.at(key).get<T>() : fallback;
}

nn::TransformerLayerOptions layer_options(const json& c) {
  nn::TransformerLayerOptions o;
  o.dim_feedforward = config_or<std::int64_t>(c, "dim_feedforward", 2048);
  o.dropout = 0.1;  // eval mode turns it off, as in the reference
  o.activation = config_or<std::string>(c, "activation", "relu");
  o.layer_norm_eps = config_or<double>(c, "layer_norm_eps", 1e-5);
  o.batch_first = config_or<bool>(c, "batch_first", false);
  o.norm_first = config_or<bool>(c, "norm_first", false);
  return o;
}

using Inputs = std::map<std::string, Tensor>;
Tensor in(const Inputs& x, const std::string& name) {
  const auto it = x.find(name);
  return it == x.end() ? Tensor() : it->second;
}

// A case's module (built from its config) and how to call it: {out, weights}.
struct Case {
  std::shared_ptr<nn::Module> module;
  std::function<std::pair<Tensor, Tensor>(const Inputs&)> call;
};

void check_case(const std::string& name, const std::function<Case(const json&)>& make) {
  CAPTURE(name);
  const auto& entry = tg_test::reference_file("transformer.json").at("cases").at(name);
  Inputs x;
  for (const auto& [key, e] : entry.at("inputs").items()) {
    Tensor t = from_entry(e);
    if (t.dtype() == tg::kFloat64) t.set_requires_grad(true);
    x.emplace(key, t);
  }
  Case c = make(entry.at("config"));
  c.module->to(tg::kFloat64);
  nn::StateDict state;
  for (const auto& [key, e] : entry.at("params").items()) state.emplace(key, from_entry(e));
  c.module->load_state_dict(state);  // strict: every torch name, and no other
  c.module->eval();
  auto [out, weights] = c.call(x);
  const auto& want = entry.at("out");
  CHECK(out.shape() == Dims(want.at("shape").get<std::vector<std::int64_t>>()));
  tg_test::check_close(out, want.at("values").get<std::vector<double>>(), kTol);
  if (entry.contains("weights")) {
    REQUIRE(weights.defined());
    CHECK(weights.shape() == Dims(entry.at("weights").at("shape").get<std::vector<std::int64_t>>()));
    tg_test::check_close(weights, entry.at("weights").at("values").get<std::vector<double>>(), kTol);
  }
  const Tensor w =
      tg::div(tg::arange(1, static_cast<double>(out.numel()) + 1, 1, {.dtype = tg::kFloat64}).reshape(out.shape()),
              static_cast<double>(out.numel()));
  tg::sum(tg::mul(out, w)).backward();
  const auto& param_grads = entry.at("param_grads");
  std::size_t seen = 0;
  for (const auto& named : c.module->named_parameters()) {
    const std::string& pname = named.first;
    const Tensor& p = named.second;
    CAPTURE(pname);
    REQUIRE(param_grads.contains(pname));
    tg_test::check_close(p.grad(), param_grads.at(pname).get<std::vector<double>>(), kTol);
    ++seen;
  }
  CHECK(seen == param_grads.size());
  for (const auto& item : entry.at("input_grads").items()) {
    const std::string iname = item.key();
    const auto& g = item.value();
    CAPTURE(iname);
    tg_test::check_close(x.at(iname).grad(), g.get<std::vector<double>>(), kTol);
  }
}

nn::MultiheadAttentionOptions mha_options(const json& c) {
  nn::MultiheadAttentionOptions o;
  o.bias = config_or<bool>(c, "bias", true);
  if (c.contains("kdim")) o.kdim = c.at("kdim").get<std::int64_t>();
  if (c.contains("vdim")) o.vdim = c.at("vdim").get<std::int64_t>();
  o.batch_first = config_or<bool>(c, "batch_first", false);
  return o;
}

std::shared_ptr<nn::MultiheadAttention> make_mha(const json& c) {
  return std::make_shared<nn::MultiheadAttention>(c.at("embed_dim").get<std::int64_t>(),
                                                  c.at("num_heads").get<std::int64_t>(), mha_options(c));
}

std::int64_t d_model(const json& c) { return c.at("d_model").get<std::int64_t>(); }
std::int64_t nhead(const json& c) { return c.at("nhead").get<std::int64_t>(); }

}  // namespace

TEST_CASE("MultiheadAttention equals torch.nn.MultiheadAttention, masks and weights included") {
  check_case("mha, seq first, key padding + float mask, weights", [](const json& c) {
    auto m = make_mha(c);
    return Case{m, [m](const Inputs& x) {
                  auto [out, weights] = (*m)(x.at("query"), x.at("key"), x.at("value"), x.at("key_padding_mask"), true,
                                             x.at("attn_mask"));
                  return std::pair{out, weights};
                }};
  });
  check_case("mha, batch first, kdim/vdim, bool mask, no weights", [](const json& c) {
    auto m = make_mha(c);
    return Case{m, [m](const Inputs& x) {
                  auto [out, weights] = (*m)(x.at("query"), x.at("key"), x.at("value"), {}, false, x.at("attn_mask"));
                  CHECK_FALSE(weights.defined());
                  return std::pair{out, Tensor()};
                }};
  });
  check_case("mha, self, per-head bool mask, weights per head", [](const json& c) {
    auto m = make_mha(c);
    return Case{m, [m](const Inputs& x) {
                  const Tensor q = x.at("query");
                  auto [out, weights] = (*m)(q, q, q, {}, true, x.at("attn_mask"), false);
                  return std::pair{out, weights};
                }};
  });
  check_case("mha, unbatched, no bias", [](const json& c) {
    auto m = make_mha(c);
    return Case{m, [m](const Inputs& x) {
                  auto [out, weights] = (*m)(x.at("query"), x.at("key"), x.at("value"));
                  return std::pair{out, weights};
                }};
  });
}

TEST_CASE("Transformer encoder and decoder layers equal torch's, post-norm and pre-norm") {
  const auto encoder_layer = [](const json& c) {
    auto m = std::make_shared<nn::TransformerEncoderLayer>(d_model(c), nhead(c), layer_options(c));
    return Case{m, [m](const Inputs& x) {
                  return std::pair{(*m)(x.at("src"), in(x, "src_mask"), in(x, "src_key_padding_mask")), Tensor()};
                }};
  };
  check_case("encoder layer, post-norm relu", encoder_layer);
  check_case("encoder layer, pre-norm gelu, batch first, eps", encoder_layer);
  const auto decoder_layer = [](const json& c) {
    auto m = std::make_shared<nn::TransformerDecoderLayer>(d_model(c), nhead(c), layer_options(c));
    return Case{m, [m](const Inputs& x) {
                  return std::pair{(*m)(x.at("tgt"), x.at("memory"), in(x, "tgt_mask"), in(x, "memory_mask"), {},
                                        in(x, "memory_key_padding_mask")),
                                   Tensor()};
                }};
  };
  check_case("decoder layer, post-norm, masks", decoder_layer);
  check_case("decoder layer, pre-norm gelu, batch first", decoder_layer);
}

TEST_CASE("TransformerEncoder and Transformer equal torch's, parameters loaded by name") {
  check_case("encoder, 2 layers, final norm", [](const json& c) {
    auto m = std::make_shared<nn::TransformerEncoder>(d_model(c), nhead(c), c.at("num_layers").get<std::int64_t>(),
                                                      layer_options(c), c.at("final_norm").get<bool>());
    return Case{m, [m](const Inputs& x) {
                  return std::pair{(*m)(x.at("src"), {}, x.at("src_key_padding_mask")), Tensor()};
                }};
  });
  check_case("transformer, 2 encoder + 1 decoder layers", [](const json& c) {
    nn::TransformerOptions o;
    o.d_model = d_model(c);
    o.nhead = nhead(c);
    o.num_encoder_layers = c.at("num_encoder_layers").get<std::int64_t>();
    o.num_decoder_layers = c.at("num_decoder_layers").get<std::int64_t>();
    o.layer = layer_options(c);
    auto m = std::make_shared<nn::Transformer>(o);
    return Case{m, [m](const Inputs& x) {
                  return std::pair{(*m)(x.at("src"), x.at("tgt"), {}, x.at("tgt_mask"), {},
                                        x.at("src_key_padding_mask"), {}, x.at("memory_key_padding_mask")),
                                   Tensor()};
                }};
  });
}

TEST_CASE("Transformer modules can be moved and stored in containers") {
  std::vector<nn::TransformerEncoderLayer> layers;
  layers.emplace_back(8, 2, nn::TransformerLayerOptions{.dim_feedforward = 16});
  layers.push_back(nn::TransformerEncoderLayer(8, 2, {.dim_feedforward = 16}));
  nn::ModuleList list;
  list.push_back(std::move(layers[0]));
  CHECK(list.named_parameters().size() == 12);
  CHECK(list.named_parameters()[0].first == "0.self_attn.in_proj_weight");
  const Tensor y = list.at<nn::TransformerEncoderLayer>(0)(tg::randn({3, 2, 8}));
  CHECK(y.shape() == Dims{3, 2, 8});
}

// No keys (S = 0), with the weights asked for (the math path) or not: zeros,
// as PyTorch gives.
TEST_CASE("MultiheadAttention with an empty key sequence returns zeros") {
  for (const bool need_weights : {true, false}) {
    CAPTURE(need_weights);
    nn::MultiheadAttention mha(4, 2);
    mha.to(tg::kFloat64);
    const Tensor empty = tg::randn({0, 2, 4}, {.dtype = tg::kFloat64});
    const auto [out, w] = mha(tg::randn({3, 2, 4}, {.dtype = tg::kFloat64}), empty, empty, {}, need_weights);
    CHECK(out.shape() == Dims{3, 2, 4});
    if (need_weights) CHECK(w.shape() == Dims{2, 3, 0});
    // out_proj of zeros: its bias alone (zero-initialised).
    CHECK(tg::equal(out, tg::zeros({3, 2, 4}, {.dtype = tg::kFloat64})));
  }
}

// bias = false leaves out every bias, the final LayerNorms' too (as
// torch.nn.Transformer(bias=False)), so a bias-free checkpoint loads strictly.
TEST_CASE("Transformer without bias has no bias parameter anywhere") {
  nn::Transformer t({.d_model = 8,
                     .nhead = 2,
                     .num_encoder_layers = 1,
                     .num_decoder_layers = 1,
                     .layer = {.dim_feedforward = 16, .bias = false}});
  std::vector<std::string> biases;
  for (const auto& [name, p] : t.named_parameters())
    if (name.find("bias") != std::string::npos) biases.push_back(name);
  CHECK(biases.empty());
  CHECK(t.named_parameters().size() > 0);
}

TEST_CASE("MultiheadAttention: is_causal equals the square subsequent mask, with and without padding") {
  nn::MultiheadAttention m(8, 2, {.batch_first = true});
  const Tensor x = tg::randn({2, 5, 8});
  const Tensor causal_mask = nn::Transformer::generate_square_subsequent_mask(5);
  auto [a, wa] = m(x, x, x, {}, false, {}, true, true);
  auto [b, wb] = m(x, x, x, {}, false, causal_mask);
  tg_test::check_close(a, b, 1e-5);
  const Tensor padding = tg::tensor({0, 0, 0, 1, 1, 0, 0, 0, 0, 1}, {2, 5}, {.dtype = tg::kBool});
  auto [c, wc] = m(x, x, x, padding, true, {}, true, true);
  auto [d, wd] = m(x, x, x, padding, true, causal_mask);
  tg_test::check_close(c, d, 1e-5);
  tg_test::check_close(wc, wd, 1e-6);
}

TEST_CASE("MultiheadAttention and the Transformer layers refuse bad arguments by name") {
  CHECK_THROWS_AS(nn::MultiheadAttention(10, 3), tg::ValueError);
  CHECK_THROWS_AS(nn::MultiheadAttention(8, 2, {.dropout = 1.5}), tg::ValueError);
  CHECK_THROWS_WITH_AS(nn::TransformerEncoderLayer(8, 2, {.activation = "tanh"}), doctest::Contains("tanh"),
                       tg::ValueError);
  nn::MultiheadAttention m(8, 2);
  CHECK_THROWS_WITH_AS(m(tg::randn({5, 2, 8}), tg::randn({6, 2, 7}), tg::randn({6, 2, 8})),
                       doctest::Contains("MultiheadAttention"), tg::ShapeError);
  CHECK_THROWS_AS(m(tg::randn({5, 2, 8}), tg::randn({6, 2, 8}), tg::randn({6, 2, 8}), {}, true, tg::zeros({5, 5})),
                  tg::ShapeError);
  CHECK_THROWS_AS(
      m(tg::randn({5, 2, 8}), tg::randn({6, 2, 8}), tg::randn({6, 2, 8}), tg::zeros({2, 5}, {.dtype = tg::kBool})),
      tg::ShapeError);
  CHECK_THROWS_AS(m(tg::randn({5, 8}), tg::randn({6, 2, 8}), tg::randn({6, 2, 8})), tg::ShapeError);
  // Dtypes: the module's own name and the argument at fault.
  const Tensor x = tg::randn({5, 2, 8});
  CHECK_THROWS_WITH_AS(m(x.to(tg::kFloat64), x.to(tg::kFloat64), x.to(tg::kFloat64)),
                       doctest::Contains("MultiheadAttention: query, key and value must have the parameters' dtype "
                                         "float32, got float64"),
                       tg::DTypeError);
  CHECK_THROWS_WITH_AS(m(x, x, x, tg::zeros({2, 5}, {.dtype = tg::kFloat64})),
                       doctest::Contains("MultiheadAttention: key_padding_mask must be bool or float32"),
                       tg::DTypeError);
  CHECK_THROWS_WITH_AS(m(x, x, x, {}, true, tg::zeros({5, 5}, {.dtype = tg::kInt64})),
                       doctest::Contains("MultiheadAttention: attn_mask must be bool or float32"), tg::DTypeError);
}

// An undefined tensor where one is required: the module names itself and the
// argument (Tensor's own error names neither).
TEST_CASE("MultiheadAttention and the Transformer modules name an undefined input") {
  const Tensor x = tg::randn({3, 2, 4});
  nn::MultiheadAttention m(4, 2);
  CHECK_THROWS_WITH_AS(m(Tensor(), x, x), doctest::Contains("MultiheadAttention: query is undefined"), tg::ShapeError);
  CHECK_THROWS_WITH_AS(m(x, Tensor(), x), doctest::Contains("MultiheadAttention: key is undefined"), tg::ShapeError);
  CHECK_THROWS_WITH_AS(m(x, x, Tensor()), doctest::Contains("MultiheadAttention: value is undefined"), tg::ShapeError);
  nn::TransformerEncoderLayer enc(4, 2, {.dim_feedforward = 8});
  CHECK_THROWS_WITH_AS(enc(Tensor()), doctest::Contains("TransformerEncoderLayer: src is undefined"), tg::ShapeError);
  nn::TransformerDecoderLayer dec(4, 2, {.dim_feedforward = 8});
  CHECK_THROWS_WITH_AS(dec(Tensor(), x), doctest::Contains("TransformerDecoderLayer: tgt is undefined"),
                       tg::ShapeError);
  CHECK_THROWS_WITH_AS(dec(x, Tensor()), doctest::Contains("TransformerDecoderLayer: memory is undefined"),
                       tg::ShapeError);
  nn::Transformer t(
      {.d_model = 4, .nhead = 2, .num_encoder_layers = 1, .num_decoder_layers = 1, .layer = {.dim_feedforward = 8}});
  CHECK_THROWS_WITH_AS(t(Tensor(), x), doctest::Contains("Transformer: src is undefined"), tg::ShapeError);
  CHECK_THROWS_WITH_AS(t(x, Tensor()), doctest::Contains("Transformer: tgt is undefined"), tg::ShapeError);
  // The stacks alone, with no layer to ask: the final norm would see the undefined tensor.
  CHECK_THROWS_WITH_AS(t.encoder->forward(Tensor(), {}, {}), doctest::Contains("TransformerEncoder: src is undefined"),
                       tg::ShapeError);
  CHECK_THROWS_WITH_AS(t.decoder->forward(x, Tensor()), doctest::Contains("TransformerDecoder: memory is undefined"),
                       tg::ShapeError);
}

// The mask holds -inf, so only a floating dtype can hold it; it is made in
// the dtype asked for.
TEST_CASE("Transformer::generate_square_subsequent_mask: floating dtypes only, sz >= 0") {
  const Tensor half = nn::Transformer::generate_square_subsequent_mask(3, tg::kFloat16);
  CHECK(half.dtype() == tg::kFloat16);
  tg_test::check_close(half, Dims{3, 3}, {0, -INFINITY, -INFINITY, 0, 0, -INFINITY, 0, 0, 0}, 0);
  CHECK(nn::Transformer::generate_square_subsequent_mask(2, tg::kFloat64).dtype() == tg::kFloat64);
  CHECK(nn::Transformer::generate_square_subsequent_mask(0).shape() == Dims{0, 0});
  for (const tg::DType dtype : {tg::kInt64, tg::kBool}) {
    CAPTURE(tg::dtype_name(dtype));
    CHECK_THROWS_WITH_AS(nn::Transformer::generate_square_subsequent_mask(3, dtype),
                         doctest::Contains("generate_square_subsequent_mask: dtype must be floating"), tg::DTypeError);
  }
  CHECK_THROWS_WITH_AS(nn::Transformer::generate_square_subsequent_mask(-1),
                       doctest::Contains("generate_square_subsequent_mask: sz must be >= 0, got -1"), tg::ShapeError);
}

// torch 1.13's MultiheadAttention: a NaN key makes every output and weight
// NaN, a NaN query its own row; with the weights (the math path) or without
// (the fused op) alike. A query row that attn_mask lets attend nothing is
// zero (tapegrad's convention; PyTorch gives NaN), NaN or not.
TEST_CASE("MultiheadAttention propagates NaN with and without the weights") {
  tg::manual_seed(3);
  nn::MultiheadAttention m(4, 1);
  m.to(tg::kFloat64);
  const Tensor x = tg::randn({3, 1, 4}, {.dtype = tg::kFloat64}), kv = tg::randn({5, 1, 4}, {.dtype = tg::kFloat64});
  const auto with_nan = [](const Tensor& t, std::int64_t row) {
    Tensor out = t.clone();
    out.index_put_({tg::tensor({row}), tg::tensor({0}), tg::tensor({1})}, tg::full({1}, NAN, {.dtype = tg::kFloat64}));
    return out.set_requires_grad(true);
  };
  const auto all_nan = [](const Tensor& t) { return tg::isnan(t).all().item<bool>(); };
  const auto row_nan = [](const Tensor& out, std::int64_t row) {
    return tg::isnan(out.select(0, row)).all().item<bool>();
  };
  const auto row_finite = [](const Tensor& out, std::int64_t row) {
    return tg::isfinite(out.select(0, row)).all().item<bool>();
  };
  SUBCASE("NaN in a key: everything") {
    const Tensor key = with_nan(kv, 2);
    auto [out, weights] = m(x, key, kv);
    CHECK(all_nan(out));
    CHECK(all_nan(weights));
    auto [fused, none] = m(x, key, kv, {}, false);
    CHECK(all_nan(fused));
    CHECK_FALSE(none.defined());
    tg::sum(fused).backward();
    CHECK(all_nan(key.grad()));
  }
  SUBCASE("NaN in a query: its row") {
    const Tensor query = with_nan(x, 1);
    auto [out, weights] = m(query, kv, kv);
    auto [fused, none] = m(query, kv, kv, {}, false);
    for (const Tensor& o : {out, fused}) {
      CHECK(row_nan(o, 1));
      CHECK(row_finite(o, 0));
      CHECK(row_finite(o, 2));
    }
    tg_test::check_close(fused, out, 1e-12);
    CHECK(tg::isnan(weights.select(1, 1)).all().item<bool>());  // weights [N, L, S]
    tg::sum(fused).backward();
    CHECK(row_nan(query.grad(), 1));
    CHECK(row_finite(query.grad(), 0));
  }
  SUBCASE("a query row that attends nothing stays zero, NaN or not") {
    const Tensor query = with_nan(x, 2);
    Tensor mask = tg::zeros({3, 5}, {.dtype = tg::kBool});  // true = not allowed
    mask = tg::logical_or(mask, tg::tensor({0.0, 0.0, 1.0}, {3, 1}) > 0.5);
    auto [out, weights] = m(query, kv, kv, {}, true, mask);
    auto [fused, none] = m(query, kv, kv, {}, false, mask);
    for (const Tensor& o : {out, fused}) {
      CHECK(tg::equal(o.select(0, 2), tg::zeros({1, 4}, {.dtype = tg::kFloat64})));  // out_proj's zero bias
      CHECK(row_finite(o, 0));
    }
    tg_test::check_close(fused, out, 1e-12);
    CHECK(tg::equal(weights.select(1, 2), tg::zeros({1, 5}, {.dtype = tg::kFloat64})));
  }
}

}  // namespace test_transformer
