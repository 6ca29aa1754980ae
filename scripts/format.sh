#!/usr/bin/env bash
# Formats every C++ source and header of the repository with .clang-format
# (clang-format 14, Debian's clang-format-14):
#   scripts/format.sh           rewrites the files in place
#   scripts/format.sh --check   changes nothing; fails naming each file that
#                               is not formatted (CI runs this)
set -euo pipefail

usage() { sed -n '2,/^[^#]/s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"; }
# Anything but no argument or --check is refused: a typo (--chek) or --help
# used to rewrite every file.
check=false
case "$#:${1:-}" in
  0:) ;;
  1:--check) check=true ;;
  1:-h | 1:--help)
    usage
    exit 0
    ;;
  *)
    echo "format.sh: unknown arguments '$*' (expected none, or --check)" >&2
    usage >&2
    exit 2
    ;;
esac
cd "$(dirname "${BASH_SOURCE[0]}")/.."

format=$(command -v clang-format-14 || command -v clang-format || true)
if [[ -z "$format" ]]; then
  echo "format.sh: clang-format is not installed (scripts/setup.sh --format installs it)" >&2
  exit 2
fi
# Listed by git, whose failure a process substitution would hide (a clone
# owned by another user, no .git): then nothing is checked, so it is an error.
if ! listing=$(git ls-files '*.h' '*.cpp'); then
  echo "format.sh: git ls-files failed; run it from a git clone owned by this user" >&2
  exit 2
fi
mapfile -t files <<< "$listing"
if [[ -z "$listing" || ${#files[@]} -eq 0 ]]; then
  echo "format.sh: git lists no C++ files; nothing would be checked" >&2
  exit 2
fi
if "$check"; then
  "$format" --dry-run -Werror "${files[@]}"
  echo "format.sh: ${#files[@]} files formatted as .clang-format says"
else
  "$format" -i "${files[@]}"
fi
