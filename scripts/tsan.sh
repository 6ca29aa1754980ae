#!/usr/bin/env bash
# Builds the test files that start threads under ThreadSanitizer and runs
# them (Clang, in build-tsan/ or $BUILD_DIR):
#
#   scripts/tsan.sh
#
# Only the library and the one test binary, test_threads, are built
# (tests/CMakeLists.txt lists its files and says why libomp's Archer tool
# is loaded). A data race or a lock-order inversion fails the run; the report
# names both threads' stacks. Extra CMake arguments come from $CMAKE_ARGS.
# CI runs this after the sanitized tree: the races it finds (a view refreshed
# by two threads at once, say) show in the plain suite once in thousands of
# runs, if at all.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

# Clang, its sanitizer runtimes, and LLVM's libomp with Archer.
scripts/setup.sh --fuzz

build_dir="${BUILD_DIR:-build-tsan}"
read -r -a extra_cmake_args <<<"${CMAKE_ARGS:-}"
generator=()
if [[ ! -f "$build_dir/CMakeCache.txt" ]] && command -v ninja >/dev/null; then
  generator=(-G Ninja)
fi
# -O1 with line tables: reports keep file and line at a quarter of -g's cost;
# the library in unity batches, and the eight per-dtype kernel files, the
# glue and the tests at -O0, as the ASan tree (.ci/run says why).
CC=clang CXX=clang++ CXXFLAGS="${CXXFLAGS:--O1 -gline-tables-only}" \
  cmake -S . -B "$build_dir" "${generator[@]}" -DCMAKE_BUILD_TYPE=None -DTAPEGRAD_SANITIZE_THREAD=ON \
  -DTAPEGRAD_UNITY_LIBRARY=ON -DTAPEGRAD_BUILD_EXAMPLES=OFF -DTAPEGRAD_TEST_OPTIONS=-O0 \
  -DTAPEGRAD_DTYPE_KERNEL_OPTIONS=-O0 -DTAPEGRAD_GLUE_OPTIONS=-O0 "${extra_cmake_args[@]}"
cmake --build "$build_dir" -j "$(nproc)" --target test_threads
# Without address-space randomisation: clang 14's TSan runtime cannot map its
# shadow memory where a kernel randomises with more bits
# (vm.mmap_rnd_bits = 32, newer distributions' default) and aborts with
# "unexpected memory mapping".
setarch "$(uname -m)" -R ctest --test-dir "$build_dir" -R '^tsan/' --output-on-failure -j "$(nproc)"
