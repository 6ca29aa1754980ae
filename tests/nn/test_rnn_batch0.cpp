// RNN, LSTM, GRU and their cells on a batch of 0 sequences, against PyTorch
// (tests/reference/rnn_batch0.json, written by make_rnn_batch0_reference.py):
// every variant (tanh, relu, LSTM, GRU; 1 and 2 layers; bidirectional;
// batch_first; with and without initial states; dropout between layers in
// training mode; no bias) gives PyTorch's empty shapes, stays on the graph, and
// a backward gives the weights zero gradients of their shapes, as PyTorch's
// (defined, not missing). The layers refused a batch of 0 before. What
// PyTorch refuses stays refused: 0 time steps, a state of another batch,
// packing no sequences.
#include <doctest/doctest.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <tapegrad/autograd/engine.h>
#include <tapegrad/autograd/grad_mode.h>
#include <tapegrad/nn/nn.h>

#include "support/reference.h"

namespace test_rnn_batch0 {

using tg::Tensor;
using json = nlohmann::json;
using doctest::Contains;

namespace {

const json& reference() { return tg_test::reference_file("rnn_batch0.json"); }

tg::Dims dims(const json& j) { return tg::Dims(j.get<std::vector<std::int64_t>>()); }

// Every element is 0 (not NaN, not a leftover of the allocator's memory).
bool all_zero(const Tensor& t) { return tg::equal(t, tg::zeros_like(t)); }

// The outputs of one forward: output, h_n and (LSTM) c_n.
struct Outputs {
  Tensor out, h_n, c_n;
};

std::unique_ptr<tg::nn::RNNBase> make_layer(const json& c) {
  const tg::nn::RNNOptions options{.num_layers = c.at("num_layers").get<std::int64_t>(),
                                   .nonlinearity = c.at("nonlinearity").get<std::string>(),
                                   .bias = c.at("bias").get<bool>(),
                                   .batch_first = c.at("batch_first").get<bool>(),
                                   .dropout = c.at("dropout").get<double>(),
                                   .bidirectional = c.at("bidirectional").get<bool>()};
  const std::int64_t I = c.at("input_size"), H = c.at("hidden_size");
  const std::string kind = c.at("kind");
  if (kind == "LSTM") return std::make_unique<tg::nn::LSTM>(I, H, options);
  if (kind == "GRU") return std::make_unique<tg::nn::GRU>(I, H, options);
  REQUIRE(kind == "RNN");
  return std::make_unique<tg::nn::RNN>(I, H, options);
}

Outputs run_layer(tg::nn::RNNBase& module, const Tensor& x, const Tensor& h0, const Tensor& c0) {
  if (auto* lstm = dynamic_cast<tg::nn::LSTM*>(&module)) {
    auto [out, state] =
        (*lstm)(x, h0.defined() ? std::optional<tg::nn::LSTMState>(tg::nn::LSTMState{h0, c0}) : std::nullopt);
    return {out, std::get<0>(state), std::get<1>(state)};
  }
  if (auto* gru = dynamic_cast<tg::nn::GRU*>(&module)) {
    auto [out, h_n] = (*gru)(x, h0);
    return {out, h_n, Tensor()};
  }
  auto [out, h_n] = dynamic_cast<tg::nn::RNN&>(module)(x, h0);
  return {out, h_n, Tensor()};
}

// The sum PyTorch's backward started from: of the output, of the final
// states, or of all.
Tensor loss_of(const Outputs& o, const std::string& which) {
  Tensor states = o.h_n.sum();
  if (o.c_n.defined()) states = states + o.c_n.sum();
  if (which == "output") return o.out.sum();
  if (which == "h_n") return states;
  REQUIRE(which == "all");
  return o.out.sum() + states;
}

// A gradient as PyTorch's: defined, of its shape, and all zeros.
void check_grad(const Tensor& grad, const json& want, const char* what) {
  CAPTURE(what);
  REQUIRE(want.at("defined").get<bool>());  // PyTorch's are all defined
  REQUIRE(grad.defined());
  CHECK(grad.shape() == dims(want.at("shape")));
  if (want.at("all_zero").get<bool>()) CHECK(all_zero(grad));
}

// Every parameter's gradient, and the names are PyTorch's (none left out).
void check_parameter_grads(tg::nn::Module& module, const json& want) {
  std::set<std::string> seen;
  for (const auto& named : module.named_parameters()) {
    // Plain locals: Clang 14's CAPTURE cannot name a structured binding.
    const std::string& name = named.first;
    const auto& p = named.second;
    CAPTURE(name);
    REQUIRE(want.contains(name));
    CHECK(p.shape() == dims(want.at(name).at("param_shape")));
    check_grad(p.grad(), want.at(name), "parameter gradient");
    seen.insert(name);
  }
  CHECK(seen.size() == want.size());
}

void run_layer_case(const std::string& name, const json& c) {
  CAPTURE(name);
  tg::manual_seed(1);
  const auto module = make_layer(c);
  REQUIRE(module->is_training());  // dropout between layers is active, as in the script
  const Tensor x = tg::randn(dims(c.at("input")), {.requires_grad = true});
  const Tensor h0 = c.contains("h0") ? tg::randn(dims(c.at("h0")), {.requires_grad = true}) : Tensor();
  const Tensor c0 = c.contains("c0") ? tg::randn(dims(c.at("c0")), {.requires_grad = true}) : Tensor();
  const Outputs o = run_layer(*module, x, h0, c0);
  CHECK(o.out.shape() == dims(c.at("output")));
  CHECK(o.h_n.shape() == dims(c.at("h_n")));
  CHECK(o.c_n.defined() == c.contains("c_n"));
  if (c.contains("c_n")) CHECK(o.c_n.shape() == dims(c.at("c_n")));
  CHECK(o.out.requires_grad() == c.at("output_requires_grad").get<bool>());
  CHECK(o.h_n.requires_grad() == c.at("h_n_requires_grad").get<bool>());
  loss_of(o, c.at("loss_of")).backward();
  check_grad(x.grad(), c.at("grad_input"), "input gradient");
  if (h0.defined()) check_grad(h0.grad(), c.at("grad_h0"), "h0 gradient");
  if (c0.defined()) check_grad(c0.grad(), c.at("grad_c0"), "c0 gradient");
  check_parameter_grads(*module, c.at("grad_params"));
}

std::unique_ptr<tg::nn::RNNCellBase> make_cell(const json& c) {
  const tg::nn::RNNCellOptions options{.bias = c.at("bias").get<bool>(),
                                       .nonlinearity = c.at("nonlinearity").get<std::string>()};
  const std::int64_t I = c.at("input_size"), H = c.at("hidden_size");
  const std::string kind = c.at("kind");
  if (kind == "LSTMCell") return std::make_unique<tg::nn::LSTMCell>(I, H, options);
  if (kind == "GRUCell") return std::make_unique<tg::nn::GRUCell>(I, H, options);
  REQUIRE(kind == "RNNCell");
  return std::make_unique<tg::nn::RNNCell>(I, H, options);
}

// Runs f on each named case, its name captured for a failure (a plain
// local: Clang 14's CAPTURE cannot name a structured binding).
template <class F>
void for_each_case(const json& cases, F f) {
  for (const auto& item : cases.items()) {
    const std::string name = item.key();
    CAPTURE(name);
    f(item.value());
  }
}

}  // namespace

TEST_CASE("rnn batch 0: every RNN, LSTM and GRU variant gives PyTorch's shapes and zero weight gradients") {
  // 4 recurrences x (8 one-layer + 16 two-layer variants, half of those with
  // dropout) + 3 each without bias or with a backward of part of the outputs.
  const json& cases = reference().at("cases");
  REQUIRE(cases.size() == 108);
  for (const auto& [name, c] : cases.items()) run_layer_case(name, c);
}

TEST_CASE("rnn batch 0: a batch of 0 in a training loop adds nothing to the gradients") {
  // The last batch of an epoch may be empty: its backward adds zeros to the
  // gradients a full batch left (bit for bit), and after zero_grad gives zeros,
  // not leftovers of memory the full batch used.
  tg::manual_seed(2);
  tg::nn::LSTM lstm(3, 4, {.num_layers = 2, .batch_first = true, .dropout = 0.5, .bidirectional = true});
  tg::nn::GRU gru(3, 4, {.num_layers = 2, .bidirectional = true});
  tg::nn::RNN rnn(3, 4, {.num_layers = 2, .nonlinearity = "relu"});
  const auto full_then_empty = [](tg::nn::Module& module, auto&& run, const tg::Dims& full, const tg::Dims& empty) {
    run(tg::randn(full)).backward();
    std::vector<Tensor> after_full;
    for (const auto& p : module.parameters()) {
      REQUIRE(p.grad().defined());
      CHECK_FALSE(all_zero(p.grad()));
      after_full.push_back(p.grad().clone());
    }
    run(tg::randn(empty)).backward();
    std::size_t i = 0;
    for (const auto& p : module.parameters()) CHECK(tg::equal(p.grad(), after_full[i++]));
    module.zero_grad();
    run(tg::randn(empty)).backward();
    for (const auto& p : module.parameters()) {
      REQUIRE(p.grad().defined());
      CHECK(p.grad().shape() == p.shape());
      CHECK(all_zero(p.grad()));
    }
  };
  full_then_empty(lstm,
                  [&](const Tensor& x) {
                    auto [out, state] = lstm(x);
                    return out.sum() + std::get<0>(state).sum() + std::get<1>(state).sum();
                  },
                  {2, 5, 3}, {0, 5, 3});
  full_then_empty(gru,
                  [&](const Tensor& x) {
                    auto [out, h_n] = gru(x);
                    return out.sum() + h_n.sum();
                  },
                  {5, 2, 3}, {5, 0, 3});
  full_then_empty(rnn,
                  [&](const Tensor& x) {
                    auto [out, h_n] = rnn(x);
                    return (out * out).sum() + h_n.sum();
                  },
                  {5, 2, 3}, {5, 0, 3});
}

TEST_CASE("rnn batch 0: tg::grad, no_grad, eval mode, float64 and forward(x) alone") {
  tg::manual_seed(3);
  tg::nn::LSTM lstm(3, 4, {.num_layers = 2});
  const Tensor x = tg::randn({5, 0, 3});
  auto [out, state] = lstm(x);
  const std::vector<Tensor> params = lstm.parameters();
  // Every weight is used: no allow_unused needed, every gradient zeros.
  const std::vector<Tensor> grads = tg::grad({out.sum() + std::get<1>(state).sum()}, params);
  REQUIRE(grads.size() == params.size());
  for (std::size_t i = 0; i < grads.size(); ++i) {
    REQUIRE(grads[i].defined());
    CHECK(grads[i].shape() == params[i].shape());
    CHECK(all_zero(grads[i]));
  }
  {
    tg::NoGradGuard no_grad;
    auto [o, s] = lstm(x);
    CHECK(o.shape() == tg::Dims{5, 0, 4});
    CHECK_FALSE(o.requires_grad());
  }
  tg::nn::GRU gru(3, 4, {.num_layers = 2, .dropout = 0.5});
  gru.eval();
  gru.to(tg::kFloat64);
  const auto [o, h_n] = gru(tg::randn({5, 0, 3}, {.dtype = tg::kFloat64}));
  CHECK(o.shape() == tg::Dims{5, 0, 4});
  CHECK(o.dtype() == tg::kFloat64);
  CHECK(h_n.shape() == tg::Dims{2, 0, 4});
  CHECK(gru.forward(tg::randn({5, 0, 3}, {.dtype = tg::kFloat64})).shape() == tg::Dims{5, 0, 4});
  tg::nn::Sequential seq{tg::nn::RNN(3, 4, {.batch_first = true}), tg::nn::Linear(4, 2)};
  CHECK(seq.forward(tg::randn({0, 5, 3})).shape() == tg::Dims{0, 5, 2});
  // The dtype is still checked.
  CHECK_THROWS_WITH_AS(gru(tg::randn({5, 0, 3})), Contains("GRU: input is float32"), tg::DTypeError);
}

TEST_CASE("rnn batch 0: a recorded gradient of the weights, and a backward through it, as PyTorch's") {
  const json& cases = reference().at("double_backward_cases");
  REQUIRE(cases.size() == 3);
  for_each_case(cases, [&](const json& c) {
    tg::manual_seed(5);
    const auto module = make_layer({{"kind", c.at("kind")},
                                    {"input_size", 3},
                                    {"hidden_size", 4},
                                    {"num_layers", 2},
                                    {"nonlinearity", "tanh"},
                                    {"bias", true},
                                    {"batch_first", false},
                                    {"dropout", 0.0},
                                    {"bidirectional", true}});
    const Outputs o = run_layer(*module, tg::randn({5, 0, 3}, {.requires_grad = true}), Tensor(), Tensor());
    const std::vector<Tensor> params = module->parameters();
    const std::vector<Tensor> grads = tg::grad({o.out.sum() + o.h_n.sum()}, params, {}, {.create_graph = true});
    const json& first = c.at("first");
    REQUIRE(grads.size() == first.size());
    Tensor second = tg::zeros({});
    for (std::size_t i = 0; i < grads.size(); ++i) {
      CAPTURE(i);
      check_grad(grads[i], first.at(i), "recorded gradient");
      CHECK(grads[i].requires_grad() == first.at(i).at("requires_grad").get<bool>());
      second = second + (grads[i] * grads[i]).sum();
    }
    second.backward();
    check_parameter_grads(*module, c.at("grad_params"));
  });
}

TEST_CASE("rnn batch 0: RNNCell, LSTMCell and GRUCell give PyTorch's shapes and zero weight gradients") {
  const json& cases = reference().at("cell_cases");
  REQUIRE(cases.size() == 9);
  for_each_case(cases, [&](const json& c) {
    tg::manual_seed(4);
    const auto cell = make_cell(c);
    const Tensor x = tg::randn(dims(c.at("input")), {.requires_grad = true});
    const Tensor h0 = c.contains("h0") ? tg::randn(dims(c.at("h0")), {.requires_grad = true}) : Tensor();
    const Tensor c0 = c.contains("c0") ? tg::randn(dims(c.at("c0")), {.requires_grad = true}) : Tensor();
    Tensor h1, c1;
    if (auto* lstm = dynamic_cast<tg::nn::LSTMCell*>(cell.get())) {
      std::tie(h1, c1) =
          (*lstm)(x, h0.defined() ? std::optional<tg::nn::LSTMState>(tg::nn::LSTMState{h0, c0}) : std::nullopt);
    } else if (auto* gru = dynamic_cast<tg::nn::GRUCell*>(cell.get())) {
      h1 = (*gru)(x, h0);
    } else {
      h1 = dynamic_cast<tg::nn::RNNCell&>(*cell)(x, h0);
    }
    CHECK(h1.shape() == dims(c.at("h_n")));
    CHECK(c1.defined() == c.contains("c_n"));
    Tensor loss = h1.sum();
    if (c1.defined()) {
      CHECK(c1.shape() == dims(c.at("c_n")));
      loss = loss + c1.sum();
    }
    loss.backward();
    check_grad(x.grad(), c.at("grad_input"), "input gradient");
    if (h0.defined()) check_grad(h0.grad(), c.at("grad_h0"), "h0 gradient");
    if (c0.defined()) check_grad(c0.grad(), c.at("grad_c0"), "c0 gradient");
    check_parameter_grads(*cell, c.at("grad_params"));
  });
}

TEST_CASE("rnn batch 0: what PyTorch refuses stays refused, naming the module and the shapes") {
  const json& refusals = reference().at("refusals");
  const auto pytorch_raises = [&](const char* key) {
    CAPTURE(key);
    REQUIRE(refusals.contains(key));
    return refusals.at(key).at("raises").get<bool>();
  };
  // 0 time steps, with or without sequences.
  REQUIRE(pytorch_raises("RNN T=0 B=2"));
  CHECK_THROWS_WITH_AS(tg::nn::RNN(3, 4)(tg::randn({0, 2, 3})),
                       Contains("RNN: expected at least one time step, got input shape [0, 2, 3]"), tg::ShapeError);
  REQUIRE(pytorch_raises("LSTM T=0 B=0"));
  CHECK_THROWS_WITH_AS(tg::nn::LSTM(3, 4)(tg::randn({0, 0, 3})),
                       Contains("LSTM: expected at least one time step, got input shape [0, 0, 3]"), tg::ShapeError);
  REQUIRE(pytorch_raises("GRU T=0 B=0 batch_first"));
  CHECK_THROWS_WITH_AS(tg::nn::GRU(3, 4, {.batch_first = true})(tg::randn({0, 0, 3})),
                       Contains("GRU: expected at least one time step"), tg::ShapeError);
  REQUIRE(pytorch_raises("GRU unbatched T=0"));
  CHECK_THROWS_WITH_AS(tg::nn::GRU(3, 4)(tg::randn({0, 3})), Contains("GRU: expected at least one time step"),
                       tg::ShapeError);
  // A state of another batch, either way round, and the wrong features.
  const Tensor x0 = tg::randn({5, 0, 3});
  REQUIRE(pytorch_raises("GRU B=0 h0 [1, 1, H]"));
  CHECK_THROWS_WITH_AS(tg::nn::GRU(3, 4)(x0, tg::randn({1, 1, 4})),
                       Contains("GRU: expected hx of shape [1, 0, 4] for input of shape [5, 0, 3], got [1, 1, 4]"),
                       tg::ShapeError);
  REQUIRE(pytorch_raises("LSTM B=0 c0 [1, 1, H]"));
  CHECK_THROWS_WITH_AS(tg::nn::LSTM(3, 4)(x0, tg::nn::LSTMState{tg::randn({1, 0, 4}), tg::randn({1, 1, 4})}),
                       Contains("LSTM: expected c0 of shape [1, 0, 4] for input of shape [5, 0, 3], got [1, 1, 4]"),
                       tg::ShapeError);
  REQUIRE(pytorch_raises("RNN B=2 h0 [1, 0, H]"));
  CHECK_THROWS_WITH_AS(tg::nn::RNN(3, 4)(tg::randn({5, 2, 3}), tg::randn({1, 0, 4})),
                       Contains("RNN: expected hx of shape [1, 2, 4] for input of shape [5, 2, 3], got [1, 0, 4]"),
                       tg::ShapeError);
  REQUIRE(pytorch_raises("LSTM B=0 wrong features"));
  CHECK_THROWS_WITH_AS(tg::nn::LSTM(3, 4)(tg::randn({5, 0, 4})),
                       Contains("LSTM: expected input with 3 features, got 4 (input shape [5, 0, 4])"), tg::ShapeError);
  // Packing no sequences ("Cannot pack empty tensors" in PyTorch), sorted or not, batch_first or not.
  REQUIRE(pytorch_raises("pack_padded_sequence of [T, 0, I], lengths []"));
  CHECK_THROWS_WITH_AS(tg::nn::utils::pack_padded_sequence(x0, std::vector<std::int64_t>{}),
                       Contains("pack_padded_sequence: cannot pack a batch of 0 sequences (input shape [5, 0, 3]"),
                       tg::ShapeError);
  REQUIRE(pytorch_raises("pack_padded_sequence of [0, T, I] batch_first, lengths [], enforce_sorted=False"));
  CHECK_THROWS_WITH_AS(
      tg::nn::utils::pack_padded_sequence(tg::randn({0, 5, 3}), tg::zeros({0}, {.dtype = tg::kInt64}), true, false),
      Contains("pack_padded_sequence: cannot pack a batch of 0 sequences (input shape [0, 5, 3], batch_first=true)"),
      tg::ShapeError);
  // A PackedSequence made by hand with batch_sizes [0]: PyTorch's layers run
  // it (they check no batch_sizes); tapegrad's refuse it, as its packing never
  // makes one (docs/pytorch.md).
  CHECK_FALSE(pytorch_raises("LSTM on PackedSequence(data [0, I], batch_sizes [0])"));
  const tg::nn::PackedSequence packed{tg::zeros({0, 3}), tg::zeros({1}, {.dtype = tg::kInt64}), {}, {}};
  CHECK_THROWS_WITH_AS(tg::nn::LSTM(3, 4)(packed), Contains("LSTM: PackedSequence batch_sizes must be positive"),
                       tg::ValueError);
}

}  // namespace test_rnn_batch0
