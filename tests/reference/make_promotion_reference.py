#!/usr/bin/env python3
"""Writes promotion.json: the result dtype PyTorch gives for each op over every
pair of tapegrad's dtypes, with each operand a dimensioned tensor, a 0-d
tensor or a Python scalar. tests/autograd/test_promotion.cpp checks tapegrad
against it. Run with an interpreter that has torch (Debian: python3-torch):

    /usr/bin/python3 tests/reference/make_promotion_reference.py
"""
import json
import os

import torch

DTYPES = {
    "float32": torch.float32, "float64": torch.float64, "int64": torch.int64, "bool": torch.bool,
    "uint8": torch.uint8, "int8": torch.int8, "int16": torch.int16, "int32": torch.int32,
    "float16": torch.float16, "bfloat16": torch.bfloat16,
}
NAMES = {v: k for k, v in DTYPES.items()}
# A scalar is an int or a float in Python; in C++ both are doubles, a whole
# number counting as an int.
SCALARS = {"int": 2, "float": 2.5}


def operand(dtype, kind):
    if kind == "scalar":
        return SCALARS[dtype]
    shape = (3,) if kind == "tensor" else ()
    return torch.full(shape, 2, dtype=DTYPES[dtype]) if dtype != "bool" else torch.ones(shape, dtype=torch.bool)


def inplace(name):
    def run(a, b):
        a = a.clone()
        getattr(a, name)(b)
        return a
    return run


OPS = {
    "add": torch.add,
    "sub": torch.sub,
    "mul": torch.mul,
    "div": torch.div,
    "pow": torch.pow,
    "maximum": torch.maximum,
    "minimum": torch.minimum,
    "eq": torch.eq,
    "lt": torch.lt,
    "where": lambda a, b: torch.where(torch.ones((), dtype=torch.bool), a, b),
    "add_": inplace("add_"),
    "sub_": inplace("sub_"),
    "mul_": inplace("mul_"),
    "div_": inplace("div_"),
    "cat": lambda a, b: torch.cat([a, b]),
    "stack": lambda a, b: torch.stack([a, b]),
}
# The tensor-only ops (no scalar or 0-d forms in tapegrad, or none in PyTorch).
TENSOR_ONLY = {"maximum", "minimum", "cat", "stack"}
# In-place ops write into a dimensioned tensor.
INPLACE = {"add_", "sub_", "mul_", "div_"}


def main():
    rows = []
    for op, fn in OPS.items():
        for a_dtype in DTYPES:
            for a_kind in ("tensor", "zero_dim"):
                if (op in INPLACE or op in {"cat", "stack"}) and a_kind != "tensor":
                    continue
                b_cases = [(d, k) for d in DTYPES for k in ("tensor", "zero_dim")]
                if op not in TENSOR_ONLY:
                    b_cases += [(s, "scalar") for s in SCALARS]
                for b_dtype, b_kind in b_cases:
                    if op in {"cat", "stack"} and b_kind != "tensor":
                        continue
                    try:
                        result = NAMES[fn(operand(a_dtype, a_kind), operand(b_dtype, b_kind)).dtype]
                    except RuntimeError:
                        result = "error"
                    rows.append({"op": op, "a": [a_dtype, a_kind], "b": [b_dtype, b_kind], "result": result})
    out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "promotion.json")
    with open(out, "w") as f:
        # One row a line, so a diff shows which results changed.
        f.write('{"torch": %s, "rows": [\n' % json.dumps(torch.__version__))
        f.write(",\n".join(json.dumps(r) for r in rows))
        f.write("\n]}\n")
    print(f"{len(rows)} rows -> {out}")


if __name__ == "__main__":
    main()
