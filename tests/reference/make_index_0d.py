#!/usr/bin/python3
"""The indexing ops on 0-d inputs and with 0-d indices, as torch 1.13 gives
them, for tests/autograd/test_index_0d.cpp.

Run with an interpreter that has torch (Debian's /usr/bin/python3 here):
    /usr/bin/python3 tests/reference/make_index_0d.py
It rewrites tests/reference/index_0d.json: for each case, "shape" and
"values" of the result, or "error" (torch's message). x is torch.tensor(5.)
and v torch.tensor([1., 2., 3.]); the C++ test names the same calls.
(tapegrad has no torch.take.)

Where torch 1.13 reads or writes past a 0-d tensor (index_select, index_add
and index_copy with more than one index: PyTorch 2.1 refuses them,
pytorch/pytorch#94347; with an empty index it returns uninitialised memory,
#94340), the case holds what tapegrad does instead ("expected_difference",
the reason, and "torch", torch's result); so do index_add and index_copy
with two indices into a 0-d input, refused by the same rule.
"""
import json
import os
import warnings

import torch

warnings.simplefilter("ignore")  # scatter_reduce is in beta

x = torch.tensor(5.)
v = torch.tensor([1., 2., 3.])


def idx(*values):
    return torch.tensor(list(values), dtype=torch.int64)


i0 = torch.tensor(0)
CASES = {
    "index_select idx [0]": lambda: x.index_select(0, idx(0)),
    "index_select idx 0-d": lambda: x.index_select(0, i0),
    "index_select dim -1": lambda: x.index_select(-1, idx(0)),
    "index_select idx [0, 0]": lambda: x.index_select(0, idx(0, 0)),
    "index_select idx []": lambda: x.index_select(0, idx()),
    "index_select idx [1]": lambda: x.index_select(0, idx(1)),
    "index_select dim 1": lambda: x.index_select(1, idx(0)),
    "index_select 1-d, idx 0-d": lambda: v.index_select(0, torch.tensor(2)),
    "gather idx 0-d": lambda: x.gather(0, i0),
    "gather idx [0]": lambda: x.gather(0, idx(0)),
    "gather idx [0, 0]": lambda: x.gather(0, idx(0, 0)),
    "gather idx 0-d 1": lambda: x.gather(0, torch.tensor(1)),
    "gather 1-d, idx 0-d": lambda: v.gather(0, torch.tensor(2)),
    "scatter idx 0-d src 0-d": lambda: x.scatter(0, i0, torch.tensor(7.)),
    "scatter idx [0] src [7]": lambda: x.scatter(0, idx(0), torch.tensor([7.])),
    "scatter idx 0-d value": lambda: x.scatter(0, i0, 7.),
    "scatter 1-d, idx 0-d value": lambda: v.scatter(0, torch.tensor(2), 7.),
    "scatter_add idx 0-d src 0-d": lambda: x.scatter_add(0, i0, torch.tensor(7.)),
    "scatter_reduce sum idx 0-d src 0-d": lambda: x.scatter_reduce(0, i0, torch.tensor(7.), "sum"),
    "index_add idx 0-d src 0-d": lambda: x.index_add(0, i0, torch.tensor(7.)),
    "index_add idx [0] src 0-d": lambda: x.index_add(0, idx(0), torch.tensor(7.)),
    "index_add idx [0] src [7]": lambda: x.index_add(0, idx(0), torch.tensor([7.])),
    "index_add idx [0, 0] src [7, 8]": lambda: x.index_add(0, idx(0, 0), torch.tensor([7., 8.])),
    "index_copy idx [0, 0] src [7, 8]": lambda: x.index_copy(0, idx(0, 0), torch.tensor([7., 8.])),
    "index_add 1-d, idx 0-d src [7]": lambda: v.index_add(0, torch.tensor(2), torch.tensor([7.])),
    "index_fill idx 0-d": lambda: x.index_fill(0, i0, 7.),
    "index_fill idx [0]": lambda: x.index_fill(0, idx(0), 7.),
    "index_fill idx [0, 0]": lambda: x.index_fill(0, idx(0, 0), 7.),
    "index_fill idx [1]": lambda: x.index_fill(0, idx(1), 7.),
    "index_fill 1-d, idx 0-d": lambda: v.index_fill(0, torch.tensor(2), 7.),
    "index_copy idx 0-d src 0-d": lambda: x.index_copy(0, i0, torch.tensor(7.)),
    "index_copy idx [0] src [7]": lambda: x.index_copy(0, idx(0), torch.tensor([7.])),
    "index_copy idx [0] src 0-d": lambda: x.index_copy(0, idx(0), torch.tensor(7.)),
    "index_copy 1-d, idx 0-d src [7]": lambda: v.index_copy(0, torch.tensor(2), torch.tensor([7.])),
    "masked_select mask 0-d true": lambda: x.masked_select(torch.tensor(True)),
    "masked_select mask 0-d false": lambda: x.masked_select(torch.tensor(False)),
    "masked_select mask [true, false]": lambda: x.masked_select(torch.tensor([True, False])),
    "masked_select 1-d, mask 0-d": lambda: v.masked_select(torch.tensor(True)),
    "masked_fill mask 0-d": lambda: x.masked_fill(torch.tensor(True), 7.),
    # gather and the scatters count a 0-d operand as shape [1] when the ranks differ, nowhere else
    "gather idx [[0]]": lambda: x.gather(0, torch.tensor([[0]])),
    "gather 2-d, idx 0-d": lambda: v.reshape(1, 3).gather(1, torch.tensor(2)),
    "scatter idx [0] src 0-d": lambda: x.scatter(0, idx(0), torch.tensor(7.)),
    "scatter 2-d, idx 0-d value": lambda: v.reshape(1, 3).scatter(1, torch.tensor(2), 7.),
    "scatter_add idx [0] src [7]": lambda: x.scatter_add(0, idx(0), torch.tensor([7.])),
    "scatter_add idx 0-d src [7, 8]": lambda: x.scatter_add(0, i0, torch.tensor([7., 8.])),
    "scatter_add 1-d, idx 0-d src 0-d": lambda: v.scatter_add(0, torch.tensor(2), torch.tensor(7.)),
    "scatter_reduce amax idx [0, 0] src [7, 8]": lambda: x.scatter_reduce(0, idx(0, 0), torch.tensor([7., 8.]),
                                                                         "amax"),
    "scatter_reduce prod 1-d, idx 0-d src 0-d": lambda: v.scatter_reduce(0, torch.tensor(1), torch.tensor(4.),
                                                                        "prod"),
    "scatter_reduce mean idx [0] src [7], not self": lambda: x.scatter_reduce(0, idx(0), torch.tensor([7.]), "mean",
                                                                             include_self=False),
}

