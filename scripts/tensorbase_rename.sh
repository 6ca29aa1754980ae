#!/usr/bin/env bash
# The mechanical part of the TensorBase / Tensor split (docs/architecture.md),
# for core/ (and data/) files written against the old all-in-one tg::Tensor:
#   scripts/tensorbase_rename.sh core/kernels/conv.h core/kernels/conv.cpp ...
# It rewrites the files in place:
#  - the type name Tensor becomes TensorBase (TensorImpl, TensorOptions, and
#    words that merely contain "Tensor" are left alone);
#  - a qualified call to a creation or random function (tg::zeros(...),
#    tg::empty_like(...), ...) becomes kernel::zeros(...): core's versions
#    live in tg::kernel; unqualified calls from inside namespace tg::kernel
#    need no change;
#  - x.contiguous(), x.clone() and x.to(dtype) on a plain name become
#    kernel::contiguous(x), kernel::clone(x), kernel::to(x, dtype).
# What it cannot see (an op method on an expression, e.g. a.mul(b).sum()) the
# compiler reports: TensorBase has no op methods; call the kernel instead.
set -euo pipefail
if [ $# -eq 0 ]; then
  echo "usage: $0 FILE..." >&2
  exit 2
fi
creation='empty|zeros|ones|full|zeros_like|ones_like|empty_like|full_like|scalar_tensor|arange|linspace|eye|tensor'
creation+='|rand|randn|randint|bernoulli|randperm'
sed -E -i \
  -e 's/\bTensor\b/TensorBase/g' \
  -e "s/\btg::($creation)\(/kernel::\1(/g" \
  -e 's/\b([A-Za-z_][A-Za-z0-9_]*)\.contiguous\(\)/kernel::contiguous(\1)/g' \
  -e 's/\b([A-Za-z_][A-Za-z0-9_]*)\.clone\(\)/kernel::clone(\1)/g' \
  -e 's/\b([A-Za-z_][A-Za-z0-9_]*)\.to\(/kernel::to(\1, /g' \
  "$@"
