#!/usr/bin/env bash
# valgrind memcheck over the small examples and a share of the test suite, in
# a tree that is already built (Debug, without sanitizers: valgrind and ASan
# do not mix). Any invalid read or write, use of uninitialised memory, bad
# free, or definite or indirect leak fails the run (exit 1).
#
#   scripts/setup.sh --memcheck      installs valgrind
#   scripts/memcheck.sh build-test   after scripts/test.sh has built build-test/
#
# Only third-party noise (OpenMP's and OpenBLAS's thread pools) is suppressed,
# by scripts/valgrind.supp, each entry with the reason. Each program's log is
# kept in BUILD_DIR/memcheck/ and printed when it fails.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

if (($# != 1)); then
  echo "usage: scripts/memcheck.sh BUILD_DIR" >&2
  exit 2
fi
build_dir=${1%/}
if ! command -v valgrind >/dev/null 2>&1; then
  echo "memcheck.sh: valgrind is not installed (scripts/setup.sh --memcheck installs it)" >&2
  exit 1
fi

# The test binaries, with doctest filters that keep the whole run within a
# few minutes on valgrind (which runs a program 20-50 times slower). test_core
# runs whole; of test_autograd, the files about the code that owns graph
# memory (the engine, custom functions, in-place ops), without the long
# numerical gradchecks of the other files and without the chain of 200,000 nodes
# (4 s natively, over 4 minutes under valgrind). test_core leaves out the
# float_mode tests: valgrind does not emulate the MXCSR flush-to-zero and
# denormals-are-zero bits, so under it subnormals are never flushed.
tests=(
  "tests/test_core -tce=float_mode*"
  "tests/test_autograd -sf=*test_engine.cpp,*test_custom_function.cpp,*test_inplace.cpp,*test_inplace_views.cpp,*test_gradient_contract.cpp -tce=*very?deep?chain*"
)
examples=(examples/hello_tensors examples/xor examples/custom_op)

for program in "${examples[@]}" "${tests[@]%% *}"; do
  if [[ ! -x "$build_dir/$program" ]]; then
    echo "memcheck.sh: $build_dir/$program is missing; build the tree first (scripts/test.sh)" >&2
    exit 1
  fi
done

# One thread: valgrind runs one thread at a time anyway, and an idle OpenMP or
# OpenBLAS pool only adds noise.
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1

log_dir="$build_dir/memcheck"
mkdir -p "$log_dir"
valgrind_args=(
  --tool=memcheck --leak-check=full --errors-for-leak-kinds=definite,indirect --error-exitcode=99
  --suppressions=scripts/valgrind.supp --num-callers=30
)

failed=()
started=$SECONDS
run() {
  local name=$1
  shift
  local log="$log_dir/$(basename "$name").log"
  local t0=$SECONDS status=0
  valgrind "${valgrind_args[@]}" --log-file="$log" "$@" >"$log.out" 2>&1 || status=$?
  if ((status == 0)); then
    echo "memcheck: ok    $name ($((SECONDS - t0)) s)"
  else
    echo "memcheck: FAIL  $name (exit $status, $((SECONDS - t0)) s); valgrind's log:"
    cat "$log"
    echo "--- the program's output:"
    tail -n 50 "$log.out"
    failed+=("$name")
  fi
}

for program in "${examples[@]}"; do
  run "$program" "$build_dir/$program"
done
for entry in "${tests[@]}"; do
  read -r -a words <<<"$entry"
  run "${words[0]}" "$build_dir/${words[0]}" "${words[@]:1}"
done

if ((${#failed[@]} > 0)); then
  echo "memcheck: ${#failed[@]} failed: ${failed[*]} ($((SECONDS - started)) s)"
  exit 1
fi
echo "memcheck: all clean in $((SECONDS - started)) s"
