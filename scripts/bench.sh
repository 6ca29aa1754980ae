#!/usr/bin/env bash
# Builds and runs the tapegrad benchmarks and, when LibTorch is installed,
# the same workloads against LibTorch; prints one table of ratios.
#   scripts/bench.sh [google-benchmark flags...]
#   e.g. scripts/bench.sh --benchmark_min_time=0.2 --benchmark_filter='BM_step'
# Environment: BUILD_DIR (default build-bench), JOBS (default 2),
#              SKIP_BUILD=1 to reuse existing executables,
#              SKIP_PROGRAMS=1 for the benchmarks alone (no start-up,
#              memory and attention tables).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD_DIR:-$root/build-bench}
jobs=${JOBS:-2}

common=(-DCMAKE_BUILD_TYPE=Release -DTAPEGRAD_BUILD_BENCH=ON -DTAPEGRAD_BUILD_TESTS=OFF -DTAPEGRAD_BUILD_EXAMPLES=OFF)
if [[ "${SKIP_BUILD:-0}" != 1 ]]; then
  # The LibTorch side only if find_package(Torch) succeeds.
  if cmake -S "$root" -B "$build" "${common[@]}" -DTAPEGRAD_BENCH_LIBTORCH=ON >/dev/null 2>&1; then
    targets=(bench_tapegrad startup_tapegrad memory_tapegrad attention_tapegrad
             bench_libtorch startup_libtorch memory_libtorch attention_libtorch)
  else
    echo "bench.sh: LibTorch not found; benchmarking tapegrad alone" >&2
    cmake -S "$root" -B "$build" "${common[@]}" -DTAPEGRAD_BENCH_LIBTORCH=OFF >/dev/null
    targets=(bench_tapegrad startup_tapegrad memory_tapegrad attention_tapegrad)
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

python3 - "$ours" "$theirs" "$build/bench" <<'PY'
import json, os, sys

def load(path):
    if not os.path.exists(path):
        return {}, {}
    doc = json.load(open(path))
    runs = {b["name"]: b for b in doc["benchmarks"] if b.get("run_type", "iteration") == "iteration"}
    # With --benchmark_repetitions=N, the median of the N runs.
    for b in doc["benchmarks"]:
        if b.get("run_type") == "aggregate" and b.get("aggregate_name") == "median":
            runs[b["run_name"]] = b
    return runs, doc["context"]

ours, context = load(sys.argv[1])
theirs, _ = load(sys.argv[2])

# CPU time by default: on a shared, loaded machine wall time mostly measures
# the other tenants. It counts the calling thread only, so for threads:2 set
# BENCH_TIME=real on a quiet machine.
measure = os.environ.get("BENCH_TIME", "cpu") + "_time"

def seconds(b):
    scale = {"ns": 1e-9, "us": 1e-6, "ms": 1e-3, "s": 1.0}[b.get("time_unit", "ns")]
    # The parallel-threshold rows are about the second thread: wall time.
    what = "real_time" if b["name"].startswith("BM_parallel") else measure
    # The chain is reported per op (100 ops and the sum).
    return b[what] * scale / (101 if "per_op" in b else 1)

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
    if name.startswith("BM_sgemm") or name.startswith("BM_step_gemms"):
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
            print(f"| ↳ tg::kernel::gemm, same size | {fmt(seconds(sg))} | | sgemm/matmul = {seconds(sg) / mine:.0%} |")
    if name.startswith("BM_step/"):
        sg = ours.get(name.replace("BM_step/", "BM_step_gemms/"))
        if sg:
            print(f"| ↳ its GEMMs alone, tg::kernel::gemm | {fmt(seconds(sg))} | | step/GEMMs = {mine / seconds(sg):.2f} |")
        # Issue 13's row: how much faster two threads are than one. Only
        # wall time says (BENCH_TIME=real); CPU time counts the calling thread.
        one = ours.get(name.replace("threads:2", "threads:1")) if "threads:2" in name else None
        if one:
            note = "" if measure == "real_time" else " (CPU time: run with BENCH_TIME=real)"
            print(f"| ↳ 1 thread / 2 threads{note} | {fmt(seconds(one))} | | {seconds(one) / mine:.2f}× |")

# Whole programs: start-up (wall time and peak resident memory of a minimal
# program, median of 21 runs) and resident memory over 10,000 training steps.
import statistics, subprocess, time

