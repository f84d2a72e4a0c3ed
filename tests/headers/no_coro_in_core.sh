#!/usr/bin/env bash
# The 'core-no-coroutines' test: the callback core -- include/bulb/ and lib/, except the
# coroutine layer itself (include/bulb/coro.hpp, include/bulb/coro/, lib/coro*) -- and the
# protocols library below it (protocols/, except its coroutine adapters in its coro/ folders:
# bulb/protocols/coro/, bulb/http/coro/, src/http/coro/) never include <coroutine> or a coro
# header, so a user of the callback API pays nothing for coroutines (docs/design.md, "Layers").
# usage: no_coro_in_core.sh SOURCE_ROOT
set -euo pipefail
cd "$1"
roots=(include/bulb lib)
[ -d protocols ] && roots+=(protocols)
mapfile -t files < <(find "${roots[@]}" \( -path include/bulb/coro -o -path include/bulb/coro.hpp \
    -o -path 'lib/coro*' -o -path 'protocols/*/coro' \) -prune -o -type f \( -name '*.hpp' -o -name '*.cpp' -o -name '*.h' \) -print | LC_ALL=C sort)
[ "${#files[@]}" -gt 0 ] || { echo "no core files found under $PWD"; exit 1; }
pattern='^[[:space:]]*#[[:space:]]*include[[:space:]]*[<"]([^>"]*/)?(coroutine|coro\.hpp|coro/[^>"]*)[>"]'
if hits=$(grep -nE "$pattern" "${files[@]}"); then
    echo "The callback core includes the coroutine layer:"
    echo "$hits"
    exit 1
fi
echo "${#files[@]} core files checked: none includes <coroutine> or a coro header"
