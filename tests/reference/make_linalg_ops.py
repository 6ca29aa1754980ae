#!/usr/bin/python3
"""PyTorch's values and first gradients for torch.linalg (issue 14), for
tests/autograd/test_linalg.cpp.

Run with an interpreter that has torch (Debian's /usr/bin/python3 here):
    /usr/bin/python3 tests/reference/make_linalg_ops.py
It rewrites tests/reference/linalg_ops.json in the format of op_cases.py:
each case's outputs (shapes, values) and x.grad for the loss sum(y * w),
w = 1, 2, 3, ... over the outputs one after the other. The test builds the
same input with the same formula (mat below) and applies the same function.

Two-operand ops take one input x = [A | B] split along the last dim, so one
gradient covers both. Factorizations whose factors have a free sign (eigh,
svd) are compared on sign-free functions of them, as PyTorch's own tests do:
eigenvalues, singular values, V * V elementwise, and reconstructions.
"""

import torch

torch.set_default_dtype(torch.float64)

from op_cases import case, write  # noqa: E402  (the shared case format)


def mat(shape, seed, shift=0.0):
    """Deterministic values ((7 k + 3 seed) mod 11 - 5) / 4, plus `shift` on
    the diagonal of each (square part of a) matrix."""
    n = 1
    for s in shape:
        n *= s
    v = torch.tensor([((7 * k + 3 * seed) % 11 - 5) / 4.0 for k in range(n)]).reshape(shape)
    if shift != 0.0 and len(shape) >= 2:
        k = min(shape[-1], shape[-2])
        v[..., range(k), range(k)] += shift
    return v.requires_grad_(True)


def sym(x):
    return x + x.mT


def spd(x):
    return x @ x.mT + torch.eye(x.shape[-1])


L = torch.linalg

# ---- solve, inv ----------------------------------------------------------------
case("solve_batched", mat((2, 3, 5), 1, 3.0), lambda x: L.solve(x[..., :3], x[..., 3:]))
case("solve_vector", mat((3, 4), 2, 3.0), lambda x: L.solve(x[:, :3], x[:, 3]))
case("solve_batched_vector", mat((2, 3, 4), 3, 3.0), lambda x: L.solve(x[..., :3], x[..., 3]))
case("solve_zero_batch", mat((0, 3, 4), 0), lambda x: L.solve(x[..., :3], x[..., 3:]))
case("inv", mat((3, 3), 4, 2.0), lambda x: L.inv(x))
case("inv_batched", mat((2, 2, 3, 3), 5, 2.5), lambda x: L.inv(x))
case("inv_zero_batch", mat((0, 2, 2), 0), lambda x: L.inv(x))

# ---- det, slogdet ----------------------------------------------------------------
case("det_batched", mat((2, 3, 3), 6, 1.0), lambda x: L.det(x))
case("det_singular", torch.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0], [7.0, 8.0, 9.0]]).requires_grad_(True),
     lambda x: L.det(x))
case("det_singular_zero_row", torch.tensor([[1.0, 2.0, 3.0], [0.0, 0.0, 0.0], [7.0, -8.0, 0.5]]).requires_grad_(True),
     lambda x: L.det(x))
case("det_mixed_batch", torch.tensor([[[1.0, 2.0], [2.0, 4.0]], [[2.0, 1.0], [-1.0, 3.0]]]).requires_grad_(True),
     lambda x: L.det(x))
case("det_empty_matrix", mat((2, 0, 0), 0), lambda x: L.det(x))
case("det_zero_batch", mat((0, 3, 3), 0), lambda x: L.det(x))
case("slogdet_batched", mat((2, 3, 3), 7, 0.5), lambda x: list(L.slogdet(x)))
case("slogdet_negative", torch.tensor([[0.0, 1.0], [1.0, 0.5]]).requires_grad_(True), lambda x: list(L.slogdet(x)))

# ---- cholesky, cholesky_solve ----------------------------------------------------
case("cholesky", mat((3, 3), 8), lambda x: L.cholesky(spd(x)))
case("cholesky_batched", mat((2, 4, 4), 9), lambda x: L.cholesky(spd(x)))
case("cholesky_upper", mat((3, 3), 10), lambda x: L.cholesky(spd(x), upper=True))
case("cholesky_lower_triangle_only", mat((3, 3), 11, 4.0), lambda x: L.cholesky(x))
case("cholesky_zero_batch", mat((0, 2, 2), 0), lambda x: L.cholesky(x))
# x = [B | L0]; the factor is tril(L0) with a positive diagonal.
case("cholesky_solve", mat((3, 5), 12, 3.0),
     lambda x: torch.cholesky_solve(x[:, :2], torch.tril(x[:, 2:]) + 2 * torch.eye(3)))
case("cholesky_solve_batched_upper", mat((2, 3, 4), 13, 3.0),
     lambda x: torch.cholesky_solve(x[..., 3:], torch.triu(x[..., :3]) + 2 * torch.eye(3), upper=True))

