#pragma once
/// @file
/// Recurrent layers as PyTorch's: RNN (tanh or relu), LSTM, GRU and their
/// cells, with PyTorch's parameter names (weight_ih_l0, weight_hh_l0,
/// bias_ih_l0, bias_hh_l0, ..._reverse), layouts (gates stacked i|f|g|o for
/// the LSTM, r|z|n for the GRU) and initialisation U(-1/sqrt(hidden),
/// 1/sqrt(hidden)), so a PyTorch state_dict loads by name.
///
/// @code
/// tg::nn::LSTM lstm(10, 20, {.num_layers = 2, .batch_first = true, .bidirectional = true});
/// auto [out, state] = lstm(x);              // x [B, T, 10] -> out [B, T, 40]
/// auto [h_n, c_n] = state;                   // [4, B, 20] each
/// @endcode
///
/// Variable lengths go through tg::nn::utils::pack_padded_sequence; a packed
/// input gives a packed output. A padded batch of 0 sequences gives empty
/// outputs and states (and the weights zero gradients), as PyTorch's; an
/// input of 0 time steps is refused, as there. The time loop is made of ordinary
/// differentiable ops: the input projection of every time step is one GEMM up
/// front, and each step one GEMM of the hidden state for all the gates.
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

/// A batch of sequences of different lengths, time-major and without padding
/// (as torch.nn.utils.rnn.PackedSequence): step t holds batch_sizes[t] rows,
/// the sequences longer than t, longest first. sorted_indices[i] is the
/// original batch index of packed row i (undefined if the batch was given
/// sorted); unsorted_indices inverts it. The layers and pad_packed_sequence
/// take both or neither, and check that they are a permutation of [0, B) and
/// its inverse (tg::ValueError otherwise).
struct PackedSequence {
  Tensor data;              ///< [sum(batch_sizes), *]
  Tensor batch_sizes;       ///< int64 [T], non-increasing
  Tensor sorted_indices;    ///< int64 [B] or undefined
  Tensor unsorted_indices;  ///< int64 [B] or undefined
};

/// Options of RNN, LSTM and GRU, as their PyTorch keyword arguments.
struct RNNOptions {
  std::int64_t num_layers = 1;  ///< stacked layers, >= 1
  /// RNN only: "tanh" or "relu".
  std::string nonlinearity = "tanh";
  bool bias = true;  ///< learned biases bias_ih and bias_hh
  /// Input and output [B, T, *] instead of [T, B, *] (states stay [L*D, B, H]).
  bool batch_first = false;
  /// Applied to the output of every layer but the last, in training mode.
  double dropout = 0;
  bool bidirectional = false;  ///< also run each layer backwards in time (D = 2)
  /// Draws the dropout masks (the default generator when null).
  Generator* generator = nullptr;
};

/// The common body of RNN, LSTM and GRU.
class RNNBase : public Module {
 public:
  /// Which recurrence.
  enum class Mode { RNNTanh, RNNRelu, LSTM, GRU };

  using Module::forward;
  std::string extra_repr() const override;
  /// Draws every weight and bias again from U(-1/sqrt(hidden), 1/sqrt(hidden)).
  void reset_parameters();

  Mode mode;                 ///< which recurrence
  std::int64_t input_size;   ///< the input's features (I)
  std::int64_t hidden_size;  ///< the hidden state's features (H)
  RNNOptions options;        ///< as constructed
  /// Per layer and direction (l0, l0_reverse, l1, ...): weight_ih, weight_hh,
  /// and bias_ih, bias_hh when options.bias. The registry reads them here:
  /// assigning one (`lstm.all_weights[0][0] = w`) is what forward,
  /// parameters() and state_dict() see, as PyTorch's `lstm.weight_ih_l0 = w`.
  /// Its sizes must stay as constructed.
  std::vector<std::vector<Tensor>> all_weights;

