"""Writes attention_nonfinite.json: scaled dot-product attention with NaN and
infinite inputs, and the small 16-bit cases whose backward needs the
logsumexp in float32, for tests/autograd/test_attention.cpp.

Every case is computed in float64 by PyTorch's math path,
softmax(q k^T * scale + mask) v, written out as the make_attention_reference.py
does it (torch 1.13 has no scaled_dot_product_attention), with the gradients of
sum(out * w), w = 1, 2, 3, ... over out scaled down, and (small cases) the
weights.
tapegrad's two conventions are applied with torch's own ops: a bool mask and
is_causal select (masked_fill(-inf): a NaN score at an excluded key does not
reach the row), and a row whose scores are all -inf gives zeros. Where neither
changes anything the case is checked here to equal the plain formula, NaNs
included ("plain": true); "plain": false marks the cases that pin a
convention.

The 16-bit cases ("sixteen_bit") hold inputs that float16 and bfloat16 hold
exactly; their values here are float64's.

JSON has no NaN or infinities: they are written as the strings "nan", "inf"
and "-inf".

Run with Debian's /usr/bin/python3 (python3-torch):
    /usr/bin/python3 tests/reference/make_attention_nonfinite_reference.py
"""
import json
import math
import os

import torch

torch.manual_seed(4321)
NAN, INF = float("nan"), float("inf")
cases = {}
sixteen_bit = {}


from op_cases import enc, flat_enc as flat  # noqa: E402  (NaN and infinities as strings)


def tapegrad_attention(q, k, v, allowed, addend, scale):
    s = q @ k.transpose(-2, -1) * scale
    if allowed is not None:
        s = s.masked_fill(~allowed, -INF)
    if addend is not None:
        s = s + addend
    valid = (s.detach() != -INF).any(-1, keepdim=True)
    p = torch.where(valid, torch.softmax(torch.where(valid, s, torch.zeros(())), -1), torch.zeros(()))
    return p @ v, p


def plain_attention(q, k, v, allowed, addend, scale):
    s = q @ k.transpose(-2, -1) * scale
    if allowed is not None:  # PyTorch 2's math path: the bool mask as an addend
        s = s + torch.zeros(allowed.shape, dtype=s.dtype).masked_fill(~allowed, -INF)
    if addend is not None:
        s = s + addend
    p = torch.softmax(s, -1)
    return p @ v, p


def grads(fn, q, k, v, allowed, addend, scale):
    q, k, v = (t.detach().clone().requires_grad_(True) for t in (q, k, v))
    m = addend.detach().clone().requires_grad_(True) if addend is not None else None
    out, p = fn(q, k, v, allowed, m, scale)
    w = torch.arange(1, out.numel() + 1, dtype=torch.float64).reshape(out.shape) / out.numel()
    (out * w).sum().backward()
    return out, p, q.grad, k.grad, v.grad, (m.grad if m is not None else None)


def same(a, b):
    return a is None and b is None or torch.allclose(a, b, rtol=0, atol=1e-14, equal_nan=True)


def case(name, q, k, v, allowed=None, addend=None, is_causal=False, scale=None, plain=True):
    """allowed: a bool mask (true = attend); addend: a float mask."""
    L, S = q.shape[-2], k.shape[-2]
    s = scale if scale is not None else 1 / math.sqrt(q.shape[-1])
    entry = {"q_shape": list(q.shape), "k_shape": list(k.shape), "v_shape": list(v.shape), "q": flat(q),
             "k": flat(k), "v": flat(v), "is_causal": is_causal, "mask_kind": "none", "plain": plain}
    if scale is not None:
        entry["scale"] = scale
    if is_causal:
        allowed = torch.ones(L, S, dtype=torch.bool).tril()
    elif allowed is not None:
        entry["mask_kind"] = "bool"
        entry["mask_shape"] = list(allowed.shape)
        entry["mask"] = [1.0 if b else 0.0 for b in allowed.reshape(-1).tolist()]
    elif addend is not None:
        entry["mask_kind"] = "float"
        entry["mask_shape"] = list(addend.shape)
        entry["mask"] = flat(addend)
    got = grads(tapegrad_attention, q, k, v, allowed, addend, s)
    if plain:
        want = grads(plain_attention, q, k, v, allowed, addend, s)
        assert all(same(a, b) for a, b in zip(got, want)), name
    out, p, dq, dk, dv, dmask = got
    entry["out_shape"] = list(out.shape)
    for key, t in (("out", out), ("weights", p), ("dq", dq), ("dk", dk), ("dv", dv), ("dmask", dmask)):
        if t is not None and (key != "weights" or p.numel() <= 100):  # the small cases' weights
            entry[key] = flat(t)
    cases[name] = entry


def randn(*shape):
    return torch.randn(shape, dtype=torch.float64)


