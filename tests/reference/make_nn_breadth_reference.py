#!/usr/bin/python3
"""PyTorch's relu6, prelu, gelu(approximate='tanh'), normalize,
cosine_similarity, pairwise_distance and instance_norm, for
tests/autograd/test_nn_breadth_ops.cpp.

Run with an interpreter that has torch (Debian's /usr/bin/python3 here):
    /usr/bin/python3 tests/reference/make_nn_breadth_reference.py
It rewrites tests/reference/nn_breadth.json. Each case: the function, its
options, the inputs (float64, flattened row-major), the output, and the
gradient of each input of sum(output * w), w = 1, 2, 3, ... over the output's
elements (null for an input that gets none). instance_norm cases that update
running statistics also give the statistics after the call.
"""
import json
import os

import math

import torch
import torch.nn.functional as F

torch.set_default_dtype(torch.float64)


def tensor_json(x):
    if x._is_zerotensor():  # a gradient torch knows to be zero, without storage
        x = torch.zeros(x.shape, dtype=x.dtype)
    # JSON has no NaN: it is written "nan" (the second derivatives at normalize's zero row).
    values = [float(v) for v in x.detach().reshape(-1).tolist()]
    return {"shape": list(x.shape), "values": ["nan" if math.isnan(v) else v for v in values]}


def call(fn, leaves, o):
    if fn == "relu6":
        return F.relu6(leaves[0])
    if fn == "prelu":
        return F.prelu(leaves[0], leaves[1])
    if fn == "gelu":
        return F.gelu(leaves[0], approximate=o["approximate"])
    if fn == "normalize":
        return F.normalize(leaves[0], p=o["p"], dim=o["dim"], eps=o["eps"])
    if fn == "cosine_similarity":
        return F.cosine_similarity(leaves[0], leaves[1], dim=o["dim"], eps=o["eps"])
    if fn == "pairwise_distance":
        return F.pairwise_distance(leaves[0], leaves[1], p=o["p"], eps=o["eps"], keepdim=o["keepdim"])
    if fn == "instance_norm":
        w = leaves[1] if len(leaves) > 1 else None
        b = leaves[2] if len(leaves) > 2 else None
        return F.instance_norm(leaves[0], o["running_mean_t"], o["running_var_t"], w, b,
                               use_input_stats=o["use_input_stats"], momentum=o["momentum"], eps=o["eps"])
    raise ValueError(fn)


def case(fn, inputs, **options):
    leaves = [x.clone().detach().requires_grad_(True) for x in inputs]
    o = dict(options)
    if fn == "instance_norm":
        rm, rv = o.pop("running_mean", None), o.pop("running_var", None)
        o["running_mean_t"] = None if rm is None else torch.tensor(rm)
        o["running_var_t"] = None if rv is None else torch.tensor(rv)
        options = {k: v for k, v in o.items() if not k.endswith("_t")}
        options["running_mean"], options["running_var"] = rm, rv
    out = call(fn, leaves, o)
    w = torch.arange(1, out.numel() + 1, dtype=out.dtype).reshape(out.shape)
    (out * w).sum().backward()
    # JSON has no infinity: p = inf is written "inf", which the test decodes.
    options = {k: "inf" if isinstance(v, float) and v == float("inf") else v for k, v in options.items()}
    entry = {
        "fn": fn,
        "options": options,
        "inputs": [tensor_json(x) for x in inputs],
        "output": tensor_json(out),
        "grads": [tensor_json(x.grad) if x.grad is not None else None for x in leaves],
    }
    # Second derivatives: d/dx of sum_i <dL/dx_i, v_i> with v_i = 1 + 0.25 * arange,
    # L the weighted sum above, on fresh leaves (and fresh running statistics).
    leaves2 = [x.clone().detach().requires_grad_(True) for x in inputs]
    o2 = {k: (v.clone() if isinstance(v, torch.Tensor) else v) for k, v in o.items()}
    out2 = call(fn, leaves2, o2)
    g = torch.autograd.grad((out2 * w).sum(), leaves2, create_graph=True, allow_unused=True)
    s = sum((gi * (1 + 0.25 * torch.arange(gi.numel(), dtype=gi.dtype)).reshape(gi.shape)).sum()
            for gi in g if gi is not None and gi.requires_grad)
    if isinstance(s, torch.Tensor):
        g2 = torch.autograd.grad(s, leaves2, allow_unused=True)
        entry["grads2"] = [tensor_json(x) if x is not None else None for x in g2]
    if fn == "instance_norm" and o["running_mean_t"] is not None:
        entry["running_mean_after"] = tensor_json(o["running_mean_t"])
        entry["running_var_after"] = tensor_json(o["running_var_t"])
    return entry


