#!/usr/bin/env bash
# The 'coro-protocols-public-only' test: the coroutine layer (lib/coro/) and the protocols
# library (protocols/) use only bulb's public headers (docs/design.md: "if they need a back door, the
# core API is missing something"). A quoted include must name a file of the same layer; an
# angle include must not reach the library's private headers (lib/ is on the library's include
# path) nor libevent/OpenSSL.
# usage: public_only.sh SOURCE_ROOT
set -euo pipefail
cd "$1"
bad=()
checked=0
check_layer() {
    local layer=$1 f line name
    [ -d "$layer" ] || return 0
    while IFS= read -r -d '' f; do
        checked=$((checked + 1))
        while IFS= read -r line; do
            name=${line#*[<\"]}
            name=${name%%[>\"]*}
            case $line in
            *'"'*)
                local target
                target=$(realpath -m "$(dirname "$f")/$name")
                case $target in "$PWD/$layer"/*) if [ -e "$target" ]; then continue; fi ;; esac
                bad+=("$f: #include \"$name\" is not a file of $layer/") ;;
            *)
                case $name in event2/* | openssl/*) bad+=("$f: <$name> (libevent/OpenSSL)"); continue ;; esac
                if [ -e "lib/$name" ]; then bad+=("$f: <$name> is a private header of lib/"); fi ;;
            esac
        done < <(grep -E '^[[:space:]]*#[[:space:]]*include[[:space:]]*[<"]' "$f" || true)
    done < <(find "$layer" -type f \( -name '*.hpp' -o -name '*.cpp' -o -name '*.h' \) -print0)
}
check_layer lib/coro
check_layer protocols
if [ "${#bad[@]}" -gt 0 ]; then
    echo "The coroutine layer or protocols/ reach past the public API:"
    printf '  %s\n' "${bad[@]}"
    exit 1
fi
echo "$checked files of lib/coro/ and protocols/ checked: public headers only"
