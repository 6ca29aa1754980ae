#pragma once
// The LSTM cell's elementwise part in one pass: from the gates'
// pre-activations a [B, 4H], stacked i|f|g|o as PyTorch's, and the cell state
// c [B, H],
//   i, f, o = sigmoid(a_i, a_f, a_o),  g = tanh(a_g),
//   c' = f c + i g,  h' = o tanh(c').
// Composed from ops, that is a split, a chunk, two sigmoids, two tanh, four
// products and a sum, each a pass over memory and a node whose backward is
// another; the cat that the split's backward needs to give the gates one
// gradient is a further copy (issue 15's LSTM step spent a third of its time
// there). The arithmetic is the composed ops' (sigmoid as 1 / (1 + exp(-x))
// with vec::exp, tanh with vec::tanh, each product and sum rounded on its own),
// so both give the same bits; tests/autograd/test_lstm_cell.cpp holds them to it.
// float32 and float64 only: the op (autograd/ops/recurrent.cpp) composes the
// ops for other dtypes.
#include <utility>

#include <tapegrad/core/tensor.h>

namespace tg::kernel {

struct LstmCellForward {
  TensorBase h, c;    // h' and c', [B, H]
  TensorBase gates;   // the activated gates i|f|g|o, [B, 4H], for the backward
  TensorBase tanh_c;  // tanh(c'), [B, H], for the backward
};

// Refuses what lstm_cell takes in no dtype: undefined gates or c, a dtype
// that is not floating (DTypeError), shapes other than gates [B, 4H], c [B, H],
// bias [4H] or undefined and hidden [B, 4H] or undefined (ShapeError), each
// naming lstm_cell.
void check_lstm_cell(const TensorBase& gates, const TensorBase& c, const TensorBase& bias, const TensorBase& hidden);

// gates [B, 4H] and c [B, H] of one floating dtype (any layout). The
// pre-activations are (gates + hidden) + bias, each term when defined: hidden
// [B, 4H] is a recurrent layer's h W_hh^T (so that the step's product needs no
// copy of its input projection to add to), bias [4H] the layers' b_ih + b_hh
// on every row (so that the input projection needs no pass to broadcast it).
LstmCellForward lstm_cell(const TensorBase& gates, const TensorBase& c, const TensorBase& bias,
                          const TensorBase& hidden);

struct LstmCellGrads {
  TensorBase gates;  // [B, 4H]
  TensorBase c;      // [B, H], when asked for
  TensorBase bias;   // [4H]: the gates' gradient summed over the rows, when asked for
};

// The gradients from those of h' and c' (dh, dc; either may be undefined: no
// gradient reached it). gates and tanh_c are what the forward gave; c its input.
// The gates' gradient is written into dgates_out when that is a contiguous
// [B, 4H] tensor of c's dtype (a recurrent layer's rows for the step, autograd/recurrent.h),
// else into a new tensor.
LstmCellGrads lstm_cell_backward(const TensorBase& dh, const TensorBase& dc, const TensorBase& gates,
                                 const TensorBase& c, const TensorBase& tanh_c, bool need_dc, bool need_dbias,
                                 const TensorBase& dgates_out = {});

}  // namespace tg::kernel
