# shellcheck shell=bash
# Shared by scripts/test.sh and scripts/demo.sh (sourced, not run).

# What building and testing bulb needs on Debian 12 (readelf comes with g++ via binutils).
# clang-16 (the newest clang Debian 12 ships) builds the ASan+UBSan run and is the compiler
# recommended for coroutine code; libclang-rt-16-dev holds its sanitizer runtimes.
# shellcheck disable=SC2034  # used by the scripts that source this file
BULB_PACKAGES=(g++ clang-16 libclang-rt-16-dev meson ninja-build pkg-config libevent-dev doctest-dev
               socat netcat-openbsd redis-tools openssl libssl-dev python3 ca-certificates
               clang libfuzzer-14-dev curl iproute2 cmake nghttp2-client wrk)
# The clang used for coroutine code and the sanitizer build (scripts/test.sh, README).
# shellcheck disable=SC2034
BULB_CLANGXX=${BULB_CLANGXX:-clang++-16}

log() { printf '\n=== %s\n' "$*"; }

# Installs whichever of the packages is missing. With everything present it does nothing (no
# apt-get update), so a second run is quick. A fresh machine has no apt lists: update first.
ensure_packages() {
    local missing=() p
    if ! command -v dpkg-query >/dev/null 2>&1; then
        echo "(no dpkg: not Debian -- assuming the build dependencies are installed)"
        return 0
    fi
    for p in "$@"; do
        dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed$' || missing+=("$p")
    done
    [ "${#missing[@]}" -eq 0 ] && return 0
    log "installing ${missing[*]}"
    local sudo=()
    if [ "$(id -u)" -ne 0 ]; then
        if command -v sudo >/dev/null 2>&1; then sudo=(sudo); else
            echo "missing packages: ${missing[*]} -- run as root or install them first" >&2
            return 1
        fi
    fi
    export DEBIAN_FRONTEND=noninteractive
    "${sudo[@]}" apt-get update -q </dev/null
    "${sudo[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}" </dev/null
}

# setup_builddir DIR [MESON_OPTION...]: configures DIR, reusing it when it is already a build
# directory (with the options applied again), and starting over when it cannot be reused.
#
# With CXX set, a build directory configured with another compiler is started over (meson cannot
# switch the compiler of an existing build directory).
setup_builddir() {
    local dir=$1
    shift
    if [ -n "${CXX:-}" ] && [ -f "$dir/meson-info/intro-targets.json" ] &&
        ! python3 -c 'import json, os, sys
used = {os.path.basename(s["compiler"][1 if s["compiler"][0].endswith("ccache") else 0])
        for t in json.load(open(sys.argv[1])) for s in t.get("target_sources", [])
        if s.get("language") == "cpp" and s.get("compiler")}
sys.exit(0 if not used or used == {os.path.basename(sys.argv[2].split()[-1])} else 1)' \
            "$dir/meson-info/intro-targets.json" "$CXX"; then
        echo "($dir was configured with another compiler than $CXX: starting over)"
        rm -rf "$dir"
    fi
    if [ -f "$dir/meson-private/coredata.dat" ]; then
        meson setup --reconfigure "$dir" "$@" </dev/null && return 0
        echo "(reconfiguring $dir failed: wiping it)"
        meson setup --wipe "$dir" "$@" </dev/null
    else
        rm -rf "$dir"
        meson setup "$dir" "$@" </dev/null
    fi
}
