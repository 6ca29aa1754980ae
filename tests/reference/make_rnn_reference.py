#!/usr/bin/python3
"""PyTorch's RNN, LSTM, GRU and cells, for tests/nn/test_rnn.cpp.

Run with an interpreter that has torch (Debian's /usr/bin/python3 here):
    /usr/bin/python3 tests/reference/make_rnn_reference.py
It rewrites tests/reference/rnn.json. Each case holds a module's options, its
parameters by PyTorch's names (from a seeded initialisation), the inputs, the
outputs, and the gradients of sum(output * w_out) + sum(h_n * w_h) (+ sum(c_n
* w_c)) with respect to the input, the initial states and every parameter.
Values are flattened row-major, in float64.
"""
import json
import os

import torch
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

torch.set_default_dtype(torch.float64)


def tensor_json(x):
    return {"shape": list(x.shape), "values": [float(v) for v in x.detach().reshape(-1).tolist()]}


def grad_json(x):
    return tensor_json(x.grad if x.grad is not None else torch.zeros_like(x))


CLASSES = {"RNN": torch.nn.RNN, "LSTM": torch.nn.LSTM, "GRU": torch.nn.GRU}
CELLS = {"RNNCell": torch.nn.RNNCell, "LSTMCell": torch.nn.LSTMCell, "GRUCell": torch.nn.GRUCell}


def layer_case(seed, kind, T=4, B=3, I=3, H=4, num_layers=1, bidirectional=False, batch_first=False,
               nonlinearity="tanh", bias=True, states=False, lengths=None, enforce_sorted=True, unbatched=False):
    torch.manual_seed(seed)
    kwargs = dict(num_layers=num_layers, bidirectional=bidirectional, batch_first=batch_first, bias=bias)
    if kind == "RNN":
        kwargs["nonlinearity"] = nonlinearity
    module = CLASSES[kind](I, H, **kwargs)
    D = 2 if bidirectional else 1
    if unbatched:
        x = torch.randn(T, I)
        state_shape = (num_layers * D, H)
    else:
        x = torch.randn(B, T, I) if batch_first else torch.randn(T, B, I)
        state_shape = (num_layers * D, B, H)
    x.requires_grad_(True)
    h0 = torch.randn(state_shape).requires_grad_(True) if states else None
    c0 = torch.randn(state_shape).requires_grad_(True) if states and kind == "LSTM" else None
    hx = None
    if states:
        hx = (h0, c0) if kind == "LSTM" else h0
    if lengths is not None:
        packed = pack_padded_sequence(x, torch.tensor(lengths), batch_first=batch_first,
                                      enforce_sorted=enforce_sorted)
        out_packed, state = module(packed, hx)
        out, _ = pad_packed_sequence(out_packed, batch_first=batch_first)
    else:
        out, state = module(x, hx)
    h_n, c_n = state if kind == "LSTM" else (state, None)
    w_out = torch.randn(out.shape)
    w_h = torch.randn(h_n.shape)
    loss = (out * w_out).sum() + (h_n * w_h).sum()
    case = {
        "kind": kind, "input_size": I, "hidden_size": H, "num_layers": num_layers,
        "bidirectional": bidirectional, "batch_first": batch_first, "nonlinearity": nonlinearity, "bias": bias,
        "params": {name: tensor_json(p) for name, p in module.named_parameters()},
        "input": tensor_json(x), "output": tensor_json(out), "h_n": tensor_json(h_n),
        "w_out": tensor_json(w_out), "w_h": tensor_json(w_h),
    }
    if c_n is not None:
        w_c = torch.randn(c_n.shape)
        loss = loss + (c_n * w_c).sum()
        case["c_n"] = tensor_json(c_n)
        case["w_c"] = tensor_json(w_c)
    if lengths is not None:
        case["lengths"] = lengths
        case["enforce_sorted"] = enforce_sorted
    loss.backward()
    case["grad_input"] = grad_json(x)
    if h0 is not None:
        case["h0"] = tensor_json(h0)
        case["grad_h0"] = grad_json(h0)
    if c0 is not None:
        case["c0"] = tensor_json(c0)
        case["grad_c0"] = grad_json(c0)
    case["grad_params"] = {name: grad_json(p) for name, p in module.named_parameters()}
    return case


