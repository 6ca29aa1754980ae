#pragma once
// Recurrent layers as PyTorch's: RNN (tanh or relu), LSTM, GRU and their
// cells, with PyTorch's parameter names (weight_ih_l0, weight_hh_l0,
// bias_ih_l0, bias_hh_l0, ..._reverse), layouts (gates stacked i|f|g|o for
// the LSTM, r|z|n for the GRU) and initialisation U(-1/sqrt(hidden),
// 1/sqrt(hidden)), so a PyTorch state_dict loads by name.
//
//   tg::nn::LSTM lstm(10, 20, {.num_layers = 2, .batch_first = true, .bidirectional = true});
//   auto [out, state] = lstm(x);              // x [B, T, 10] -> out [B, T, 40]
//   auto [h_n, c_n] = state;                   // [4, B, 20] each
//
// Variable lengths go through tg::nn::utils::pack_padded_sequence; a packed
// input gives a packed output. The time loop is made of ordinary
// differentiable ops: the input projection of every time step is one GEMM up
// front, and each step one GEMM of the hidden state for all the gates.
#include <cstdint>
#include <optional>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include <tapegrad/nn/module.h>

namespace tg {
class Generator;
}

namespace tg::nn {

// A batch of sequences of different lengths, time-major and without padding
// (as torch.nn.utils.rnn.PackedSequence): step t holds batch_sizes[t] rows,
// the sequences longer than t, longest first. sorted_indices[i] is the
// original batch index of packed row i (undefined if the batch was given
// sorted); unsorted_indices inverts it.
struct PackedSequence {
  Tensor data;              // [sum(batch_sizes), *]
  Tensor batch_sizes;       // int64 [T], non-increasing
  Tensor sorted_indices;    // int64 [B] or undefined
  Tensor unsorted_indices;  // int64 [B] or undefined
};

struct RNNOptions {
  std::int64_t num_layers = 1;
  // RNN only: "tanh" or "relu".
  std::string nonlinearity = "tanh";
  bool bias = true;
  // Input and output [B, T, *] instead of [T, B, *] (states stay [L*D, B, H]).
  bool batch_first = false;
  // Applied to the output of every layer but the last, in training mode.
  double dropout = 0;
  bool bidirectional = false;
  // Draws the dropout masks (the default generator when null).
  Generator* generator = nullptr;
};

// The common body of RNN, LSTM and GRU.
class RNNBase : public Module {
 public:
  enum class Mode { RNNTanh, RNNRelu, LSTM, GRU };

  using Module::forward;
  std::string extra_repr() const override;
  void reset_parameters();

  Mode mode;
  std::int64_t input_size;
  std::int64_t hidden_size;
  RNNOptions options;
  // Per layer and direction (l0, l0_reverse, l1, ...): weight_ih, weight_hh,
  // and bias_ih, bias_hh when options.bias.
  std::vector<std::vector<Tensor>> all_weights;

 protected:
  RNNBase(Mode mode, std::int64_t input_size, std::int64_t hidden_size, RNNOptions options);
  // The whole stack over a padded [T, B, I] (or [B, T, I], or unbatched
  // [T, I]) input or a packed one. `h0`/`c0` may be undefined (zeros).
  // Returns output, h_n and (LSTM) c_n.
  std::tuple<Tensor, Tensor, Tensor> run(const Tensor& input, const Tensor& h0, const Tensor& c0);
  std::tuple<PackedSequence, Tensor, Tensor> run(const PackedSequence& input, const Tensor& h0, const Tensor& c0);

