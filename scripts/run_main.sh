#!/usr/bin/env bash
# Command 1 of the README: installs what is missing (with the Fashion-MNIST
# data), builds a Release tree in build/ and runs the main example. Arguments
# are passed to the example; extra CMake arguments come from $CMAKE_ARGS.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

scripts/setup.sh --dataset

build_dir="${BUILD_DIR:-build}"
read -r -a extra_cmake_args <<<"${CMAKE_ARGS:-}"
cmake -S . -B "$build_dir" -DCMAKE_BUILD_TYPE=Release "${extra_cmake_args[@]}"

# The main job is the Fashion-MNIST training example; until it is written,
# the smallest example stands in so that the flow can be exercised end to end.
if [[ -f examples/fashion_mnist.cpp || -f examples/fashion_mnist/main.cpp ]]; then
  main=fashion_mnist
else
  main=hello_tensors
fi
cmake --build "$build_dir" --target "$main" -j "$(nproc)"
exec "$build_dir/examples/$main" "$@"
