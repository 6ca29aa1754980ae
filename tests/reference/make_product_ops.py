"""PyTorch reference values for the products (bmm, baddbmm, addbmm, mv, addmv,
dot, vdot, outer, kron, tensordot) and einsum, read by
tests/autograd/test_product_ops.cpp. Each case stores its float64 inputs
(values from a fixed formula, so the file alone reproduces the case), the
output, and each input's gradient of the loss sum(y * w) with
w = 1, 2, 3, ... over the output. Run with Debian's /usr/bin/python3
(python3-torch 1.13): the tests only read the JSON.
"""
import json
import math
import os

import torch

cases = {}
counter = [0]


def make(shape):
    counter[0] += 1
    n = math.prod(shape)
    k = counter[0]
    v = [round(math.sin(1.3 * i + 0.7 * k) * 2, 6) for i in range(n)]
    return torch.tensor(v, dtype=torch.float64).reshape(shape).requires_grad_(True)


def flat(t):
    return [float(v) for v in t.detach().reshape(-1).tolist()]


def case(name, shapes, fn):
    inputs = [make(s) for s in shapes]
    y = fn(*inputs)
    w = torch.arange(1, y.numel() + 1, dtype=torch.float64).reshape(y.shape)
    grads = [[0.0] * x.numel() for x in inputs]
    if y.numel() > 0:
        g = torch.autograd.grad((y * w).sum(), inputs, allow_unused=True)
        grads = [flat(gi) if gi is not None else [0.0] * x.numel() for gi, x in zip(g, inputs)]
    cases[name] = {
        "inputs": [{"shape": list(x.shape), "values": flat(x)} for x in inputs],
        "shape": list(y.shape),
        "values": flat(y),
        "grads": grads,
    }


case("bmm", [(2, 3, 4), (2, 4, 5)], torch.bmm)
case("bmm_zero_batch", [(0, 3, 4), (0, 4, 2)], torch.bmm)
case("bmm_zero_inner", [(2, 3, 0), (2, 0, 2)], torch.bmm)
case("baddbmm", [(2, 3, 5), (2, 3, 4), (2, 4, 5)], torch.baddbmm)
case("baddbmm_broadcast_beta_alpha", [(5,), (2, 3, 4), (2, 4, 5)],
     lambda c, a, b: torch.baddbmm(c, a, b, beta=0.5, alpha=-2))
case("addbmm", [(3, 5), (2, 3, 4), (2, 4, 5)], torch.addbmm)
case("addbmm_broadcast_beta_alpha", [(3, 1), (4, 3, 2), (4, 2, 5)],
     lambda c, a, b: torch.addbmm(c, a, b, beta=-1.5, alpha=0.25))
case("mv", [(3, 4), (4,)], torch.mv)
case("addmv", [(3,), (3, 4), (4,)], torch.addmv)
case("addmv_scalar_input_beta_alpha", [(), (3, 4), (4,)], lambda c, a, b: torch.addmv(c, a, b, beta=2, alpha=0.5))
case("dot", [(5,), (5,)], torch.dot)
case("vdot", [(5,), (5,)], torch.vdot)
case("outer", [(3,), (4,)], torch.outer)
case("kron_2d", [(2, 3), (3, 2)], torch.kron)
case("kron_mixed_rank", [(3,), (2, 2)], torch.kron)
case("kron_3d", [(2, 1, 2), (1, 3, 2)], torch.kron)
case("tensordot_2", [(2, 3, 4), (3, 4, 2)], lambda a, b: torch.tensordot(a, b, 2))
case("tensordot_0", [(2, 3), (4,)], lambda a, b: torch.tensordot(a, b, 0))
case("tensordot_lists", [(3, 4, 2), (2, 3, 5)], lambda a, b: torch.tensordot(a, b, ([0, 2], [1, 0])))

einsum_cases = [
    ("einsum_matmul", "ij,jk->ik", [(3, 4), (4, 2)]),
    ("einsum_matmul_implicit", "ij,jk", [(3, 4), (4, 2)]),
    ("einsum_implicit_order", "ba,ab", [(3, 4), (4, 3)]),
    ("einsum_implicit_transpose", "ji", [(3, 4)]),
    ("einsum_upper_case_first", "aB,Bc", [(2, 3), (3, 4)]),
    ("einsum_batch", "bij,bjk->bik", [(2, 3, 4), (2, 4, 2)]),
    ("einsum_diagonal", "ii->i", [(3, 3)]),
    ("einsum_trace", "ii", [(4, 4)]),
    ("einsum_batch_diagonal", "bii->bi", [(2, 3, 3)]),
    ("einsum_triple_repeat", "iii->i", [(2, 2, 2)]),
    ("einsum_outer", "i,j->ij", [(3,), (4,)]),
    ("einsum_dot", "i,i->", [(5,), (5,)]),
    ("einsum_hadamard", "ij,ij->ij", [(2, 3), (2, 3)]),
    ("einsum_sum_all", "ij->", [(3, 4)]),
    ("einsum_sum_rows", "ij->j", [(3, 4)]),
    ("einsum_ellipsis_matmul", "...ij,...jk->...ik", [(2, 3, 4), (4, 2)]),
    ("einsum_ellipsis_implicit", "...ij,...jk", [(2, 1, 3, 4), (3, 4, 2)]),
    ("einsum_ellipsis_middle", "i...j->j...i", [(2, 3, 4, 5)]),
    ("einsum_ellipsis_summed", "...i->i", [(2, 3, 4)]),
    ("einsum_three_operands", "ij,jk,kl->il", [(2, 3), (3, 4), (4, 2)]),
    ("einsum_three_operands_shared", "bi,bj,bk->bijk", [(2, 3), (2, 2), (2, 2)]),
    ("einsum_bilinear", "bn,anm,bm->ba", [(2, 3), (4, 3, 5), (2, 5)]),
    ("einsum_attention", "bhqd,bhkd->bhqk", [(2, 2, 3, 4), (2, 2, 5, 4)]),
    ("einsum_broadcast_size_one", "ij,ij->i", [(3, 1), (3, 4)]),
    ("einsum_broadcast_kept", "ij,ij->ij", [(1, 4), (3, 4)]),
    ("einsum_diagonal_then_contract", "iij,jk->ik", [(3, 3, 2), (2, 4)]),
    ("einsum_unshared_sum", "ij,kl->ik", [(2, 3), (4, 5)]),
    ("einsum_zero_size_contracted", "ij,jk->ik", [(3, 0), (0, 2)]),
    ("einsum_zero_size_kept", "ij,jk->ik", [(0, 3), (3, 2)]),
    ("einsum_spaces", " i j , j k -> i k ", [(2, 3), (3, 2)]),
]
for name, eq, shapes in einsum_cases:
    case(name, shapes, lambda *xs, eq=eq: torch.einsum(eq, *xs))
    cases[name]["equation"] = eq

out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "product_ops.json")
with open(out, "w") as f:
    f.write(json.dumps({"torch": torch.__version__, "cases": cases}, indent=1, sort_keys=True) + "\n")
