#!/usr/bin/env bash
# The 'headers' test: each public header got its own translation unit at configure time (the
# headers_self_contained library, part of the default build). This checks that the list is
# still complete, i.e. no header was added since meson last configured.
# usage: check_list.sh INCLUDE_DIR LIST_SCRIPT HEADER...
set -euo pipefail
include_dir=$1 list_script=$2
shift 2
current=$("$list_script" "$include_dir")
configured=$(printf '%s\n' "$@" | LC_ALL=C sort)
if [ "$current" != "$configured" ]; then
    echo "The public headers changed since meson configured the header check:"
    diff <(echo "$configured") <(echo "$current") || true
    echo "Run 'meson setup --reconfigure BUILDDIR' so every header gets its translation unit."
    exit 1
fi
echo "$# public headers compile on their own:"
printf '  %s\n' "$@"
