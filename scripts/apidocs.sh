#!/usr/bin/env bash
# The API reference: Doxygen (Debian's doxygen; graphviz draws the class
# graphs) over the public headers, with docs/Doxyfile.
#   scripts/apidocs.sh [OUT]   writes OUT/html/index.html (OUT: build/apidocs)
# Fails, listing them, on any warning: an undocumented public class, function
# or member, a @param that names no parameter, a broken reference; and, before
# Doxygen runs, on a member group whose comment follows its `///@{`. CI runs it
# (the ctest entry `apidocs`).
#
# Which headers: every layer's (CMakeLists.txt installs each layer's *.h except
# TAPEGRAD_INTERNAL_HEADERS) and the umbrella header, except core/kernels/:
# installed, but the engine's internals, which users reach through the ops;
# docs/Doxyfile excludes them (EXCLUDE, and tg::kernel in EXCLUDE_SYMBOLS).
# distributed/ needs no MPI to document: its headers include none.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
out=$(realpath -m "${1:-$root/build/apidocs}")

if ! command -v doxygen >/dev/null 2>&1; then
  echo "apidocs.sh: doxygen is not installed (scripts/setup.sh installs it)" >&2
  exit 2
fi

input=(
  docs/apidocs
  core autograd nn optim data io checkpoint distributed
  include/tapegrad
)

mkdir -p "$out"
cd "$root"
# Doxygen 1.9.4 gives the members of a group no brief in the summary tables
# when the group's comment follows a `///@{` standing on its own line: the
# comment goes before the `///@{`.
grouped=$(find "${input[@]}" -name '*.h' -not -path 'core/kernels/*' -print0 | sort -z |
  xargs -0 awk 'open && /^[ \t]*\/\/\/([^@<]|$)/ { print FILENAME ":" FNR ": the group comment goes before the ///@{" }
                { open = /^[ \t]*\/\/\/[ \t]*@\{[ \t]*$/ }')
if [[ -n "$grouped" ]]; then
  echo "$grouped" >&2
  echo "apidocs.sh: member groups whose comment follows their ///@{ (see above)" >&2
  exit 1
fi
log="$out/warnings.log"
# Doxygen reads both from the environment ($(VAR) in docs/Doxyfile).
if ! TAPEGRAD_APIDOCS_OUT="$out" TAPEGRAD_APIDOCS_INPUT="${input[*]}" doxygen docs/Doxyfile >"$log" 2>&1 ||
  [[ -s "$log" ]]; then
  # Doxygen 1.9 repeats a warning once per class that inherits the member.
  sort -u "$log" >&2
  echo "apidocs.sh: $(sort -u "$log" | wc -l) warnings (see above); nothing may be left undocumented" >&2
  exit 1
fi
echo "apidocs.sh: $out/html/index.html"
