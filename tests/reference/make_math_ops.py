#!/usr/bin/python3
"""PyTorch's values and first gradients for the math functions and activations of
issue 14, for tests/autograd/test_math_ops.cpp.

Run with an interpreter that has torch (Debian's /usr/bin/python3 here):
    /usr/bin/python3 tests/reference/make_math_ops.py
It rewrites tests/reference/math_ops.json. Each case holds its inputs (float64
unless "dtype" says otherwise, flattened row-major, with their shapes), the
op's non-tensor arguments as the C++ test passes them (the test names the same
call for each case), the result ("y", and "y_dtype"), and, for floating inputs,
the gradient of sum(y * w), w = 1, 2, 3, ... in y's shape, for each input
("grads"). JSON has no NaN or infinities: they are written as the strings
"nan", "inf" and "-inf".
"""
import json
import os

import torch
import torch.nn.functional as F

NAN, INF = float("nan"), float("inf")
cases = {}


from op_cases import enc, flat_enc as flat  # noqa: E402  (NaN and infinities as strings)


DTYPES = {"float64": torch.float64, "float32": torch.float32, "int64": torch.int64, "bool": torch.bool}
NAMES = {v: k for k, v in DTYPES.items()}


def case(name, fn, inputs, shapes=None, dtype="float64"):
    """inputs: lists of values; shapes: their shapes (default: 1-D)."""
    shapes = shapes or [[len(v)] for v in inputs]
    ts = []
    for v, s in zip(inputs, shapes):
        t = torch.tensor(v, dtype=DTYPES[dtype]).reshape(s)
        if t.is_floating_point():
            t.requires_grad_(True)
        ts.append(t)
    y = fn(*ts)
    entry = {
        "dtype": dtype,
        "inputs": [[enc(x) for x in torch.tensor(v, dtype=torch.float64).reshape(-1).tolist()] for v in inputs],
        "shapes": shapes,
        "y": flat(y),
        "y_shape": list(y.shape),
        "y_dtype": NAMES[y.dtype],
    }
    if y.requires_grad:
        w = torch.arange(1, y.numel() + 1, dtype=y.dtype).reshape(y.shape)
        grads = torch.autograd.grad((y * w).sum(), ts, allow_unused=True)
        entry["grads"] = [flat(g) if g is not None else flat(torch.zeros_like(t)) for g, t in zip(grads, ts)]
    assert name not in cases, name
    cases[name] = entry


# ---- real functions: edge values (0, negative, large, inf, nan) ----
GENERAL = [0.0, -0.5, 1.25, -3.0, 20.0, 1e-8, INF, -INF, NAN]
UNIT = [0.0, -0.5, 0.25, 0.999, -0.9999, 1.0, -1.0, 1.5, NAN]
for name in ["sin", "cos", "tan", "atan", "sinh", "cosh", "asinh", "erf", "erfc", "expm1", "exp2"]:
    case(name, getattr(torch, name), [GENERAL])
for name in ["asin", "acos", "atanh", "erfinv"]:
    case(name, getattr(torch, name), [UNIT])
TAIL = [1e-300, 0.3, 0.7, 0.99, 0.999999, -0.99999999, 1 - 2**-52]
case("erfinv/tail", torch.erfinv, [TAIL])
# PyTorch's erfinv polishes its approximation with Newton steps on erf(y) - x,
# which near +-1 loses the digits of 1 - x: at 1 - 2^-52 it is off by 6e-5
# relative, at -0.99999999 by 6e-11. This case's values and gradients come
# from mpmath at 40 digits instead (dx = sqrt(pi)/2 exp(y^2) w).
import mpmath  # noqa: E402  (Debian: python3-mpmath, a dependency of python3-sympy/torch)
mpmath.mp.dps = 40
_y = [mpmath.erfinv(mpmath.mpf(v)) for v in TAIL]
cases["erfinv/tail"]["y"] = [enc(float(v)) for v in _y]
cases["erfinv/tail"]["grads"] = [[enc(float(mpmath.sqrt(mpmath.pi) / 2 * mpmath.exp(v * v) * (i + 1)))
                                  for i, v in enumerate(_y)]]
cases["erfinv/tail"]["source"] = "mpmath"
case("acosh", torch.acosh, [[1.0, 1.5, 3.0, 100.0, 0.5, INF, NAN]])
for name in ["log2", "log10"]:
    case(name, getattr(torch, name), [[1.0, 0.5, 8.0, 1e-300, 0.0, -1.0, INF, NAN]])
