#!/usr/bin/python3
"""Which dtypes PyTorch 1.13 takes for each pointwise op, activation and
reduction, and what it returns: tests/autograd/test_dtype_support.cpp walks
the table and holds tapegrad to it.

Run with an interpreter that has torch (Debian's /usr/bin/python3 here):
    /usr/bin/python3 tests/reference/make_dtype_support.py
It rewrites tests/reference/dtype_support.json.

Every op runs on a [2, 3] tensor of each of tapegrad's ten dtypes, holding
INPUTS[dtype] (two-input ops take it twice). A row is either
  {"op", "dtype", "error": torch's message, "kind": "dtype" | "value"}
("dtype": torch refuses the dtype as such, "not implemented for 'Long'";
"value": it refuses these values in this dtype, a negative bound for uint8),
or {"op", "dtype", "result_dtype", "shape", "values"} (the first output of a
tuple; NaN and infinities as the strings "nan", "inf", "-inf").

Scalars follow tapegrad's C++ rule (core/kernels/elementwise.h): a whole
number is a Python int, a fractional one a float, so `2` here is the C++ `2`
(or `2.0`) there.

A row where tapegrad differs on purpose (docs/pytorch.md) holds what tapegrad
gives instead, "expected_difference" (the reason) and "torch" (torch's row).
"""
import json
import os

import torch
import torch.nn.functional as F

from op_cases import enc  # NaN and infinities as strings, as every reference file writes them

DTYPES = ["bool", "uint8", "int8", "int16", "int32", "int64", "float16", "bfloat16", "float32", "float64"]
SHAPE = [2, 3]
INPUTS = {
    "bool": [1, 0, 0, 1, 1, 0],
    "uint8": [0, 1, 2, 3, 4, 5],
    "float16": [-1.5, -0.5, 0.0, 0.5, 1.0, 2.0],
    "bfloat16": [-1.5, -0.5, 0.0, 0.5, 1.0, 2.0],
    "float32": [-1.5, -0.5, 0.0, 0.5, 1.0, 2.0],
    "float64": [-1.5, -0.5, 0.0, 0.5, 1.0, 2.0],
}
for name in ["int8", "int16", "int32", "int64"]:
    INPUTS[name] = [-2, -1, 0, 1, 2, 3]