def cell_case(seed, kind, B=3, I=3, H=4, nonlinearity="tanh", bias=True, states=True, unbatched=False):
    torch.manual_seed(seed)
    kwargs = dict(bias=bias)
    if kind == "RNNCell":
        kwargs["nonlinearity"] = nonlinearity
    module = CELLS[kind](I, H, **kwargs)
    shape = (I,) if unbatched else (B, I)
    state_shape = (H,) if unbatched else (B, H)
    x = torch.randn(shape).requires_grad_(True)
    h0 = torch.randn(state_shape).requires_grad_(True) if states else None
    c0 = torch.randn(state_shape).requires_grad_(True) if states and kind == "LSTMCell" else None
    if kind == "LSTMCell":
        h1, c1 = module(x, (h0, c0) if states else None)
    else:
        h1, c1 = module(x, h0), None
    w_h = torch.randn(h1.shape)
    loss = (h1 * w_h).sum()
    case = {
        "kind": kind, "input_size": I, "hidden_size": H, "nonlinearity": nonlinearity, "bias": bias,
        "params": {name: tensor_json(p) for name, p in module.named_parameters()},
        "input": tensor_json(x), "h_n": tensor_json(h1), "w_h": tensor_json(w_h),
    }
    if c1 is not None:
        w_c = torch.randn(c1.shape)
        loss = loss + (c1 * w_c).sum()
        case["c_n"] = tensor_json(c1)
        case["w_c"] = tensor_json(w_c)
    loss.backward()
    case["grad_input"] = grad_json(x)
    if h0 is not None:
        case["h0"] = tensor_json(h0)
        case["grad_h0"] = grad_json(h0)
    if c0 is not None:
        case["c0"] = tensor_json(c0)
        case["grad_c0"] = grad_json(c0)
    case["grad_params"] = {name: grad_json(p) for name, p in module.named_parameters()}
    return case


cases = {
    "rnn_tanh": layer_case(1, "RNN"),
    "rnn_relu_2layer_bidirectional_h0": layer_case(2, "RNN", nonlinearity="relu", num_layers=2, bidirectional=True,
                                                   states=True),
    "lstm": layer_case(3, "LSTM"),
    "lstm_2layer_bidirectional_batch_first_h0_c0": layer_case(4, "LSTM", num_layers=2, bidirectional=True,
                                                              batch_first=True, states=True),
    "lstm_no_bias": layer_case(5, "LSTM", bias=False, states=True),
    "lstm_unbatched_h0_c0": layer_case(6, "LSTM", unbatched=True, states=True, num_layers=2),
    "gru": layer_case(7, "GRU"),
    "gru_2layer_bidirectional_h0": layer_case(8, "GRU", num_layers=2, bidirectional=True, states=True),
    "gru_no_bias_batch_first": layer_case(9, "GRU", bias=False, batch_first=True),
    "rnn_packed": layer_case(10, "RNN", T=5, lengths=[5, 3, 2]),
    "lstm_packed_2layer_bidirectional_h0_c0": layer_case(11, "LSTM", T=5, B=4, lengths=[5, 4, 2, 1], num_layers=2,
                                                         bidirectional=True, states=True),
    "gru_packed_unsorted_batch_first_bidirectional_h0": layer_case(12, "GRU", T=5, lengths=[2, 5, 3],
                                                                   enforce_sorted=False, batch_first=True,
                                                                   bidirectional=True, states=True),
    "lstm_packed_unsorted_h0_c0": layer_case(13, "LSTM", T=4, B=4, lengths=[1, 4, 2, 3], enforce_sorted=False,
                                             states=True),
    "rnn_cell_tanh": cell_case(20, "RNNCell"),
    "rnn_cell_relu_no_state": cell_case(21, "RNNCell", nonlinearity="relu", states=False),
    "lstm_cell": cell_case(22, "LSTMCell"),
    "lstm_cell_unbatched_no_bias": cell_case(23, "LSTMCell", unbatched=True, bias=False),
    "gru_cell": cell_case(24, "GRUCell"),
    "gru_cell_no_state": cell_case(25, "GRUCell", states=False),
}

out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "rnn.json")
with open(out, "w") as f:
    json.dump({"torch": torch.__version__, "cases": cases}, f, indent=None, separators=(",", ":"))
    f.write("\n")
print(f"wrote {len(cases)} cases to {out}")
