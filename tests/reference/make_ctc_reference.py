#!/usr/bin/python3
"""PyTorch's F.ctc_loss, for tests/nn/test_ctc_loss.cpp.

Run with an interpreter that has torch (Debian's /usr/bin/python3 here):
    /usr/bin/python3 tests/reference/make_ctc_reference.py
It rewrites tests/reference/ctc.json. Each case: log_probs [T, N, C]
(log_softmax of random logits, float64, flattened row-major; the leaf whose
gradient is kept, so the gradient is PyTorch's formula for log_probs), the
targets (padded [N, S] or concatenated 1-D), input_lengths, target_lengths,
the options, the output and the gradient of sum(output * w), w = 1, 2, ...
Values that are not finite (inf losses, NaN gradients) are written as the
strings "inf", "-inf" and "nan".
"""
import json
import math
import os

import torch
import torch.nn.functional as F

torch.set_default_dtype(torch.float64)


def number(v):
    return v if math.isfinite(v) else ("nan" if math.isnan(v) else ("inf" if v > 0 else "-inf"))


def tensor_json(x):
    return {"shape": list(x.shape), "values": [number(float(v)) for v in x.detach().reshape(-1).tolist()]}


def case(T, N, C, targets, input_lengths, target_lengths, **options):
    log_probs = torch.randn(T, N, C).log_softmax(2).detach().requires_grad_(True)
    targets = torch.tensor(targets, dtype=torch.long)
    il = torch.tensor(input_lengths, dtype=torch.long)
    tl = torch.tensor(target_lengths, dtype=torch.long)
    out = F.ctc_loss(log_probs, targets, il, tl, **options)
    w = torch.arange(1, out.numel() + 1, dtype=out.dtype).reshape(out.shape)
    (out * w).sum().backward()
    return {
        "log_probs": tensor_json(log_probs),
        "targets": {"shape": list(targets.shape), "values": targets.reshape(-1).tolist()},
        "input_lengths": input_lengths,
        "target_lengths": target_lengths,
        "options": options,
        "output": tensor_json(out),
        "grad": tensor_json(log_probs.grad),
    }


def main():
    torch.manual_seed(15)
    cases = {}
    padded = [[1, 2, 2, 0], [3, 3, 3, 1], [4, 1, 0, 0]]
    for red in ["mean", "sum", "none"]:
        cases[f"padded, repeated labels, {red}"] = case(7, 3, 5, padded, [7, 7, 6], [3, 4, 2], reduction=red)
    cases["concatenated, shorter inputs, mean"] = case(8, 3, 4, [1, 2, 1, 3, 3, 2], [8, 5, 7], [2, 3, 1])
    cases["target length 0, none"] = case(5, 2, 3, [[1, 2], [0, 0]], [5, 4], [2, 0], reduction="none")
    cases["target length 0, mean"] = case(5, 2, 3, [[1, 2], [0, 0]], [5, 4], [2, 0])
    # Sample 1 needs 5 frames for 1 1 1 (a blank between repeats) but has 4: no alignment.
    impossible = dict(T=6, N=2, C=4, targets=[[1, 2, 0], [1, 1, 1]], input_lengths=[6, 4], target_lengths=[2, 3])
    cases["impossible alignment, none"] = case(**impossible, reduction="none")
    cases["impossible alignment, zero_infinity, none"] = case(**impossible, reduction="none", zero_infinity=True)
    cases["impossible alignment, zero_infinity, mean"] = case(**impossible, zero_infinity=True)
    cases["impossible alignment, zero_infinity, sum"] = case(**impossible, reduction="sum", zero_infinity=True)
    cases["blank last, sum"] = case(6, 2, 4, [[0, 1, 2], [2, 2, 0]], [6, 6], [3, 2], blank=3, reduction="sum")
    cases["exactly as many frames as needed, none"] = case(3, 1, 3, [[1, 1]], [3], [2], reduction="none")

    out = {"torch": torch.__version__, "cases": cases}
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "ctc.json")
    with open(path, "w") as f:
        json.dump(out, f, indent=1)
        f.write("\n")
    print(f"wrote {len(cases)} cases to {path}")


if __name__ == "__main__":
    main()
