#!/usr/bin/env python3
"""Writes dtypes_new.json: add/sub/mul/neg on uint8, int8, int16, int32 (with
overflow wrapping) and float16/bfloat16 (as result bit patterns), as PyTorch
computes them. tests/core/test_dtypes_new.cpp checks tapegrad against it.
Run with Debian's /usr/bin/python3 (python3-torch):

    /usr/bin/python3 tests/reference/make_dtypes_reference.py
"""
import json
import os

import torch

CASES = {
    "uint8": ([200, 100, 255, 0, 7], [100, 200, 1, 1, 3]),
    "int8": ([127, -128, 100, -100, 7], [1, -1, 100, -100, 3]),
    "int16": ([32767, -32768, 300, -7, 7], [1, 1, 300, 2, 3]),
    "int32": ([2147483647, -2147483648, 65536, -7, 7], [1, 1, 65536, 2, 3]),
    "float16": ([1.0, 2049.0, 0.1, 65504.0, -3.5], [1.0, 1.0, 0.2, 65504.0, 1e-4]),
    "bfloat16": ([1.0, 257.0, 0.1, 3e38, -3.5], [1.0, 1.0, 0.2, 3e38, 1e-4]),
}
SCALARS = [300, 2]  # a wrapped number: converted to the tensor's dtype


def bits(t):
    if t.dtype in (torch.float16, torch.bfloat16):
        return [v & 0xFFFF for v in t.view(torch.int16).tolist()]
    return t.tolist()


def main():
    rows = []
    for name, (a, b) in CASES.items():
        dt = getattr(torch, name)
        x, y = torch.tensor(a).to(dt), torch.tensor(b).to(dt)
        rows.append({"dtype": name, "op": "a", "result": bits(x)})
        rows.append({"dtype": name, "op": "b", "result": bits(y)})
        rows.append({"dtype": name, "op": "add", "result": bits(x + y)})
        rows.append({"dtype": name, "op": "sub", "result": bits(x - y)})
        rows.append({"dtype": name, "op": "mul", "result": bits(x * y)})
        if name != "uint8":
            rows.append({"dtype": name, "op": "neg", "result": bits(-x)})
        for s in SCALARS:
            rows.append({"dtype": name, "op": f"add_scalar_{s}", "result": bits(x + s)})
            rows.append({"dtype": name, "op": f"mul_scalar_{s}", "result": bits(x * s)})
        rows.append({"dtype": name, "op": "sum", "result": x.sum().item() if dt.is_floating_point is False else None})
        div = x / y
        rows.append({"dtype": name, "op": "div_dtype", "result": str(div.dtype).replace("torch.", "")})
    out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "dtypes_new.json")
    with open(out, "w") as f:
        f.write('{"torch": %s, "a": %s, "b": %s, "rows": [\n' % (json.dumps(torch.__version__), json.dumps(
            {k: v[0] for k, v in CASES.items()}), json.dumps({k: v[1] for k, v in CASES.items()})))
        f.write(",\n".join(json.dumps(r) for r in rows))
        f.write("\n]}\n")
    print(f"{len(rows)} rows -> {out}")


if __name__ == "__main__":
    main()
