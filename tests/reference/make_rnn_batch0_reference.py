#!/usr/bin/python3
"""PyTorch's RNN, LSTM, GRU and cells on a batch of 0 sequences, for tests/nn/test_rnn_batch0.cpp.

Run with an interpreter that has torch (Debian's /usr/bin/python3 here):
    /usr/bin/python3 tests/reference/make_rnn_batch0_reference.py
It rewrites tests/reference/rnn_batch0.json. With no sequences there are no
values to compare, so each case records shapes: the module's options, the
shapes of the input, the initial states (when given), the output, h_n and c_n,
and, after a backward of a sum of the outputs, whether each gradient is
defined, its shape and whether it is all zeros. "refusals" records what
PyTorch refuses (and with what message) around a batch of 0: a sequence
length of 0, a state of the wrong batch, packing no sequences.
"double_backward_cases" records a recorded (create_graph) gradient of the
weights and a backward through it. "proj_size_cases" records the LSTM with
proj_size, which tapegrad does not have, for reference only.
"""
import json
import os

import torch
from torch.nn.utils.rnn import PackedSequence, pack_padded_sequence, pack_sequence, pad_packed_sequence

torch.set_default_dtype(torch.float64)

CLASSES = {"RNN": torch.nn.RNN, "LSTM": torch.nn.LSTM, "GRU": torch.nn.GRU}
CELLS = {"RNNCell": torch.nn.RNNCell, "LSTMCell": torch.nn.LSTMCell, "GRUCell": torch.nn.GRUCell}
T, I, H = 5, 3, 4


def shape(x):
    return list(x.shape)


def grad_json(x):
    """Whether x.grad is defined, its shape and whether it is all zeros."""
    g = x.grad
    if g is None:
        return {"defined": False}
    return {"defined": True, "shape": shape(g), "all_zero": bool((g == 0).all())}


def with_states(case, c_n, h0, c0):
    """Adds the final cell state's shape and the given initial states' shapes and gradients."""
    if c_n is not None:
        case["c_n"] = shape(c_n)
    if h0 is not None:
        case["h0"] = shape(h0)
        case["grad_h0"] = grad_json(h0)
    if c0 is not None:
        case["c0"] = shape(c0)
        case["grad_c0"] = grad_json(c0)
    return case


def layer_case(seed, kind, nonlinearity="tanh", num_layers=1, bidirectional=False, batch_first=False, bias=True,
               dropout=0.0, states=False, loss_of="all", proj_size=0):
    torch.manual_seed(seed)
    kwargs = dict(num_layers=num_layers, bidirectional=bidirectional, batch_first=batch_first, bias=bias,
                  dropout=dropout)
    if kind == "RNN":
        kwargs["nonlinearity"] = nonlinearity
    if proj_size:
        kwargs["proj_size"] = proj_size
    module = CLASSES[kind](I, H, **kwargs)
    module.train()  # dropout between layers is active
    D = 2 if bidirectional else 1
    x = torch.randn((0, T, I) if batch_first else (T, 0, I), requires_grad=True)
    h0 = torch.randn(num_layers * D, 0, proj_size or H, requires_grad=True) if states else None
    c0 = torch.randn(num_layers * D, 0, H, requires_grad=True) if states and kind == "LSTM" else None
    hx = None
    if states:
        hx = (h0, c0) if kind == "LSTM" else h0
    out, state = module(x, hx)
    h_n, c_n = state if kind == "LSTM" else (state, None)
    terms = {"output": [out], "h_n": [h_n] + ([c_n] if c_n is not None else []),
             "all": [out, h_n] + ([c_n] if c_n is not None else [])}[loss_of]
    sum(t.sum() for t in terms).backward()
    case = {
        "kind": kind, "input_size": I, "hidden_size": H, "num_layers": num_layers, "bidirectional": bidirectional,
        "batch_first": batch_first, "nonlinearity": nonlinearity, "bias": bias, "dropout": dropout,
        "loss_of": loss_of, "input": shape(x), "output": shape(out), "h_n": shape(h_n),
        "output_requires_grad": out.requires_grad, "h_n_requires_grad": h_n.requires_grad,
        "grad_input": grad_json(x),
        "grad_params": {name: dict(grad_json(p), param_shape=shape(p)) for name, p in module.named_parameters()},
    }
    if proj_size:
        case["proj_size"] = proj_size
    return with_states(case, c_n, h0, c0)