def startup(path):
    times, peaks = [], []
    for _ in range(21):
        started = time.perf_counter()
        pid = os.fork()
        if pid == 0:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, 1)
            os.execv(path, [path])
        _, status, usage = os.wait4(pid, 0)
        times.append(time.perf_counter() - started)
        peaks.append(usage.ru_maxrss / 1024)  # KiB -> MiB
        if status != 0:
            sys.exit(f"bench.sh: {path} failed")
    return statistics.median(times), statistics.median(peaks)

def memory(path):
    out = subprocess.run([path], capture_output=True, text=True, check=True).stdout.split()
    return int(out[1]) / 1024, int(out[3]) / 1024

programs = sys.argv[3]
skip_programs = os.environ.get("SKIP_PROGRAMS", "0") == "1"
engines = [] if skip_programs else [e for e in ("tapegrad", "libtorch") if os.access(f"{programs}/startup_{e}", os.X_OK)]
if engines:
    print()
    print("| whole program | " + " | ".join(engines) + (" | tapegrad / LibTorch |" if len(engines) == 2 else " |"))
    print("|---|" + "---|" * (len(engines) + (1 if len(engines) == 2 else 0)))
    starts = {e: startup(f"{programs}/startup_{e}") for e in engines}
    mems = {e: memory(f"{programs}/memory_{e}") for e in engines}
    def row(label, values, unit):
        cells = [f"{v:.3g} {unit}" for v in values]
        ratio = [f"{values[0] / values[1]:.2f}"] if len(values) == 2 else []
        print(f"| {label} | " + " | ".join(cells + ratio) + " |")
    row("start-up, minimal program (wall, median of 21)", [starts[e][0] * 1e3 for e in engines], "ms")
    # What starting any process costs here, from this script: the floor.
    floor = startup("/bin/true")[0]
    row("↳ minus starting /bin/true", [(starts[e][0] - floor) * 1e3 for e in engines], "ms")
    row("start-up, peak resident memory", [starts[e][1] for e in engines], "MiB")
    cells = []
    for e in engines:
        at_100, at_10000 = mems[e]
        cells.append(f"{at_100:.1f} → {at_10000:.1f} MiB ({(at_10000 / at_100 - 1) * 100:+.2f} %)")
    print("| resident memory, step 100 → 10,000 (seed model) | " + " | ".join(cells) + (" | |" if len(engines) == 2 else " |"))

# Attention forward + backward, 4 heads of 64, 1 thread (bench/programs/attention.cpp,
# bench/libtorch/attention.cpp): per L, time (median of 5 rounds) and peak memory
# of tapegrad's fused and naive paths and LibTorch 1.13's naive path (it has no
# scaled_dot_product_attention).
def attention(path):
    rows = {}
    for line in subprocess.run([path], capture_output=True, text=True, check=True).stdout.splitlines():
        f = line.split()  # attention <path> L <L> ms <wall> cpu_ms <cpu> peak_mib <MiB>
        rows[(f[1], int(f[3]))] = {"real": float(f[5]), "cpu": float(f[7]), "mib": float(f[9])}
    return rows

if not skip_programs and os.access(f"{programs}/attention_tapegrad", os.X_OK):
    att = attention(f"{programs}/attention_tapegrad")
    if os.access(f"{programs}/attention_libtorch", os.X_OK):
        att.update(attention(f"{programs}/attention_libtorch"))
    t = os.environ.get("BENCH_TIME", "cpu")
    print()
    print(f"| attention fwd+bwd, L | tapegrad fused | tapegrad naive | LibTorch naive | fused / LibTorch | naive / LibTorch "
          f"| peak MiB fused / naive / LibTorch |")
    print("|---|---|---|---|---|---|---|")
    for L in sorted({L for _, L in att}):
        fu, na, lt = (att.get((p, L)) for p in ("fused", "naive", "libtorch"))
        ms = lambda r: f"{r[t]:.3g} ms" if r else "-"
        ratio = lambda r: f"{r[t] / lt[t]:.2f}" if r and lt else "-"
        mib = " / ".join(f"{r['mib']:.1f}" if r else "-" for r in (fu, na, lt))
        print(f"| {L} | {ms(fu)} | {ms(na)} | {ms(lt)} | {ratio(fu)} | {ratio(na)} | {mib} |")
PY