# name -> torch call on x (the test maps each name to the same tapegrad call).
UNARY = {
    # arithmetic with a number
    "add_scalar": lambda x: torch.add(x, 2),
    "add_scalar_fraction": lambda x: torch.add(x, 1.5),
    "sub_scalar": lambda x: torch.sub(x, 2),
    "rsub_scalar": lambda x: torch.rsub(x, 2),
    "mul_scalar": lambda x: torch.mul(x, 3),
    "div_scalar": lambda x: torch.div(x, 2),
    "rdiv_scalar": lambda x: 2 / x,
    "pow_scalar": lambda x: torch.pow(x, 2),
    "pow_scalar_fraction": lambda x: torch.pow(x, 0.5),
    "rpow_scalar": lambda x: torch.pow(2, x),
    "fmod_scalar": lambda x: torch.fmod(x, 2),
    "remainder_scalar": lambda x: torch.remainder(x, 2),
    # pointwise math
    "neg": torch.neg,
    "abs": torch.abs,
    "sign": torch.sign,
    "exp": torch.exp,
    "log": torch.log,
    "log1p": torch.log1p,
    "sqrt": torch.sqrt,
    "rsqrt": torch.rsqrt,
    "sin": torch.sin,
    "cos": torch.cos,
    "tan": torch.tan,
    "asin": torch.asin,
    "acos": torch.acos,
    "atan": torch.atan,
    "sinh": torch.sinh,
    "cosh": torch.cosh,
    "asinh": torch.asinh,
    "acosh": torch.acosh,
    "atanh": torch.atanh,
    "erf": torch.erf,
    "erfc": torch.erfc,
    "erfinv": torch.erfinv,
    "expm1": torch.expm1,
    "log2": torch.log2,
    "log10": torch.log10,
    "exp2": torch.exp2,
    "reciprocal": torch.reciprocal,
    "floor": torch.floor,
    "ceil": torch.ceil,
    "round": torch.round,
    "round_decimals": lambda x: torch.round(x, decimals=1),
    "trunc": torch.trunc,
    "frac": torch.frac,
    "clamp": lambda x: torch.clamp(x, -1, 1),
    "clamp_min": lambda x: torch.clamp(x, min=1),
    "clamp_fraction": lambda x: torch.clamp(x, -0.5, 0.5),
    "nan_to_num": torch.nan_to_num,
    "logical_not": torch.logical_not,
    "isnan": torch.isnan,
    "isfinite": torch.isfinite,
    "isinf": torch.isinf,
    "isposinf": torch.isposinf,
    "isneginf": torch.isneginf,
    # activations (torch.* and F.* are the same kernels)
    "relu": F.relu,
    "leaky_relu": F.leaky_relu,
    "leaky_relu_slope": lambda x: F.leaky_relu(x, 0.2),
    "sigmoid": torch.sigmoid,
    "tanh": torch.tanh,
    "gelu": F.gelu,
    "softplus": F.softplus,
    "silu": F.silu,
    "elu": F.elu,
    "selu": F.selu,
    "celu": F.celu,
    "mish": F.mish,
    "hardtanh": F.hardtanh,
    "hardswish": F.hardswish,
    "hardsigmoid": F.hardsigmoid,
    "logsigmoid": F.logsigmoid,
    "softsign": F.softsign,
    "glu": lambda x: F.glu(x, 0),
    # reductions and scans
    "sum": torch.sum,
    "sum_dim": lambda x: torch.sum(x, 1),
    "mean": torch.mean,
    "mean_dim": lambda x: torch.mean(x, 1),
    "var": torch.var,
    "var_dim": lambda x: torch.var(x, 1),
    "std": torch.std,
    "std_dim": lambda x: torch.std(x, 1),
    "prod": torch.prod,
    "prod_dim": lambda x: torch.prod(x, 1),
    "amax": lambda x: torch.amax(x, 1),
    "amin": lambda x: torch.amin(x, 1),
    "max": torch.max,
    "max_dim": lambda x: torch.max(x, 1),
    "min": torch.min,
    "min_dim": lambda x: torch.min(x, 1),
    "argmax": torch.argmax,
    "argmin": torch.argmin,
    "logsumexp": lambda x: torch.logsumexp(x, 1),
    "norm": torch.norm,
    "norm_dim": lambda x: torch.norm(x, dim=1),
    "softmax": lambda x: torch.softmax(x, 1),
    "log_softmax": lambda x: torch.log_softmax(x, 1),
    "cumsum": lambda x: torch.cumsum(x, 1),
    "cumprod": lambda x: torch.cumprod(x, 1),
    "logcumsumexp": lambda x: torch.logcumsumexp(x, 1),
    "cummax": lambda x: torch.cummax(x, 1),
    "cummin": lambda x: torch.cummin(x, 1),
    "any": torch.any,
    "any_dim": lambda x: torch.any(x, 1),
    "all": torch.all,
    "all_dim": lambda x: torch.all(x, 1),
    "median": torch.median,
    "median_dim": lambda x: torch.median(x, 1),
    "mode": lambda x: torch.mode(x, 1),
    "sort": lambda x: torch.sort(x, 1),
    "argsort": lambda x: torch.argsort(x, 1),
    "msort": torch.msort,
    "topk": lambda x: torch.topk(x, 2, 1),
    "kthvalue": lambda x: torch.kthvalue(x, 2, 1),
    "trace": torch.trace,
}

# name -> torch call on (x, x).
BINARY = {
    "add": torch.add,
    "sub": torch.sub,
    "mul": torch.mul,
    "div": torch.div,
    "pow": torch.pow,
    "atan2": torch.atan2,
    "hypot": torch.hypot,
    "fmod": torch.fmod,
    "remainder": torch.remainder,
    "maximum": torch.maximum,
    "minimum": torch.minimum,
    "lerp": lambda a, b: torch.lerp(a, b, 0.5),
    "lerp_tensor": lambda a, b: torch.lerp(a, b, b),
    "logical_and": torch.logical_and,
    "logical_or": torch.logical_or,
    "eq": torch.eq,
    "lt": torch.lt,
    "isclose": torch.isclose,
}