 protected:
  /// Registers and initialises the parameters of `mode`.
  /// @throws tg::ValueError for a bad size, num_layers < 1, dropout outside [0, 1]
  ///   or an unknown nonlinearity; tg::ShapeError for a hidden_size whose gate rows
  ///   overflow int64; tg::OutOfMemoryError for num_layers whose weights cannot fit.
  RNNBase(Mode mode, std::int64_t input_size, std::int64_t hidden_size, RNNOptions options);
  /// The whole stack over a padded [T, B, I] (or [B, T, I], or unbatched
  /// [T, I]) input or a packed one. `h0`/`c0` may be undefined (zeros).
  /// Returns output, h_n and (LSTM) c_n.
  std::tuple<Tensor, Tensor, Tensor> run(const Tensor& input, const Tensor& h0, const Tensor& c0);
  /// run() over a packed input: a packed output, h_n and (LSTM) c_n.
  std::tuple<PackedSequence, Tensor, Tensor> run(const PackedSequence& input, const Tensor& h0, const Tensor& c0);

 private:
  std::int64_t directions() const { return options.bidirectional ? 2 : 1; }
  std::tuple<Tensor, Tensor, Tensor> run_packed(const Tensor& data, const std::vector<std::int64_t>& batch_sizes,
                                                Tensor h0, Tensor c0);
  void check_state(const Tensor& state, const char* what, std::int64_t batch, const Tensor& input, bool batched) const;
};

/// An Elman RNN, as torch.nn.RNN: h_t = tanh(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh) (or relu).
class RNN : public RNNBase {
 public:
  using Module::forward;
  /// An RNN with freshly initialised parameters.
  /// @param input_size  the input's features
  /// @param hidden_size the hidden state's features
  /// @param options     layers, bias, layout, dropout, direction
  /// @throws tg::ValueError for a bad size, num_layers < 1 or dropout outside [0, 1].
  RNN(std::int64_t input_size, std::int64_t hidden_size, RNNOptions options = {});
  /// (output, h_n) for input [T, B, I] ([B, T, I] batch_first, [T, I]
  /// unbatched, or packed). h0 [L*D, B, H] or undefined for zeros.
  /// @throws tg::ShapeError for an input or state of the wrong shape, tg::DTypeError
  ///   for one whose dtype differs from the parameters'.
  ///@{
  std::pair<Tensor, Tensor> forward(const Tensor& input, const Tensor& h0);
  std::pair<PackedSequence, Tensor> forward(const PackedSequence& input, const Tensor& h0);
  /// The output alone from a zero state (as LSTM's one-argument forward).
  Tensor forward(const Tensor& input) override { return forward(input, Tensor()).first; }
  std::pair<Tensor, Tensor> operator()(const Tensor& input, const Tensor& h0 = {}) { return forward(input, h0); }
  std::pair<PackedSequence, Tensor> operator()(const PackedSequence& input, const Tensor& h0 = {}) {
    return forward(input, h0);
  }
  ///@}
  std::string type_name() const override { return "RNN"; }
};

/// An LSTM's state (h, c), each [L*D, B, H] (or [L*D, H] for an unbatched input).
using LSTMState = std::tuple<Tensor, Tensor>;

/// A long short-term memory network, as torch.nn.LSTM (gates i|f|g|o).
class LSTM : public RNNBase {
 public:
  using Module::forward;
  /// An LSTM with freshly initialised parameters.
  /// @param input_size  the input's features
  /// @param hidden_size the hidden state's features
  /// @param options     layers, bias, layout, dropout, direction
  /// @throws tg::ValueError for a bad size, num_layers < 1 or dropout outside [0, 1].
  LSTM(std::int64_t input_size, std::int64_t hidden_size, RNNOptions options = {});
  /// (output, (h_n, c_n)) for input [T, B, I] ([B, T, I] batch_first, [T, I]
  /// unbatched, or packed); no hx means zeros.
  /// @throws tg::ShapeError for an input or state of the wrong shape, tg::DTypeError
  ///   for one whose dtype differs from the parameters'.
  ///@{
  std::tuple<Tensor, LSTMState> forward(const Tensor& input, const std::optional<LSTMState>& hx);
  std::tuple<PackedSequence, LSTMState> forward(const PackedSequence& input, const std::optional<LSTMState>& hx);
  /// The output alone from zero states (lstm.forward(x), or the LSTM inside
  /// a Sequential); LibTorch's forward(x) returns (output, (h_n, c_n)), which
  /// lstm(x) gives here.
  Tensor forward(const Tensor& input) override { return std::get<0>(forward(input, std::nullopt)); }
  std::tuple<Tensor, LSTMState> operator()(const Tensor& input, const std::optional<LSTMState>& hx = std::nullopt) {
    return forward(input, hx);
  }
  std::tuple<PackedSequence, LSTMState> operator()(const PackedSequence& input,
                                                   const std::optional<LSTMState>& hx = std::nullopt) {
    return forward(input, hx);
  }
  ///@}
  std::string type_name() const override { return "LSTM"; }
};

