#!/usr/bin/python3
"""PyTorch's values, indices and first gradients for pad, repeat_interleave
and mode (issue 14), for tests/autograd/test_more_ops.cpp.

Run with an interpreter that has torch (Debian's /usr/bin/python3 here):
    /usr/bin/python3 tests/reference/make_more_ops.py
It rewrites tests/reference/more_ops.json. Each case is written out again in
C++ in the test with the same name, input and op. For every case the JSON
holds the output's shape and values (the first output of a tuple), its
indices when the op has them, and x.grad for the loss sum(y * w) with
w = 1, 2, 3, ... in y's shape (row-major), so each output element has its own
weight; a list-returning op's pieces are weighted one after the other.
"""

import torch

torch.set_default_dtype(torch.float64)


X34 = [[0.5, -1.25, 2.0, 3.5], [-0.75, 1.5, -2.25, 0.25], [4.0, -3.0, 1.0, -0.5]]
X234 = [float(v) for v in range(24)]


from op_cases import case, cases, flat, write  # noqa: E402,F401  (the shared case format)


def x234():
    return torch.tensor(X234).reshape(2, 3, 4).requires_grad_(True)


import torch.nn.functional as F

X23 = [[0.5, -1.25, 2.0], [3.5, -0.75, 1.5]]
X_MODE = [[3.0, 1.0, 3.0, 1.0, 2.0, 1.0, 3.0], [2.0, 2.0, 5.0, -1.0, 5.0, -1.0, 0.5]]

# ---- pad ---------------------------------------------------------------------
case("pad_constant", X34, lambda x: F.pad(x, (1, 2)))
case("pad_constant_value_2d", X34, lambda x: F.pad(x, (2, 0, 1, 1), value=-1.5))
case("pad_constant_crop", X34, lambda x: F.pad(x, (-1, 2, 1, -2)))
case("pad_constant_3d_one_dim", x234(), lambda x: F.pad(x, (0, 0, 0, 0, 1, 0), value=7.0))
case("pad_reflect", x234(), lambda x: F.pad(x, (3, 2), mode="reflect"))
case("pad_reflect_2d", torch.tensor(X234).reshape(1, 2, 3, 4).requires_grad_(True),
     lambda x: F.pad(x, (2, 3, 2, 1), mode="reflect"))
case("pad_reflect_crop", x234(), lambda x: F.pad(x, (-1, 2), mode="reflect"))
case("pad_replicate", x234(), lambda x: F.pad(x, (3, 1), mode="replicate"))
case("pad_replicate_2d", torch.tensor(X234).reshape(1, 2, 3, 4).requires_grad_(True),
     lambda x: F.pad(x, (1, 4, 3, 0), mode="replicate"))
case("pad_circular", x234(), lambda x: F.pad(x, (4, 2), mode="circular"))
case("pad_circular_2d", torch.tensor(X234).reshape(1, 2, 3, 4).requires_grad_(True),
     lambda x: F.pad(x, (1, 3, 3, 2), mode="circular"))
case("pad_circular_crop", x234(), lambda x: F.pad(x, (-1, 2), mode="circular"))

# ---- repeat_interleave ---------------------------------------------------------
case("repeat_interleave_int_flat", X23, lambda x: torch.repeat_interleave(x, 2))
case("repeat_interleave_int_dim0", X23, lambda x: torch.repeat_interleave(x, 3, dim=0))
case("repeat_interleave_int_dim_minus1", X23, lambda x: x.repeat_interleave(2, dim=-1))
case("repeat_interleave_zero", X23, lambda x: torch.repeat_interleave(x, 0, dim=1))
case("repeat_interleave_tensor_dim1", X23, lambda x: torch.repeat_interleave(x, torch.tensor([2, 0, 3]), dim=1))
case("repeat_interleave_tensor_one", X23, lambda x: torch.repeat_interleave(x, torch.tensor([2]), dim=0))
case("repeat_interleave_tensor_flat", X23,
     lambda x: torch.repeat_interleave(x, torch.tensor([1, 2, 0, 1, 3, 1])))
case("repeat_interleave_scalar", 2.5, lambda x: torch.repeat_interleave(x, 3))
cases["repeat_interleave_index"] = {"values": [float(v) for v in torch.repeat_interleave(torch.tensor([2, 0, 1, 3])).tolist()]}

# ---- mode ----------------------------------------------------------------------
case("mode_ties", X_MODE, lambda x: torch.mode(x))
case("mode_dim0", X_MODE, lambda x: torch.mode(x, 0))
case("mode_keepdim", X_MODE, lambda x: torch.mode(x, 1, keepdim=True))
case("mode_distinct", X34, lambda x: torch.mode(x, -1))
case("mode_scalar", 2.5, lambda x: torch.mode(x))
case("mode_3d", torch.tensor([1.0, 2.0, 2.0, 1.0, 4.0, 4.0, 4.0, 0.0, 1.0, 1.0, 3.0, 3.0]).reshape(2, 3, 2)
     .requires_grad_(True), lambda x: torch.mode(x, 1))
case("mode_int", torch.tensor([[4, 1, 4, 2], [0, 0, 7, 7]]), lambda x: torch.mode(x, 1))


write("more_ops.json")
