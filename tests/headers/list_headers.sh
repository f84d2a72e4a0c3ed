#!/usr/bin/env bash
# Prints the public headers under each INCLUDE_DIR, relative to it (bulb/x.hpp,
# bulb/coro/y.hpp, bulb/protocols/z.hpp, ...), sorted.
# usage: list_headers.sh INCLUDE_DIR...
set -euo pipefail
for dir in "$@"; do
    (cd "$dir" && find bulb -name '*.hpp' -type f)
done | LC_ALL=C sort
