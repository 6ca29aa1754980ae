"""Writes attention.json: scaled dot-product attention by PyTorch's math path,
softmax(q k^T * scale + mask) v, in float64, with the gradients of
sum(out * w) (w = 1, 2, 3, ... over out, scaled down) with respect to q, k, v
and a float mask. torch 1.13 has no torch.nn.functional.
scaled_dot_product_attention (2.0 adds it), so the math is written out as
PyTorch 2's math path does it (is_causal: torch.ones(L, S).tril()). Rows
that attend no key are NaN there; tapegrad defines them as zeros with zero
gradients, which is what this script computes for them (the softmax sees 0
scores in such rows, and its result is replaced by 0). Every case without
such a row is checked here to equal the plain formula.

Run with Debian's /usr/bin/python3 (python3-torch):
    /usr/bin/python3 tests/reference/make_attention_reference.py
"""
import json
import math
import os

import torch

torch.manual_seed(1234)
cases = {}


def flat(t):
    return [float(v) for v in t.detach().reshape(-1).tolist()]


def attention(q, k, v, add_mask, scale):
    scores = q @ k.transpose(-2, -1) * scale
    if add_mask is not None:
        scores = scores + add_mask
    valid = torch.isfinite(scores.detach().amax(-1, keepdim=True))
    p = torch.where(valid, torch.softmax(torch.where(valid, scores, torch.zeros(())), -1), torch.zeros(()))
    return p @ v, bool(valid.all())


def case(name, qs, ks, vs, mask=None, mask_kind=None, is_causal=False, scale=None):
    q = torch.randn(qs, dtype=torch.float64, requires_grad=True)
    k = torch.randn(ks, dtype=torch.float64, requires_grad=True)
    v = torch.randn(vs, dtype=torch.float64, requires_grad=True)
    L, S = qs[-2], ks[-2]
    s = scale if scale is not None else 1 / math.sqrt(qs[-1])
    entry = {"q_shape": qs, "k_shape": ks, "v_shape": vs, "q": flat(q), "k": flat(k), "v": flat(v),
             "is_causal": is_causal, "mask_kind": mask_kind or "none"}
    if scale is not None:
        entry["scale"] = scale
    add_mask = None
    m = None
    if is_causal:
        add_mask = torch.zeros(L, S, dtype=torch.float64).masked_fill(
            ~torch.ones(L, S, dtype=torch.bool).tril(), float("-inf"))
    elif mask_kind == "bool":
        entry["mask_shape"] = list(mask.shape)
        entry["mask"] = [1.0 if b else 0.0 for b in mask.reshape(-1).tolist()]
        add_mask = torch.zeros(mask.shape, dtype=torch.float64).masked_fill(~mask, float("-inf"))
    elif mask_kind == "float":
        m = mask.clone().to(torch.float64).requires_grad_(True)
        entry["mask_shape"] = list(m.shape)
        entry["mask"] = flat(m)
        add_mask = m
    out, all_valid = attention(q, k, v, add_mask, s)
    if all_valid:  # the reference is PyTorch's plain math path where that is defined
        scores = q @ k.transpose(-2, -1) * s + (add_mask if add_mask is not None else 0)
        plain = torch.softmax(scores, -1) @ v
        assert torch.allclose(plain, out, rtol=0, atol=1e-14), name
    entry["out_shape"] = list(out.shape)
    entry["out"] = flat(out)
    w = torch.arange(1, out.numel() + 1, dtype=torch.float64).reshape(out.shape) / out.numel()
    (out * w).sum().backward()
    entry["dq"] = flat(q.grad)
    entry["dk"] = flat(k.grad)
    entry["dv"] = flat(v.grad)
    if m is not None:
        entry["dmask"] = flat(m.grad)
    cases[name] = entry


case("plain, L != S, Ev != E", [2, 3, 5, 4], [2, 3, 7, 4], [2, 3, 7, 6])
case("unbatched", [5, 3], [4, 3], [4, 2])
case("custom scale", [1, 4, 3], [1, 6, 3], [1, 6, 3], scale=0.3)
# Batch dims broadcast between q, k and v.
case("broadcast batch", [2, 3, 4, 4], [3, 6, 4], [1, 3, 6, 2])
bool_mask = torch.rand(5, 7) > 0.4
bool_mask[:, 0] = True
bool_mask[2, :] = False  # a row that attends nothing: zeros
case("bool mask with a fully masked row", [2, 5, 3], [2, 7, 3], [2, 7, 4], mask=bool_mask, mask_kind="bool")
# A key padding mask [N, 1, 1, S] broadcast over heads and queries, over several tiles.
pad = torch.ones(2, 1, 1, 67, dtype=torch.bool)
pad[0, ..., 50:] = False
pad[1, ..., 3:] = False
case("key padding over tiles", [2, 2, 66, 3], [2, 2, 67, 3], [2, 2, 67, 2], mask=pad, mask_kind="bool")
case("float mask", [2, 3, 5, 4], [2, 3, 6, 4], [2, 3, 6, 3], mask=torch.randn(3, 1, 6) * 2, mask_kind="float")
case("causal, over tiles", [1, 1, 70, 3], [1, 1, 70, 3], [1, 1, 70, 2], is_causal=True)
case("causal, L < S", [2, 5, 4], [2, 9, 4], [2, 9, 4], is_causal=True)
case("causal, L > S", [9, 4], [5, 4], [5, 3], is_causal=True)
case("odd sizes over tiles", [1, 67, 3], [1, 65, 3], [1, 65, 5])

out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "attention.json")
with open(out, "w") as f:
    json.dump({"torch": torch.__version__, "cases": cases}, f, indent=None, sort_keys=True)
    f.write("\n")
