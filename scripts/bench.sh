#!/usr/bin/env bash
# Builds and runs the tapegrad benchmarks and, when LibTorch is installed,
# the same workloads against LibTorch; prints one table of ratios.
#   scripts/bench.sh [google-benchmark flags...]
#   e.g. scripts/bench.sh --benchmark_min_time=0.2 --benchmark_filter='BM_step'
# Environment: BUILD_DIR (default build-bench), JOBS (default 2),
#              SKIP_BUILD=1 to reuse existing executables.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD_DIR:-$root/build-bench}
jobs=${JOBS:-2}

common=(-DCMAKE_BUILD_TYPE=Release -DTAPEGRAD_BUILD_BENCH=ON -DTAPEGRAD_BUILD_TESTS=OFF -DTAPEGRAD_BUILD_EXAMPLES=OFF)
if [[ "${SKIP_BUILD:-0}" != 1 ]]; then
  # The LibTorch side only if find_package(Torch) succeeds.
  if cmake -S "$root" -B "$build" "${common[@]}" -DTAPEGRAD_BENCH_LIBTORCH=ON >/dev/null 2>&1; then
    targets=(bench_tapegrad bench_libtorch)
  else
    echo "bench.sh: LibTorch not found; benchmarking tapegrad alone" >&2
    cmake -S "$root" -B "$build" "${common[@]}" -DTAPEGRAD_BENCH_LIBTORCH=OFF >/dev/null
    targets=(bench_tapegrad)
  fi
  cmake --build "$build" -j "$jobs" --target "${targets[@]}"
fi

# Each benchmark sets its own thread count (its `threads` argument) for both
# engines; keep OpenMP from spinning between ops so one engine's idle pool
# does not steal the other's core, and give both the same environment.
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-PASSIVE}
ours=$build/bench_tapegrad.json
theirs=$build/bench_libtorch.json
rm -f "$theirs"
"$build/bench/bench_tapegrad" --benchmark_format=json --benchmark_out="$ours" --benchmark_out_format=json "$@" >/dev/null
if [[ -x "$build/bench/bench_libtorch" ]]; then
  "$build/bench/bench_libtorch" --benchmark_format=json --benchmark_out="$theirs" --benchmark_out_format=json "$@" >/dev/null
fi

python3 - "$ours" "$theirs" <<'PY'
import json, os, sys

def load(path):
    if not os.path.exists(path):
        return {}, {}
    doc = json.load(open(path))
    return {b["name"]: b for b in doc["benchmarks"] if b.get("run_type", "iteration") == "iteration"}, doc["context"]

ours, context = load(sys.argv[1])
theirs, _ = load(sys.argv[2])

# CPU time by default: on a shared, loaded machine wall time mostly measures
# the other tenants. It counts the calling thread only, so for threads:2 set
# BENCH_TIME=real on a quiet machine.
measure = os.environ.get("BENCH_TIME", "cpu") + "_time"

def seconds(b):
    scale = {"ns": 1e-9, "us": 1e-6, "ms": 1e-3, "s": 1.0}[b.get("time_unit", "ns")]
    # The chain is reported per op (100 ops and the sum).
    return b[measure] * scale / (101 if "per_op" in b else 1)

def fmt(s):
    if s is None:
        return "-"
    for unit, f in (("s", 1), ("ms", 1e3), ("µs", 1e6), ("ns", 1e9)):
        if s * f >= 1:
            return f"{s * f:.3g} {unit}"
    return f"{s * 1e9:.3g} ns"

print(f"# {context.get('num_cpus', '?')} CPUs, load {context.get('load_avg', '?')}, {measure}")
print(f"| workload | tapegrad | LibTorch | tapegrad / LibTorch |")
print(f"|---|---|---|---|")
for name, b in ours.items():
    if name.startswith("BM_sgemm"):
        continue
    label = name[3:] + (" (per op)" if "per_op" in b else "")
    mine = seconds(b)
    other = theirs.get(name)
    o = seconds(other) if other else None
    ratio = f"{mine / o:.2f}" if o else "-"
    print(f"| {label} | {fmt(mine)} | {fmt(o)} | {ratio} |")
    if name.startswith("BM_matmul/"):
        sg = ours.get(name.replace("BM_matmul/", "BM_sgemm/"))
        if sg:
            print(f"| ↳ cblas_sgemm, same size | {fmt(seconds(sg))} | | sgemm/matmul = {seconds(sg) / mine:.0%} |")
PY