/// A gated recurrent unit network, as torch.nn.GRU (gates r|z|n).
class GRU : public RNNBase {
 public:
  using Module::forward;
  /// A GRU with freshly initialised parameters.
  /// @param input_size  the input's features
  /// @param hidden_size the hidden state's features
  /// @param options     layers, bias, layout, dropout, direction
  /// @throws tg::ValueError for a bad size, num_layers < 1 or dropout outside [0, 1].
  GRU(std::int64_t input_size, std::int64_t hidden_size, RNNOptions options = {});
  /// (output, h_n), as RNN's.
  /// @throws tg::ShapeError for an input or state of the wrong shape, tg::DTypeError
  ///   for one whose dtype differs from the parameters'.
  ///@{
  std::pair<Tensor, Tensor> forward(const Tensor& input, const Tensor& h0);
  std::pair<PackedSequence, Tensor> forward(const PackedSequence& input, const Tensor& h0);
  /// The output alone from a zero state (as LSTM's one-argument forward).
  Tensor forward(const Tensor& input) override { return forward(input, Tensor()).first; }
  std::pair<Tensor, Tensor> operator()(const Tensor& input, const Tensor& h0 = {}) { return forward(input, h0); }
  std::pair<PackedSequence, Tensor> operator()(const PackedSequence& input, const Tensor& h0 = {}) {
    return forward(input, h0);
  }
  ///@}
  std::string type_name() const override { return "GRU"; }
};

/// Options of the RNN cells.
struct RNNCellOptions {
  bool bias = true;  ///< learned biases bias_ih and bias_hh
  /// RNNCell only: "tanh" or "relu".
  std::string nonlinearity = "tanh";
};

/// One time step; parameters weight_ih, weight_hh, bias_ih, bias_hh. Input
/// [B, I] or [I]; a missing state is zeros.
class RNNCellBase : public Module {
 public:
  using Module::forward;
  std::string extra_repr() const override;
  /// Draws every weight and bias again from U(-1/sqrt(hidden), 1/sqrt(hidden)).
  void reset_parameters();

  std::int64_t input_size;   ///< the input's features (I)
  std::int64_t hidden_size;  ///< the hidden state's features (H)
  RNNCellOptions options;    ///< as constructed
  Tensor weight_ih;          ///< [G*H, I]
  Tensor weight_hh;          ///< [G*H, H]
  Tensor bias_ih;            ///< [G*H] or undefined
  Tensor bias_hh;            ///< [G*H] or undefined

 protected:
  /// Registers and initialises the parameters of `gates` gates (G).
  /// @param name        the module's type name, for messages
  /// @param input_size  I
  /// @param hidden_size H
  /// @param gates       G: 1 (RNNCell), 4 (LSTMCell) or 3 (GRUCell)
  /// @param options     bias and nonlinearity
  /// @throws tg::ValueError for a bad size or an unknown nonlinearity.
  RNNCellBase(const char* name, std::int64_t input_size, std::int64_t hidden_size, std::int64_t gates,
              RNNCellOptions options);
  /// The input as [B, I], and whether it had a batch dim; checks the state.
  std::pair<Tensor, bool> prepare(const Tensor& input) const;
  /// `state` checked against the input (zeros when undefined), with a batch dim.
  Tensor prepare_state(const Tensor& state, const char* what, const Tensor& input, bool batched) const;
};