def with_value(t, index, value):
    t = t.clone()
    t[index] = value
    return t


q, k, v = randn(1, 3, 4), randn(1, 5, 4), randn(1, 5, 2)
case("NaN in q: its row", with_value(q, (0, 1, 2), NAN), k, v)
case("NaN in k: every row", q, with_value(k, (0, 3, 0), NAN), v)
case("NaN in v: every row", q, k, with_value(v, (0, 2, 1), NAN))
# +inf in q makes the row's scores +-inf: exp(inf - inf) is NaN.
case("+inf in q: its row", with_value(q, (0, 1, 0), INF), k, v)
# +inf in k: rows whose score with it is +inf are NaN, those with -inf
# give that key weight 0.
kinf = with_value(k, (0, 3, 0), INF)
assert (q[0, :, 0] > 0).any() and (q[0, :, 0] < 0).any()
case("+inf in k: rows with a +inf score", q, kinf, v)
# A row that a bool mask lets attend nothing, beside partly masked rows and a NaN row.
allowed = torch.tensor([[1, 0, 1, 1, 0], [0, 0, 0, 0, 0], [1, 1, 1, 1, 1], [0, 1, 1, 0, 1]], dtype=torch.bool)
q4 = randn(1, 4, 4)
case("bool mask: fully masked row zero, partly masked rows, no NaN", q4, k, v, allowed=allowed, plain=False)
case("bool mask: NaN in q's fully masked row stays zero", with_value(q4, (0, 1, 3), NAN), k, v, allowed=allowed,
     plain=False)
case("bool mask: NaN in q of a partly masked row", with_value(q4, (0, 3, 0), NAN), k, v, allowed=allowed,
     plain=False)
# Key 1 is excluded for row 0 only: its NaN reaches rows 2 and 3 (row 1 attends nothing).
case("bool mask: NaN at a key some rows exclude", q4, with_value(k, (0, 1, 2), NAN), v, allowed=allowed,
     plain=False)
# A float mask is added: NaN + -inf is NaN, so its -inf row is NaN too.
fm = randn(4, 5)
fm[1, :] = -INF
fm[0, 2] = -INF
case("float mask: -inf row zero, no NaN", q4, k, v, addend=fm, plain=False)
case("float mask: NaN in k reaches its -inf row", q4, with_value(k, (0, 4, 1), NAN), v, addend=fm, plain=False)
# Over several tiles: a NaN query row, a NaN key in the second key tile, causal.
qt, kt, vt = randn(1, 70, 3), randn(1, 130, 3), randn(1, 130, 2)
case("tiles: NaN query row", with_value(qt, (0, 66, 0), NAN), kt, vt)
case("tiles: NaN key in the second tile", qt, with_value(kt, (0, 100, 2), NAN), vt)
qc, kc, vc = randn(1, 70, 3), randn(1, 70, 3), randn(1, 70, 2)
# (The fused op skips the tiles above the diagonal's blocks of 64, where
# 0 * NaN would reach dq or dk, so the NaNs here are where no tile is
# skipped: key 60, in the first block, and query 66, in the last.)
case("causal: NaN in key 60 reaches rows 60 on", qc, with_value(kc, (0, 60, 1), NAN), vc, is_causal=True,
     plain=False)
case("causal: NaN query row over tiles", with_value(qc, (0, 66, 1), NAN), kc, vc, is_causal=True, plain=False)


def sixteen(name, q, k, v, scale):
    q, k, v = (torch.tensor(x, dtype=torch.float64, requires_grad=True) for x in (q, k, v))
    out = torch.softmax(q @ k.T * scale, -1) @ v
    out.sum().backward()
    sixteen_bit[name] = {"q": flat(q), "q_shape": list(q.shape), "k": flat(k), "k_shape": list(k.shape),
                         "v": flat(v), "v_shape": list(v.shape), "scale": scale, "out": flat(out), "dq": flat(q.grad),
                         "dk": flat(k.grad), "dv": flat(v.grad)}


# Equal scores of 40: the logsumexp 40.693... rounds to 40.75 in bfloat16.
sixteen("equal scores 40", [[1.0]], [[40.0], [40.0]], [[1.0], [0.0]], 1.0)
# Scores 65536 and 65280: a float16 logsumexp of 65536 is inf.
sixteen("scores beyond float16", [[256.0]], [[256.0], [255.0]], [[1.0], [0.0]], 1.0)
sixteen("scores 256 and 255", [[256.0]], [[256.0], [255.0]], [[1.0], [0.0]], 1.0 / 256)

out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "attention_nonfinite.json")
with open(out, "w") as f:
    json.dump({"torch": torch.__version__, "cases": cases, "sixteen_bit": sixteen_bit}, f, indent=None,
              sort_keys=True)
    f.write("\n")
