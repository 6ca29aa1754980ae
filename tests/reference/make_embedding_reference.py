#!/usr/bin/python3
"""PyTorch's F.embedding with max_norm, norm_type and scale_grad_by_freq, for
tests/nn/test_embedding_options.cpp.

Run with an interpreter that has torch (Debian's /usr/bin/python3 here):
    /usr/bin/python3 tests/reference/make_embedding_reference.py
It rewrites tests/reference/embedding.json. Each case: the weight before the
call (float64 [6, 3]), the indices, the options, the weight after the call
(max_norm renormalises looked-up rows in place), the output, and the gradient
of the weight of sum(output * w), w = 1, 2, 3, ...
"higher_order" holds gradients of order 1 to 3 with scale_grad_by_freq (see
higher_case): PyTorch scales by frequency once, in the first backward.
"""
import json
import os

import torch
import torch.nn.functional as F

torch.set_default_dtype(torch.float64)


def flat(x):
    return [float(v) for v in x.detach().reshape(-1).tolist()]


def case(weight, indices, **options):
    w = weight.clone().requires_grad_(True)
    idx = torch.tensor(indices, dtype=torch.long)
    out = F.embedding(idx, w, **options)
    scale = torch.arange(1, out.numel() + 1, dtype=out.dtype).reshape(out.shape)
    (out * scale).sum().backward()
    return {"weight": flat(weight), "indices": indices, "options": options, "weight_after": flat(w),
            "output": flat(out), "grad": flat(w.grad)}


def higher_case(weight, indices, **options):
    w = weight.clone().requires_grad_(True)
    idx = torch.tensor(indices, dtype=torch.long)
    y = F.embedding(idx, w, scale_grad_by_freq=True, **options)
    c = torch.arange(1, y.numel() + 1, dtype=y.dtype).reshape(y.shape) / y.numel()
    f = (y.pow(3) * c).sum() + y.sum(-1).pow(2).sum()
    (g,) = torch.autograd.grad(f, w, create_graph=True)
    u = torch.arange(1, w.numel() + 1, dtype=w.dtype).reshape(w.shape)
    (gg,) = torch.autograd.grad((g * u).sum(), w, create_graph=True)
    (ggg,) = torch.autograd.grad((gg * u).sum(), w)
    return {"weight": flat(weight), "shape": list(weight.shape), "indices": indices, "options": options,
            "grad": flat(g), "grad2": flat(gg), "grad3": flat(ggg)}


def main():
    torch.manual_seed(15)
    weight = torch.randn(6, 3) * 1.5
    indices = [[0, 2, 2], [5, 0, 1]]
    cases = {
        "max_norm 1": case(weight, indices, max_norm=1.0),
        "max_norm 1.5 norm_type 1": case(weight, indices, max_norm=1.5, norm_type=1.0),
        "max_norm 0.5 norm_type 3 padding_idx 2": case(weight, indices, max_norm=0.5, norm_type=3.0, padding_idx=2),
        "scale_grad_by_freq": case(weight, indices, scale_grad_by_freq=True),
        "scale_grad_by_freq padding_idx 0 max_norm 2": case(weight, indices, scale_grad_by_freq=True, padding_idx=0,
                                                            max_norm=2.0),
    }
    # scale_grad_by_freq's derivatives of order 2 and 3 (repeated indices, with
    # and without padding_idx), of f(W) = sum(y^3 * c) + sum(sum(y, -1)^2):
    # g = df/dW, then the gradients of sum(g * u) and of sum(gg * u).
    higher = {
        "scale_grad_by_freq": higher_case(weight, indices),
        "scale_grad_by_freq padding_idx 2": higher_case(weight, indices, padding_idx=2),
        "scale_grad_by_freq padding_idx 0": higher_case(weight, indices, padding_idx=0),
        "scale_grad_by_freq one row read twice": higher_case(torch.tensor([[1.5]]), [[0, 0]]),
    }
    out = {"torch": torch.__version__, "shape": [6, 3], "cases": cases, "higher_order": higher}
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "embedding.json")
    with open(path, "w") as f:
        json.dump(out, f, indent=1)
        f.write("\n")
    print(f"wrote {len(cases)} cases to {path}")


if __name__ == "__main__":
    main()
