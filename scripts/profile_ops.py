#!/usr/bin/env python3
"""Gives every public op in autograd/ops/*.cpp its profiler event.

Each function defined in namespace tg (outside anonymous namespaces) whose
name is declared in autograd/ops.h or autograd/nn_ops.h, and each in-place
method (Tensor::add_ ...), gets, as the first line of its body,

    TG_PROFILE_OP("name", <its tensor arguments>);

(core/profiler.h). Idempotent.
    scripts/profile_ops.py          add the missing lines
    scripts/profile_ops.py --check  list the ops without one; exit 1 if any
                                    (a test runs this, so a new op is not missed)
"""
import pathlib
import re
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
TENSOR_TYPES = {
    "const Tensor&", "Tensor&", "Tensor", "const std::vector<Tensor>&", "std::vector<Tensor>",
    "std::span<const Tensor>", "const std::optional<Tensor>&", "std::optional<Tensor>",
}


def public_names():
    names = set()
    for header in ("autograd/ops.h", "autograd/nn_ops.h", "autograd/indexing.h", "autograd/linalg.h"):
        text = (ROOT / header).read_text()
        # Helpers in namespace detail are not ops: the public op that calls
        # one opens the event (an event of their own would nest in it).
        text = re.sub(r"^namespace detail \{.*?^\}  // namespace detail", "", text, flags=re.M | re.S)
        for m in re.finditer(r"^[A-Za-z][\w:<>, ]*?[\s&*>](\w+)\(", text, re.M):
            names.add(m.group(1))
    return names


def split_params(params):
    out, depth, cur = [], 0, ""
    for ch in params:
        if ch in "<([{":
            depth += 1
        elif ch in ">)]}":
            depth -= 1
        if ch == "," and depth == 0:
            out.append(cur)
            cur = ""
        else:
            cur += ch
    if cur.strip():
        out.append(cur)
    return out


def tensor_args(params):
    args = []
    for p in split_params(params):
        p = p.split("=")[0].strip()
        m = re.match(r"^(.*?)(\w+)$", p, re.S)
        if not m:
            continue
        ptype = re.sub(r"\s+", " ", m.group(1)).strip().replace(" &", "&")
        if ptype in TENSOR_TYPES:
            args.append(m.group(2))
    return args


def process(path, names, fix):
    lines = path.read_text().split("\n")
    out, missing = [], []
    anon = 0
    i = 0
    while i < len(lines):
        line = lines[i]
        if re.match(r"^namespace \{", line):
            anon += 1
        elif re.match(r"^\}  // namespace$", line):
            anon -= 1
        m = re.match(r"^(?!return|namespace|using|template|static_assert)[A-Za-z][\w:<>,&* ]*?[\s&*>](Tensor::)?(\w+)\(",
                     line)
        method = bool(m and m.group(1))
        if anon == 0 and m and (m.group(2).endswith("_") if method else m.group(2) in names):
            # Gather the signature up to the opening brace of the body.
            j, sig = i, line
            while not re.search(r"[{;]\s*(//.*)?$", lines[j]) and "{" not in lines[j]:
                j += 1
                sig += "\n" + lines[j]
            if ";" in sig.split("{")[0].rstrip()[-1:]:
                out.extend(lines[i:j + 1])
                i = j + 1
                continue
            head, _, rest = sig.partition("{")
            params = head[head.index("(", m.start(2)) + 1:head.rindex(")")]
            name = m.group(2)
            # In-place methods: the tensor modified is an input too.
            args = (["*this"] if method else []) + tensor_args(params)
            call = "TG_PROFILE_OP(" + ", ".join([f'"{name}"'] + args) + ");"
            nxt = lines[j + 1] if j + 1 < len(lines) else ""
            if "TG_PROFILE_OP" in rest or ("TG_PROFILE_OP" in nxt and not rest.strip()):
                out.extend(lines[i:j + 1])
                i = j + 1
                continue
            missing.append(f"{path.relative_to(ROOT)}:{i + 1}: {name}")
            if rest.strip():  # a one-line body: "{ return f(x); }"
                body = rest.strip()
                assert body.endswith("}"), (path, sig)
                out.append(head.rstrip() + " {")
                out.append("  " + call)
                out.append("  " + body[:-1].strip())
                out.append("}")
            else:
                out.extend(sig.split("\n"))
                out.append("  " + call)
            i = j + 1
            continue
        out.append(line)
        i += 1
    include = "#include <tapegrad/core/profiler.h>"
    if any("TG_PROFILE_OP(" in l for l in out) and include not in out:
        missing.append(f"{path.relative_to(ROOT)}: no {include}")
        last = max(k for k, l in enumerate(out) if l.startswith("#include <tapegrad/"))
        out.insert(last + 1, include)
    if fix and missing:
        path.write_text("\n".join(out))
    return missing


def main():
    # Anything but no argument or --check is refused: --help or a typo used
    # to run in edit mode and rewrite the sources.
    args = sys.argv[1:]
    if args in (["-h"], ["--help"]):
        print(__doc__.strip())
        return
    if args not in ([], ["--check"]):
        print(f"profile_ops.py: unknown arguments {' '.join(args)!r} (expected none, or --check)\n\n{__doc__.strip()}",
              file=sys.stderr)
        sys.exit(2)
    check = args == ["--check"]
    names = public_names()
    missing = []
    for path in sorted((ROOT / "autograd/ops").glob("*.cpp")):
        missing += process(path, names, fix=not check)
    if check:
        for m in missing:
            print(f"{m}: no TG_PROFILE_OP (run scripts/profile_ops.py)")
        sys.exit(1 if missing else 0)
    print(f"profile_ops.py: {len(missing)} additions (TG_PROFILE_OP lines and includes)")


if __name__ == "__main__":
    main()