 private:
  std::int64_t directions() const { return options.bidirectional ? 2 : 1; }
  std::tuple<Tensor, Tensor, Tensor> run_packed(const Tensor& data, const std::vector<std::int64_t>& batch_sizes,
                                                Tensor h0, Tensor c0);
  void check_state(const Tensor& state, const char* what, std::int64_t batch, const Tensor& input, bool batched) const;
};

// Elman RNN: h_t = tanh(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh) (or relu).
class RNN : public RNNBase {
 public:
  using Module::forward;
  RNN(std::int64_t input_size, std::int64_t hidden_size, RNNOptions options = {});
  // (output, h_n). h0 [L*D, B, H] or undefined for zeros.
  std::pair<Tensor, Tensor> forward(const Tensor& input, const Tensor& h0);
  std::pair<PackedSequence, Tensor> forward(const PackedSequence& input, const Tensor& h0);
  std::pair<Tensor, Tensor> operator()(const Tensor& input, const Tensor& h0 = {}) { return forward(input, h0); }
  std::pair<PackedSequence, Tensor> operator()(const PackedSequence& input, const Tensor& h0 = {}) {
    return forward(input, h0);
  }
  std::string type_name() const override { return "RNN"; }
};

// (h, c), each [L*D, B, H] (or [L*D, H] for an unbatched input).
using LSTMState = std::tuple<Tensor, Tensor>;

class LSTM : public RNNBase {
 public:
  using Module::forward;
  LSTM(std::int64_t input_size, std::int64_t hidden_size, RNNOptions options = {});
  // (output, (h_n, c_n)); no hx means zeros.
  std::tuple<Tensor, LSTMState> forward(const Tensor& input, const std::optional<LSTMState>& hx);
  std::tuple<PackedSequence, LSTMState> forward(const PackedSequence& input, const std::optional<LSTMState>& hx);
  std::tuple<Tensor, LSTMState> operator()(const Tensor& input, const std::optional<LSTMState>& hx = std::nullopt) {
    return forward(input, hx);
  }
  std::tuple<PackedSequence, LSTMState> operator()(const PackedSequence& input,
                                                   const std::optional<LSTMState>& hx = std::nullopt) {
    return forward(input, hx);
  }
  std::string type_name() const override { return "LSTM"; }
};

class GRU : public RNNBase {
 public:
  using Module::forward;
  GRU(std::int64_t input_size, std::int64_t hidden_size, RNNOptions options = {});
  std::pair<Tensor, Tensor> forward(const Tensor& input, const Tensor& h0);
  std::pair<PackedSequence, Tensor> forward(const PackedSequence& input, const Tensor& h0);
  std::pair<Tensor, Tensor> operator()(const Tensor& input, const Tensor& h0 = {}) { return forward(input, h0); }
  std::pair<PackedSequence, Tensor> operator()(const PackedSequence& input, const Tensor& h0 = {}) {
    return forward(input, h0);
  }
  std::string type_name() const override { return "GRU"; }
};

struct RNNCellOptions {
  bool bias = true;
  // RNNCell only: "tanh" or "relu".
  std::string nonlinearity = "tanh";
};

// One time step; parameters weight_ih, weight_hh, bias_ih, bias_hh. Input
// [B, I] or [I]; a missing state is zeros.
class RNNCellBase : public Module {
 public:
  using Module::forward;
  std::string extra_repr() const override;
  void reset_parameters();

  std::int64_t input_size;
  std::int64_t hidden_size;
  RNNCellOptions options;
  Tensor weight_ih;  // [G*H, I]
  Tensor weight_hh;  // [G*H, H]
  Tensor bias_ih;    // [G*H] or undefined
  Tensor bias_hh;    // [G*H] or undefined

 protected:
  RNNCellBase(const char* name, std::int64_t input_size, std::int64_t hidden_size, std::int64_t gates,
              RNNCellOptions options);
  // The input as [B, I], and whether it had a batch dim; checks the state.
  std::pair<Tensor, bool> prepare(const Tensor& input) const;
  Tensor prepare_state(const Tensor& state, const char* what, const Tensor& input, bool batched) const;
};

class RNNCell : public RNNCellBase {
 public:
  using Module::forward;
  RNNCell(std::int64_t input_size, std::int64_t hidden_size, RNNCellOptions options = {});
  Tensor forward(const Tensor& input, const Tensor& hx);
  Tensor operator()(const Tensor& input, const Tensor& hx = {}) { return forward(input, hx); }
  std::string type_name() const override { return "RNNCell"; }
};

class LSTMCell : public RNNCellBase {
 public:
  using Module::forward;
  LSTMCell(std::int64_t input_size, std::int64_t hidden_size, RNNCellOptions options = {});
  // (h', c').
  LSTMState forward(const Tensor& input, const std::optional<LSTMState>& hx);
  LSTMState operator()(const Tensor& input, const std::optional<LSTMState>& hx = std::nullopt) {
    return forward(input, hx);
  }
  std::string type_name() const override { return "LSTMCell"; }
};

class GRUCell : public RNNCellBase {
 public:
  using Module::forward;
  GRUCell(std::int64_t input_size, std::int64_t hidden_size, RNNCellOptions options = {});
  Tensor forward(const Tensor& input, const Tensor& hx);
  Tensor operator()(const Tensor& input, const Tensor& hx = {}) { return forward(input, hx); }
  std::string type_name() const override { return "GRUCell"; }
};

}  // namespace tg::nn

namespace tg::nn::utils {

// Packs a padded batch ([T, B, *], or [B, T, *] with batch_first) whose
// sequence b has lengths[b] valid steps (1 <= lengths[b] <= T). With
// enforce_sorted the lengths must be non-increasing (ValueError otherwise);
// without, the batch is sorted here and the order remembered.
PackedSequence pack_padded_sequence(const Tensor& input, const Tensor& lengths, bool batch_first = false,
                                    bool enforce_sorted = true);
PackedSequence pack_padded_sequence(const Tensor& input, const std::vector<std::int64_t>& lengths,
                                    bool batch_first = false, bool enforce_sorted = true);
// The inverse: (padded [T, B, *] or [B, T, *], lengths as int64 [B]) in the
// original batch order, padded with padding_value up to total_length steps
// (the longest sequence when total_length is 0).
std::pair<Tensor, Tensor> pad_packed_sequence(const PackedSequence& sequence, bool batch_first = false,
                                              double padding_value = 0, std::int64_t total_length = 0);

}  // namespace tg::nn::utils
