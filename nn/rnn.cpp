#include <tapegrad/nn/rnn.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <numeric>
#include <string_view>

#include <fmt/format.h>

#include <tapegrad/autograd/grad_mode.h>
#include <tapegrad/autograd/nn_ops.h>
#include <tapegrad/autograd/ops.h>
#include <tapegrad/autograd/recurrent.h>
#include <tapegrad/core/dims.h>
#include <tapegrad/core/storage.h>
#include <tapegrad/nn/init.h>

namespace tg::nn {

namespace {

std::int64_t gate_count(RNNBase::Mode mode) {
  switch (mode) {
    case RNNBase::Mode::LSTM:
      return 4;
    case RNNBase::Mode::GRU:
      return 3;
    default:
      return 1;
  }
}

// The steps, shared by the layers and the cells. `gates` is the whole
// pre-activation (input and hidden projections with their biases).
Tensor rnn_step(const Tensor& gates, bool relu_activation) { return relu_activation ? relu(gates) : tanh(gates); }

// Gates stacked r|z|n; the hidden projection gh keeps its bias apart,
// because n = tanh(x_n + r * (W_hn h + b_hn)).
Tensor gru_step(const Tensor& gi, const Tensor& gh, const Tensor& h, std::int64_t H) {
  const auto x_parts = split(gi, {2 * H, H}, 1);
  const auto h_parts = split(gh, {2 * H, H}, 1);
  const auto rz = chunk(sigmoid(x_parts[0] + h_parts[0]), 2, 1);
  const Tensor& r = rz[0];
  const Tensor& z = rz[1];
  const Tensor n = tanh(x_parts[1] + r * h_parts[1]);
  // (1 - z) * n + z * h
  return n + z * (h - n);
}

void check_nonlinearity(const std::string& module, const std::string& nonlinearity) {
  if (nonlinearity != "tanh" && nonlinearity != "relu")
    throw ValueError(fmt::format("{}: unknown nonlinearity '{}' (expected 'tanh' or 'relu')", module, nonlinearity));
}

// LSTM and GRU (and their cells) have fixed nonlinearities and PyTorch no
// such argument: anything but the default was silently ignored.
void check_no_nonlinearity(const std::string& module, const std::string& nonlinearity) {
  if (nonlinearity != "tanh")
    throw ValueError(
        fmt::format("{}: has no nonlinearity option (only RNN and RNNCell do), got '{}'", module, nonlinearity));
}

// `gates` stacked gates of hidden_size rows each: their count must fit int64
// (as a weight's dim), or the products below would overflow.
void check_sizes(const std::string& module, std::int64_t input_size, std::int64_t hidden_size, std::int64_t gates) {
  if (input_size < 0 || hidden_size <= 0)
    throw ValueError(fmt::format("{}: input_size must be >= 0 and hidden_size > 0, got input_size={}, hidden_size={}",
                                 module, input_size, hidden_size));
  std::int64_t rows = 0;
  if (mul_overflows(gates, hidden_size, &rows))
    throw ShapeError(
        fmt::format("{}: hidden_size {} times {} gates is more rows than int64 can count", module, hidden_size, gates));
}

// The weights of one layer direction: W_ih [gates, in], W_hh [gates, hidden]
// and two biases [gates]. True when their count overflows int64.
bool checked_layer_elements(std::int64_t gates, std::int64_t in, std::int64_t hidden, bool bias, std::int64_t* out) {
  std::int64_t ih = 0, hh = 0, total = 0, with_one_bias = 0;
  return mul_overflows(gates, in, &ih) || mul_overflows(gates, hidden, &hh) || add_overflows(ih, hh, &total) ||
         add_overflows(total, bias ? gates : 0, &with_one_bias) || add_overflows(with_one_bias, bias ? gates : 0, out);
}

void check_dtype(const std::string& module, const char* what, const Tensor& t, const Tensor& weight) {
  if (t.dtype() != weight.dtype())
    throw DTypeError(fmt::format("{}: {} is {} but the parameters are {} (convert one with .to())", module, what,
                                 dtype_name(t.dtype()), dtype_name(weight.dtype())));
}

std::vector<std::int64_t> batch_sizes_of(const std::string& module, const PackedSequence& packed) {
  const Tensor& bs = packed.batch_sizes;
  if (!packed.data.defined() || !bs.defined() || bs.dim() != 1 || bs.dtype() != kInt64 || bs.numel() == 0)
    throw ValueError(
        fmt::format("{}: a PackedSequence needs data and a non-empty int64 1-D batch_sizes "
                    "(made by pack_padded_sequence)",
                    module));
  std::vector<std::int64_t> sizes = bs.to_vector<std::int64_t>();
  std::int64_t total = 0;
  for (std::size_t t = 0; t < sizes.size(); ++t) {
    if (sizes[t] <= 0 || (t > 0 && sizes[t] > sizes[t - 1]))
      throw ValueError(fmt::format("{}: PackedSequence batch_sizes must be positive and non-increasing, got [{}]",
                                   module, fmt::join(sizes, ", ")));
    if (add_overflows(total, sizes[t], &total))
      throw ShapeError(fmt::format("{}: PackedSequence batch_sizes [{}] sum past int64 (data has shape {})", module,
                                   fmt::join(sizes, ", "), shape_str(packed.data.sizes())));
  }
  if (packed.data.dim() < 1 || packed.data.size(0) != total)
    throw ShapeError(fmt::format("{}: PackedSequence data has shape {} but its batch_sizes sum to {}", module,
                                 shape_str(packed.data.sizes()), total));
  // The batch's order: sorted_indices[i] is the caller's sequence in packed
  // row i, unsorted_indices its inverse. Without both, or with a wrong pair,
  // the states would come back silently in the packed order.
  const Tensor& sorted = packed.sorted_indices;
  const Tensor& unsorted = packed.unsorted_indices;
  if (sorted.defined() != unsorted.defined())
    throw ValueError(
        fmt::format("{}: a PackedSequence needs both sorted_indices and unsorted_indices or neither, got only {}",
                    module, sorted.defined() ? "sorted_indices" : "unsorted_indices"));
  if (sorted.defined()) {
    const std::int64_t B = sizes[0];
    for (const auto& [name, t] : {std::pair{"sorted_indices", &sorted}, std::pair{"unsorted_indices", &unsorted}})
      if (t->dtype() != kInt64 || t->dim() != 1 || t->size(0) != B)
        throw ValueError(fmt::format("{}: PackedSequence {} must be int64 of shape [{}] (batch_sizes[0]), got {} {}",
                                     module, name, B, dtype_name(t->dtype()), shape_str(t->sizes())));
    const std::vector<std::int64_t> order = sorted.to_vector<std::int64_t>();
    const std::vector<std::int64_t> inverse = unsorted.to_vector<std::int64_t>();
    for (std::int64_t i = 0; i < B; ++i) {
      const std::int64_t b = order[static_cast<std::size_t>(i)];
      if (b < 0 || b >= B || inverse[static_cast<std::size_t>(b)] != i)
        throw ValueError(
            fmt::format("{}: PackedSequence sorted_indices [{}] and unsorted_indices [{}] must be a permutation of "
                        "[0, {}) and its inverse (as pack_padded_sequence makes them)",
                        module, fmt::join(order, ", "), fmt::join(inverse, ", "), B));
    }
  }
  return sizes;
}

}  // namespace

// ---- RNNBase ---------------------------------------------------------------

RNNBase::RNNBase(Mode mode, std::int64_t input_size, std::int64_t hidden_size, RNNOptions opts)
    : mode(mode), input_size(input_size), hidden_size(hidden_size), options(std::move(opts)) {
  const char* name = mode == Mode::LSTM ? "LSTM" : mode == Mode::GRU ? "GRU" : "RNN";
  check_sizes(name, input_size, hidden_size, gate_count(mode));
  if (mode == Mode::LSTM || mode == Mode::GRU) check_no_nonlinearity(name, options.nonlinearity);
  if (options.num_layers < 1)
    throw ValueError(fmt::format("{}: num_layers must be at least 1, got {}", name, options.num_layers));
  if (!(options.dropout >= 0 && options.dropout <= 1))
    throw ValueError(fmt::format("{}: dropout must be a probability in [0, 1], got {}", name, options.dropout));
  const std::int64_t gates = gate_count(mode) * hidden_size;
  // The layers above the first take both directions' hidden states. Their
  // weights, all num_layers of them, must fit in memory: checked before the
  // loop below, which would otherwise allocate until memory ran out (or
  // for ever, for a num_layers of 2^40 small layers).
  std::int64_t upper_in = 0, upper_elements = 0;
  if (mul_overflows(hidden_size, directions(), &upper_in) ||
      checked_layer_elements(gates, upper_in, hidden_size, options.bias, &upper_elements))
    throw ShapeError(fmt::format("{}: a layer of hidden_size {} (bidirectional={}) has more weights than int64 counts",
                                 name, hidden_size, options.bidirectional));
  if (options.num_layers > 1) {
    check_allocation(static_cast<std::size_t>(upper_elements), sizeof(float), name);  // so the product below fits
    check_allocation(static_cast<std::size_t>(options.num_layers - 1) * static_cast<std::size_t>(directions()),
                     static_cast<std::size_t>(upper_elements) * sizeof(float), name);
  }
  for (std::int64_t layer = 0; layer < options.num_layers; ++layer)
    for (std::int64_t direction = 0; direction < directions(); ++direction) {
      const std::int64_t in = layer == 0 ? input_size : hidden_size * directions();
      const std::string suffix = fmt::format("_l{}{}", layer, direction == 1 ? "_reverse" : "");
      // Registered where they live, all_weights[slot][k], so that assigning
      // one (a tied or replaced weight) is what forward, parameters() and
      // state_dict() all see, as for Linear::weight.
      const std::size_t slot = all_weights.size();
      const std::array<Dims, 4> shapes{Dims{gates, in}, Dims{gates, hidden_size}, Dims{gates}, Dims{gates}};
      const std::array<const char*, 4> names{"weight_ih", "weight_hh", "bias_ih", "bias_hh"};
      all_weights.emplace_back(options.bias ? 4 : 2);
      for (std::size_t k = 0; k < all_weights[slot].size(); ++k)
        register_parameter_at(
            names[k] + suffix,
            [slot, k](Module& m) -> Tensor& {
              auto& weights = static_cast<RNNBase&>(m).all_weights;
              if (slot >= weights.size() || k >= weights[slot].size())
                throw ValueError(fmt::format("{}: all_weights was resized; it must keep {} layer(s) and direction(s)",
                                             m.type_name(), slot + 1));
              return weights[slot][k];
            },
            empty(shapes[k]));
    }
  reset_parameters();
}

void RNNBase::reset_parameters() {
  const double bound = 1.0 / std::sqrt(static_cast<double>(hidden_size));
  for (auto& weights : all_weights)
    for (auto& w : weights) init::uniform_(w, -bound, bound);
}

std::string RNNBase::extra_repr() const {
  std::string out = fmt::format("{}, {}", input_size, hidden_size);
  if (options.num_layers != 1) out += fmt::format(", num_layers={}", options.num_layers);
  if (!options.bias) out += ", bias=False";
  if (options.batch_first) out += ", batch_first=True";
  if (options.dropout != 0) out += ", dropout=" + detail::py_float(options.dropout);
  if (options.bidirectional) out += ", bidirectional=True";
  return out;
}

void RNNBase::check_state(const Tensor& state, const char* what, std::int64_t batch, const Tensor& input,
                          bool batched) const {
  if (!state.defined()) return;
  const std::int64_t layers = options.num_layers * directions();
  const Dims expected = batched ? Dims{layers, batch, hidden_size} : Dims{layers, hidden_size};
  if (state.shape() != expected)
    throw ShapeError(fmt::format("{}: expected {} of shape {} for input of shape {}, got {}", type_name(), what,
                                 shape_str(expected), shape_str(input.sizes()), shape_str(state.sizes())));
  check_dtype(type_name(), what, state, all_weights[0][0]);
}

std::tuple<Tensor, Tensor, Tensor> RNNBase::run(const Tensor& input, const Tensor& h0, const Tensor& c0) {
  const std::string name = type_name();
  if (!input.defined() || (input.dim() != 2 && input.dim() != 3))
    throw ShapeError(fmt::format("{}: expected a 3-D (batched) or 2-D (unbatched) input, got shape {}", name,
                                 input.defined() ? shape_str(input.sizes()) : "undefined"));
  check_dtype(name, "input", input, all_weights[0][0]);
  const bool batched = input.dim() == 3;
  const Tensor x = batched ? (options.batch_first ? input.transpose(0, 1) : input) : input.unsqueeze(1);
  if (x.size(2) != input_size)
    throw ShapeError(fmt::format("{}: expected input with {} features, got {} (input shape {})", name, input_size,
                                 x.size(2), shape_str(input.sizes())));
  const std::int64_t T = x.size(0), B = x.size(1);
  // An input of 0 time steps is refused, as PyTorch refuses it. A batch of
  // 0 sequences runs the same ops on rows of 0, as PyTorch's: empty outputs
  // and states still on the graph, so a backward gives the weights zero
  // gradients.
  if (T == 0)
    throw ShapeError(
        fmt::format("{}: expected at least one time step, got input shape {}", name, shape_str(input.sizes())));
  check_state(h0, mode == Mode::LSTM ? "h0" : "hx", B, input, batched);
  check_state(c0, "c0", B, input, batched);
  // Per time step: its batch size, and its output and states (an expanded
  // input may have 2^40 steps, which a std::vector cannot hold).
  check_allocation(static_cast<std::size_t>(T), sizeof(std::int64_t) + 2 * sizeof(Tensor), name.c_str());
  auto [out, h_n, c_n] =
      run_packed(x.reshape({T * B, input_size}), std::vector<std::int64_t>(T, B),
                 batched || !h0.defined() ? h0 : h0.unsqueeze(1), batched || !c0.defined() ? c0 : c0.unsqueeze(1));
  Tensor output = out.reshape({T, B, out.size(1)});
  if (!batched) {
    output = output.squeeze(1);
    h_n = h_n.squeeze(1);
    if (c_n.defined()) c_n = c_n.squeeze(1);
  } else if (options.batch_first) {
    output = output.transpose(0, 1);
  }
  return {output, h_n, c_n};
}

std::tuple<PackedSequence, Tensor, Tensor> RNNBase::run(const PackedSequence& input, const Tensor& h0_in,
                                                        const Tensor& c0_in) {
  const std::string name = type_name();
  const std::vector<std::int64_t> sizes = batch_sizes_of(name, input);
  if (input.data.dim() != 2 || input.data.size(1) != input_size)
    throw ShapeError(fmt::format("{}: expected packed data of shape [N, {}], got {}", name, input_size,
                                 shape_str(input.data.sizes())));
  check_dtype(name, "input", input.data, all_weights[0][0]);
  const std::int64_t B = sizes[0];
  check_state(h0_in, mode == Mode::LSTM ? "h0" : "hx", B, input.data, true);
  check_state(c0_in, "c0", B, input.data, true);
  // States come in the caller's batch order; the packed rows are sorted.
  Tensor h0 = h0_in, c0 = c0_in;
  if (input.sorted_indices.defined()) {
    if (h0.defined()) h0 = index_select(h0, 1, input.sorted_indices);
    if (c0.defined()) c0 = index_select(c0, 1, input.sorted_indices);
  }
  auto [out, h_n, c_n] = run_packed(input.data, sizes, h0, c0);
  if (input.unsorted_indices.defined()) {
    h_n = index_select(h_n, 1, input.unsorted_indices);
    if (c_n.defined()) c_n = index_select(c_n, 1, input.unsorted_indices);
  }
  return {PackedSequence{out, input.batch_sizes, input.sorted_indices, input.unsorted_indices}, h_n, c_n};
}

// The stack over time-major packed rows: step t is the next sizes[t] rows of
// `data`. A padded batch is the case of equal sizes.
std::tuple<Tensor, Tensor, Tensor> RNNBase::run_packed(const Tensor& data, const std::vector<std::int64_t>& sizes,
                                                       Tensor h0, Tensor c0) {
  const std::int64_t T = static_cast<std::int64_t>(sizes.size());
  const std::int64_t B = sizes[0];
  const std::int64_t H = hidden_size;
  const bool lstm = mode == Mode::LSTM;
  const TensorOptions state_options{.dtype = data.dtype()};

  Tensor layer_input = data;
  std::vector<Tensor> h_finals, c_finals;
  for (std::int64_t layer = 0; layer < options.num_layers; ++layer) {
    std::vector<Tensor> direction_outputs;
    for (std::int64_t direction = 0; direction < directions(); ++direction) {
      const std::int64_t index = layer * directions() + direction;
      const auto& w = all_weights[static_cast<std::size_t>(index)];
      const Tensor& w_ih = w[0];
      Tensor input_bias, hidden_bias, cell_bias;
      if (options.bias) {
        // The hidden bias folds into the up-front GEMM (the RNN's) or into
        // the fused cell with the input bias (the LSTM's: no pass broadcasting
        // it into the projection, and its gradient summed per step while the
        // gates' is in cache), except the GRU's, which sits inside
        // r * (W_hn h + b_hn).
        if (mode == Mode::GRU) {
          input_bias = w[2];
          hidden_bias = w[3];
        } else if (mode == Mode::LSTM) {
          cell_bias = w[2] + w[3];
        } else {
          input_bias = w[2] + w[3];
        }
      }
      // Every time step's input projection, in one GEMM, cut into the steps
      // by one node (see split_views in autograd/ops/shape.cpp for why). LSTM
      // and RNN cut it by opening a recurrent sequence on it, so that W_hh's
      // gradient is one GEMM over all steps and the LSTM's gate gradients
      // land in one slab (autograd/recurrent.h).
      const Tensor projection = linear(layer_input, w_ih, input_bias);
      std::shared_ptr<autograd::RecurrentSequence> sequence;
      std::vector<Tensor> gi_steps;
      if (mode != Mode::GRU) {
        autograd::RecurrentOpen open = autograd::recurrent_open(projection, w[1], sizes);
        gi_steps = std::move(open.steps);
        sequence = std::move(open.sequence);
      } else {
        gi_steps = split(projection, sizes, 0);
      }
      Tensor h = h0.defined() ? select(h0, 0, index) : zeros({B, H}, state_options);
      Tensor c;
      if (lstm) c = c0.defined() ? select(c0, 0, index) : zeros({B, H}, state_options);

      auto step = [&](std::int64_t t) {
        const Tensor& gi = gi_steps[static_cast<std::size_t>(t)];
        switch (mode) {
          case Mode::LSTM:
            std::tie(h, c) = autograd::lstm_cell(gi, c, cell_bias,
                                                 autograd::recurrent_step({}, h, w[1], sequence.get(), t), sequence, t);
            break;
          case Mode::GRU:
            h = gru_step(gi, linear(h, w[1], hidden_bias), h, H);
            break;
          default:
            h = rnn_step(autograd::recurrent_step(gi, h, w[1], sequence.get(), t), mode == Mode::RNNRelu);
        }
      };
      std::vector<Tensor> outputs(static_cast<std::size_t>(T));
      if (direction == 0) {
        // Sequences end while the batch shrinks: their last states are final.
        std::vector<Tensor> h_parts, c_parts;
        std::int64_t rows = B;
        for (std::int64_t t = 0; t < T; ++t) {
          if (sizes[t] < rows) {
            h_parts.push_back(narrow(h, 0, sizes[t], rows - sizes[t]));
            h = narrow(h, 0, 0, sizes[t]);
            if (lstm) {
              c_parts.push_back(narrow(c, 0, sizes[t], rows - sizes[t]));
              c = narrow(c, 0, 0, sizes[t]);
            }
            rows = sizes[t];
          }
          step(t);
          outputs[static_cast<std::size_t>(t)] = h;
        }
        h_parts.push_back(h);
        std::reverse(h_parts.begin(), h_parts.end());
        h_finals.push_back(h_parts.size() == 1 ? h : cat(h_parts, 0));
        if (lstm) {
          c_parts.push_back(c);
          std::reverse(c_parts.begin(), c_parts.end());
          c_finals.push_back(c_parts.size() == 1 ? c : cat(c_parts, 0));
        }
      } else {
        // Backwards in time the batch grows: sequences start from their h0.
        const Tensor h_init = h, c_init = c;
        std::int64_t rows = sizes[static_cast<std::size_t>(T - 1)];
        if (rows < B) {
          h = narrow(h_init, 0, 0, rows);
          if (lstm) c = narrow(c_init, 0, 0, rows);
        }
        for (std::int64_t t = T - 1; t >= 0; --t) {
          if (sizes[t] > rows) {
            h = cat({h, narrow(h_init, 0, rows, sizes[t] - rows)}, 0);
            if (lstm) c = cat({c, narrow(c_init, 0, rows, sizes[t] - rows)}, 0);
            rows = sizes[t];
          }
          step(t);
          outputs[static_cast<std::size_t>(t)] = h;
        }
        h_finals.push_back(h);
        if (lstm) c_finals.push_back(c);
      }
      direction_outputs.push_back(T == 1 ? outputs[0] : cat(outputs, 0));
    }
    layer_input = direction_outputs.size() == 1 ? direction_outputs[0] : cat(direction_outputs, 1);
    if (options.dropout > 0 && is_training() && layer + 1 < options.num_layers)
      layer_input = dropout(layer_input, options.dropout, true, options.generator);
  }
  return {layer_input, stack(h_finals, 0), lstm ? stack(c_finals, 0) : Tensor()};
}

// ---- RNN, LSTM, GRU --------------------------------------------------------

namespace {

RNNBase::Mode rnn_mode(const RNNOptions& options) {
  check_nonlinearity("RNN", options.nonlinearity);
  return options.nonlinearity == "relu" ? RNNBase::Mode::RNNRelu : RNNBase::Mode::RNNTanh;
}

}  // namespace

RNN::RNN(std::int64_t input_size, std::int64_t hidden_size, RNNOptions options)
    : RNNBase(rnn_mode(options), input_size, hidden_size, options) {}

std::pair<Tensor, Tensor> RNN::forward(const Tensor& input, const Tensor& h0) {
  auto [out, h_n, c_n] = run(input, h0, Tensor());
  return {out, h_n};
}

std::pair<PackedSequence, Tensor> RNN::forward(const PackedSequence& input, const Tensor& h0) {
  auto [out, h_n, c_n] = run(input, h0, Tensor());
  return {out, h_n};
}

LSTM::LSTM(std::int64_t input_size, std::int64_t hidden_size, RNNOptions options)
    : RNNBase(Mode::LSTM, input_size, hidden_size, options) {}

namespace {

std::pair<Tensor, Tensor> lstm_state(const std::string& module, const std::optional<LSTMState>& hx) {
  if (!hx) return {};
  const auto& [h0, c0] = *hx;
  if (!h0.defined() || !c0.defined())
    throw ValueError(fmt::format("{}: hx must hold both h0 and c0 (or be left out for zeros)", module));
  return {h0, c0};
}

}  // namespace

std::tuple<Tensor, LSTMState> LSTM::forward(const Tensor& input, const std::optional<LSTMState>& hx) {
  const auto [h0, c0] = lstm_state(type_name(), hx);
  auto [out, h_n, c_n] = run(input, h0, c0);
  return {out, LSTMState{h_n, c_n}};
}

std::tuple<PackedSequence, LSTMState> LSTM::forward(const PackedSequence& input, const std::optional<LSTMState>& hx) {
  const auto [h0, c0] = lstm_state(type_name(), hx);
  auto [out, h_n, c_n] = run(input, h0, c0);
  return {out, LSTMState{h_n, c_n}};
}

GRU::GRU(std::int64_t input_size, std::int64_t hidden_size, RNNOptions options)
    : RNNBase(Mode::GRU, input_size, hidden_size, options) {}

std::pair<Tensor, Tensor> GRU::forward(const Tensor& input, const Tensor& h0) {
  auto [out, h_n, c_n] = run(input, h0, Tensor());
  return {out, h_n};
}

std::pair<PackedSequence, Tensor> GRU::forward(const PackedSequence& input, const Tensor& h0) {
  auto [out, h_n, c_n] = run(input, h0, Tensor());
  return {out, h_n};
}

// ---- cells -----------------------------------------------------------------

RNNCellBase::RNNCellBase(const char* name, std::int64_t input_size, std::int64_t hidden_size, std::int64_t gates,
                         RNNCellOptions opts)
    : input_size(input_size), hidden_size(hidden_size), options(std::move(opts)) {
  check_sizes(name, input_size, hidden_size, gates);
  if (std::string_view(name) != "RNNCell") check_no_nonlinearity(name, options.nonlinearity);
  register_parameter("weight_ih", &RNNCellBase::weight_ih, empty({gates * hidden_size, input_size}));
  register_parameter("weight_hh", &RNNCellBase::weight_hh, empty({gates * hidden_size, hidden_size}));
  if (options.bias) {
    register_parameter("bias_ih", &RNNCellBase::bias_ih, empty({gates * hidden_size}));
    register_parameter("bias_hh", &RNNCellBase::bias_hh, empty({gates * hidden_size}));
  }
  reset_parameters();
}

void RNNCellBase::reset_parameters() {
  const double bound = 1.0 / std::sqrt(static_cast<double>(hidden_size));
  for (auto& w : parameters(false)) init::uniform_(w, -bound, bound);
}

std::string RNNCellBase::extra_repr() const {
  std::string out = fmt::format("{}, {}", input_size, hidden_size);
  if (!options.bias) out += ", bias=False";
  if (type_name() == "RNNCell" && options.nonlinearity != "tanh")
    out += fmt::format(", nonlinearity={}", options.nonlinearity);
  return out;
}

std::pair<Tensor, bool> RNNCellBase::prepare(const Tensor& input) const {
  if (!input.defined() || (input.dim() != 1 && input.dim() != 2) || input.size(-1) != input_size)
    throw ShapeError(fmt::format("{}: expected input of shape [B, {}] or [{}], got {}", type_name(), input_size,
                                 input_size, input.defined() ? shape_str(input.sizes()) : "undefined"));
  check_dtype(type_name(), "input", input, weight_ih);
  const bool batched = input.dim() == 2;
  return {batched ? input : input.unsqueeze(0), batched};
}

Tensor RNNCellBase::prepare_state(const Tensor& state, const char* what, const Tensor& input, bool batched) const {
  const Tensor x = batched ? input : input.unsqueeze(0);
  if (!state.defined()) return zeros({x.size(0), hidden_size}, {.dtype = input.dtype()});
  const Dims expected = batched ? Dims{input.size(0), hidden_size} : Dims{hidden_size};
  if (state.shape() != expected)
    throw ShapeError(fmt::format("{}: expected {} of shape {} for input of shape {}, got {}", type_name(), what,
                                 shape_str(expected), shape_str(input.sizes()), shape_str(state.sizes())));
  check_dtype(type_name(), what, state, weight_ih);
  return batched ? state : state.unsqueeze(0);
}

RNNCell::RNNCell(std::int64_t input_size, std::int64_t hidden_size, RNNCellOptions options)
    : RNNCellBase("RNNCell", input_size, hidden_size, 1, options) {
  check_nonlinearity("RNNCell", options.nonlinearity);
}

Tensor RNNCell::forward(const Tensor& input, const Tensor& hx) {
  const auto [x, batched] = prepare(input);
  const Tensor h = prepare_state(hx, "hx", input, batched);
  Tensor out = rnn_step(linear(x, weight_ih, bias_ih) + linear(h, weight_hh, bias_hh), options.nonlinearity == "relu");
  return batched ? out : out.squeeze(0);
}

LSTMCell::LSTMCell(std::int64_t input_size, std::int64_t hidden_size, RNNCellOptions options)
    : RNNCellBase("LSTMCell", input_size, hidden_size, 4, options) {}

LSTMState LSTMCell::forward(const Tensor& input, const std::optional<LSTMState>& hx) {
  const auto [x, batched] = prepare(input);
  const auto [h0, c0] = lstm_state(type_name(), hx);
  const Tensor h = prepare_state(h0, "h0", input, batched);
  const Tensor c = prepare_state(c0, "c0", input, batched);
  auto [h1, c1] = autograd::lstm_cell(linear(x, weight_ih, bias_ih) + linear(h, weight_hh, bias_hh), c);
  if (!batched) return {h1.squeeze(0), c1.squeeze(0)};
  return {h1, c1};
}

GRUCell::GRUCell(std::int64_t input_size, std::int64_t hidden_size, RNNCellOptions options)
    : RNNCellBase("GRUCell", input_size, hidden_size, 3, options) {}

Tensor GRUCell::forward(const Tensor& input, const Tensor& hx) {
  const auto [x, batched] = prepare(input);
  const Tensor h = prepare_state(hx, "hx", input, batched);
  Tensor out = gru_step(linear(x, weight_ih, bias_ih), linear(h, weight_hh, bias_hh), h, hidden_size);
  return batched ? out : out.squeeze(0);
}

}  // namespace tg::nn

