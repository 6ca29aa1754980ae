#!/usr/bin/python3
"""PyTorch's values and first gradients for advanced indexing (x[...],
x[...] = v, index_put_ with accumulate) and the scatter family (scatter,
scatter_reduce, index_add, index_copy, index_fill, nonzero, masked_select,
any, all) (issue 14), for tests/autograd/test_index_ops.cpp.

Run with an interpreter that has torch (Debian's /usr/bin/python3 here):
    /usr/bin/python3 tests/reference/make_index_ops.py
It rewrites tests/reference/index_ops.json (format: op_cases.py). Ops of two
tensors (self and values/src) take one flat input x, cut into self (the
first n elements) and the other, so that x.grad holds both gradients.
"""

import torch

from op_cases import case, cases, write  # noqa: E402  (the shared case format)

torch.set_default_dtype(torch.float64)

X34 = [[0.5, -1.25, 2.0, 3.5], [-0.75, 1.5, -2.25, 0.25], [4.0, -3.0, 1.0, -0.5]]
X234 = [float((7 * v) % 11) - 5.0 for v in range(24)]
MASK34 = [[True, False, False, True], [False, False, True, False], [True, True, False, False]]


def x234():
    return torch.tensor(X234).reshape(2, 3, 4).requires_grad_(True)


def t(v):
    return torch.tensor(v)


def split(self_shape, other_shape, fn):
    """fn(self, other) on x = self's elements then other's."""
    n = 1
    for s in self_shape:
        n *= s

    def run(x):
        return fn(x[:n].reshape(self_shape), x[n:].reshape(other_shape))

    return run


def both(self_vals, other_vals):
    return torch.tensor([float(v) for v in self_vals] + [float(v) for v in other_vals]).requires_grad_(True)


def seq(n, start=1.0, step=0.5):
    return [start + step * i for i in range(n)]


def setitem(key, accumulate=False):
    def put(s, v):
        y = s.clone()
        if accumulate:
            y.index_put_(key, v, accumulate=True)
        else:
            y[key] = v
        return y
    return put


# ---- x[...] ---------------------------------------------------------------------
case("index_basic_slice_int", X34, lambda x: x[1:, 0])
case("index_basic_step", X34, lambda x: x[::2, 1:4:2])
case("index_basic_none_ellipsis", x234(), lambda x: x[..., None, -1])
case("index_basic_negative_int", X34, lambda x: x[-1])
case("index_tensor", X34, lambda x: x[t([2, 0, 2])])
case("index_tensor_negative", X34, lambda x: x[t([-1, -3])])
case("index_tensor_duplicates", X34, lambda x: x[t([1, 1, 1]), 2])
case("index_two_broadcast", X34, lambda x: x[t([[0], [2]]), t([1, 3, 0])])
case("index_separated_by_slice", x234(), lambda x: x[t([0, 1]), :, t([2, 0])])
case("index_adjacent_after_slice", x234(), lambda x: x[:, t([0, 2]), t([1, 1])])
case("index_int_between", x234(), lambda x: x[t([1, 0]), 1, t([0, 3])])
case("index_none_between", x234(), lambda x: x[t([0, 1]), None, t([2, 0])])
case("index_ellipsis_tensor", x234(), lambda x: x[..., t([0, 3])])
case("index_0d_tensor", X34, lambda x: x[t(1)])
case("index_mask_full", X34, lambda x: x[t(MASK34)])
case("index_mask_dim1", X34, lambda x: x[:, t([True, False, True, True])])
case("index_mask_empty", X34, lambda x: x[t([[False] * 4] * 3)])
case("index_mask_and_tensor", x234(), lambda x: x[t([True, False]), :, t([3, 1])])
case("index_bool_true", X34, lambda x: x[True])
case("index_bool_false", X34, lambda x: x[False])
case("index_empty_tensor", X34, lambda x: x[torch.tensor([], dtype=torch.long)])
case("index_zero_size", torch.zeros(2, 0).requires_grad_(True), lambda x: x[t([1, 0, 1])])

# ---- x[...] = v, index_put_ -----------------------------------------------------------
case("put_tensor", both(sum(X34, []), seq(8)), split((3, 4), (2, 4), setitem((t([0, 2]),))))
case("put_broadcast_values", both(sum(X34, []), seq(4)), split((3, 4), (4,), setitem((t([2, 1]),))))
case("put_two_tensors", both(sum(X34, []), seq(3)), split((3, 4), (3,), setitem((t([0, 2, 1]), t([3, 0, -1])))))
case("put_mask", both(sum(X34, []), seq(5)), split((3, 4), (5,), setitem((t(MASK34),))))
case("put_separated", both(X234, seq(6)), split((2, 3, 4), (2, 3), setitem((t([0, 1]), slice(None), t([2, 0])))))
case("put_basic", both(sum(X34, []), seq(2)), split((3, 4), (2,), setitem((slice(1, None), 2))))
case("put_accumulate_duplicates", both(sum(X34, []), seq(12)),
     split((3, 4), (3, 4), setitem((t([1, 1, 0]),), accumulate=True)))
case("put_accumulate_negative", both(sum(X34, []), seq(2)),
     split((3, 4), (2,), setitem((t([-1, -1]), t([0, 0])), accumulate=True)))
case("put_duplicates_last_wins", both(sum(X34, []), seq(3)), split((3, 4), (3,), setitem((t([1, 1, 1]), t([2, 2, 2])))))
case("put_empty_mask", both(sum(X34, []), seq(1)), split((3, 4), (1,), setitem((t([[False] * 4] * 3),))))