/// One step of an Elman RNN, as torch.nn.RNNCell.
class RNNCell : public RNNCellBase {
 public:
  using Module::forward;
  /// A cell with freshly initialised parameters.
  /// @param input_size  the input's features
  /// @param hidden_size the hidden state's features
  /// @param options     bias and nonlinearity
  /// @throws tg::ValueError for a bad size or nonlinearity.
  RNNCell(std::int64_t input_size, std::int64_t hidden_size, RNNCellOptions options = {});
  /// The next hidden state h' for input [B, I] (or [I]) and hx (undefined: zeros).
  /// @throws tg::ShapeError for an input or state of the wrong shape.
  ///@{
  Tensor forward(const Tensor& input, const Tensor& hx);
  Tensor operator()(const Tensor& input, const Tensor& hx = {}) { return forward(input, hx); }
  ///@}
  std::string type_name() const override { return "RNNCell"; }
};

/// One step of an LSTM, as torch.nn.LSTMCell.
class LSTMCell : public RNNCellBase {
 public:
  using Module::forward;
  /// A cell with freshly initialised parameters.
  /// @param input_size  the input's features
  /// @param hidden_size the hidden state's features
  /// @param options     bias and nonlinearity
  /// @throws tg::ValueError for a bad size or nonlinearity.
  LSTMCell(std::int64_t input_size, std::int64_t hidden_size, RNNCellOptions options = {});
  /// The next state (h', c') for input [B, I] (or [I]) and hx (none: zeros).
  /// @throws tg::ShapeError for an input or state of the wrong shape.
  ///@{
  LSTMState forward(const Tensor& input, const std::optional<LSTMState>& hx);
  LSTMState operator()(const Tensor& input, const std::optional<LSTMState>& hx = std::nullopt) {
    return forward(input, hx);
  }
  ///@}
  std::string type_name() const override { return "LSTMCell"; }
};

/// One step of a GRU, as torch.nn.GRUCell.
class GRUCell : public RNNCellBase {
 public:
  using Module::forward;
  /// A cell with freshly initialised parameters.
  /// @param input_size  the input's features
  /// @param hidden_size the hidden state's features
  /// @param options     bias and nonlinearity
  /// @throws tg::ValueError for a bad size or nonlinearity.
  GRUCell(std::int64_t input_size, std::int64_t hidden_size, RNNCellOptions options = {});
  /// The next hidden state h' for input [B, I] (or [I]) and hx (undefined: zeros).
  /// @throws tg::ShapeError for an input or state of the wrong shape.
  ///@{
  Tensor forward(const Tensor& input, const Tensor& hx);
  Tensor operator()(const Tensor& input, const Tensor& hx = {}) { return forward(input, hx); }
  ///@}
  std::string type_name() const override { return "GRUCell"; }
};

}  // namespace tg::nn

namespace tg::nn::utils {

/// Packs a padded batch, as torch.nn.utils.rnn.pack_padded_sequence. The batch is [T, B, *] ([B, T, *] with
/// batch_first), B >= 1 (PyTorch packs no empty batch either; tg::ShapeError), whose sequence b has lengths[b]
/// valid steps (1 <= lengths[b] <= T). With
/// enforce_sorted the lengths must be non-increasing (ValueError otherwise);
/// without, the batch is sorted here and the order remembered.
///@{
PackedSequence pack_padded_sequence(const Tensor& input, const Tensor& lengths, bool batch_first = false,
                                    bool enforce_sorted = true);
PackedSequence pack_padded_sequence(const Tensor& input, const std::vector<std::int64_t>& lengths,
                                    bool batch_first = false, bool enforce_sorted = true);
///@}
/// pack_padded_sequence's inverse, as torch.nn.utils.rnn.pad_packed_sequence: (padded [T, B, *] or [B, T, *], lengths
/// as int64 [B]) in the original batch order, padded with padding_value up to total_length steps (the longest sequence
/// when total_length is 0).
/// @throws tg::ValueError for a total_length below the longest sequence or inconsistent
///   sorted_indices and unsorted_indices; tg::ShapeError or tg::OutOfMemoryError for a
///   total_length whose padding cannot be allocated.
std::pair<Tensor, Tensor> pad_packed_sequence(const PackedSequence& sequence, bool batch_first = false,
                                              double padding_value = 0, std::int64_t total_length = 0);

}  // namespace tg::nn::utils
