"""The case format shared by make_shape_ops.py and make_more_ops.py (read by
tests/support/op_reference.h): for each case, the output's shapes and values
(the first output of a tuple), its indices when the op has them, and x.grad
for the loss sum(y * w) with w = 1, 2, 3, ... over the outputs one after the
other. Also enc() and flat_enc(), the encoding of NaN and infinities that
make_math_ops.py and make_attention_nonfinite_reference.py write. Imported
from the scripts' own folder.
"""
import json
import math
import os

import torch

def flat(t):
    return [float(v) for v in t.detach().reshape(-1).tolist()]


def enc(v):
    """A number for JSON, which has no NaN or infinities: those become the
    strings "nan", "inf" and "-inf", which the tests reading them decode."""
    v = float(v)
    if math.isnan(v):
        return "nan"
    if math.isinf(v):
        return "inf" if v > 0 else "-inf"
    return v


def flat_enc(t):
    """flat() for tensors that may hold NaN or infinities."""
    return [enc(v) for v in t.detach().reshape(-1).tolist()]


cases = {}


def case(name, x, fn):
    """fn(x) returns a tensor, a (values, indices) pair, or a list of tensors."""
    x = torch.tensor(x, dtype=torch.float64).requires_grad_(True) if not isinstance(x, torch.Tensor) else x
    out = fn(x)
    entry = {}
    if isinstance(out, list):
        pieces = out
    elif isinstance(out, tuple):  # (values, indices)
        entry["indices"] = flat(out[1])
        pieces = [out[0]]
    else:
        pieces = [out]
    entry["shapes"] = [list(p.shape) for p in pieces]
    entry["values"] = [v for p in pieces for v in flat(p)]
    loss = 0
    offset = 1
    for p in pieces:
        if p.is_floating_point() and p.numel() > 0:
            w = torch.arange(offset, offset + p.numel(), dtype=torch.float64).reshape(p.shape)
            loss = loss + (p * w).sum()
        offset += p.numel()
    if x.requires_grad:
        if isinstance(loss, torch.Tensor) and loss.requires_grad:
            loss.backward()
            entry["grad"] = flat(x.grad) if x.grad is not None else [0.0] * x.numel()
        else:
            entry["grad"] = [0.0] * x.numel()
    cases[name] = entry


def write(file_name):
    """Writes the cases into tests/reference/<file_name>."""
    out = os.path.join(os.path.dirname(os.path.abspath(__file__)), file_name)
    with open(out, "w") as f:
        # JSON has no NaN: write it as null.
        text = json.dumps({"torch": torch.__version__, "cases": cases}, indent=1, sort_keys=True,
                          allow_nan=True).replace("NaN", "null")
        f.write(text + "\n")