# Gradients of (y * w).sum() with w = 1, 2, ... over y's elements, for the
# differentiable inputs (x or v first, then src) of the mixed-rank calls.
# (Not "scatter_add idx 0-d src [7, 8]": torch 1.13's backward returns a 0-d
# gradient for the [2] src there and fails; the test derives that one by hand.)
GRAD_CASES = {
    "gather idx [0, 0]": (lambda a: a[0].gather(0, idx(0, 0)), [x]),
    "gather 1-d, idx 0-d": (lambda a: a[0].gather(0, torch.tensor(2)), [v]),
    "scatter idx [0] src [7]": (lambda a: a[0].scatter(0, idx(0), a[1]), [x, torch.tensor([7.])]),
    "scatter_add 1-d, idx 0-d src 0-d": (lambda a: a[0].scatter_add(0, torch.tensor(2), a[1]), [v, torch.tensor(7.)]),
    "scatter_reduce amax idx [0, 0] src [7, 8]": (lambda a: a[0].scatter_reduce(0, idx(0, 0), a[1], "amax"),
                                                  [x, torch.tensor([7., 8.])]),
    "scatter_reduce prod 1-d, idx 0-d src 0-d": (lambda a: a[0].scatter_reduce(0, torch.tensor(1), a[1], "prod"),
                                                 [v, torch.tensor(4.)]),
}

# torch 1.13 goes past the 0-d tensor: what tapegrad does instead, and why.
PAST_THE_END = ("torch 1.13 reads or writes past the 0-d tensor (ASan: buffer overflow) and returns the "
                "0-d input or uninitialised memory; PyTorch 2.1 refuses it (pytorch/pytorch#94347, #94340)")
EXPECTED = {
    "index_select idx [0, 0]": {"error": "index_select: a 0-d input takes exactly one index, got 2"},
    "index_select idx []": {"error": "index_select: a 0-d input takes exactly one index, got 0"},
}
# Not past the end in torch 1.13, but refused for the same rule: one index into a 0-d input.
ONE_INDEX = ("tapegrad takes exactly one index into a 0-d input, in index_add and index_copy as in "
             "index_select: their gradients for src are index_select's, which PyTorch 2.1 refuses for more")
for name, message in [("index_add idx [0, 0] src [7, 8]", "index_add: source of shape [2] does not fit 2 indices"),
                      ("index_copy idx [0, 0] src [7, 8]", "index_copy: source of shape [2] does not fit 2 indices")]:
    EXPECTED[name] = {"error": message, "reason": ONE_INDEX}



def result(y):
    return {"shape": list(y.shape), "values": y.reshape(-1).tolist()}


def gradients(fn, inputs):
    leaves = [t.clone().requires_grad_() for t in inputs]
    y = fn(leaves)
    w = torch.arange(1., y.numel() + 1.).reshape(y.shape)
    (y * w).sum().backward()
    return [result(t.grad) for t in leaves]


def main():
    cases = {}
    for name, fn in CASES.items():
        try:
            y = fn()
            entry = result(y)
        except Exception as e:  # noqa: BLE001  (what torch raises is the datum)
            entry = {"error": str(e).splitlines()[0].strip()}
        if name in EXPECTED:
            instead = dict(EXPECTED[name])
            reason = instead.pop("reason", PAST_THE_END)
            entry = dict(instead, torch=entry, expected_difference=reason)
        if name in GRAD_CASES:
            entry["grads"] = gradients(*GRAD_CASES[name])
        cases[name] = entry
    missing = set(GRAD_CASES) - set(cases)
    assert not missing, missing
    out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "index_0d.json")
    with open(out, "w") as f:
        json.dump({"torch": torch.__version__, "cases": cases}, f, indent=1)
        f.write("\n")
    print(f"{len(cases)} cases -> {out}")


if __name__ == "__main__":
    main()
