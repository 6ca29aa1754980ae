#!/usr/bin/python3
"""PyTorch's values, indices and first gradients for the shape ops, scans and
order statistics of issue 14, for tests/autograd/test_shape_ops.cpp.

Run with an interpreter that has torch (Debian's /usr/bin/python3 here):
    /usr/bin/python3 tests/reference/make_shape_ops.py
It rewrites tests/reference/shape_ops.json. Each case is written out again in
C++ in the test with the same name, input and op. For every case the JSON
holds the output's shape and values (the first output of a tuple), its
indices when the op has them, and x.grad for the loss sum(y * w) with
w = 1, 2, 3, ... in y's shape (row-major), so each output element has its own
weight; a list-returning op's pieces are weighted one after the other.
"""

import torch

torch.set_default_dtype(torch.float64)

NAN = float("nan")

X34 = [[0.5, -1.25, 2.0, 3.5], [-0.75, 1.5, -2.25, 0.25], [4.0, -3.0, 1.0, -0.5]]
X234 = [float(v) for v in range(24)]
X_TIES = [3.0, 1.0, 2.0, 1.0, 3.0, 2.0, 1.0]
X_RUN = [1.0, 3.0, 3.0, 2.0, 5.0, 5.0, 0.0, 6.0]
X_ZEROS = [[2.0, 0.0, 3.0, 4.0], [0.0, 0.0, 1.5, 2.0], [1.0, -2.0, 0.5, 3.0], [0.0, 1.5, -1.0, 2.5]]
# Rows with no zero, one in the middle, one first, one last, two, three.
X_ZERO_ROWS = [[1.5, -2.0, 0.5, 3.0, -1.0], [2.0, 0.5, 0.0, 3.0, -1.5], [0.0, 2.0, -1.0, 0.5, 3.0],
               [2.0, -1.0, 0.5, 3.0, 0.0], [1.5, 0.0, 2.0, 0.0, -3.0], [0.0, 0.0, 2.0, 0.0, 1.0]]


from op_cases import case, cases, flat, write  # noqa: E402,F401  (the shared case format)


def x234():
    return torch.tensor(X234).reshape(2, 3, 4).requires_grad_(True)


# ---- shape -----------------------------------------------------------------
case("tril", X34, lambda x: torch.tril(x))
case("tril_minus1", X34, lambda x: torch.tril(x, -1))
case("tril_5", X34, lambda x: torch.tril(x, 5))
case("triu_1", X34, lambda x: torch.triu(x, 1))
case("triu_minus2", X34, lambda x: torch.triu(x, -2))
case("triu_batched", x234(), lambda x: torch.triu(x))
case("diagonal_1_0_2", x234(), lambda x: torch.diagonal(x, 1, 0, 2))
case("diagonal_minus1_minus1_1", x234(), lambda x: torch.diagonal(x, -1, -1, 1))
case("diagonal_past_the_end", X34, lambda x: torch.diagonal(x, 4))
case("diag_vector", [1.0, -2.0, 3.0], lambda x: torch.diag(x))
case("diag_vector_minus2", [1.0, -2.0, 3.0], lambda x: torch.diag(x, -2))
case("diag_matrix_1", X34, lambda x: torch.diag(x, 1))
case("diag_matrix_minus2", X34, lambda x: torch.diag(x, -2))
case("trace", X34, lambda x: torch.trace(x))
case("repeat", [[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]], lambda x: x.repeat(2, 1, 3))
case("repeat_zero", [[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]], lambda x: x.repeat(0, 2))
case("flip", x234(), lambda x: torch.flip(x, [0, -1]))
case("roll_dims", X34, lambda x: torch.roll(x, (1, -5), (0, 1)))
case("roll_flat", X34, lambda x: torch.roll(x, 3))
case("roll_negative_flat", X34, lambda x: torch.roll(x, -14))
case("split_sizes", torch.tensor(X234[:15]).reshape(5, 3).requires_grad_(True),
     lambda x: list(torch.split(x, [1, 0, 3, 1], 0)))
case("split_sizes_dim_minus1", X34, lambda x: list(torch.split(x, [3, 1], -1)))
case("unbind", X34, lambda x: list(torch.unbind(x, 1)))
case("movedim_lists", x234(), lambda x: torch.movedim(x, (0, 1), (2, 0)))
case("movedim_one", x234(), lambda x: torch.movedim(x, 0, -1))
case("unflatten", torch.tensor(X234[:12]).reshape(6, 2).requires_grad_(True),
     lambda x: torch.unflatten(x, 0, (2, -1)))
case("meshgrid_ij", [1.0, 2.0, 3.0], lambda x: list(torch.meshgrid(x, x[:2] * 2, indexing="ij")))
case("meshgrid_xy", [1.0, 2.0, 3.0], lambda x: list(torch.meshgrid(x, x[:2] * 2, indexing="xy")))