def cell_case(seed, kind, nonlinearity="tanh", bias=True, states=False):
    torch.manual_seed(seed)
    kwargs = dict(bias=bias)
    if kind == "RNNCell":
        kwargs["nonlinearity"] = nonlinearity
    module = CELLS[kind](I, H, **kwargs)
    x = torch.randn(0, I, requires_grad=True)
    h0 = torch.randn(0, H, requires_grad=True) if states else None
    c0 = torch.randn(0, H, requires_grad=True) if states and kind == "LSTMCell" else None
    if kind == "LSTMCell":
        h1, c1 = module(x, (h0, c0) if states else None)
    else:
        h1, c1 = module(x, h0), None
    (h1.sum() + (c1.sum() if c1 is not None else 0)).backward()
    case = {
        "kind": kind, "input_size": I, "hidden_size": H, "nonlinearity": nonlinearity, "bias": bias,
        "input": shape(x), "h_n": shape(h1), "grad_input": grad_json(x),
        "grad_params": {name: dict(grad_json(p), param_shape=shape(p)) for name, p in module.named_parameters()},
    }
    return with_states(case, c1, h0, c0)


def refusal(f):
    """What PyTorch does with f(): {"raises": true, "error": ...} or the shapes it returns."""
    try:
        result = f()
    except Exception as e:  # noqa: BLE001 - any refusal is recorded
        return {"raises": True, "error": f"{type(e).__name__}: {e}"}
    return {"raises": False, "result": result}


def packed_shapes(module, data, batch_sizes):
    out, state = module(PackedSequence(data, torch.tensor(batch_sizes, dtype=torch.int64)))
    states = state if isinstance(state, tuple) else (state,)
    return {"data": shape(out.data), "states": [shape(s) for s in states]}


cases = {}
seed = 100
kinds = [("RNN", "tanh"), ("RNN", "relu"), ("LSTM", "tanh"), ("GRU", "tanh")]
for kind, nonlinearity in kinds:
    for num_layers in (1, 2):
        for bidirectional in (False, True):
            for batch_first in (False, True):
                for states in (False, True):
                    # Dropout only applies between layers (PyTorch warns for one layer).
                    for dropout in ((0.0, 0.5) if num_layers == 2 else (0.0,)):
                        name = (f"{kind.lower()}_{nonlinearity}_l{num_layers}" + ("_bidirectional" * bidirectional) +
                                ("_batch_first" * batch_first) + ("_states" * states) +
                                ("_dropout" * (dropout > 0)))
                        seed += 1
                        cases[name] = layer_case(seed, kind, nonlinearity, num_layers, bidirectional, batch_first,
                                                 dropout=dropout, states=states)
    # No biases; and a backward of the output alone and of the final states alone.
    stem = f"{kind.lower()}_{nonlinearity}_l2_bidirectional"
    cases[stem + "_no_bias"] = layer_case(seed + 1, kind, nonlinearity, 2, True, bias=False, states=True)
    cases[stem + "_loss_of_output"] = layer_case(seed + 2, kind, nonlinearity, 2, True, states=True, loss_of="output")
    cases[stem + "_loss_of_h_n"] = layer_case(seed + 3, kind, nonlinearity, 2, True, states=True, loss_of="h_n")
    seed += 3

cell_cases = {}
for i, (kind, nonlinearity) in enumerate([("RNNCell", "tanh"), ("RNNCell", "relu"), ("LSTMCell", "tanh"),
                                          ("GRUCell", "tanh")]):
    for states in (False, True):
        name = f"{kind.lower()}_{nonlinearity}" + ("_states" * states)
        cell_cases[name] = cell_case(200 + 2 * i + states, kind, nonlinearity, states=states)
cell_cases["lstmcell_no_bias_states"] = cell_case(220, "LSTMCell", bias=False, states=True)

proj_size_cases = {}
for num_layers in (1, 2):
    for bidirectional in (False, True):
        for states in (False, True):
            name = f"lstm_proj2_l{num_layers}" + ("_bidirectional" * bidirectional) + ("_states" * states)
            proj_size_cases[name] = layer_case(300 + len(proj_size_cases), "LSTM", num_layers=num_layers,
                                               bidirectional=bidirectional, states=states, proj_size=2)

