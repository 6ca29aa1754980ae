#!/usr/bin/python3
"""PyTorch's values and gradients for the in-place math ops, for tests/autograd/test_inplace_math.cpp.

Run with an interpreter that has torch (Debian's /usr/bin/python3 here):
    /usr/bin/python3 tests/reference/make_inplace_math_reference.py
It rewrites tests/reference/inplace_math.json. Each case is written out again
in C++ in the test, with the same name, inputs and ops; the JSON holds the
values and gradients (flattened, row-major) PyTorch computes for it.

Every case runs the op in place on a non-leaf (y = x * 1), or on a strided
view of one, then takes loss = sum(y * y * weights), so each element gets a
gradient of its own.
"""
import json
import os

import torch

torch.set_default_dtype(torch.float64)

X = [-1.3, 0.4, 2.2, -0.7, 1.6, 0.9]  # no halves (round), away from 0 (abs, sign, reciprocal)
XP = [0.6, 1.3, 2.2, 0.8, 1.7, 0.9]  # positive: log, sqrt, rsqrt, pow with a real exponent


def t(values, shape, grad=False, dtype=torch.float64):
    return torch.tensor(values, dtype=dtype).reshape(shape).requires_grad_(grad)


def weights(shape):
    n = 1
    for s in shape:
        n *= s
    return torch.arange(1, n + 1, dtype=torch.float64).reshape(shape)


def flat(x):
    return [float(v) for v in x.detach().reshape(-1).tolist()]


def loss(y):
    return (y * y * weights(y.shape)).sum()


# name -> (input values, the in-place op)
UNARY = {
    "neg_": (X, lambda y: y.neg_()),
    "abs_": (X, lambda y: y.abs_()),
    "exp_": (X, lambda y: y.exp_()),
    "log_": (XP, lambda y: y.log_()),
    "sqrt_": (XP, lambda y: y.sqrt_()),
    "rsqrt_": (XP, lambda y: y.rsqrt_()),
    "sigmoid_": (X, lambda y: y.sigmoid_()),
    "tanh_": (X, lambda y: y.tanh_()),
    "sin_": (X, lambda y: y.sin_()),
    "cos_": (X, lambda y: y.cos_()),
    "reciprocal_": (X, lambda y: y.reciprocal_()),
    "floor_": (X, lambda y: y.floor_()),
    "ceil_": (X, lambda y: y.ceil_()),
    "round_": (X, lambda y: y.round_()),
    "trunc_": (X, lambda y: y.trunc_()),
    "sign_": (X, lambda y: y.sign_()),
    "square_": (X, lambda y: y.square_()),
    "pow_ 2.5": (XP, lambda y: y.pow_(2.5)),
    "pow_ 3": (X, lambda y: y.pow_(3)),
    "clamp_min_": (X, lambda y: y.clamp_min_(-0.3)),
    "clamp_max_": (X, lambda y: y.clamp_max_(0.4)),
}

cases = {}

for name, (values, op) in UNARY.items():
    # On the whole non-leaf.
    x = t(values, [2, 3], grad=True)
    y = x * 1
    op(y)
    loss(y).backward()
    out = {"y": flat(y), "x.grad": flat(x.grad)}
    # On a view with a step of a non-leaf: y[:, ::2].
    x = t(values, [2, 3], grad=True)
    y = x * 1
    op(y[:, ::2])
    loss(y).backward()
    out["view y"] = flat(y)
    out["view x.grad"] = flat(x.grad)
    # float32 values.
    y32 = t(values, [2, 3], dtype=torch.float32)
    op(y32)
    out["y32"] = flat(y32)
    cases[name] = out

E3 = [1.5, -0.5, 2.0]
T1 = [0.3, -1.2, 0.8, 2.0, -0.4, 1.1]
T2 = [1.7, -0.6, 0.9]  # away from 0: addcdiv's divisor
W23 = [0.1, 0.9, 0.35, -0.2, 0.6, 1.3]


def binary_case(op, with_inputs):
    """op(y, *others) in place on y = x * 1; gradients of x and of each other operand."""
    x = t(with_inputs[0], [2, 3], grad=True)
    others = [t(v, s, grad=True) for v, s in with_inputs[1:]]
    y = x * 1
    op(y, *others)
    loss(y).backward()
    out = {"y": flat(y), "x.grad": flat(x.grad)}
    for i, o in enumerate(others):
        out[f"o{i}.grad"] = flat(o.grad)
    return out


cases["pow_ tensor"] = binary_case(lambda y, e: y.pow_(e), [XP, (E3, [3])])
cases["addcmul_"] = binary_case(lambda y, a, b: y.addcmul_(a, b, value=0.5), [X, (T1, [2, 3]), (T2, [3])])
cases["addcmul_ default"] = binary_case(lambda y, a, b: y.addcmul_(a, b), [X, (T2, [3]), (T1, [2, 3])])
cases["addcdiv_"] = binary_case(lambda y, a, b: y.addcdiv_(a, b, value=-2), [X, (T1, [2, 3]), (T2, [3])])
cases["lerp_ scalar"] = binary_case(lambda y, e: y.lerp_(e, 0.3), [X, (T1, [2, 3])])
cases["lerp_ tensor"] = binary_case(lambda y, e, w: y.lerp_(e, w), [X, (T2, [3]), (W23, [2, 3])])
# The out-of-place ops, on leaves.
for name, fn, value in (("addcmul", torch.addcmul, 0.5), ("addcdiv", torch.addcdiv, -2.0)):
    i = t(X, [2, 3], grad=True)
    a = t(T1, [2, 3], grad=True)
    b = t(T2, [3], grad=True)
    y = fn(i, a, b, value=value)
    loss(y).backward()
    cases[name] = {"y": flat(y), "input.grad": flat(i.grad), "tensor1.grad": flat(a.grad), "tensor2.grad": flat(b.grad)}

# An exponent overlapping the tensor being modified: PyTorch refuses a.pow_(a.t())
# (partial overlap), so the expected values are the out-of-place a ** a.t().
x = t([0.5, 1.2, 0.7, 1.9, 0.3, 1.4, 0.8, 1.1, 2.0], [3, 3], grad=True)
y = x * 1
z = y ** y.t()
loss(z).backward()
cases["pow_ overlap"] = {"y": flat(z), "x.grad": flat(x.grad)}

path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "inplace_math.json")
with open(path, "w") as f:
    json.dump({"generator": "tests/reference/make_inplace_math_reference.py", "torch": torch.__version__,
               "cases": cases}, f, indent=1)
    f.write("\n")
print(f"wrote {len(cases)} cases to {path}")
