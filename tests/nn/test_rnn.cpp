// RNN, LSTM, GRU and their cells against PyTorch (tests/reference/rnn.json,
// written by make_rnn_reference.py): PyTorch's parameters load by name
// through safetensors, and outputs, final states and the gradients of a
// weighted sum of them agree to 1e-10 in float64. Also packing, dropout
// between layers, initialisation, and a gradcheck of the LSTM cell.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include <tapegrad/autograd/gradcheck.h>
#include <tapegrad/io/safetensors.h>
#include <tapegrad/nn/nn.h>

#include "support/reference.h"

namespace test_rnn {

using tg::Tensor;
using json = nlohmann::json;

namespace {

constexpr double kTol = 1e-10;

Tensor from_json(const json& j, bool requires_grad = false) {
  std::vector<std::int64_t> shape = j.at("shape").get<std::vector<std::int64_t>>();
  Tensor t = tg::tensor(j.at("values").get<std::vector<double>>(), tg::Dims(shape), tg::kFloat64);
  if (requires_grad) t.set_requires_grad(true);
  return t;
}

void check_json(const Tensor& got, const json& want, const char* what) {
  CAPTURE(what);
  REQUIRE(got.defined());
  CHECK(got.shape() == tg::Dims(want.at("shape").get<std::vector<std::int64_t>>()));
  tg_test::check_close(got, want.at("values").get<std::vector<double>>(), kTol);
}

// PyTorch's parameters, through a safetensors file, into `module` by name.
void load_parameters(tg::nn::Module& module, const json& params, const std::string& name) {
  module.to(tg::kFloat64);
  tg::TensorMap state;
  for (const auto& [key, value] : params.items()) state.emplace(key, from_json(value));
  const std::string path = "test_rnn_" + name + ".safetensors";
  tg::save(path, state);
  module.load_state_dict(tg::load(path));  // strict: the names must all match
  std::remove(path.c_str());
}

void check_parameter_grads(tg::nn::Module& module, const json& c) {
  for (const auto& entry : module.named_parameters()) {
    const std::string& key = entry.first;
    CAPTURE(key);
    REQUIRE(c.at("grad_params").contains(key));
    check_json(entry.second.grad(), c.at("grad_params").at(key), "parameter gradient");
  }
}

const json& cases() { return tg_test::reference_file("rnn.json").at("cases"); }

void run_layer_case(const std::string& name) {
  CAPTURE(name);
  const json& c = cases().at(name);
  const std::string kind = c.at("kind");
  tg::nn::RNNOptions options{.num_layers = c.at("num_layers").get<std::int64_t>(),
                             .nonlinearity = c.at("nonlinearity").get<std::string>(),
                             .bias = c.at("bias").get<bool>(),
                             .batch_first = c.at("batch_first").get<bool>(),
                             .bidirectional = c.at("bidirectional").get<bool>()};
  const std::int64_t I = c.at("input_size"), H = c.at("hidden_size");
  std::unique_ptr<tg::nn::RNNBase> module;
  if (kind == "RNN") module = std::make_unique<tg::nn::RNN>(I, H, options);
  if (kind == "LSTM") module = std::make_unique<tg::nn::LSTM>(I, H, options);
  if (kind == "GRU") module = std::make_unique<tg::nn::GRU>(I, H, options);
  REQUIRE(module);
  load_parameters(*module, c.at("params"), name);

  const Tensor x = from_json(c.at("input"), true);
  const Tensor h0 = c.contains("h0") ? from_json(c.at("h0"), true) : Tensor();
  const Tensor c0 = c.contains("c0") ? from_json(c.at("c0"), true) : Tensor();
  Tensor out, h_n, c_n;
  if (c.contains("lengths")) {
    const auto lengths = c.at("lengths").get<std::vector<std::int64_t>>();
    const auto packed =
        tg::nn::utils::pack_padded_sequence(x, lengths, options.batch_first, c.at("enforce_sorted").get<bool>());
    tg::nn::PackedSequence packed_out;
    if (kind == "LSTM") {
      auto [o, state] = static_cast<tg::nn::LSTM&>(*module)(
          packed, h0.defined() ? std::optional<tg::nn::LSTMState>(tg::nn::LSTMState{h0, c0}) : std::nullopt);
      packed_out = o;
      h_n = std::get<0>(state);
      c_n = std::get<1>(state);
    } else if (kind == "GRU") {
      std::tie(packed_out, h_n) = static_cast<tg::nn::GRU&>(*module)(packed, h0);
    } else {
      std::tie(packed_out, h_n) = static_cast<tg::nn::RNN&>(*module)(packed, h0);
    }
    auto [padded, out_lengths] = tg::nn::utils::pad_packed_sequence(packed_out, options.batch_first);
    out = padded;
    CHECK(out_lengths.to_vector<std::int64_t>() == lengths);
  } else if (kind == "LSTM") {
    auto [o, state] = static_cast<tg::nn::LSTM&>(*module)(
        x, h0.defined() ? std::optional<tg::nn::LSTMState>(tg::nn::LSTMState{h0, c0}) : std::nullopt);
    out = o;
    h_n = std::get<0>(state);
    c_n = std::get<1>(state);
  } else if (kind == "GRU") {
    std::tie(out, h_n) = static_cast<tg::nn::GRU&>(*module)(x, h0);
  } else {
    std::tie(out, h_n) = static_cast<tg::nn::RNN&>(*module)(x, h0);
  }
  check_json(out, c.at("output"), "output");
  check_json(h_n, c.at("h_n"), "h_n");
  Tensor loss = (out * from_json(c.at("w_out"))).sum() + (h_n * from_json(c.at("w_h"))).sum();
  if (c.contains("c_n")) {
    check_json(c_n, c.at("c_n"), "c_n");
    loss = loss + (c_n * from_json(c.at("w_c"))).sum();
  }
  loss.backward();
  check_json(x.grad(), c.at("grad_input"), "input gradient");
  if (h0.defined()) check_json(h0.grad(), c.at("grad_h0"), "h0 gradient");
  if (c0.defined()) check_json(c0.grad(), c.at("grad_c0"), "c0 gradient");
  check_parameter_grads(*module, c);
}

void run_cell_case(const std::string& name) {
  CAPTURE(name);
  const json& c = cases().at(name);
  const std::string kind = c.at("kind");
  const std::int64_t I = c.at("input_size"), H = c.at("hidden_size");
  const tg::nn::RNNCellOptions options{.bias = c.at("bias").get<bool>(),
                                       .nonlinearity = c.at("nonlinearity").get<std::string>()};
  const Tensor x = from_json(c.at("input"), true);
  const Tensor h0 = c.contains("h0") ? from_json(c.at("h0"), true) : Tensor();
  const Tensor c0 = c.contains("c0") ? from_json(c.at("c0"), true) : Tensor();
  std::unique_ptr<tg::nn::RNNCellBase> cell;
  Tensor h1, c1;
  if (kind == "LSTMCell") {
    auto lstm = std::make_unique<tg::nn::LSTMCell>(I, H, options);
    load_parameters(*lstm, c.at("params"), name);
    std::tie(h1, c1) =
        (*lstm)(x, h0.defined() ? std::optional<tg::nn::LSTMState>(tg::nn::LSTMState{h0, c0}) : std::nullopt);
    cell = std::move(lstm);
  } else if (kind == "GRUCell") {
    auto gru = std::make_unique<tg::nn::GRUCell>(I, H, options);
    load_parameters(*gru, c.at("params"), name);
    h1 = (*gru)(x, h0);
    cell = std::move(gru);
  } else {
    auto rnn = std::make_unique<tg::nn::RNNCell>(I, H, options);
    load_parameters(*rnn, c.at("params"), name);
    h1 = (*rnn)(x, h0);
    cell = std::move(rnn);
  }
  check_json(h1, c.at("h_n"), "h'");
  Tensor loss = (h1 * from_json(c.at("w_h"))).sum();
  if (c.contains("c_n")) {
    check_json(c1, c.at("c_n"), "c'");
    loss = loss + (c1 * from_json(c.at("w_c"))).sum();
  }
  loss.backward();
  check_json(x.grad(), c.at("grad_input"), "input gradient");
  if (h0.defined()) check_json(h0.grad(), c.at("grad_h0"), "h0 gradient");
  if (c0.defined()) check_json(c0.grad(), c.at("grad_c0"), "c0 gradient");
  check_parameter_grads(*cell, c);
}

}  // namespace

TEST_CASE("rnn: RNN (tanh, relu; 2 layers, bidirectional, h0) matches PyTorch") {
  run_layer_case("rnn_tanh");
  run_layer_case("rnn_relu_2layer_bidirectional_h0");
}

TEST_CASE("rnn: LSTM (2 layers, bidirectional, batch_first, h0/c0, no bias, unbatched) matches PyTorch") {
  run_layer_case("lstm");
  run_layer_case("lstm_2layer_bidirectional_batch_first_h0_c0");
  run_layer_case("lstm_no_bias");
  run_layer_case("lstm_unbatched_h0_c0");
}

TEST_CASE("rnn: GRU (2 layers, bidirectional, h0, no bias, batch_first) matches PyTorch") {
  run_layer_case("gru");
  run_layer_case("gru_2layer_bidirectional_h0");
  run_layer_case("gru_no_bias_batch_first");
}

TEST_CASE("rnn: forward(x) alone gives the output, also inside a Sequential (it threw)") {
  tg::manual_seed(3);
  const Tensor x = tg::randn({5, 2, 4});
  tg::nn::LSTM lstm(4, 3);
  CHECK(tg::equal(lstm.forward(x), std::get<0>(lstm(x))));
  tg::nn::GRU gru(4, 3);
  CHECK(tg::equal(gru.forward(x), gru(x).first));
  tg::nn::RNN rnn(4, 3);
  CHECK(tg::equal(rnn.forward(x), rnn(x).first));
  tg::nn::Module& as_module = lstm;
  CHECK(as_module.forward(x).sizes() == tg::Dims{5, 2, 3});
  tg::nn::Sequential seq{tg::nn::GRU(4, 3), tg::nn::Linear(3, 2)};
  CHECK(seq.forward(x).sizes() == tg::Dims{5, 2, 2});
}

TEST_CASE("rnn: packed variable-length batches (sorted and unsorted) match PyTorch") {
  run_layer_case("rnn_packed");
  run_layer_case("lstm_packed_2layer_bidirectional_h0_c0");
  run_layer_case("gru_packed_unsorted_batch_first_bidirectional_h0");
  run_layer_case("lstm_packed_unsorted_h0_c0");
}

TEST_CASE("rnn: RNNCell, LSTMCell and GRUCell match PyTorch") {
  run_cell_case("rnn_cell_tanh");
  run_cell_case("rnn_cell_relu_no_state");
  run_cell_case("lstm_cell");
  run_cell_case("lstm_cell_unbatched_no_bias");
  run_cell_case("gru_cell");
  run_cell_case("gru_cell_no_state");
}

TEST_CASE("rnn: PyTorch's parameter names, shapes and initialisation range") {
  tg::manual_seed(1);
  tg::nn::LSTM lstm(3, 5, {.num_layers = 2, .bidirectional = true});
  std::vector<std::string> names;
  for (const auto& [name, p] : lstm.named_parameters()) names.push_back(name);
  CHECK(names == std::vector<std::string>{"weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0",
                                          "weight_ih_l0_reverse", "weight_hh_l0_reverse", "bias_ih_l0_reverse",
                                          "bias_hh_l0_reverse", "weight_ih_l1", "weight_hh_l1", "bias_ih_l1",
                                          "bias_hh_l1", "weight_ih_l1_reverse", "weight_hh_l1_reverse",
                                          "bias_ih_l1_reverse", "bias_hh_l1_reverse"});
  const auto state = lstm.state_dict();
  CHECK(state.at("weight_ih_l0").shape() == tg::Dims{20, 3});
  CHECK(state.at("weight_ih_l1").shape() == tg::Dims{20, 10});
  CHECK(state.at("weight_hh_l1_reverse").shape() == tg::Dims{20, 5});
  const double bound = 1 / std::sqrt(5.0);
  for (const auto& p : lstm.parameters()) {
    CHECK(p.abs().max().item<double>() <= bound);
    CHECK(p.abs().max().item<double>() > 0.5 * bound);
  }
  CHECK(tg::nn::GRU(4, 6).named_parameters()[0].second.shape() == tg::Dims{18, 4});
  CHECK(tg::nn::RNN(4, 6, {.bias = false}).parameters().size() == 2);
  CHECK(tg::nn::GRUCell(4, 6).weight_hh.shape() == tg::Dims{18, 6});
  CHECK(lstm.repr() == "LSTM(3, 5, num_layers=2, bidirectional=True)");
  CHECK(tg::nn::LSTMCell(2, 3, {.bias = false}).repr() == "LSTMCell(2, 3, bias=False)");
}

TEST_CASE("rnn: inter-layer dropout is active in training only, and never after the last layer") {
  tg::manual_seed(2);
  tg::nn::LSTM lstm(3, 4, {.num_layers = 2, .dropout = 1.0});
  const Tensor x1 = tg::randn({5, 2, 3}), x2 = tg::randn({5, 2, 3});
  // p = 1 zeroes the first layer's output: the second layer sees zeros,
  // whatever the input.
  auto [out1, s1] = lstm(x1);
  auto [out2, s2] = lstm(x2);
  CHECK(tg::equal(out1, out2));
  CHECK(out1.abs().sum().item<double>() > 0);  // the last layer's output is not dropped
  lstm.eval();
  auto [out3, s3] = lstm(x1);
  auto [out4, s4] = lstm(x2);
  CHECK_FALSE(tg::equal(out3, out4));
  // One layer: nothing to drop.
  tg::nn::GRU gru(3, 4, {.dropout = 1.0});
  CHECK(gru(x1).first.abs().sum().item<double>() > 0);
}

TEST_CASE("rnn: pack_padded_sequence and pad_packed_sequence invert each other") {
  const Tensor x = tg::arange(24, {.dtype = tg::kFloat64}).reshape({4, 3, 2});  // [T, B, 2]
  auto packed = tg::nn::utils::pack_padded_sequence(x, std::vector<std::int64_t>{2, 4, 1}, false, false);
  CHECK(packed.batch_sizes.to_vector<std::int64_t>() == std::vector<std::int64_t>{3, 2, 1, 1});
  CHECK(packed.sorted_indices.to_vector<std::int64_t>() == std::vector<std::int64_t>{1, 0, 2});
  CHECK(packed.unsorted_indices.to_vector<std::int64_t>() == std::vector<std::int64_t>{1, 0, 2});
  CHECK(packed.data.shape() == tg::Dims{7, 2});
  // Step 0 holds batch 1, 0, 2; step 1 batch 1, 0; then batch 1 alone.
  CHECK(packed.data.to_vector<double>() == std::vector<double>{2, 3, 0, 1, 4, 5, 8, 9, 6, 7, 14, 15, 20, 21});
  auto [padded, lengths] = tg::nn::utils::pad_packed_sequence(packed, false, -1.0, 5);
  CHECK(padded.shape() == tg::Dims{5, 3, 2});
  CHECK(lengths.to_vector<std::int64_t>() == std::vector<std::int64_t>{2, 4, 1});
  // Each sequence's steps where it has them, padding_value after.
  const auto xv = x.to_vector<double>();
  const auto pv = padded.to_vector<double>();
  const std::vector<std::int64_t> length_of{2, 4, 1};
  for (std::int64_t t = 0; t < 5; ++t)
    for (std::int64_t b = 0; b < 3; ++b)
      for (std::int64_t f = 0; f < 2; ++f) {
        const auto at = static_cast<std::size_t>((t * 3 + b) * 2 + f);
        CHECK(pv[at] == (t < length_of[static_cast<std::size_t>(b)] ? xv[at] : -1.0));
      }
  // batch_first both ways, and a sorted batch keeps no permutation.
  auto packed_bf =
      tg::nn::utils::pack_padded_sequence(x.transpose(0, 1), tg::tensor(std::vector<std::int64_t>{4, 2, 2}), true);
  CHECK_FALSE(packed_bf.sorted_indices.defined());
  auto [padded_bf, lengths_bf] = tg::nn::utils::pad_packed_sequence(packed_bf, true);
  CHECK(padded_bf.shape() == tg::Dims{3, 4, 2});
  CHECK(tg::equal(padded_bf.select(0, 0), x.select(1, 0)));
}

TEST_CASE("rnn: a packed batch gives each sequence the result of running it alone") {
  tg::manual_seed(3);
  tg::nn::GRU gru(2, 3, {.num_layers = 2, .bidirectional = true});
  gru.to(tg::kFloat64);
  const Tensor x = tg::randn({4, 3, 2}, {.dtype = tg::kFloat64});
  const std::vector<std::int64_t> lengths{3, 4, 1};
  auto packed = tg::nn::utils::pack_padded_sequence(x, lengths, false, false);
  auto [out, h_n] = gru(packed);
  auto [padded, unused] = tg::nn::utils::pad_packed_sequence(out);
  for (std::int64_t b = 0; b < 3; ++b) {
    CAPTURE(b);
    const Tensor alone = x.narrow(1, b, 1).narrow(0, 0, lengths[b]);
    auto [o, h] = gru(alone);
    tg_test::check_close(padded.narrow(1, b, 1).narrow(0, 0, lengths[b]), o.to_vector<double>(), 1e-12);
    tg_test::check_close(h_n.narrow(1, b, 1), h.to_vector<double>(), 1e-12);
  }
}

TEST_CASE("rnn: gradcheck of an LSTM cell in float64") {
  tg::manual_seed(4);
  tg::nn::LSTMCell cell(3, 2);
  cell.to(tg::kFloat64);
  const tg::TensorOptions o{.dtype = tg::kFloat64, .requires_grad = true};
  std::vector<Tensor> inputs{tg::randn({2, 3}, o), tg::randn({2, 2}, o), tg::randn({2, 2}, o)};
  for (const Tensor& p : {cell.weight_ih, cell.weight_hh, cell.bias_ih, cell.bias_hh}) inputs.push_back(p);
  CHECK(tg::gradcheck(
      [&cell](const std::vector<Tensor>& v) {
        // gradcheck perturbs copies: the cell's members must be those copies.
        cell.weight_ih = v[3];
        cell.weight_hh = v[4];
        cell.bias_ih = v[5];
        cell.bias_hh = v[6];
        auto [h, c] = cell(v[0], tg::nn::LSTMState{v[1], v[2]});
        return h * 2 + c;
      },
      inputs));
}

namespace {

// A layer as a function of its input, initial state and every parameter, for
// gradcheck: the inputs after x (and h0, c0) are the layer's all_weights in
// order, put into the module on each call (gradcheck perturbs copies).
// `lengths` non-empty: the input goes in packed, and the output comes back
// padded.
std::vector<Tensor> layer_inputs(tg::nn::RNNBase& layer, const std::vector<Tensor>& first) {
  std::vector<Tensor> inputs = first;
  for (const auto& weights : layer.all_weights)
    for (const Tensor& w : weights) inputs.push_back(w);
  return inputs;
}

tg::GradcheckFunction layer_function(tg::nn::RNNBase& layer, std::size_t states, std::vector<std::int64_t> lengths) {
  return [&layer, states, lengths](const std::vector<Tensor>& v) {
    std::size_t next = 1 + states;
    for (auto& weights : layer.all_weights)
      for (Tensor& w : weights) w = v[next++];
    auto* lstm = dynamic_cast<tg::nn::LSTM*>(&layer);
    const std::optional<tg::nn::LSTMState> hx =
        states == 2 ? std::optional<tg::nn::LSTMState>(tg::nn::LSTMState{v[1], v[2]}) : std::nullopt;
    Tensor out, h_n, c_n;
    if (!lengths.empty()) {
      const auto packed = tg::nn::utils::pack_padded_sequence(v[0], lengths, false, false);
      tg::nn::PackedSequence packed_out;
      if (lstm) {
        tg::nn::LSTMState state;
        std::tie(packed_out, state) = (*lstm)(packed, hx);
        std::tie(h_n, c_n) = state;
      } else {
        std::tie(packed_out, h_n) = static_cast<tg::nn::RNN&>(layer)(packed, states == 1 ? v[1] : Tensor());
      }
      out = std::get<0>(tg::nn::utils::pad_packed_sequence(packed_out));
    } else if (lstm) {
      tg::nn::LSTMState state;
      std::tie(out, state) = (*lstm)(v[0], hx);
      std::tie(h_n, c_n) = state;
    } else {
      std::tie(out, h_n) = static_cast<tg::nn::RNN&>(layer)(v[0], states == 1 ? v[1] : Tensor());
    }
    std::vector<Tensor> results{out, h_n};
    if (c_n.defined()) results.push_back(c_n);
    return results;
  };
}

const tg::TensorOptions kGradF64{.dtype = tg::kFloat64, .requires_grad = true};
// gradgradcheck compares projections of the Jacobians (gradcheck's fast
// mode): the full comparison of a 2-layer LSTM's took 8 s of a Debug build.
const tg::GradcheckOptions kProjections{.fast_mode = true};

}  // namespace

// The hidden weight's gradient is one GEMM over the sequence in a first-order
// backward and per step in a recorded one (autograd/recurrent.h): gradcheck
// checks the first, gradgradcheck the second.
TEST_CASE("rnn: gradcheck and gradgradcheck of LSTM and RNN layers (2 layers, bidirectional, packed) in float64") {
  tg::manual_seed(11);
  SUBCASE("LSTM, 2 layers, bidirectional, h0 and c0") {
    tg::nn::LSTM lstm(2, 2, {.num_layers = 2, .bidirectional = true});
    lstm.to(tg::kFloat64);
    const auto inputs = layer_inputs(
        lstm, {tg::randn({3, 2, 2}, kGradF64), tg::randn({4, 2, 2}, kGradF64), tg::randn({4, 2, 2}, kGradF64)});
    const auto fn = layer_function(lstm, 2, {});
    CHECK(tg::gradcheck(fn, inputs));
    CHECK(tg::gradgradcheck(fn, inputs, {}, kProjections));
  }
  SUBCASE("LSTM, packed, lengths 3 and 1, unsorted") {
    tg::nn::LSTM lstm(2, 3, {.bidirectional = true});
    lstm.to(tg::kFloat64);
    const auto inputs = layer_inputs(lstm, {tg::randn({3, 2, 2}, kGradF64)});
    const auto fn = layer_function(lstm, 0, {1, 3});
    CHECK(tg::gradcheck(fn, inputs));
    CHECK(tg::gradgradcheck(fn, inputs, {}, kProjections));
  }
  SUBCASE("RNN (tanh), 2 layers, h0") {
    tg::nn::RNN rnn(2, 3, {.num_layers = 2});
    rnn.to(tg::kFloat64);
    const auto inputs = layer_inputs(rnn, {tg::randn({4, 2, 2}, kGradF64), tg::randn({2, 2, 3}, kGradF64)});
    const auto fn = layer_function(rnn, 1, {});
    CHECK(tg::gradcheck(fn, inputs));
    CHECK(tg::gradgradcheck(fn, inputs, {}, kProjections));
  }
}

TEST_CASE("rnn: the hidden weight's gradient is the same alone, with the others, and recorded") {
  tg::manual_seed(12);
  tg::nn::LSTM lstm(3, 4, {.num_layers = 2});
  lstm.to(tg::kFloat64);
  Tensor x = tg::randn({5, 2, 3}, kGradF64);
  const Tensor weights = tg::randn({5, 2, 4}, {.dtype = tg::kFloat64});
  auto loss_of = [&] { return (std::get<0>(lstm(x)) * weights).sum(); };
  const Tensor w_hh = lstm.all_weights[1][1];  // weight_hh_l1

  loss_of().backward();
  const Tensor full = w_hh.grad().clone();
  const Tensor full_x = x.grad().clone();
  // Only W_hh: the engine runs just the nodes that lead to it.
  const Tensor alone = tg::grad(loss_of(), w_hh)[0];
  tg_test::check_close(alone, full.to_vector<double>(), 1e-13);
  // Recorded (create_graph): each step gives its own share instead.
  const Tensor recorded = tg::grad(loss_of(), w_hh, {.create_graph = true})[0];
  CHECK(recorded.requires_grad());
  tg_test::check_close(recorded, full.to_vector<double>(), 1e-13);
  // And W_hh frozen: no gradient for it, the others unchanged.
  for (auto& layer : lstm.all_weights) layer[1].set_requires_grad(false);
  x.mutable_grad() = Tensor();
  loss_of().backward();
  tg_test::check_close(x.grad(), full_x.to_vector<double>(), 1e-13);
}

TEST_CASE("rnn: an initial state modified in place after the forward is an error in backward") {
  // W_hh's gradient reads every step's hidden input; h0 is the first.
  tg::manual_seed(13);
  for (const bool lstm_layer : {true, false}) {
    CAPTURE(lstm_layer);
    tg::nn::LSTM lstm(3, 4);
    tg::nn::RNN rnn(3, 4);
    const Tensor x = tg::randn({5, 2, 3});
    Tensor h0 = tg::randn({1, 2, 4});
    const Tensor out =
        lstm_layer ? std::get<0>(lstm(x, tg::nn::LSTMState{h0, tg::zeros({1, 2, 4})})) : std::get<0>(rnn(x, h0));
    h0.add_(1.0);
    CHECK_THROWS_AS(out.sum().backward(), tg::AutogradError);
  }
}

TEST_CASE("rnn: an LSTM inside a module that moves, trained one step") {
  struct Tagger : tg::nn::Module {
    tg::nn::Embedding embed{10, 4};
    tg::nn::LSTM lstm{4, 8, {.batch_first = true}};
    tg::nn::Linear head{8, 10};
    Tagger() {
      register_module("embed", embed);
      register_module("lstm", lstm);
      register_module("head", head);
    }
    Tensor forward(const Tensor& tokens) override { return head(std::get<0>(lstm(embed(tokens)))); }
  };
  tg::manual_seed(5);
  std::vector<Tagger> models;
  models.emplace_back();
  models.emplace_back();  // reallocates: the first model moves
  Tagger& m = models[0];
  CHECK(m.named_children()[1].second == &m.lstm);
  const Tensor tokens = tg::randint(0, 10, {2, 6});
  const Tensor logits = m(tokens);
  CHECK(logits.shape() == tg::Dims{2, 6, 10});
  logits.sum().backward();
  for (const auto& entry : m.named_parameters()) {
    const std::string& name = entry.first;
    CAPTURE(name);
    CHECK(entry.second.grad().defined());
  }
}

TEST_CASE("rnn: LSTM, GRU and their cells refuse a nonlinearity, which only RNN and RNNCell have") {
  namespace nn = tg::nn;
  CHECK_THROWS_WITH_AS(nn::LSTM(3, 4, nn::RNNOptions{.nonlinearity = "relu"}),
                       "LSTM: has no nonlinearity option (only RNN and RNNCell do), got 'relu'", tg::ValueError);
  CHECK_THROWS_WITH_AS(nn::GRU(3, 4, nn::RNNOptions{.nonlinearity = "sigmoid"}), doctest::Contains("GRU: has no"),
                       tg::ValueError);
  CHECK_THROWS_WITH_AS(nn::LSTMCell(3, 4, nn::RNNCellOptions{.nonlinearity = "sigmoid"}),
                       doctest::Contains("LSTMCell: has no"), tg::ValueError);
  CHECK_THROWS_WITH_AS(nn::GRUCell(3, 4, nn::RNNCellOptions{.nonlinearity = "relu"}),
                       doctest::Contains("GRUCell: has no"), tg::ValueError);
  // The default is accepted, and RNN's choices still work.
  CHECK_NOTHROW(nn::LSTM(3, 4));
  CHECK_NOTHROW(nn::GRUCell(3, 4));
  CHECK_NOTHROW(nn::RNNCell(3, 4, nn::RNNCellOptions{.nonlinearity = "relu"}));
  CHECK_THROWS_AS(nn::RNN(3, 4, nn::RNNOptions{.nonlinearity = "sigmoid"}), tg::ValueError);
}

// Assigning into all_weights is PyTorch's `lstm.weight_ih_l0 = w`: forward,
// parameters() and state_dict() all see the new tensor. Before, forward read
// it while the registry (and so an optimizer or a save) kept the old one.
TEST_CASE("rnn: a weight assigned into all_weights is what forward, parameters() and state_dict() see") {
  tg::manual_seed(3);
  tg::nn::LSTM lstm(3, 4, {.num_layers = 2, .bidirectional = true});
  lstm.to(tg::kFloat64);
  const Tensor old = lstm.all_weights[2][1];  // weight_hh_l1
  const Tensor replacement = tg::randn(old.shape(), {.dtype = tg::kFloat64, .requires_grad = true});
  lstm.all_weights[2][1] = replacement;
  bool found = false;
  for (const auto& [name, p] : lstm.named_parameters())
    if (name == "weight_hh_l1") {
      found = true;
      CHECK(p.impl() == replacement.impl());
    }
  CHECK(found);
  CHECK(lstm.state_dict().at("weight_hh_l1").data_ptr<double>() == replacement.data_ptr<double>());  // shares memory
  const Tensor x = tg::randn({5, 2, 3}, {.dtype = tg::kFloat64});
  std::get<0>(lstm(x)).sum().backward();
  CHECK(replacement.grad().defined());
  CHECK(!old.grad().defined());
  // A parameter list that no longer fits is an error naming the module.
  lstm.all_weights.pop_back();
  CHECK_THROWS_WITH_AS(lstm.parameters(), doctest::Contains("LSTM: all_weights was resized"), tg::ValueError);
}

}  // namespace test_rnn