case("reciprocal", torch.reciprocal, [[2.0, -0.5, 0.0, -0.0, 1e-3, INF, -INF, NAN]])
ROUNDING = [-2.5, -1.5, -0.5, 0.5, 1.5, 2.5, 2.7, -2.7, 0.0, 1e300, INF, NAN]
for name in ["floor", "ceil", "round", "trunc", "frac"]:
    case(name, getattr(torch, name), [ROUNDING])
DEC = [1.2345, -1.2355, 0.125, 1234.5, -1250.0, 2.5e-3, INF, NAN]
case("round/decimals 2", lambda x: torch.round(x, decimals=2), [DEC])
case("round/decimals -2", lambda x: torch.round(x, decimals=-2), [DEC])
case("round/float32 decimals 1", lambda x: torch.round(x, decimals=1), [DEC], dtype="float32")
# Integer and bool inputs: float32 results for the real functions, int64 kept by rounding.
for name in ["sin", "reciprocal", "erfinv", "exp2"]:
    case(name + "/int64", getattr(torch, name), [[1, -2, 0, 3]], dtype="int64")
case("log2/bool", torch.log2, [[1, 0]], dtype="bool")
for name in ["floor", "round"]:
    case(name + "/int64", getattr(torch, name), [[1, -2, 0, 3]], dtype="int64")

# ---- binary functions ----
case("atan2", torch.atan2, [[0.0, 1.0, -1.0, 0.0, 2.0, -3.0, INF, 1.0, 0.0, -0.0],
                            [1.0, 0.0, 0.0, -1.0, 3.0, -0.5, INF, NAN, 0.0, -1.0]])
case("atan2/broadcast", torch.atan2, [[1.0, -2.0, 3.0, 0.5, -0.5, 4.0], [2.0, -1.0, 0.5]], [[2, 3], [3]])
case("atan2/int64", torch.atan2, [[1, -2, 0], [2, 2, -3]], dtype="int64")
case("hypot", torch.hypot, [[3.0, -5.0, 0.0, 1e200, INF, 1.0, -INF], [4.0, 12.0, 0.0, 1e200, NAN, -1.0, 2.0]])
FA = [5.5, -5.5, 5.5, -5.5, 3.0, 0.0, 7.0, INF, -0.0, 1e-300]
FB = [2.0, 2.0, -2.0, -2.0, 0.0, 1.5, INF, 2.0, 3.0, 0.75]
case("fmod", torch.fmod, [FA, FB])
case("remainder", torch.remainder, [FA, FB])
case("fmod/broadcast", torch.fmod, [[4.5, -7.25, 1.0, 9.0, -2.0, 0.5], [1.5, -2.0]], [[3, 2], [2]])
case("remainder/broadcast", torch.remainder, [[4.5, -7.25, 1.0, 9.0, -2.0, 0.5], [1.5, -2.0]], [[3, 2], [2]])
case("fmod/int64", torch.fmod, [[5, -5, 5, -5, 7, 0], [3, 3, -3, -3, 7, 2]], dtype="int64")
case("remainder/int64", torch.remainder, [[5, -5, 5, -5, 7, 0], [3, 3, -3, -3, 7, 2]], dtype="int64")
case("fmod/scalar 1.5", lambda a: torch.fmod(a, 1.5), [FA])
case("remainder/scalar -1.5", lambda a: torch.remainder(a, -1.5), [FA])
case("remainder/int64 scalar 3", lambda a: torch.remainder(a, 3), [[5, -5, 0, -3, 7]], dtype="int64")
LS, LE = [0.0, 1.0, -2.0, 3.0, 1e10, -INF], [10.0, -1.0, 2.0, 3.0, -1e10, 1.0]
case("lerp/weight 0.3", lambda s, e: torch.lerp(s, e, 0.3), [LS, LE])
case("lerp/weight 1", lambda s, e: torch.lerp(s, e, 1.0), [LS, LE])
case("lerp/tensor weight", torch.lerp, [LS, LE, [0.0, 0.5, 1.0, 2.0, 0.25, -0.5]])
case("lerp/broadcast", torch.lerp, [[1.0, 2.0, 3.0, 4.0, 5.0, 6.0], [0.0, -1.0, 10.0], [0.25, 0.75]],
     [[2, 3], [3], [2, 1]])
