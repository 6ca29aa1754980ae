#!/usr/bin/python3
"""PyTorch's RMSNorm and GroupNorm, for tests/nn/test_rms_group_norm.cpp.

Run with an interpreter that has torch (Debian's /usr/bin/python3 here):
    /usr/bin/python3 tests/reference/make_norms_reference.py
It rewrites tests/reference/norms.json. Torch 1.13 has no F.rms_norm, so its
values come from the definition PyTorch 2.4 documents, written with torch ops:
x * rsqrt(mean(x^2 over the normalized dims) + eps) * weight, eps =
torch.finfo(x.dtype).eps when None. group_norm is torch's own. Each case: the
inputs (float64, flattened row-major), the output, and the gradient of each
input of sum(output * w), w = 1, 2, 3, ... over the output's elements.
"""
import json
import os

import torch
import torch.nn.functional as F

torch.set_default_dtype(torch.float64)


def tensor_json(x):
    return {"shape": list(x.shape), "values": [float(v) for v in x.detach().reshape(-1).tolist()]}


def rms_norm(x, normalized_shape, weight=None, eps=None):
    if eps is None:
        eps = torch.finfo(x.dtype).eps
    dims = tuple(range(x.dim() - len(normalized_shape), x.dim()))
    y = x * torch.rsqrt(x.pow(2).mean(dims, keepdim=True) + eps)
    return y * weight if weight is not None else y


def case(fn, inputs, **options):
    leaves = [x.clone().detach().requires_grad_(True) if x is not None else None for x in inputs]
    if fn == "rms_norm":
        out = rms_norm(leaves[0], options["normalized_shape"], leaves[1] if len(leaves) > 1 else None,
                       options.get("eps"))
    else:
        out = F.group_norm(leaves[0], options["num_groups"], *(leaves[1:]), eps=options.get("eps", 1e-5))
    w = torch.arange(1, out.numel() + 1, dtype=out.dtype).reshape(out.shape)
    (out * w).sum().backward()
    return {
        "fn": fn,
        "options": options,
        "inputs": [tensor_json(x) for x in inputs],
        "output": tensor_json(out),
        "grads": [tensor_json(x.grad) for x in leaves],
    }


def main():
    torch.manual_seed(15)
    cases = {}
    x = torch.randn(3, 4)
    x3 = torch.randn(2, 3, 4)
    w4 = torch.randn(4)
    cases["rms_norm weight, eps None"] = case("rms_norm", [x, w4], normalized_shape=[4])
    cases["rms_norm no weight, eps None"] = case("rms_norm", [x3], normalized_shape=[4])
    cases["rms_norm two dims, weight, eps 0.1"] = case("rms_norm", [x3, torch.randn(3, 4)], normalized_shape=[3, 4],
                                                       eps=0.1)
    cases["rms_norm 1-D, eps 1e-5"] = case("rms_norm", [x[0]], normalized_shape=[4], eps=1e-5)

    g = torch.randn(2, 6, 3)
    w6, b6 = torch.randn(6), torch.randn(6)
    cases["group_norm 2 groups affine"] = case("group_norm", [g, w6, b6], num_groups=2)
    cases["group_norm 3 groups no affine eps 0.01"] = case("group_norm", [g], num_groups=3, eps=0.01)
    cases["group_norm 1 group affine"] = case("group_norm", [g, w6, b6], num_groups=1)
    cases["group_norm 6 groups affine"] = case("group_norm", [g, w6, b6], num_groups=6)
    cases["group_norm 4-D 2 groups affine"] = case("group_norm", [torch.randn(2, 4, 2, 3), torch.randn(4),
                                                                  torch.randn(4)], num_groups=2)
    cases["group_norm 2-D 3 groups"] = case("group_norm", [torch.randn(3, 6), w6, b6], num_groups=3)

    out = {"torch": torch.__version__, "cases": cases}
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "norms.json")
    with open(path, "w") as f:
        json.dump(out, f, indent=1)
        f.write("\n")
    print(f"wrote {len(cases)} cases to {path}")


if __name__ == "__main__":
    main()