// ---- packing ---------------------------------------------------------------

namespace tg::nn::utils {

PackedSequence pack_padded_sequence(const Tensor& input, const std::vector<std::int64_t>& lengths, bool batch_first,
                                    bool enforce_sorted) {
  if (!input.defined() || input.dim() < 2)
    throw ShapeError(fmt::format("pack_padded_sequence: expected input of at least 2 dims ([T, B, *]), got {}",
                                 input.defined() ? shape_str(input.sizes()) : "undefined"));
  const Tensor x = batch_first ? input.transpose(0, 1) : input;
  const std::int64_t T = x.size(0), B = x.size(1);
  if (static_cast<std::int64_t>(lengths.size()) != B)
    throw ShapeError(fmt::format("pack_padded_sequence: {} lengths for a batch of {} (input shape {}, batch_first={})",
                                 lengths.size(), B, shape_str(input.sizes()), batch_first));
  // As PyTorch's ("Cannot pack empty tensors"): a PackedSequence holds at
  // least one sequence (batch_sizes[0] > 0). An unpacked batch of 0 runs.
  if (B == 0)
    throw ShapeError(
        fmt::format("pack_padded_sequence: cannot pack a batch of 0 sequences (input shape {}, "
                    "batch_first={}); the layers take the padded batch of 0 as it is",
                    shape_str(input.sizes()), batch_first));
  for (std::size_t b = 0; b < lengths.size(); ++b)
    if (lengths[b] < 1 || lengths[b] > T)
      throw ValueError(fmt::format("pack_padded_sequence: lengths[{}] = {} is outside [1, {}] (input shape {})", b,
                                   lengths[b], T, shape_str(input.sizes())));
  std::vector<std::int64_t> order(lengths.size());
  std::iota(order.begin(), order.end(), 0);
  Tensor sorted_indices, unsorted_indices, sorted_x = x;
  if (enforce_sorted) {
    for (std::size_t b = 1; b < lengths.size(); ++b)
      if (lengths[b] > lengths[b - 1])
        throw ValueError(
            fmt::format("pack_padded_sequence: lengths must be non-increasing when enforce_sorted is true, got [{}]; "
                        "sort the batch or pass enforce_sorted = false",
                        fmt::join(lengths, ", ")));
  } else {
    std::stable_sort(order.begin(), order.end(),
                     [&](std::int64_t a, std::int64_t b) { return lengths[a] > lengths[b]; });
    std::vector<std::int64_t> inverse(order.size());
    for (std::size_t i = 0; i < order.size(); ++i)
      inverse[static_cast<std::size_t>(order[i])] = static_cast<std::int64_t>(i);
    sorted_indices = tensor(order);
    unsorted_indices = tensor(inverse);
    sorted_x = index_select(x, 1, sorted_indices);
  }
  const std::int64_t steps = lengths[static_cast<std::size_t>(order[0])];
  std::vector<std::int64_t> sizes;
  std::vector<Tensor> pieces;
  // One unbind, not a select per step: its backward is one pass over x.
  const std::vector<Tensor> time_steps = unbind(sorted_x, 0);
  for (std::int64_t t = 0; t < steps; ++t) {
    std::int64_t count = 0;
    for (auto length : lengths) count += length > t ? 1 : 0;
    sizes.push_back(count);
    pieces.push_back(narrow(time_steps[static_cast<std::size_t>(t)], 0, 0, count));
  }
  return PackedSequence{pieces.size() == 1 ? pieces[0].contiguous() : cat(pieces, 0), tensor(sizes), sorted_indices,
                        unsorted_indices};
}

PackedSequence pack_padded_sequence(const Tensor& input, const Tensor& lengths, bool batch_first, bool enforce_sorted) {
  if (!lengths.defined() || lengths.dim() != 1)
    throw ShapeError(fmt::format("pack_padded_sequence: lengths must be a 1-D tensor, got shape {}",
                                 lengths.defined() ? shape_str(lengths.sizes()) : "undefined"));
  if (lengths.is_floating_point() || lengths.dtype() == kBool)
    throw DTypeError(
        fmt::format("pack_padded_sequence: lengths must be an integer tensor, got {}", dtype_name(lengths.dtype())));
  return pack_padded_sequence(input, lengths.to(kInt64).to_vector<std::int64_t>(), batch_first, enforce_sorted);
}

std::pair<Tensor, Tensor> pad_packed_sequence(const PackedSequence& sequence, bool batch_first, double padding_value,
                                              std::int64_t total_length) {
  // Names this function on errors the ops below raise (a total_length too
  // large to allocate was reported as full's).
  const tg::detail::CurrentOpScope op_scope("pad_packed_sequence");
  const std::vector<std::int64_t> sizes = batch_sizes_of("pad_packed_sequence", sequence);
  const std::int64_t T = static_cast<std::int64_t>(sizes.size());
  const std::int64_t B = sizes[0];
  if (total_length != 0 && total_length < T)
    throw ValueError(fmt::format("pad_packed_sequence: total_length {} is less than the longest sequence ({} steps)",
                                 total_length, T));
  const Tensor& data = sequence.data;
  Dims row_shape(data.sizes());
  row_shape[0] = B;
  std::vector<Tensor> steps;
  // One split, not a narrow per step: its backward is one pass over data.
  const std::vector<Tensor> data_steps = split(data, sizes, 0);
  for (std::int64_t t = 0; t < T; ++t) {
    const std::int64_t rows = sizes[static_cast<std::size_t>(t)];
    if (rows == B) {
      steps.push_back(data_steps[static_cast<std::size_t>(t)]);
      continue;
    }
    Dims pad_shape = row_shape;
    pad_shape[0] = B - rows;
    steps.push_back(
        cat({data_steps[static_cast<std::size_t>(t)], full(pad_shape, padding_value, {.dtype = data.dtype()})}, 0));
  }
  Tensor padded = stack(steps, 0);
  if (total_length > T) {
    // The steps past the longest sequence: one tensor of padding, not one
    // per step (a total_length of 2^40 looped for ever before allocating).
    Dims tail_shape = padded.shape();
    tail_shape[0] = total_length - T;
    checked_numel(tail_shape, "pad_packed_sequence");
    padded = cat({padded, full(tail_shape, padding_value, {.dtype = data.dtype()})}, 0);
  }
  std::vector<std::int64_t> lengths(static_cast<std::size_t>(B), 0);
  for (std::int64_t b = 0; b < B; ++b)
    for (auto size : sizes) lengths[static_cast<std::size_t>(b)] += size > b ? 1 : 0;
  Tensor length_tensor = tensor(lengths);
  if (sequence.unsorted_indices.defined()) {
    padded = index_select(padded, 1, sequence.unsorted_indices);
    length_tensor = index_select(length_tensor, 0, sequence.unsorted_indices);
  }
  if (batch_first) padded = padded.transpose(0, 1);
  return {padded, length_tensor};
}

}  // namespace tg::nn::utils