def main():
    torch.manual_seed(22)
    cases = {}
    # relu6: both kinks (0 and 6, gradient 0 there), inside, below and above.
    cases["relu6"] = case("relu6", [torch.tensor([[-1.5, 0.0, 0.25, 3.0], [5.999, 6.0, 6.5, 100.0]])])
    # prelu: a weight per channel, one weight, inputs below 2 dims, x = 0 (the weight's branch).
    x = torch.randn(2, 3, 4)
    x[0, 0, 0] = 0.0
    cases["prelu per channel 3-D"] = case("prelu", [x, torch.tensor([0.25, -0.5, 2.0])])
    cases["prelu one weight 2-D"] = case("prelu", [torch.randn(3, 5), torch.tensor([0.1])])
    cases["prelu one weight 1-D"] = case("prelu", [torch.randn(6), torch.tensor([-0.3])])
    cases["prelu 0-d weight"] = case("prelu", [torch.randn(2, 3), torch.tensor(0.4)])
    cases["prelu 0-d input"] = case("prelu", [torch.tensor(-1.5), torch.tensor([0.2])])
    cases["prelu per channel 4-D"] = case("prelu", [torch.randn(2, 2, 3, 2), torch.tensor([0.3, 0.7])])
    # gelu's tanh form, from far negative to far positive (tanh saturates both ways).
    g = torch.tensor([-30.0, -6.0, -3.0, -1.0, -0.5, -1e-3, 0.0, 1e-3, 0.5, 1.0, 2.5, 6.0, 30.0])
    cases["gelu tanh"] = case("gelu", [g], approximate="tanh")
    cases["gelu none"] = case("gelu", [g], approximate="none")
    # normalize: p 2, 1, 3, inf, dims, a zero row (eps clamps; no gradient through the norm there).
    n = torch.randn(3, 4)
    n[1] = 0.0
    cases["normalize p2 dim1 zero row"] = case("normalize", [n], p=2.0, dim=1, eps=1e-12)
    cases["normalize p1 dim0"] = case("normalize", [torch.randn(3, 4)], p=1.0, dim=0, eps=1e-12)
    cases["normalize p3 dim -1 3-D"] = case("normalize", [torch.randn(2, 3, 4)], p=3.0, dim=-1, eps=1e-12)
    cases["normalize p inf dim 1"] = case("normalize", [torch.randn(2, 5)], p=float("inf"), dim=1, eps=1e-12)
    cases["normalize tiny norm eps 1e-3"] = case("normalize", [torch.tensor([[1e-4, -2e-4], [3.0, 4.0]])], p=2.0,
                                                 dim=1, eps=1e-3)
    # cosine_similarity: same shapes, broadcasting both ways, dim 0 and -1, a norm below eps.
    cases["cosine_similarity same shape"] = case("cosine_similarity", [torch.randn(4, 3), torch.randn(4, 3)], dim=1,
                                                 eps=1e-8)
    cases["cosine_similarity broadcast row"] = case("cosine_similarity", [torch.randn(2, 3, 4), torch.randn(3, 1)],
                                                    dim=1, eps=1e-8)
    cases["cosine_similarity broadcast 1-D dim -1"] = case("cosine_similarity", [torch.randn(3, 4), torch.randn(4)],
                                                           dim=-1, eps=1e-8)
    cases["cosine_similarity 1-D dim 0"] = case("cosine_similarity", [torch.randn(5), torch.randn(5)], dim=0, eps=1e-8)
    cases["cosine_similarity norm below eps"] = case("cosine_similarity",
                                                     [torch.tensor([[1e-10, 0.0], [1.0, 2.0]]),
                                                      torch.tensor([[1.0, 1.0], [-1.0, 3.0]])], dim=1, eps=1e-8)
    # pairwise_distance: p 2, 1, 3, inf, keepdim, broadcasting, 1-D.
    a, b = torch.randn(3, 4), torch.randn(3, 4)
    cases["pairwise_distance p2"] = case("pairwise_distance", [a, b], p=2.0, eps=1e-6, keepdim=False)
    cases["pairwise_distance p1 keepdim"] = case("pairwise_distance", [a, b], p=1.0, eps=1e-6, keepdim=True)
    cases["pairwise_distance p3 broadcast"] = case("pairwise_distance", [torch.randn(2, 3, 4), torch.randn(4)], p=3.0,
                                                   eps=1e-6, keepdim=False)
    cases["pairwise_distance p inf"] = case("pairwise_distance", [a, b], p=float("inf"), eps=1e-6, keepdim=False)
    cases["pairwise_distance 1-D eps 0.1"] = case("pairwise_distance", [torch.randn(5), torch.randn(5)], p=2.0, eps=0.1,
                                                  keepdim=False)
    # instance_norm: input statistics with and without affine, 1-D and 2-D
    # spatial, updating running statistics, and the running statistics' map.
    xi = torch.randn(2, 3, 5)
    w3, b3 = torch.randn(3), torch.randn(3)
    cases["instance_norm 1d affine"] = case("instance_norm", [xi, w3, b3], use_input_stats=True, momentum=0.1, eps=1e-5)
    cases["instance_norm 1d plain eps 0.01"] = case("instance_norm", [xi], use_input_stats=True, momentum=0.1,
                                                    eps=1e-2)
    cases["instance_norm 2d affine running update"] = case(
        "instance_norm", [torch.randn(2, 3, 2, 3), w3, b3], use_input_stats=True, momentum=0.3, eps=1e-5,
        running_mean=[0.5, -1.0, 0.0], running_var=[2.0, 0.5, 1.0])
    cases["instance_norm running statistics"] = case(
        "instance_norm", [torch.randn(2, 3, 4), w3, b3], use_input_stats=False, momentum=0.1, eps=1e-5,
        running_mean=[0.5, -1.0, 0.0], running_var=[2.0, 0.5, 1.0])

    out = {"torch": torch.__version__, "cases": cases}
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "nn_breadth.json")
    with open(path, "w") as f:
        json.dump(out, f, indent=1)
        f.write("\n")
    print(f"wrote {len(cases)} cases to {path}")


if __name__ == "__main__":
    main()