def double_backward_case(seed, kind):
    """A gradient of the weights recorded (create_graph), then a backward of its square."""
    torch.manual_seed(seed)
    module = CLASSES[kind](I, H, num_layers=2, bidirectional=True)
    out, state = module(torch.randn(T, 0, I, requires_grad=True))
    h_n = state[0] if kind == "LSTM" else state
    grads = torch.autograd.grad(out.sum() + h_n.sum(), list(module.parameters()), create_graph=True)
    second = sum((g * g).sum() for g in grads)
    second.backward()
    return {"kind": kind, "first": [dict(defined=True, shape=shape(g), all_zero=bool((g == 0).all()),
                                         requires_grad=g.requires_grad) for g in grads],
            "grad_params": {name: dict(grad_json(p), param_shape=shape(p)) for name, p in module.named_parameters()}}


double_backward_cases = {kind.lower(): double_backward_case(350 + i, kind) for i, kind in enumerate(CLASSES)}

torch.manual_seed(400)
x0 = torch.randn(T, 0, I)
refusals = {
    # A sequence length of 0 is refused, with or without sequences.
    "RNN T=0 B=2": refusal(lambda: shape(torch.nn.RNN(I, H)(torch.randn(0, 2, I))[0])),
    "LSTM T=0 B=0": refusal(lambda: shape(torch.nn.LSTM(I, H)(torch.randn(0, 0, I))[0])),
    "GRU T=0 B=0 batch_first": refusal(lambda: shape(torch.nn.GRU(I, H, batch_first=True)(torch.randn(0, 0, I))[0])),
    "GRU unbatched T=0": refusal(lambda: shape(torch.nn.GRU(I, H)(torch.randn(0, I))[0])),
    # A state must have the input's batch of 0, and the other way round.
    "GRU B=0 h0 [1, 1, H]": refusal(lambda: shape(torch.nn.GRU(I, H)(x0, torch.randn(1, 1, H))[0])),
    "LSTM B=0 c0 [1, 1, H]": refusal(
        lambda: shape(torch.nn.LSTM(I, H)(x0, (torch.randn(1, 0, H), torch.randn(1, 1, H)))[0])),
    "RNN B=2 h0 [1, 0, H]": refusal(lambda: shape(torch.nn.RNN(I, H)(torch.randn(T, 2, I), torch.randn(1, 0, H))[0])),
    "LSTM B=0 wrong features": refusal(lambda: shape(torch.nn.LSTM(I, H)(torch.randn(T, 0, I + 1))[0])),
    # Packing no sequences is refused; so PyTorch's packing never makes a batch of 0.
    "pack_padded_sequence of [T, 0, I], lengths []": refusal(
        lambda: shape(pack_padded_sequence(x0, torch.tensor([], dtype=torch.int64)).data)),
    "pack_padded_sequence of [0, T, I] batch_first, lengths [], enforce_sorted=False": refusal(
        lambda: shape(pack_padded_sequence(torch.randn(0, T, I), torch.tensor([], dtype=torch.int64),
                                           batch_first=True, enforce_sorted=False).data)),
    "pack_sequence([])": refusal(lambda: shape(pack_sequence([]).data)),
    # A PackedSequence made by hand with batch_sizes [0] runs (PyTorch checks no batch_sizes);
    # batch_sizes [] fails inside; pad_packed_sequence of batch_sizes [] crashes the process (not run).
    "LSTM on PackedSequence(data [0, I], batch_sizes [0])": refusal(
        lambda: packed_shapes(torch.nn.LSTM(I, H), torch.randn(0, I), [0])),
    "GRU on PackedSequence(data [0, I], batch_sizes [0, 0])": refusal(
        lambda: packed_shapes(torch.nn.GRU(I, H), torch.randn(0, I), [0, 0])),
    "LSTM on PackedSequence(data [0, I], batch_sizes [])": refusal(
        lambda: packed_shapes(torch.nn.LSTM(I, H), torch.randn(0, I), [])),
    "pad_packed_sequence of PackedSequence(data [0, I], batch_sizes [0])": refusal(
        lambda: [shape(t) for t in pad_packed_sequence(PackedSequence(torch.randn(0, I), torch.tensor([0])))]),
}

out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "rnn_batch0.json")
with open(out, "w") as f:
    json.dump({"torch": torch.__version__, "time_steps": T, "cases": cases, "cell_cases": cell_cases,
               "proj_size_cases": proj_size_cases, "double_backward_cases": double_backward_cases,
               "refusals": refusals}, f, indent=None, separators=(",", ":"))
    f.write("\n")
print(f"wrote {len(cases)} layer cases, {len(cell_cases)} cell cases, {len(proj_size_cases)} proj_size cases, "
      f"{len(double_backward_cases)} double backward cases and {len(refusals)} refusals to {out}")
