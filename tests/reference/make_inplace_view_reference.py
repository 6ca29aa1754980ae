#!/usr/bin/python3
"""PyTorch's gradients for in-place ops on views, for tests/autograd/test_inplace_views.cpp.

Run with an interpreter that has torch (Debian's /usr/bin/python3 here):
    /usr/bin/python3 tests/reference/make_inplace_view_reference.py
It rewrites tests/reference/inplace_view.json. Each case below is written out
again in C++ in the test, with the same name, inputs and ops; the JSON holds
the gradients (flattened, row-major) and values PyTorch computes for it.
"""
import json
import os

import torch

torch.set_default_dtype(torch.float64)


def t(values, shape=None, grad=False):
    x = torch.tensor(values, dtype=torch.float64)
    if shape is not None:
        x = x.reshape(shape)
    return x.requires_grad_(grad)


def weights(shape):
    """1, 2, 3, ... in the given shape: a loss sum(y * weights) gives every element its own gradient."""
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


X23 = [-1.0, 0.5, 2.0, 3.0, -2.0, 1.5]


@case
def issue_example():
    x = t([1, 2, 3, 4], grad=True)
    y = x * 1
    v = y[0:2]
    y.mul_(3)
    v.sum().backward()
    return {"x.grad": flat(x.grad), "v": flat(v)}


@case
def slice_copy():
    x = t([1, 2, 3, 4], grad=True)
    z = t([5, 7], grad=True)
    y = x * 2
    y[1:3].copy_(z * z)
    (y * y * weights([4])).sum().backward()
    return {"x.grad": flat(x.grad), "z.grad": flat(z.grad), "y": flat(y)}


@case
def select_mul_scalar():
    x = t(X23, [2, 3], grad=True)
    y = x * 1
    y.select(0, 1).mul_(2)
    (y * y * weights([2, 3])).sum().backward()
    return {"x.grad": flat(x.grad), "y": flat(y)}


@case
def narrow_add_alpha_broadcast():
    x = t(X23, [2, 3], grad=True)
    w = t([0.25, -0.75], grad=True)
    y = x * 1
    y.narrow(1, 1, 2).add_(w, alpha=2)
    (y * y * weights([2, 3])).sum().backward()
    return {"x.grad": flat(x.grad), "w.grad": flat(w.grad), "y": flat(y)}


@case
def transpose_sub():
    x = t(X23, [2, 3], grad=True)
    w = t([0.5, 1.5, -1, 2, 3, -0.5], [3, 2], grad=True)
    y = x * 1
    y.t().sub_(w * w, alpha=3)
    (y * y * weights([2, 3])).sum().backward()
    return {"x.grad": flat(x.grad), "w.grad": flat(w.grad), "y": flat(y)}


@case
def permute_div():
    x = t([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12], [2, 3, 2], grad=True)
    w = t([2, -4, 0.5], grad=True)
    y = x * 1
    y.permute(2, 0, 1).div_(w)
    (y * y * weights([2, 3, 2])).sum().backward()
    return {"x.grad": flat(x.grad), "w.grad": flat(w.grad), "y": flat(y)}


@case
def view_chain_fill():
    x = t(X23, [2, 3], grad=True)
    y = x * 1
    y.view(6)[2:4].fill_(5)
    (y * y * weights([2, 3])).sum().backward()
    return {"x.grad": flat(x.grad), "y": flat(y)}


@case
def reshape_unsqueeze_squeeze_zero():
    x = t(X23, [2, 3], grad=True)
    y = x * 1
    y.reshape(3, 2).unsqueeze(0).squeeze(0).select(1, 1).zero_()
    (y * y * weights([2, 3])).sum().backward()
    return {"x.grad": flat(x.grad), "y": flat(y)}


@case
def masked_fill_on_select():
    x = t(X23, [2, 3], grad=True)
    y = x * 1
    y.select(0, 0).masked_fill_(torch.tensor([True, False, True]), 7)
    (y * y * weights([2, 3])).sum().backward()
    return {"x.grad": flat(x.grad), "y": flat(y)}


@case
def clamp_on_slice():
    x = t(X23, [2, 3], grad=True)
    y = x * 1
    y[:, 0:2].clamp_(-0.75, 2.5)
    (y * y * weights([2, 3])).sum().backward()
    return {"x.grad": flat(x.grad), "y": flat(y)}


@case
def relu_on_column():
    x = t(X23, [2, 3], grad=True)
    y = x * 1
    y.select(1, 1).relu_()
    (y * y * weights([2, 3])).sum().backward()
    return {"x.grad": flat(x.grad), "y": flat(y)}


@case
def mul_by_operand_on_view():
    x = t(X23, [2, 3], grad=True)
    w = t([3, -1, 0.5], grad=True)
    y = x * 1
    y.select(0, 1).mul_(w)
    (y * y * weights([2, 3])).sum().backward()
    return {"x.grad": flat(x.grad), "w.grad": flat(w.grad), "y": flat(y)}