# ---- qr --------------------------------------------------------------------------
case("qr_reduced_tall", mat((4, 3), 14, 2.0), lambda x: list(L.qr(x)))
case("qr_reduced_batched_square", mat((2, 3, 3), 15, 2.0), lambda x: list(L.qr(x)))
case("qr_reduced_wide", mat((3, 5), 16, 2.0), lambda x: list(L.qr(x)))
case("qr_complete_wide", mat((2, 4), 17, 2.0), lambda x: list(L.qr(x, mode="complete")))
case("qr_complete_tall_values", mat((4, 2), 18, 2.0).detach(), lambda x: list(L.qr(x, mode="complete")))
case("qr_r_values", mat((4, 3), 19, 2.0).detach(), lambda x: [L.qr(x, mode="r")[1]])

# ---- eigh --------------------------------------------------------------------------
SPREAD3 = torch.diag(torch.tensor([0.0, 3.0, 6.0]))
case("eigh", mat((3, 3), 20), lambda x: (lambda w, V: [w, V * V])(*L.eigh(sym(x) + SPREAD3)))
case("eigh_batched_upper", mat((2, 3, 3), 21),
     lambda x: (lambda w, V: [w, V * V])(*L.eigh(sym(x) + SPREAD3, UPLO="U")))
case("eigh_reconstruct", mat((3, 3), 22),
     lambda x: (lambda w, V: [V @ torch.diag_embed(w * w) @ V.mT])(*L.eigh(sym(x) + SPREAD3)))
case("eigh_values_only", mat((4, 4), 23), lambda x: [L.eigh(sym(x))[0]])

# ---- svd, svdvals ------------------------------------------------------------------
def svd_invariants(x, full_matrices=False):
    U, S, Vh = L.svd(x, full_matrices=full_matrices)
    k = S.shape[-1]
    return [S, U[..., :k] * U[..., :k], Vh[..., :k, :] * Vh[..., :k, :]]


case("svd_tall", mat((4, 3), 24, 1.5), lambda x: svd_invariants(x))
case("svd_wide", mat((3, 5), 25, 1.5), lambda x: svd_invariants(x))
case("svd_batched_square", mat((2, 3, 3), 26, 1.5), lambda x: svd_invariants(x))
case("svd_full_tall", mat((4, 2), 27, 1.5), lambda x: svd_invariants(x, True))
case("svd_reconstruct_cubed", mat((3, 4), 28, 1.0),
     lambda x: (lambda U, S, Vh: [U @ torch.diag_embed(S ** 3) @ Vh])(*L.svd(x, full_matrices=False)))
case("svdvals", mat((2, 4, 3), 29, 1.0), lambda x: L.svdvals(x))

# ---- pinv, lstsq -------------------------------------------------------------------
case("pinv_tall", mat((4, 3), 30, 1.0), lambda x: L.pinv(x))
case("pinv_wide_batched", mat((2, 2, 3), 31, 1.0), lambda x: L.pinv(x))
case("pinv_rank_deficient", torch.tensor([[1.0, 2.0, 0.0], [3.0, 4.0, 0.0]]).requires_grad_(True),
     lambda x: L.pinv(x))
case("lstsq_tall", mat((5, 5), 32, 1.0), lambda x: [L.lstsq(x[:, :3], x[:, 3:]).solution])
# Underdetermined: torch 1.13's gelsy returns one of the solutions, not always
# the minimum-norm one (it differs with B's memory layout for this very input);
# its gradient is that of pinv(A) @ B. We return the minimum-norm solution.
case("lstsq_batched_wide", mat((2, 2, 4), 40, 1.0), lambda x: [L.pinv(x[..., :3]) @ x[..., 3:]])

# ---- vector_norm, matrix_norm --------------------------------------------------------
X = mat((2, 3, 4), 34)
for name, ord_ in [("2", 2), ("1", 1), ("inf", float("inf")), ("neg_inf", float("-inf")), ("0", 0),
                   ("3", 3), ("half", 0.5)]:
    case("vector_norm_" + name, mat((2, 3, 4), 34), lambda x, o=ord_: L.vector_norm(x, o))
case("vector_norm_dim_keepdim", mat((2, 3, 4), 35), lambda x: L.vector_norm(x, 3, dim=(0, 2), keepdim=True))
case("vector_norm_dim", mat((2, 3, 4), 36), lambda x: L.vector_norm(x, 2, dim=1))
for name, ord_ in [("fro", "fro"), ("nuc", "nuc"), ("1", 1), ("neg1", -1), ("2", 2), ("neg2", -2),
                   ("inf", float("inf")), ("neg_inf", float("-inf"))]:
    case("matrix_norm_" + name, mat((2, 3, 4), 37), lambda x, o=ord_: L.matrix_norm(x, o))
case("matrix_norm_dims_keepdim", mat((2, 3, 4), 38), lambda x: L.matrix_norm(x, "nuc", dim=(2, 0), keepdim=True))
case("matrix_norm_inf_dims", mat((2, 3, 4), 39), lambda x: L.matrix_norm(x, float("inf"), dim=(0, 1)))

write("linalg_ops.json")