# ---- scatter and scatter_reduce ---------------------------------------------------------
IDX = t([[0, 3], [1, 1], [2, 0]])  # row 1 repeats a target
IDX_DISTINCT = t([[0, 3], [1, 2], [2, 0]])
SRC = [2.0, -1.0, 0.5, 3.0, -2.0, 1.5]
case("scatter_src", both(sum(X34, []), SRC), split((3, 4), (3, 2), lambda s, v: s.scatter(1, IDX_DISTINCT, v)))
# PyTorch 1.13 has no gradient when src is larger than index (ours pads it with zeros).
case("scatter_src_larger", torch.tensor(sum(X34, []) + seq(9)),
     split((3, 4), (3, 3), lambda s, v: s.scatter(1, IDX_DISTINCT, v)))
case("scatter_src_duplicates", torch.tensor(sum(X34, []) + SRC),
     split((3, 4), (3, 2), lambda s, v: s.scatter(1, IDX, v)))
case("scatter_value", X34, lambda x: x.scatter(0, t([[2, 0, 1, 2]]), 2.5))
case("scatter_reduce_add", torch.tensor(sum(X34, []) + SRC),
     split((3, 4), (3, 2), lambda s, v: s.scatter(1, IDX, v, reduce="add")))
case("scatter_reduce_multiply", torch.tensor(sum(X34, []) + SRC),
     split((3, 4), (3, 2), lambda s, v: s.scatter(1, IDX, v, reduce="multiply")))
case("scatter_value_multiply", torch.tensor(X34), lambda x: x.scatter(1, IDX, 3.0, reduce="multiply"))

# Ties for amax/amin (the 2.0 in self row 0 meets src's 2.0) and zeros for prod.
SELF_R = [2.0, 1.0, 0.0, -1.0, 3.0, 0.5, -2.0, 4.0, 1.0, 0.0, 2.0, -0.5]
SRC_R = [2.0, -1.0, 0.0, 0.0, 3.0, 2.5, 0.0, 1.5, -1.0]
IDX_R = t([[0, 3, 0], [2, 2, 1], [3, 0, 3]])
for reduce in ["sum", "prod", "mean", "amax", "amin"]:
    for include_self in [True, False]:
        case(f"scatter_reduce_{reduce}_{'self' if include_self else 'noself'}", both(SELF_R, SRC_R),
             split((3, 4), (3, 3), lambda s, v, r=reduce, i=include_self: s.scatter_reduce(1, IDX_R, v, r, include_self=i)))
case("scatter_reduce_mean_dim0", both(X234, seq(8)),
     split((2, 3, 4), (1, 2, 4), lambda s, v: s.scatter_reduce(0, t([[[1, 0, 1, 1], [0, 0, 1, 0]]]), v, "mean")))
case("scatter_reduce_empty_index", both(sum(X34, []), []),
     split((3, 4), (0, 0), lambda s, v: s.scatter_reduce(1, torch.zeros(0, 0, dtype=torch.long), v, "amax")))

# ---- index_add, index_copy, index_fill --------------------------------------------
case("index_add_duplicates", both(sum(X34, []), seq(12)),
     split((3, 4), (3, 4), lambda s, v: s.index_add(0, t([2, 0, 2]), v, alpha=2.0)))
case("index_add_dim1", both(X234, seq(12)), split((2, 3, 4), (2, 3, 2), lambda s, v: s.index_add(2, t([3, 1]), v)))
case("index_copy", both(sum(X34, []), seq(6)), split((3, 4), (3, 2), lambda s, v: s.index_copy(1, t([3, 0]), v)))
case("index_copy_0d_index", both(sum(X34, []), seq(4)),
     split((3, 4), (1, 4), lambda s, v: s.index_copy(0, t([1]), v)))
case("index_fill_negative", X34, lambda x: x.index_fill(1, t([-1, 0]), -7.5))
case("index_fill_dim0", x234(), lambda x: x.index_fill(1, t([1]), 2.0))

# ---- nonzero, argwhere, masked_select, any, all -----------------------------------------
ZEROS = [[0.0, 1.5, 0.0, -2.0], [0.0, 0.0, 0.0, 0.0], [3.0, 0.0, float("nan"), 0.0]]
case("nonzero", torch.tensor(ZEROS), lambda x: torch.nonzero(x))
case("nonzero_none", torch.zeros(2, 3), lambda x: torch.nonzero(x))
case("nonzero_0d", torch.tensor(2.0), lambda x: torch.nonzero(x))
case("argwhere_3d", torch.tensor(X234).reshape(2, 3, 4) > 2, lambda x: torch.argwhere(x))
case("masked_select", X34, lambda x: torch.masked_select(x, t(MASK34)))
case("masked_select_broadcast", X34, lambda x: torch.masked_select(x, t([[True], [False], [True]])))
case("masked_select_empty", X34, lambda x: torch.masked_select(x, t([False] * 4)))
case("any_all_whole", torch.tensor(ZEROS), lambda x: [torch.any(x), torch.all(x), torch.all(x != 7)])
case("any_dim1", torch.tensor(ZEROS), lambda x: [torch.any(x, 1), torch.all(x, 1)])
case("any_dim0_keepdim", torch.tensor(ZEROS), lambda x: [torch.any(x, 0, keepdim=True), torch.all(x, 0, keepdim=True)])
case("any_empty", torch.zeros(0, 3), lambda x: [torch.any(x), torch.all(x), torch.any(x, 0), torch.all(x, 0)])

write("index_ops.json")
