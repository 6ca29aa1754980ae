#!/usr/bin/python3
"""PyTorch's gradients for the in-place-on-view programs of tests/autograd/test_hostile_engine.cpp.

Run with an interpreter that has torch (Debian's /usr/bin/python3 here):
    /usr/bin/python3 tests/reference/make_hostile_engine_reference.py
It rewrites tests/reference/hostile_engine.json. Each case is written out again
in C++ in the test, with the same name, inputs and ops; the JSON holds the
gradients and values (flattened, row-major) PyTorch computes for it.
"""
import json
import os

import torch

torch.set_default_dtype(torch.float64)

X23 = [-1.0, 0.5, 2.0, 3.0, -2.0, 1.5]
X34 = [0.5 * i - 2.5 for i in range(12)]


def t(values, shape=None, grad=False):
    x = torch.tensor(values, dtype=torch.float64)
    if shape is not None:
        x = x.reshape(shape)
    return x.requires_grad_(grad)


def weights(shape):
    n = 1
    for s in shape:
        n *= s
    return torch.arange(1, n + 1, dtype=torch.float64).reshape(shape)


def flat(x):
    return [float(v) for v in x.detach().reshape(-1).tolist()]


cases = {}


def case(fn):
    cases[fn.__name__] = fn()
    return fn


@case
def view_reads_sibling_view():
    x = t(X23, [2, 3], grad=True)
    y = x * 1
    y[0].add_(y[1])      # the operand is another view of the same base
    y[1].mul_(2.0)
    (y * y * weights([2, 3])).sum().backward()
    return {"x.grad": flat(x.grad), "y": flat(y)}


@case
def transposed_base_row_of_view():
    x = t(X23, [2, 3], grad=True)
    w = t([2.0, -3.0], grad=True)
    y = (x * 1).t()          # [3, 2], not contiguous
    y[1].mul_(w)
    y[:, 0].add_(1.0)
    (y * y * weights([3, 2])).sum().backward()
    return {"x.grad": flat(x.grad), "w.grad": flat(w.grad), "y": flat(y)}


@case
def strided_slice_masked_fill_and_zero():
    x = t(X34, [3, 4], grad=True)
    w = t([1.5, -0.5, 2.0], grad=True)
    y = x * 2
    s = y[:, ::2]            # [3, 2], step 2
    s.masked_fill_(s > 0, 0.25)
    y[:, 1].mul_(w)
    y[2, 1:3].zero_()
    y[0].fill_(-1.0)
    (y * y * weights([3, 4])).sum().backward()
    return {"x.grad": flat(x.grad), "w.grad": flat(w.grad), "y": flat(y)}


@case
def views_made_before_and_after():
    x = t(X34, [3, 4], grad=True)
    w = t([1.0, 2.0, -1.0, 0.5], grad=True)
    y = x.exp() * 1
    before = y[1:3]          # made before any modification
    inner = before[0]        # a view of a view, also before
    y.mul_(2)                # on the base
    inner.add_(w)            # on a view of a view
    after = y[:, 2]          # made after
    after.mul_(3)
    loss = (before * weights([2, 4])).sum() + (inner * inner).sum() + (after * after).sum() + (y * y).sum()
    loss.backward()
    return {"x.grad": flat(x.grad), "w.grad": flat(w.grad), "y": flat(y), "before": flat(before)}


@case
def rows_built_in_a_loop():
    x = t(X34, [3, 4], grad=True)
    w = t([1.0, 2.0, -1.0, 0.5], grad=True)
    buf = torch.zeros(6, 4)
    for i in range(6):
        src = x[i % 3] * w if i % 2 == 0 else (x[i % 3] + buf[i - 1])
        buf.select(0, i).copy_(src)
    buf[:, 3].add_(buf[:, 0], alpha=2.0)
    (buf * buf * weights([6, 4])).sum().backward()
    return {"x.grad": flat(x.grad), "w.grad": flat(w.grad), "buf": flat(buf)}


@case
def grad_wrt_views_and_base():
    x = t(X23, [2, 3], grad=True)
    w = t([3.0, -1.0, 0.5], grad=True)
    y = x * 1
    row = y[1]
    row.mul_(w)
    col = y[:, 2]
    loss = (y * y * weights([2, 3])).sum() + (col * row[0]).sum()
    gy, grow, gcol, gw = torch.autograd.grad(loss, [y, row, col, w])
    return {"gy": flat(gy), "grow": flat(grow), "gcol": flat(gcol), "gw": flat(gw)}


@case
def second_order_through_copy_slices():
    x = t(X23, [2, 3], grad=True)
    w = t([3.0, -1.0, 0.5], grad=True)
    y = x * x
    y[0].mul_(w)
    y[:, 1].copy_(w[:2] * x[:, 0])
    loss = (y * y * weights([2, 3])).sum()
    gx, gw = torch.autograd.grad(loss, [x, w], create_graph=True)
    (gx.sum() * gw.sum() + (gw * gw).sum()).backward()
    # torch 1.13's analytic w.grad here is wrong (4356, 29700, 54480; central
    # differences of this very program give 4338, 29790, 54432): take w's
    # from central differences.
    def f(xv, wv):
        xv = xv.detach().clone().requires_grad_()
        wv = wv.detach().clone().requires_grad_()
        y = xv * xv
        y[0].mul_(wv)
        y[:, 1].copy_(wv[:2] * xv[:, 0])
        a, b = torch.autograd.grad((y * y * weights([2, 3])).sum(), [xv, wv], create_graph=True)
        return (a.sum() * b.sum() + (b * b).sum()).item()
    numeric = []
    for i in range(3):
        e = torch.zeros(3)
        e[i] = 1e-5
        numeric.append((f(x, w + e) - f(x, w - e)) / 2e-5)
    return {"gx": flat(gx), "gw": flat(gw), "x.grad": flat(x.grad), "w.grad.numeric": numeric}


@case
def expanded_operand_and_unsqueezed_view():
    x = t(X23, [2, 3], grad=True)
    w = t([2.0], grad=True)
    y = x * 1
    y.unsqueeze(0)[0, :, 1].mul_(w.expand(2))
    y.view(3, 2)[2].sub_(w)
    (y * y * weights([2, 3])).sum().backward()
    return {"x.grad": flat(x.grad), "w.grad": flat(w.grad), "y": flat(y)}


here = os.path.dirname(os.path.abspath(__file__))
with open(os.path.join(here, "hostile_engine.json"), "w") as f:
    json.dump({"generator": "make_hostile_engine_reference.py", "torch": torch.__version__, "cases": cases}, f,
              indent=1, sort_keys=True)
    f.write("\n")
