#!/usr/bin/env bash
# Prints the public headers, relative to include/ (bulb/x.hpp, bulb/coro/y.hpp, ...), sorted.
# usage: list_headers.sh INCLUDE_DIR
set -euo pipefail
cd "$1"
find bulb -name '*.hpp' -type f | LC_ALL=C sort
