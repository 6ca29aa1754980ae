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

# The main job: the Fashion-MNIST training example.
main=fashion_mnist
cmake --build "$build_dir" --target "$main" -j "$(nproc)"
exec "$build_dir/examples/$main" "$@"
