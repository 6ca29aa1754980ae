// Bad input to the recurrent, attention and pooling modules and their ops:
// sizes near 2^63 that overflowed the int64 arithmetic of a shape rule
// (undefined behaviour: UBSan aborted, a release build went on with wrapped
// sizes), counts that looped for ever allocating (num_layers, total_length),
// and PackedSequence orders that silently gave the final states in the packed
// order. Each must be a tg::Error subclass naming the module or op.
#include <doctest/doctest.h>

#include <cmath>

#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include <tapegrad/nn/nn.h>

namespace test_bad_input_modules {

using tg::Tensor;
namespace F = tg::nn::functional;
using doctest::Contains;

namespace {

constexpr std::int64_t kMax = std::numeric_limits<std::int64_t>::max();
constexpr std::int64_t k2p62 = std::int64_t{1} << 62;
constexpr std::int64_t k2p40 = std::int64_t{1} << 40;

Tensor i64(std::vector<std::int64_t> values) { return tg::tensor(values); }

}  // namespace

TEST_CASE("recurrent layers and cells: a hidden_size whose gate rows overflow int64") {
  CHECK_THROWS_WITH_AS(tg::nn::LSTM(2, k2p62), Contains("LSTM: hidden_size 4611686018427387904 times 4 gates"),
                       tg::ShapeError);
  CHECK_THROWS_WITH_AS(tg::nn::GRU(2, kMax), Contains("GRU: hidden_size 9223372036854775807 times 3 gates"),
                       tg::ShapeError);
  CHECK_THROWS_WITH_AS(tg::nn::LSTMCell(2, k2p62), Contains("LSTMCell: hidden_size"), tg::ShapeError);
  CHECK_THROWS_WITH_AS(tg::nn::GRUCell(2, kMax / 2), Contains("GRUCell: hidden_size"), tg::ShapeError);
  // RNN has one gate: the weight itself is too large, as for any tensor.
  CHECK_THROWS_AS(tg::nn::RNN(2, kMax), tg::ShapeError);
}

TEST_CASE("recurrent layers: num_layers whose weights cannot fit is refused before allocating") {
  // 2^63 - 1 layers of 48 bytes each: this looped, allocating, until killed.
  CHECK_THROWS_WITH_AS(tg::nn::RNN(2, 2, {.num_layers = kMax}), Contains("RNN: out of memory"), tg::OutOfMemoryError);
  CHECK_THROWS_WITH_AS(tg::nn::LSTM(2, 2, {.num_layers = k2p40, .bidirectional = true}),
                       Contains("LSTM: out of memory"), tg::OutOfMemoryError);
  // A few layers still build, with both directions above the first.
  tg::nn::GRU gru(2, 3, {.num_layers = 3, .bidirectional = true});
  CHECK(gru.all_weights.size() == 6);
  CHECK(gru.all_weights[2][0].shape() == tg::Dims{9, 6});
}

TEST_CASE("transformer stacks: num_layers whose parameters cannot fit is refused before allocating") {
  CHECK_THROWS_WITH_AS(tg::nn::TransformerEncoder(4, 2, kMax), Contains("TransformerEncoder: out of memory"),
                       tg::OutOfMemoryError);
  CHECK_THROWS_WITH_AS(tg::nn::TransformerDecoder(4, 2, k2p40), Contains("TransformerDecoder: out of memory"),
                       tg::OutOfMemoryError);
  tg::nn::TransformerEncoder encoder(4, 2, 2, {.dim_feedforward = 8});
  CHECK(encoder.layers->size() == 2);
}

TEST_CASE("MultiheadAttention: an embed_dim whose packed projection overflows int64") {
  CHECK_THROWS_WITH_AS(tg::nn::MultiheadAttention(k2p62, 1), Contains("MultiheadAttention: embed_dim"), tg::ShapeError);
  CHECK_THROWS_WITH_AS(tg::nn::MultiheadAttention(kMax / 2, 1), Contains("MultiheadAttention: embed_dim"),
                       tg::ShapeError);
}

TEST_CASE("PackedSequence: batch_sizes summing past int64") {
  const tg::nn::PackedSequence packed{tg::ones({0, 2}), i64({k2p62, k2p62, k2p62, k2p62}), {}, {}};
  tg::nn::RNN rnn(2, 3);
  CHECK_THROWS_WITH_AS(rnn(packed), Contains("RNN: PackedSequence batch_sizes"), tg::ShapeError);
  CHECK_THROWS_WITH_AS(tg::nn::utils::pad_packed_sequence(packed), Contains("pad_packed_sequence: PackedSequence"),
                       tg::ShapeError);
}

TEST_CASE("PackedSequence: sorted_indices and unsorted_indices must be a permutation and its inverse") {
  tg::nn::LSTM lstm(2, 3);
  auto packed = tg::nn::utils::pack_padded_sequence(tg::randn({4, 3, 2}), std::vector<std::int64_t>{2, 4, 1}, false,
                                                    /*enforce_sorted=*/false);
  REQUIRE(packed.sorted_indices.defined());
  const auto result = lstm(packed);  // the pair pack_padded_sequence made works
  CHECK(std::get<0>(std::get<1>(result)).shape() == tg::Dims{1, 3, 3});

  // Only one of the two: the final states came back in the packed order.
  auto only_sorted = packed;
  only_sorted.unsorted_indices = Tensor();
  CHECK_THROWS_WITH_AS(lstm(only_sorted), Contains("LSTM: a PackedSequence needs both sorted_indices"), tg::ValueError);
  auto only_unsorted = packed;
  only_unsorted.sorted_indices = Tensor();
  CHECK_THROWS_WITH_AS(tg::nn::utils::pad_packed_sequence(only_unsorted),
                       Contains("pad_packed_sequence: a PackedSequence needs both"), tg::ValueError);
  // Another length (it failed inside addmm, naming neither LSTM nor the indices).
  auto short_order = packed;
  short_order.sorted_indices = i64({0, 1});
  CHECK_THROWS_WITH_AS(lstm(short_order, tg::nn::LSTMState{tg::zeros({1, 3, 3}), tg::zeros({1, 3, 3})}),
                       Contains("LSTM: PackedSequence sorted_indices must be int64 of shape [3]"), tg::ValueError);
  auto float_order = packed;
  float_order.unsorted_indices = tg::tensor({0.0f, 1.0f, 2.0f});
  CHECK_THROWS_WITH_AS(lstm(float_order), Contains("LSTM: PackedSequence unsorted_indices must be int64"),
                       tg::ValueError);
  // Not a permutation, or not each other's inverse: silently wrong states.
  auto repeated = packed;
  repeated.sorted_indices = i64({0, 0, 1});
  CHECK_THROWS_WITH_AS(lstm(repeated), Contains("must be a permutation of [0, 3) and its inverse"), tg::ValueError);
  auto out_of_range = packed;
  out_of_range.unsorted_indices = i64({0, 7, 1});
  CHECK_THROWS_WITH_AS(tg::nn::utils::pad_packed_sequence(out_of_range),
                       Contains("pad_packed_sequence: PackedSequence sorted_indices"), tg::ValueError);
}

TEST_CASE("pad_packed_sequence: a huge total_length is refused at once, a larger one pads") {
  const Tensor x = tg::randn({3, 2, 1});
  const auto packed = tg::nn::utils::pack_padded_sequence(x, std::vector<std::int64_t>{3, 1});
  // These looped over every time step (for ever, at 2^40) before allocating.
  CHECK_THROWS_WITH_AS(tg::nn::utils::pad_packed_sequence(packed, false, 0, kMax),
                       Contains("pad_packed_sequence: shape [9223372036854775804, 2, 1]"), tg::ShapeError);
  // Named as the function the user called, not as `full` below it.
  CHECK_THROWS_WITH_AS(tg::nn::utils::pad_packed_sequence(packed, false, 0, k2p40),
                       Contains("pad_packed_sequence: out of memory"), tg::OutOfMemoryError);

  const Tensor data = packed.data.detach().requires_grad_();
  const tg::nn::PackedSequence with_grad{data, packed.batch_sizes, {}, {}};
  const auto [padded, lengths] = tg::nn::utils::pad_packed_sequence(with_grad, true, -1, 5);
  REQUIRE(padded.shape() == tg::Dims{2, 5, 1});
  CHECK(lengths.to_vector<std::int64_t>() == std::vector<std::int64_t>{3, 1});
  const std::vector<float> xs = x.to_vector<float>();  // [T, B] = [3, 2]
  CHECK(padded.to_vector<float>() == std::vector<float>{xs[0], xs[2], xs[4], -1, -1, xs[1], -1, -1, -1, -1});
  padded.sum().backward();
  CHECK(data.grad().to_vector<float>() == std::vector<float>{1, 1, 1, 1});
}

TEST_CASE("ctc_loss: concatenated target_lengths summing past int64") {
  const Tensor lp = tg::log_softmax(tg::randn({5, 2, 4}), -1);
  CHECK_THROWS_WITH_AS(F::ctc_loss(lp, i64({1, 2}), i64({5, 5}), i64({kMax, 3})),
                       Contains("ctc_loss: concatenated targets have 2 elements but target_lengths sum past int64"),
                       tg::ShapeError);
  // Two lengths that wrapped around to the targets' count.
  const Tensor lp3 = tg::log_softmax(tg::randn({5, 3, 4}), -1);
  CHECK_THROWS_WITH_AS(F::ctc_loss(lp3, i64({1, 2}), i64({5, 5, 5}), i64({kMax, kMax, 4})),
                       Contains("target_lengths sum past int64"), tg::ShapeError);
}

TEST_CASE("pooling: padding or output sizes near 2^63") {
  // The padding may be half the kernel, and the kernel near 2^63.
  CHECK_THROWS_WITH_AS(tg::nn::MaxPool2d(kMax, 1, kMax / 2)(tg::ones({1, 1, 4, 4})),
                       Contains("max_pool2d: input [1, 1, 4, 4] padded by (4611686018427387903, "
                                "4611686018427387903) is past what int64 can count"),
                       tg::ShapeError);
  CHECK_THROWS_WITH_AS(tg::nn::AvgPool1d(kMax, 1, kMax / 2)(tg::ones({1, 1, 4})),
                       Contains("avg_pool1d: input [1, 1, 4] padded by 4611686018427387903"), tg::ShapeError);
  CHECK_THROWS_WITH_AS(F::avg_pool2d(tg::ones({1, 3, 3}), {3, kMax}, 1, {1, kMax / 2}),
                       Contains("padded by (1, 4611686018427387903) is past what int64 can count"), tg::ShapeError);
  CHECK_THROWS_WITH_AS(tg::nn::AdaptiveAvgPool2d{kMax}(tg::ones({1, 1, 4, 4})),
                       Contains("adaptive_avg_pool2d: output size (9223372036854775807, 9223372036854775807)"),
                       tg::ShapeError);
  CHECK_THROWS_WITH_AS(F::adaptive_avg_pool2d(tg::ones({1, 1, 3, 3}), {1, kMax}),
                       Contains("adaptive_avg_pool2d: output size (1, 9223372036854775807)"), tg::ShapeError);
  CHECK_THROWS_WITH_AS(tg::nn::AdaptiveAvgPool1d{kMax}(tg::ones({1, 1, 3})),
                       Contains("adaptive_avg_pool1d: output size 9223372036854775807"), tg::ShapeError);
}

TEST_CASE("embedding with max_norm: an integer weight is refused naming embedding") {
  // (Without max_norm an integer weight is a plain lookup, as in PyTorch.)
  CHECK(F::embedding(i64({1}), tg::ones({5, 3}, tg::kInt64)).shape() == tg::Dims{1, 3});
  CHECK_THROWS_WITH_AS(F::embedding(i64({1}), tg::ones({5, 3}, tg::kInt64), {}, 1.0),
                       Contains("embedding: max_norm rescales rows of the weight, which must be floating point, "
                                "got int64"),
                       tg::DTypeError);
}

TEST_CASE("pixel_shuffle and pixel_unshuffle: a factor whose square overflows says so") {
  CHECK_THROWS_WITH_AS(F::pixel_shuffle(tg::ones({1, 4, 2, 2}), std::int64_t{1} << 32),
                       Contains("pixel_shuffle: upscale_factor (4294967296) must be positive and its square fit int64"),
                       tg::ValueError);
  CHECK_THROWS_WITH_AS(F::pixel_unshuffle(tg::ones({1, 1, 4, 4}), kMax),
                       Contains("pixel_unshuffle: downscale_factor (9223372036854775807) must be positive and its "
                                "square fit int64"),
                       tg::ValueError);
}

TEST_CASE("expanded inputs with 2^40 entries: refused before a std::vector is sized by them") {
  // Views of one element: nothing is allocated until an op sizes its own
  // bookkeeping by them (a std::bad_alloc, or ASan's abort, before).
  const Tensor q = tg::ones({1, 1, 2, 4}).expand({k2p40, 1, 2, 4});
  CHECK_THROWS_WITH_AS(F::scaled_dot_product_attention(q, q, q),
                       Contains("scaled_dot_product_attention: out of memory"), tg::OutOfMemoryError);
  // Batch dims broadcast from two inputs to a count past int64.
  const Tensor a = tg::ones({1, 1, 2, 4}).expand({k2p40, 1, 2, 4});
  const Tensor b = tg::ones({1, 1, 2, 4}).expand({1, k2p40, 2, 4});
  CHECK_THROWS_WITH_AS(F::scaled_dot_product_attention(a, b, b),
                       Contains("scaled_dot_product_attention: shape [1099511627776, 1099511627776]"), tg::ShapeError);
  tg::nn::GRU gru(2, 3);
  CHECK_THROWS_WITH_AS(gru(tg::ones({1, 1, 2}).expand({k2p40, 1, 2})), Contains("GRU: out of memory"),
                       tg::OutOfMemoryError);
}

TEST_CASE("interpolate: an expanded input of 2^62 elements along the resized dim") {
  // 'nearest' on a 4-D input checked out == 2 * in, which overflowed.
  const Tensor x = tg::ones({1, 1, 1, 1}).expand({1, 1, 1, k2p62});
  CHECK_THROWS_AS(F::interpolate(x, {.size = {1, 5}}), tg::ShapeError);
  // The shortcut itself still copies (out == in) and doubles (out == 2 in).
  const Tensor y = tg::arange(3.0).reshape({1, 1, 1, 3});
  CHECK(F::interpolate(y, {.size = {1, 6}}).to_vector<float>() == std::vector<float>{0, 0, 1, 1, 2, 2});
  CHECK(F::interpolate(y, {.size = {1, 3}}).to_vector<float>() == std::vector<float>{0, 1, 2});
}

TEST_CASE("rms_norm: backward through rows of no elements (a normalized shape with a 0)") {
  // The forward worked; the backward viewed the kernel's rstd (no rows) as
  // [2, 1] and threw a ShapeError naming view. As layer_norm, it is empty.
  const Tensor x = tg::ones({2, 0}).requires_grad_();
  const Tensor w = tg::ones({0}).requires_grad_();
  tg::nn::functional::rms_norm(x, {0}, w).sum().backward();
  CHECK(x.grad().shape() == tg::Dims{2, 0});
  CHECK(w.grad().shape() == tg::Dims{0});
  const Tensor x3 = tg::ones({2, 3, 0}).requires_grad_();
  tg::nn::RMSNorm norm(tg::Dims{3, 0});
  norm(x3).sum().backward();
  CHECK(x3.grad().shape() == tg::Dims{2, 3, 0});
  CHECK(norm.weight.grad().shape() == tg::Dims{3, 0});
}

TEST_CASE("optimizers: an expanded parameter is refused (its shared elements would keep one step)") {
  // SGD left [1, 1, 1] expanded from one element at 0.7 after grads 1, 2, 3
  // (each element's update overwrote the others'); LBFGS failed in add_.
  const Tensor p = tg::ones({1}).expand({3}).requires_grad_();
  const std::string message = "parameter 0 of group 0 (shape [3], strides [0]) is expanded along dim 0";
  const auto names = [&](const char* optimizer) { return std::string(optimizer) + ": " + message; };
  CHECK_THROWS_WITH_AS(tg::optim::SGD({p}, {.lr = 0.1}), Contains(names("SGD").c_str()), tg::ValueError);
  CHECK_THROWS_WITH_AS(tg::optim::Adam({p}), Contains(names("Adam").c_str()), tg::ValueError);
  CHECK_THROWS_WITH_AS(tg::optim::NAdam({p}), Contains(names("NAdam").c_str()), tg::ValueError);
  CHECK_THROWS_WITH_AS(tg::optim::LBFGS({p}), Contains(names("LBFGS").c_str()), tg::ValueError);
  tg::optim::RAdam radam({tg::ones({2}).requires_grad_()});
  CHECK_THROWS_WITH_AS(radam.add_param_group({p}), Contains("RAdam: parameter 0 of group 1 (shape [3], strides [0])"),
                       tg::ValueError);
  // A broadcast size-1 dim shares nothing: still a parameter.
  const Tensor q = tg::ones({3, 1}).expand({3, 1}).requires_grad_();
  tg::optim::SGD sgd({q}, {.lr = 0.1});
  (q * 2).sum().backward();
  sgd.step();
  CHECK(q.to_vector<float>() == std::vector<float>{0.8f, 0.8f, 0.8f});
}

TEST_CASE("Hardtanh: max_val must be above min_val, as torch.nn.Hardtanh asserts") {
  CHECK_THROWS_WITH_AS(tg::nn::Hardtanh(2, -2), "Hardtanh: max_val must be above min_val, got min_val=2, max_val=-2",
                       tg::ValueError);
  CHECK_THROWS_AS(tg::nn::Hardtanh(1, 1), tg::ValueError);
  CHECK_THROWS_AS(tg::nn::Hardtanh(std::nan(""), 1), tg::ValueError);
  tg::nn::Hardtanh ok(-0.5, 0.5);
  CHECK(ok.forward(tg::tensor({-2.0, 0.25, 2.0})).to_vector<float>() == std::vector<float>{-0.5f, 0.25f, 0.5f});
}

// An undefined input names the module: the ops inside said only "tensor is
// undefined", and Dropout out of training returned it.
TEST_CASE("modules called on an undefined input give a ValueError naming the module") {
  const Tensor undefined;
  const auto names_it = [&](tg::nn::Module& m, const std::string& name) {
    CAPTURE(name);
    CHECK_THROWS_WITH_AS(m(undefined), (name + ": the input is undefined (default-constructed or reset)").c_str(),
                         tg::ValueError);
  };
  tg::nn::Linear linear(3, 2);
  names_it(linear, "Linear");
  tg::nn::BatchNorm1d bn1(3);
  names_it(bn1, "BatchNorm1d");
  tg::nn::BatchNorm2d bn2(3);
  names_it(bn2, "BatchNorm2d");
  tg::nn::GroupNorm gn(1, 3);
  names_it(gn, "GroupNorm");
  tg::nn::InstanceNorm1d in1(3);
  names_it(in1, "InstanceNorm1d");
  tg::nn::LayerNorm ln({3});
  names_it(ln, "LayerNorm");
  tg::nn::Dropout dropout(0.5);
  dropout.eval();
  names_it(dropout, "Dropout");
  tg::nn::Sequential seq{tg::nn::Linear(3, 2), tg::nn::ReLU()};
  names_it(seq, "Sequential");
  // Modules called with their own arguments, which check their inputs themselves.
  tg::nn::LSTM lstm(3, 4);
  CHECK_THROWS_WITH_AS(
      lstm(undefined),
      doctest::Contains("LSTM: expected a 3-D (batched) or 2-D (unbatched) input, got shape undefined"), tg::Error);
  tg::nn::MultiheadAttention mha(4, 2);
  CHECK_THROWS_WITH_AS(mha(undefined, undefined, undefined),
                       "MultiheadAttention: query is undefined (a tensor is required)", tg::Error);
  // The functional form, out of training too.
  CHECK_THROWS_WITH_AS(F::dropout(undefined, 0.5, false), doctest::Contains("dropout: the input is undefined"),
                       tg::ValueError);
}

// Messages that said what was not so (a helper's hunt): "got 0 features" for
// a 0-d input, "(give 1 or 1)", and the -1 of an unflatten called a negative
// size.
TEST_CASE("messages say what is wrong: a 0-d input to Linear, interpolate's count, unflatten's -1") {
  tg::nn::Linear linear(3, 2);
  CHECK_THROWS_WITH_AS(linear(tg::scalar_tensor(1.0)),
                       "Linear: expected input with 3 features in its last dim, got a 0-d tensor", tg::ShapeError);
  CHECK_THROWS_WITH_AS(F::interpolate(tg::ones({1, 1, 4}), {.scale_factor = {2.0, 2.0, 2.0}}),
                       "interpolate: scale_factor has 3 values; input [1, 1, 4] has 1 spatial dim (give 1)",
                       tg::ValueError);
  CHECK_THROWS_WITH_AS(F::interpolate(tg::ones({1, 1, 4, 4}), {.size = {2, 2, 2}}),
                       "interpolate: size has 3 values; input [1, 1, 4, 4] has 2 spatial dims (give 1 or 2)",
                       tg::ValueError);
  tg::nn::Unflatten unflatten(1, {std::int64_t{1} << 32, std::int64_t{1} << 32, -1});
  CHECK_THROWS_WITH_AS(unflatten(tg::ones({2, 0})),
                       doctest::Contains("the sizes of shape [4294967296, 4294967296, -1] other than the -1 have more "
                                         "elements than an int64 can count"),
                       tg::ShapeError);
}

}  // namespace test_bad_input_modules
