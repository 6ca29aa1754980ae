#!/usr/bin/env bash
# Builds the libFuzzer targets of fuzz/ with Clang (ASan + UBSan + libFuzzer,
# in build-fuzz/ or $BUILD_DIR) and runs them all at once for N seconds
# (default 30):
#
#   scripts/fuzz.sh [seconds-per-target]
#
# Each target starts from a copy of its seed corpus fuzz/corpus/<target>/ in a
# temporary folder, so the repository's corpus never grows here. A crash, a
# hang (an input running over 10 s), a sanitizer report or an input needing
# more than 2 GB fails the script; the input that did it is kept as
# <build dir>/artifacts/<target>/crash-* (or timeout-*, oom-*, leak-*), and
# `<build dir>/fuzz/<target> <that file>` replays it. Extra CMake arguments
# come from $CMAKE_ARGS.
#
# A $BUILD_DIR already configured with -DTAPEGRAD_BUILD_FUZZ=ON is used as it
# is (only the targets are brought up to date), whatever else it builds: CI
# runs its sanitized tests and the fuzz targets from one Clang tree.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

seconds="${1:-30}"
if ! [[ "$seconds" =~ ^[1-9][0-9]*$ ]]; then
  echo "fuzz.sh: expected a number of seconds per target, got '$seconds'" >&2
  exit 2
fi

scripts/setup.sh --fuzz

build_dir="${BUILD_DIR:-build-fuzz}"
targets=(fuzz_safetensors fuzz_idx fuzz_tensor_program)
read -r -a extra_cmake_args <<<"${CMAKE_ARGS:-}"
if grep -qsx 'TAPEGRAD_BUILD_FUZZ:BOOL=ON' "$build_dir/CMakeCache.txt"; then
  echo "== reusing $build_dir/, configured with TAPEGRAD_BUILD_FUZZ=ON"
  if ((${#extra_cmake_args[@]} > 0)); then
    cmake -S . -B "$build_dir" "${extra_cmake_args[@]}"
  fi
else
  CC=clang CXX=clang++ cmake -S . -B "$build_dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DTAPEGRAD_BUILD_FUZZ=ON -DTAPEGRAD_BUILD_TESTS=OFF -DTAPEGRAD_BUILD_EXAMPLES=OFF "${extra_cmake_args[@]}"
fi
cmake --build "$build_dir" -j "$(nproc)" --target "${targets[@]}"

# Leaks count as findings; a sanitizer report stops the run at once.
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:allocator_may_return_null=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
# One target: its corpus copy, its log; a failure leaves $work/<target>.failed.
fuzz_one() {
  local target=$1
  local corpus="$work/$target" artifacts="$build_dir/artifacts/$target"
  local log="$build_dir/artifacts/$target.log"
  mkdir -p "$corpus" "$artifacts"
  cp -R "fuzz/corpus/$target/." "$corpus/"
  local extra=()
  [[ -f "fuzz/$target.dict" ]] && extra+=("-dict=fuzz/$target.dict")
  if "$build_dir/fuzz/$target" "$corpus" "${extra[@]}" -max_total_time="$seconds" -timeout=10 \
    -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$artifacts/" >"$log" 2>&1; then
    echo "== $target: ${seconds} s from $(find "fuzz/corpus/$target" -type f | wc -l) seed inputs (log: $log)"
    grep -E '^(stat::number_of_executed_units|stat::peak_rss_mb|Done )|cov: ' "$log" | tail -n 4
  else
    echo "== $target (log: $log)"
    tail -n 60 "$log"
    echo "fuzz.sh: $target FAILED; the input is in $artifacts/" >&2
    touch "$work/$target.failed"
  fi
}

# All targets at once (each fuzzes on one thread), each printing its summary
# when it ends. -max_total_time is wall time, so the run takes N seconds
# whatever the number of cores; with fewer cores than targets (CI: 3 on 2)
# they share the CPU, each getting about cores/targets of it, instead of the
# last one running alone for another N seconds with a core idle.
for target in "${targets[@]}"; do
  fuzz_one "$target" &
done
wait
failed=()
for target in "${targets[@]}"; do
  [[ -f "$work/$target.failed" ]] && failed+=("$target")
done

if ((${#failed[@]} > 0)); then
  echo "fuzz.sh: failed: ${failed[*]}" >&2
  exit 1
fi
echo "== fuzzing passed: ${targets[*]}, ${seconds} s each"
