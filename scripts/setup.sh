#!/usr/bin/env bash
# Installs the Debian packages that building tapegrad needs, and only those
# that are missing. As root it installs them itself; as anyone else it prints
# the one command to run and fails, so that a build never starts half-equipped.
#
#   scripts/setup.sh              compiler, CMake and the libraries
#   scripts/setup.sh --dataset    also the Fashion-MNIST files (for the main example)
#   scripts/setup.sh --text       also Debian's fortunes (the text of examples/lstm_text)
#   scripts/setup.sh --bench      also Google Benchmark (for bench/)
#   scripts/setup.sh --mpi        also OpenMPI (tg::distributed and its mpirun tests)
#   scripts/setup.sh --fuzz       also Clang, libFuzzer and Clang's OpenMP (for fuzz/)
#   scripts/setup.sh --memcheck   also valgrind (for scripts/memcheck.sh)
#   scripts/setup.sh --ccache     also ccache (CMake then compiles through it)
#   scripts/setup.sh --format     also clang-format 14 (for scripts/format.sh)
set -euo pipefail

packages=(build-essential cmake ninja-build g++ libopenblas-openmp-dev libdnnl-dev libsleef-dev libfmt-dev doctest-dev nlohmann-json3-dev zlib1g-dev libboost-stacktrace-dev graphviz doxygen pkg-config)
for arg in "$@"; do
  case "$arg" in
    --dataset) packages+=(dataset-fashion-mnist) ;;
    --text) packages+=(fortunes) ;;
    --bench) packages+=(libbenchmark-dev) ;;
    --mpi) packages+=(libopenmpi-dev openmpi-bin) ;;
    --fuzz) packages+=(clang libclang-rt-14-dev libomp-14-dev) ;;
    --memcheck) packages+=(valgrind) ;;
    --ccache) packages+=(ccache) ;;
    --format) packages+=(clang-format-14 git) ;;  # format.sh lists the files with git
    -h | --help)
      # The whole comment block at the top (a fixed line range once cut off its last line).
      sed -n '2,/^[^#]/s/^# \{0,1\}//p' "$0"
      exit 0
      ;;
    *)
      echo "setup.sh: unknown argument '$arg' (expected --dataset, --text, --bench, --mpi, --fuzz, --memcheck, --ccache or --format)" >&2
      exit 2
      ;;
  esac
done

if ! command -v dpkg >/dev/null 2>&1; then
  echo "setup.sh: this script knows Debian packages only; install the equivalents of: ${packages[*]}" >&2
  exit 1
fi

# `dpkg -s` also succeeds for a package that was removed but left its
# configuration behind, so read the status line rather than the exit code.
is_installed() {
  dpkg -s "$1" 2>/dev/null | grep -qx 'Status: install ok installed'
}

missing=()
for package in "${packages[@]}"; do
  is_installed "$package" || missing+=("$package")
done
if ((${#missing[@]} == 0)); then
  exit 0
fi

if [[ "$(id -u)" != 0 ]]; then
  echo "setup.sh: missing Debian packages; install them with:" >&2
  echo "sudo apt-get install ${missing[*]}"
  exit 1
fi

export DEBIAN_FRONTEND=noninteractive
install_missing() {
  apt-get install -y --no-install-recommends "${missing[@]}"
}
# A fresh machine may have no package lists yet, or stale ones: refresh them
# only when the install cannot do without.
if ! install_missing; then
  echo "setup.sh: install failed; refreshing the package lists and trying again" >&2
  apt-get update
  install_missing
fi