@case
def flatten_view_and_copy():
    x = t(X23, [2, 3], grad=True)
    w = t([3, -1, 0.5], grad=True)
    y = x * 1
    y.narrow(0, 1, 1).flatten().mul_(w)  # contiguous: flatten is a view
    y[:, 0:2].flatten().add_(1.5)  # not contiguous: flatten copies, y is unchanged
    (y * y * weights([2, 3])).sum().backward()
    return {"x.grad": flat(x.grad), "w.grad": flat(w.grad), "y": flat(y)}


@case
def two_views_in_turn():
    x = t(X23, [2, 3], grad=True)
    w = t([3, -1, 0.5], grad=True)
    y = x * 1
    a = y.select(0, 0)
    b = y.select(0, 1)
    a.mul_(w)
    b.add_(a)  # reads a after a changed, writes through another view
    a.sub_(b, alpha=0.5)  # a's history must see b's change
    loss = (y * y * weights([2, 3])).sum() + (a * b).sum()
    loss.backward()
    return {"x.grad": flat(x.grad), "w.grad": flat(w.grad), "y": flat(y)}


@case
def base_modified_then_views_used():
    x = t(X23, [2, 3], grad=True)
    w = t([0.5, 2, -1], grad=True)
    y = x * 1
    col = y[:, 1]
    row = y.select(0, 1)
    y.add_(w)
    y.mul_(2)
    loss = (col * col).sum() + (row * weights([3])).sum() + (y * weights([2, 3])).sum()
    loss.backward()
    return {"x.grad": flat(x.grad), "w.grad": flat(w.grad), "col": flat(col)}


@case
def index_assignment_into_zeros():
    x = t(X23, [2, 3], grad=True)
    w = t([3, -1, 0.5], grad=True)
    buf = torch.zeros(3, 3)
    for i in range(2):
        buf.select(0, i).copy_(x[i] * w)
    buf[2].copy_(w)
    buf[:, 2].mul_(x[0])
    (buf * buf * weights([3, 3])).sum().backward()
    return {"x.grad": flat(x.grad), "w.grad": flat(w.grad), "buf": flat(buf)}


@case
def view_of_view_chain():
    x = t([float(i) / 4 - 1 for i in range(12)], [4, 3], grad=True)
    w = t([2, -3], grad=True)
    y = x * 1
    v1 = y[0:3]
    v2 = v1.transpose(0, 1).select(0, 1)  # column 1 of rows 0..2
    v2[1:3].mul_(w)
    loss = (v1 * v1).sum() + (y * weights([4, 3])).sum() + (v2 * v2).sum()
    loss.backward()
    return {"x.grad": flat(x.grad), "w.grad": flat(w.grad), "y": flat(y)}


@case
def expanded_view_of_modified_base():
    x = t([1, 2, 3], grad=True)
    y = x * 1
    e = y.unsqueeze(0).expand(4, 3)
    y.mul_(y.detach() + 1)
    (e * weights([4, 3])).sum().backward()
    return {"x.grad": flat(x.grad), "e": flat(e)}


@case
def detached_base():
    x = t([1, 2, 3, 4], grad=True)
    w = t([2, 5], grad=True)
    y = x * 1
    d = y.detach()
    d[1:3].mul_(w)
    (d * weights([4])).sum().backward()
    return {"w.grad": flat(w.grad), "d": flat(d)}


@case
def noncontiguous_base():
    x = t(X23, [2, 3], grad=True)
    w = t([2, 5], grad=True)
    w2 = t([1, -1], grad=True)
    y = x * 1
    d = y.t().detach()  # a base whose memory is not row-major
    col = d[:, 1]
    d[1:3, 0].mul_(w)
    d[0].add_(w2)
    loss = (d * d * weights([3, 2])).sum() + (col * col * weights([3])).sum()
    loss.backward()
    return {"w.grad": flat(w.grad), "w2.grad": flat(w2.grad), "d": flat(d), "col": flat(col)}


@case
def second_order():
    x = t([0.5, -1.5, 2, 1], grad=True)
    y = x * x
    y[1:3].mul_(x[0:2])
    y.t()[0:2].add_(x[2:4] * x[2:4])
    loss = (y * y * weights([4])).sum()
    (g,) = torch.autograd.grad(loss, x, create_graph=True)
    (gg,) = torch.autograd.grad((g * weights([4])).sum(), x)
    return {"g": flat(g), "gg": flat(gg)}


@case
def grad_wrt_base_and_operand():
    x = t(X23, [2, 3], grad=True)
    w = t([3, -1, 0.5], grad=True)
    y = x * 2
    y.select(0, 0).mul_(w)
    loss = (y * y * weights([2, 3])).sum()
    gx, gw, gy = torch.autograd.grad(loss, [x, w, y])
    return {"x.grad": flat(gx), "w.grad": flat(gw), "y.grad": flat(gy)}


out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "inplace_view.json")
with open(out, "w") as f:
    json.dump({"generator": "tests/reference/make_inplace_view_reference.py", "torch": torch.__version__,
               "cases": cases}, f, indent=1, sort_keys=True)
    f.write("\n")
print(f"wrote {len(cases)} cases to {out}")
