#!/usr/bin/env bash
# The 'headers' test: each public header got its own translation unit at configure time (the
# headers_self_contained library, part of the default build). This checks that the list is
# still complete, i.e. no header was added since meson last configured.
# usage: check_list.sh LIST_SCRIPT INCLUDE_DIR... -- HEADER...
set -euo pipefail
list_script=$1
shift
dirs=()
while [ "$1" != -- ]; do dirs+=("$1"); shift; done
shift
current=$("$list_script" "${dirs[@]}")
configured=$(printf '%s\n' "$@" | LC_ALL=C sort)
if [ "$current" != "$configured" ]; then
    echo "The public headers changed since meson configured the header check:"
    diff <(echo "$configured") <(echo "$current") || true
    echo "Run 'meson setup --reconfigure BUILDDIR' so every header gets its translation unit."
    exit 1
fi
echo "$# public headers compile on their own:"
printf '  %s\n' "$@"