# ---- scans -----------------------------------------------------------------
case("cumsum_1", X34, lambda x: torch.cumsum(x, 1))
case("cumsum_minus2", X34, lambda x: torch.cumsum(x, -2))
case("cumsum_empty", torch.zeros(0, 3, requires_grad=True), lambda x: torch.cumsum(x, 0))
case("cumprod_1", X34, lambda x: torch.cumprod(x, 1))
case("cumprod_zeros_1", X_ZEROS, lambda x: torch.cumprod(x, 1))
case("cumprod_zeros_0", X_ZEROS, lambda x: torch.cumprod(x, 0))
case("cumprod_zero_rows_1", X_ZERO_ROWS, lambda x: torch.cumprod(x, 1))
case("cumprod_zero_rows_0", X_ZERO_ROWS, lambda x: torch.cumprod(x, 0))
case("logcumsumexp_1", X34, lambda x: torch.logcumsumexp(x, 1))
case("logcumsumexp_wide", [-1000.0, 1000.0, 3.0, 999.0], lambda x: torch.logcumsumexp(x, 0))
case("cummax", X_RUN, lambda x: torch.cummax(x, 0))
case("cummin", X_RUN, lambda x: torch.cummin(x, 0))
case("cummax_minus1", X34, lambda x: torch.cummax(x, -1))
case("cummin_0", X34, lambda x: torch.cummin(x, 0))
case("cummax_nan", [1.0, NAN, 3.0, 0.0], lambda x: torch.cummax(x.detach(), 0))

# ---- order statistics ------------------------------------------------------
case("sort_stable", X_TIES, lambda x: torch.sort(x, stable=True))
case("sort_stable_descending", X_TIES, lambda x: torch.sort(x, dim=0, descending=True, stable=True))
case("sort_minus2", X34, lambda x: torch.sort(x, -2))
case("sort_nan", [2.0, NAN, -1.0, 5.0], lambda x: torch.sort(x.detach()))
case("sort_nan_descending", [2.0, NAN, -1.0, 5.0], lambda x: torch.sort(x.detach(), descending=True))
case("sort_empty", torch.zeros(2, 0, requires_grad=True), lambda x: torch.sort(x, 1))
case("argsort_stable", X_TIES, lambda x: torch.argsort(x, stable=True).double())
case("argsort_descending", X34, lambda x: torch.argsort(x, 1, descending=True).double())
case("msort", X34, lambda x: torch.msort(x))
case("topk_2", X34, lambda x: torch.topk(x, 2))
case("topk_0", X34, lambda x: torch.topk(x, 0))
case("topk_smallest_0", X34, lambda x: torch.topk(x, 2, 0, largest=False))
case("topk_all", [3.0, -1.0, 2.0], lambda x: torch.topk(x, 3))
case("kthvalue_2", X34, lambda x: torch.kthvalue(x, 2))
case("kthvalue_keepdim_0", X34, lambda x: torch.kthvalue(x, 3, 0, keepdim=True))
case("median_all_even", X34, lambda x: torch.median(x))
case("median_all_odd", [3.0, -1.0, 2.0, 7.0, 0.0], lambda x: torch.median(x))
case("median_dim_1", X34, lambda x: torch.median(x, 1))
case("median_dim_minus2_keepdim", X34, lambda x: torch.median(x, -2, keepdim=True))
case("median_nan", [[1.0, NAN, 3.0, NAN], [2.0, 0.0, 1.0, 5.0]], lambda x: torch.median(x.detach(), 1))
case("median_all_nan", [1.0, NAN, 3.0], lambda x: torch.median(x.detach()))
# The median of everything shares its gradient among the elements equal to it.
case("median_all_ties", X_TIES, lambda x: torch.median(x))
case("median_all_ties_2d", [[2.0, 1.0, 2.0], [2.0, 3.0, 0.0]], lambda x: torch.median(x))
case("median_all_nan_grad", [1.0, NAN, 3.0, NAN], lambda x: torch.median(x))
case("median_ties_values", X_TIES, lambda x: torch.median(x, 0).values)
case("kthvalue_ties_values", X_TIES, lambda x: torch.kthvalue(x, 4).values)

# ---- 0-d inputs: one element along dim 0 or -1 -------------------------------
case("sort_scalar", 2.5, lambda x: torch.sort(x, -1))
case("cumprod_scalar", 2.5, lambda x: torch.cumprod(x, 0))
case("logcumsumexp_scalar", 2.5, lambda x: torch.logcumsumexp(x, 0))
case("kthvalue_scalar", 2.5, lambda x: torch.kthvalue(x, 1))
case("cummax_scalar", 2.5, lambda x: torch.cummax(x, 0))
case("median_scalar", 2.5, lambda x: torch.median(x))
case("topk_scalar", 2.5, lambda x: torch.topk(x, 1))
case("topk_scalar_0", 2.5, lambda x: torch.topk(x, 0))


write("shape_ops.json")
