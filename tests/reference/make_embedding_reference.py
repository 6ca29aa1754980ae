#!/usr/bin/python3
"""PyTorch's F.embedding with max_norm, norm_type and scale_grad_by_freq, for
tests/nn/test_embedding_options.cpp.

Run with an interpreter that has torch (Debian's /usr/bin/python3 here):
    /usr/bin/python3 tests/reference/make_embedding_reference.py
It rewrites tests/reference/embedding.json. Each case: the weight before the
call (float64 [6, 3]), the indices, the options, the weight after the call
(max_norm renormalises looked-up rows in place), the output, and the gradient
of the weight of sum(output * w), w = 1, 2, 3, ...
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
    out = {"torch": torch.__version__, "shape": [6, 3], "cases": cases}
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "embedding.json")
    with open(path, "w") as f:
        json.dump(out, f, indent=1)
        f.write("\n")
    print(f"wrote {len(cases)} cases to {path}")


if __name__ == "__main__":
    main()