# torch's messages that refuse a dtype as such (the rest refuse values).
DTYPE_MESSAGES = ["not implemented for", "could not infer output dtype", "inputs not supported", "Boolean inputs",
                  "not supported for", "must be floating point", "doesn't support", "Subtraction, the `-` operator",
                  "Negation, the `-` operator", "floating point or complex", "expected scalar type",
                  "only supports floating-point", "only support floating point", "input dtype should be"]

# Why tapegrad differs on purpose (docs/pytorch.md, "Differences on purpose"),
# and the row it gives instead.
HALF_REASON = ("float16 and bfloat16 are storage types that every floating op takes, computed in float32 "
               "(docs/pytorch.md); PyTorch 1.13's CPU kernels lack some of them")


# Rows tapegrad gives on purpose instead of torch's: (op, dtype) -> (reason, row).
EXPECTED = {
    ("clamp", "uint8"): (
        "a bound uint8 cannot hold is refused (ValueError), as torch 1.13 refuses clamp(x, min=-1) alone; "
        "with both bounds torch wraps -1 to 255 and every element becomes max",
        {"error": "clamp: value -1 cannot be converted to uint8 without overflow", "kind": "value"}),
}


def expected_difference(op, dtype, fn, n_inputs, entry):
    """None, or (reason, the row tapegrad gives) for a row where tapegrad differs on purpose."""
    if (op, dtype) in EXPECTED:
        reason, instead = EXPECTED[(op, dtype)]
        return reason, dict({"op": op, "dtype": dtype}, **instead)
    if dtype in ("float16", "bfloat16") and entry.get("kind") == "dtype":
        # The op in float32, rounded to the 16-bit type where its result is float32.
        wide = row(op, "float32", fn, n_inputs)
        if "error" in wide:
            return None
        x = torch.tensor(INPUTS[dtype], dtype=torch.float64).to(getattr(torch, dtype)).reshape(SHAPE).float()
        y = fn(*([x] * n_inputs))
        y = y[0] if isinstance(y, tuple) else y
        if y.dtype == torch.float32:
            y = y.to(getattr(torch, dtype))
        return HALF_REASON, values_row(op, dtype, y)
    return None


def row(op, dtype, fn, n_inputs):
    x = torch.tensor(INPUTS[dtype], dtype=torch.float64).to(getattr(torch, dtype)).reshape(SHAPE)
    entry = {"op": op, "dtype": dtype}
    try:
        y = fn(*([x] * n_inputs))
    except Exception as e:  # noqa: BLE001  (what torch raises is the datum)
        message = str(e).splitlines()[0].strip()
        entry["error"] = message
        entry["kind"] = "dtype" if any(m in message for m in DTYPE_MESSAGES) else "value"
        return entry
    return values_row(op, dtype, y[0] if isinstance(y, tuple) else y)


def values_row(op, dtype, y):
    entry = {"op": op, "dtype": dtype}
    entry["result_dtype"] = str(y.dtype).replace("torch.", "")
    entry["shape"] = list(y.shape)
    entry["values"] = [enc(v) for v in y.to(torch.float64).reshape(-1).tolist()]
    return entry


def main():
    rows = []
    for table, n in [(UNARY, 1), (BINARY, 2)]:
        for op, fn in table.items():
            for dtype in DTYPES:
                r = row(op, dtype, fn, n)
                difference = expected_difference(op, dtype, fn, n, r)
                if difference:
                    reason, instead = difference
                    r = dict(instead, torch=r, expected_difference=reason)
                rows.append(r)
    out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "dtype_support.json")
    with open(out, "w") as f:
        f.write('{"torch": %s, "shape": %s, "inputs": %s,\n "binary": %s,\n "rows": [\n' %
                (json.dumps(torch.__version__), json.dumps(SHAPE), json.dumps(INPUTS), json.dumps(list(BINARY))))
        f.write(",\n".join(json.dumps(r) for r in rows))
        f.write("\n]}\n")
    print(f"{len(rows)} rows -> {out}")


if __name__ == "__main__":
    main()