CX = [-2.0, 0.5, 3.0, 1.0, NAN, 0.0, 1.0, -1.0]
CL = [-1.0, 0.0, 0.0, 2.0, 0.0, NAN, 1.0, -1.0]
CH = [1.0, 1.0, 2.0, 0.5, 1.0, 1.0, 1.0, 0.0]
case("clamp/tensor min and max", lambda x, lo, hi: torch.clamp(x, lo, hi), [CX, CL, CH])
case("clamp/tensor min", lambda x, lo: torch.clamp(x, min=lo), [CX, CL])
case("clamp/tensor max", lambda x, hi: torch.clamp(x, max=hi), [CX, CH])
case("clamp/broadcast", lambda x, lo, hi: torch.clamp(x, lo, hi),
     [[-3.0, 0.0, 3.0, 1.5, -0.5, 0.25], [-1.0, 0.5, 0.0], [1.0]], [[2, 3], [3], []])
case("clamp/int64", lambda x, lo, hi: torch.clamp(x, lo, hi), [[-5, 0, 5, 2], [-1, 1, 0, 3], [1, 2, 3, 1]],
     dtype="int64")
NX = [NAN, INF, -INF, 1.5, -0.0, -2.0]
case("nan_to_num/defaults", torch.nan_to_num, [NX])
case("nan_to_num/nan 1, posinf 2, neginf -2", lambda x: torch.nan_to_num(x, 1.0, 2.0, -2.0), [NX])
case("nan_to_num/float32 defaults", torch.nan_to_num, [NX], dtype="float32")
case("nan_to_num/int64", torch.nan_to_num, [[1, -2, 3]], dtype="int64")
IX = [INF, -INF, NAN, 0.0, -1.0, 1e308]
for name in ["isinf", "isposinf", "isneginf"]:
    case(name, getattr(torch, name), [IX])
    case(name + "/int64", getattr(torch, name), [[1, 0, -3]], dtype="int64")
CA = [1.0, 1.0, NAN, INF, 1e-9, 1.0, -INF, INF, 0.0]
CB = [1.0 + 1e-6, 1.1, NAN, INF, 0.0, 1.0 + 1e-4, INF, 1e308, -0.0]
case("isclose/defaults", torch.isclose, [CA, CB])
case("isclose/rtol 1e-3, equal_nan", lambda a, b: torch.isclose(a, b, rtol=1e-3, equal_nan=True), [CA, CB])
case("isclose/int64 atol 1", lambda a, b: torch.isclose(a, b, atol=1), [[1, 5, -3, 0], [2, 7, -3, 1]],
     dtype="int64")

# ---- activations: both sides of every kink, the kinks themselves, large values ----
AX = [-30.0, -3.5, -3.0, -1.0, -0.5, -1e-3, 0.0, 0.5, 1.0, 2.5, 3.0, 3.5, 25.0]
case("softplus/defaults", F.softplus, [AX])
case("softplus/beta 2, threshold 5", lambda x: F.softplus(x, 2.0, 5.0), [AX])
case("silu", F.silu, [AX])
case("elu/defaults", F.elu, [AX])
case("elu/alpha 0.5", lambda x: F.elu(x, 0.5), [AX])
case("selu", F.selu, [AX])
case("celu/alpha 2", lambda x: F.celu(x, 2.0), [AX])
case("mish", F.mish, [AX])
case("hardtanh/defaults", F.hardtanh, [AX])
case("hardtanh/min -0.5, max 2.5", lambda x: F.hardtanh(x, -0.5, 2.5), [AX])
case("hardtanh/int64", F.hardtanh, [[-3, 0, 1, 4]], dtype="int64")
case("hardswish", F.hardswish, [AX])
case("hardsigmoid", F.hardsigmoid, [AX])
# PyTorch's float64 hardsigmoid_backward multiplies by 1/6 rounded to float32.
cases["hardsigmoid"]["grad_rtol"] = 1e-7
case("logsigmoid", F.logsigmoid, [AX])
case("softsign", F.softsign, [AX])
case("softsign/int64", F.softsign, [[-3, 0, 1, 4]], dtype="int64")
GX = [0.5, -1.0, 2.0, 0.25, 3.0, -2.0, 0.0, 1.5]
case("glu/dim -1", F.glu, [GX], [[2, 4]])
case("glu/dim 0", lambda x: F.glu(x, 0), [GX], [[2, 4]])


def main():
    out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "math_ops.json")
    with open(out, "w") as f:
        json.dump({"torch": torch.__version__, "cases": cases}, f, indent=1, sort_keys=True, allow_nan=False)
        f.write("\n")
    print(f"wrote {out} ({len(cases)} cases)")


if __name__ == "__main__":
    main()
